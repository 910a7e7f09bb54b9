// src/node/masker.ts: bufferutil's native mask when installed (a
// devDependency and an optional dependency: installed unless its install
// failed or was omitted), refused when forced off; the same bytes as the
// engine's built-in masking; the Node helpers use it by default, both roles,
// and the forced fallback talks to it byte for byte. Without bufferutil
// installed, the same tests check the fallback (the reference masker then
// stands in for bufferutil's bytes).
import t from "tap";
import { createRequire } from "node:module";
import { createServer as createHttpServer } from "node:http";
import { nodeMasker, nodeMaskerStatus, resetNodeMasker } from "../../src/node/masker.ts";
import { acceptNodeUpgrade, connectNodeWebSocket } from "../../src/node/index.ts";
import { builtinMask, type MaskFunction } from "../../src/protocol/bytes/mask.ts";
import { Connection } from "../../src/protocol/frames/connection.ts";
import { BytesMessage, type Event } from "../../src/protocol/events.ts";
import { sequentialRandom } from "../../src/protocol/bytes/random.ts";
import { ConnectionType } from "../../src/protocol/types.ts";
import { pseudoRandom } from "../protocol/bytes/mask-check.ts";

const require = createRequire(import.meta.url);
/** bufferutil's module when installed, else null. */
const bufferUtil = ((): { mask: MaskFunction } | null => {
  try {
    return require("bufferutil") as { mask: MaskFunction };
  } catch {
    return null;
  }
})();
/** bufferutil's fallback.js, the semantics a MaskFunction must have. */
const scalarMask: MaskFunction = (source, mask, output, offset, length) => {
  for (let i = 0; i < length; i++) output[offset + i] = source[i]! ^ mask[i & 3]!;
};
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** Run `fn` with WSPROTO_NO_BUFFERUTIL set (or unset), nodeMasker looking again before and after. */
async function withForcedFallback<T>(forced: boolean, fn: () => T | Promise<T>): Promise<T> {
  const saved = process.env["WSPROTO_NO_BUFFERUTIL"];
  if (forced) process.env["WSPROTO_NO_BUFFERUTIL"] = "1";
  else delete process.env["WSPROTO_NO_BUFFERUTIL"];
  resetNodeMasker();
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env["WSPROTO_NO_BUFFERUTIL"];
    else process.env["WSPROTO_NO_BUFFERUTIL"] = saved;
    resetNodeMasker();
  }
}

t.test("nodeMasker is bufferutil's native mask when installed, and null when forced off", async (t) => {
  await withForcedFallback(false, () => {
    const mask = nodeMasker();
    if (bufferUtil === null) {
      t.equal(mask, null, "bufferutil is not installed: the built-in masking");
      t.match(nodeMaskerStatus(), { masker: "builtin", reason: /^bufferutil could not be loaded \(Cannot find module/ });
      return;
    }
    t.equal(mask, bufferUtil.mask, "bufferutil's own function");
    t.not(mask, (require("bufferutil/fallback.js") as { mask: MaskFunction }).mask, "its native build, not its JavaScript fallback");
    t.same(nodeMaskerStatus(), { masker: "bufferutil" });
  });
  await withForcedFallback(true, () => {
    t.equal(nodeMasker(), null);
    t.same(nodeMaskerStatus(), { masker: "builtin", reason: "WSPROTO_NO_BUFFERUTIL=1" });
  });
});

t.test("bufferutil's mask and the built-in one write the same bytes (lengths, offsets, keys)", async (t) => {
  let failures = 0;
  for (const length of [0, 1, 7, 63, 64, 65, 1000, 1024, 4097, 65_536, 1_000_003]) {
    const src = pseudoRandom(length, length + 11);
    for (const key of [new Uint8Array([1, 2, 3, 4]), new Uint8Array([0xff, 0, 0x80, 0x7f])]) {
      for (const offset of [0, 1, 3, 10]) {
        const a = new Uint8Array(length + offset);
        const b = new Uint8Array(length + offset);
        (bufferUtil?.mask ?? scalarMask)(src, key, a, offset, length);
        builtinMask(src, key, b, offset, length);
        if (Buffer.compare(a, b) !== 0) failures++;
      }
    }
  }
  t.equal(failures, 0);
});

t.test("the engine with bufferutil and with the fallback: same frames built, same payloads parsed", async (t) => {
  const sizes = [10, 64, 200, 5000, 70_000, 1 << 20];
  const built: string[][] = [];
  const parsed: string[][] = [];
  for (const forced of [false, true]) {
    await withForcedFallback(forced, () => {
      const mask = nodeMasker();
      t.equal(mask === null, forced || bufferUtil === null);
      const client = new Connection(ConnectionType.CLIENT, { random: sequentialRandom(9), mask });
      const frames = sizes.map((size, i) => client.send(new BytesMessage({ data: pseudoRandom(size, i + 3) })));
      built.push(frames.map(hex));
      // Received in 16 KiB chunks (frames straddle them), whole and streamed.
      const all = Buffer.concat(frames);
      const out: string[] = [];
      for (const wholeFramesUpTo of [0, 1 << 21]) {
        const server = new Connection(ConnectionType.SERVER, { wholeFramesUpTo, mask });
        for (let at = 0; at < all.length; at += 16_384) {
          server.receiveData(Uint8Array.from(all.subarray(at, at + 16_384)));
          for (const event of server.events() as Generator<Event>) {
            if (event.type === "BytesMessage") out.push(hex(event.data));
          }
        }
      }
      parsed.push(out);
    });
  }
  t.same(built[0], built[1], "the same masked frames");
  t.same(parsed[0], parsed[1], "the same unmasked payloads");
  t.ok(parsed[0]!.join("").length > 2 * 2 * (1 << 20), "every payload came out");
});

/** Echo `payloads` through acceptNodeUpgrade from connectNodeWebSocket, both with their defaults. */
async function echoThroughNodeHelpers(payloads: Uint8Array[]): Promise<Uint8Array[]> {
  const http = createHttpServer();
  http.on("upgrade", (req, socket, head) => {
    const ws = acceptNodeUpgrade(req, socket, head, { extensions: [] });
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
    ws.closed.catch(() => {});
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  try {
    const port = (http.address() as { port: number }).port;
    const ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { extensions: [] });
    const { readable, writable } = await ws.opened;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const echoed: Uint8Array[] = [];
    for (const payload of payloads) {
      await writer.write(payload);
      const { value } = await reader.read();
      echoed.push(value as Uint8Array);
    }
    ws.close({ closeCode: 1000 });
    await ws.closed;
    return echoed;
  } finally {
    http.close();
  }
}

t.test("the Node helpers mask and unmask with bufferutil by default (both roles); forced off, the same bytes", async (t) => {
  const payloads = [16, 100, 70_000, 1 << 20].map((size, i) => pseudoRandom(size, i + 21));
  // Count bufferutil's calls: nodeMasker takes the module's `mask` when it first looks.
  const module = bufferUtil ?? { mask: scalarMask };
  const native = module.mask;
  const lengths: number[] = [];
  module.mask = (source, mask, output, offset, length) => {
    lengths.push(length);
    native(source, mask, output, offset, length);
  };
  try {
    const echoed = await withForcedFallback(false, () => echoThroughNodeHelpers(payloads));
    t.same(echoed.map(hex), payloads.map(hex), "every message echoed intact");
    // The client masks each payload of 64 bytes or more into its frame; the
    // server unmasks each (in pieces as they arrive): both go through bufferutil.
    const total = lengths.reduce((n, l) => n + l, 0);
    if (bufferUtil === null) {
      t.equal(total, 0, "bufferutil is not installed: the built-in masking");
    } else {
      t.ok(total >= 2 * (100 + 70_000 + (1 << 20)), `bufferutil masked ${total} bytes in ${lengths.length} calls`);
      t.notOk(lengths.includes(16), "a 16-byte payload stays on the JavaScript loop");
    }
  } finally {
    module.mask = native;
  }
  lengths.length = 0;
  const echoed = await withForcedFallback(true, () => echoThroughNodeHelpers(payloads));
  t.same(echoed.map(hex), payloads.map(hex), "forced fallback: every message echoed intact");
  t.same(lengths, [], "and bufferutil is not called");
});
