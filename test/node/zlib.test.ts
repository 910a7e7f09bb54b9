// The native (node:zlib) DeflateCodec: the whole pako contract
// (test/protocol/extensions/deflate-codec.test.ts run on this codec: RFC 7692
// §7.2.3 examples, node:zlib cross-checks for windows 9..15, bounded inflate,
// the 1 GiB bomb), then cross-checks against pako, BFINAL streams under
// context takeover, a bomb and corrupt data through a Connection, and a
// WSConnection pair with pako on one side and native zlib on the other.
import t, { type Test } from "tap";
import zlib from "node:zlib";
import v8 from "node:v8";
import vm from "node:vm";
import { createHook } from "node:async_hooks";
import { useCodec } from "../helpers/codec-under-test.ts";
import { NATIVE_ZLIB_NODE_MAJORS, nativeZlibTestedOn, nodeZlibCodec, nodeZlibNative } from "../../src/node/zlib.ts";
import type { DeflateCodec, Inflater } from "../../src/protocol/extensions/deflate-codec.ts";
import { pakoCodec } from "../../src/protocol/extensions/pako-codec.ts";
import { PerMessageDeflate } from "../../src/protocol/extensions/permessage-deflate.ts";
import { LocalProtocolError } from "../../src/protocol/errors.ts";
import { Connection } from "../../src/protocol/frames/connection.ts";
import { WSConnection } from "../../src/protocol/ws-connection.ts";
import { AcceptConnection, BytesMessage, CloseConnection, Request, TextMessage, type Event } from "../../src/protocol/events.ts";
import { ConnectionType } from "../../src/protocol/types.ts";
import * as nodeEntry from "../../src/node/index.ts";
import { BIN, ROOT, explain, have, runPeer, tsx } from "../helpers/process.ts";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

// CI runs this file on each supported line (scripts/node-line.mjs).
t.ok(nodeZlibNative, `Node ${process.versions.node} has the native handle API and passes the self-test`);
t.test("the native handle is used only on the Node majors it is tested on", async (t) => {
  t.same(NATIVE_ZLIB_NODE_MAJORS, [20, 22, 24, 26]);
  for (const version of ["20.20.2", "22.23.5", "24.22.3", "26.12.1"]) t.ok(nativeZlibTestedOn(version), version);
  t.ok(nativeZlibTestedOn(process.versions.node), "this Node");
  t.notOk(nativeZlibTestedOn("23.1.0"), "an untested major: off, whatever its shape");
  t.notOk(nativeZlibTestedOn("27.0.0"), "a future major: off until CI tests it");
  t.notOk(nativeZlibTestedOn("2.0.0"));
  t.notOk(nativeZlibTestedOn(undefined));
  t.notOk(nativeZlibTestedOn("garbage"));
});
t.equal(nodeZlibCodec.name, "node:zlib");
t.equal(nodeEntry.nodeZlibCodec, nodeZlibCodec, "exported from the wsproto/node entry");
t.equal(nodeEntry.nodeZlibNative, nodeZlibNative);

// The pako codec's contract tests, on this codec (the bomb test comes first,
// while the process's peak RSS is still its baseline).
useCodec(nodeZlibCodec);
await import("../protocol/extensions/deflate-codec.test.ts");

const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

function sameBytes(t: Test, actual: Uint8Array | string, expected: Uint8Array, message: string): void {
  if (typeof actual === "string") {
    t.fail(`${message}: ${actual}`);
    return;
  }
  const equal = Buffer.compare(Buffer.from(actual), Buffer.from(expected)) === 0;
  t.ok(equal, message, equal ? {} : { actualLength: actual.length, expectedLength: expected.length });
}

function inflateMessage(i: Inflater, payload: Uint8Array, max = 1 << 30): Uint8Array {
  const a = i.inflate(payload, max);
  if (typeof a === "string") throw new Error(a);
  const b = i.inflate(TAIL, max - a.length);
  if (typeof b === "string") throw new Error(b);
  return concat([a, b]);
}

/** JSON-like messages that repeat earlier ones at various distances. */
function messages(seed: number): Uint8Array[] {
  let x = seed >>> 0 || 1;
  const next = (): number => (x = (x * 1103515245 + 12345) >>> 0);
  const one = (n: number): Uint8Array => {
    const items: string[] = [];
    let size = 0;
    while (size < n) {
      const s = JSON.stringify({ id: next() % 100000, user: `user${next() % 300}`, score: next() % 1000, tags: ["a", "b", "c"].slice(next() % 3) });
      items.push(s);
      size += s.length + 1;
    }
    return utf8(items.join(",")).subarray(0, n);
  };
  const a = one(20000);
  const b = one(3000);
  return [a, b, one(100), a.subarray(5000, 9000), new Uint8Array(0), b, one(70000), a];
}

for (let w = 9; w <= 15; w++) {
  t.test(`native <-> pako, windowBits ${w}, with and without context takeover`, async (t) => {
    const msgs = messages(w);
    for (const takeover of [true, false]) {
      const label = takeover ? "takeover" : "no takeover";
      for (const [from, to] of [
        [nodeZlibCodec, pakoCodec],
        [pakoCodec, nodeZlibCodec],
      ] as Array<[DeflateCodec, DeflateCodec]>) {
        const d = from.createDeflater({ windowBits: w, level: 6, memLevel: 8 });
        const i = to.createInflater({ windowBits: w });
        for (const [k, m] of msgs.entries()) {
          const payload = d.compress(m, true);
          sameBytes(t, inflateMessage(i, payload), m, `${from.name} -> ${to.name}, message ${k}, ${label}`);
          if (!takeover) {
            d.reset();
            i.reset();
          }
        }
      }
      // Node's one-shot inflate reads our stream as one whole.
      const d = nodeZlibCodec.createDeflater({ windowBits: w, level: 6, memLevel: 8 });
      const payloads = msgs.map((m) => {
        const p = d.compress(m, true);
        if (!takeover) d.reset();
        return p;
      });
      if (takeover) {
        const all = zlib.inflateRawSync(Buffer.concat(payloads.flatMap((p) => [p, TAIL])), { windowBits: w, finishFlush: zlib.constants.Z_SYNC_FLUSH });
        sameBytes(t, all, concat(msgs), `inflateRawSync reads the whole sequence (${label})`);
      } else {
        for (const [k, p] of payloads.entries()) {
          const one = zlib.inflateRawSync(Buffer.concat([p, TAIL]), { windowBits: w, finishFlush: zlib.constants.Z_SYNC_FLUSH });
          sameBytes(t, one, msgs[k]!, `inflateRawSync reads message ${k} alone`);
        }
      }
    }
  });
}

t.test("messages ended by BFINAL blocks under context takeover: the window is kept across reset(true)", async (t) => {
  // Each message is a complete DEFLATE stream (Z_FINISH) compressed against
  // the last 2^w bytes of everything before it, as a peer keeping context
  // across BFINAL-ended messages would send them. 70 KB messages wrap the
  // kept window several times.
  for (const w of [9, 12, 15]) {
    const msgs = messages(200 + w);
    let history: Uint8Array = new Uint8Array(0);
    const payloads: Uint8Array[] = [];
    for (const m of msgs) {
      const dictionary = history.subarray(Math.max(0, history.length - (1 << w)));
      const options = dictionary.length > 0 ? { windowBits: w, dictionary } : { windowBits: w };
      payloads.push(new Uint8Array(zlib.deflateRawSync(m, options)));
      history = concat([history, m]);
    }
    for (const codec of [nodeZlibCodec, pakoCodec]) {
      const i = codec.createInflater({ windowBits: w });
      for (const [k, p] of payloads.entries()) {
        // Fed in pieces, so the window copy is appended to many times.
        const parts: Uint8Array[] = [];
        for (let at = 0; at < p.length; at += 1000) {
          const out = i.inflate(p.subarray(at, at + 1000), 1 << 30);
          if (typeof out === "string") throw new Error(out);
          parts.push(out);
        }
        sameBytes(t, concat(parts), msgs[k]!, `${codec.name} w=${w}: message ${k}`);
        const rest = i.inflate(TAIL, 1 << 30);
        t.ok(rest instanceof Uint8Array && rest.length === 0 && i.ended, `${codec.name} w=${w}: message ${k} ended the stream`);
        i.reset(true);
      }
    }
  }
});

t.test("a stream that ends exactly with the appended tail is seen as ended", async (t) => {
  // "Hello" sync-flushed, then a BFINAL stored block whose LEN/NLEN are the
  // 00 00 ff ff the receiver appends: zlib stops with no input left over.
  const payload = new Uint8Array(Buffer.from("f248cdc9c907000000ffff01", "hex"));
  for (const codec of [nodeZlibCodec, pakoCodec]) {
    const i = codec.createInflater({ windowBits: 15 });
    t.equal(Buffer.from(inflateMessage(i, payload)).toString(), "Hello", codec.name);
    t.equal(i.ended, true, `${codec.name}: ended`);
    t.equal(i.ended, true, `${codec.name}: asked twice`);
    i.reset(true);
    const next = zlib.deflateRawSync(Buffer.from("Hello!"), { dictionary: Buffer.from("Hello"), finishFlush: zlib.constants.Z_SYNC_FLUSH });
    t.equal(Buffer.from(inflateMessage(i, next.subarray(0, -4))).toString(), "Hello!", `${codec.name}: the window survived`);
  }
  // Asking `ended` mid-stream changes nothing.
  const i = nodeZlibCodec.createInflater({ windowBits: 15 });
  const d = nodeZlibCodec.createDeflater({ windowBits: 15, level: 6, memLevel: 8 });
  for (let k = 0; k < 5; k++) {
    t.equal(Buffer.from(inflateMessage(i, d.compress(utf8(`Hello ${k} Hello`), true))).toString(), `Hello ${k} Hello`);
    t.equal(i.ended, false);
  }
  // After reset(true) a plain reset() drops the dictionary again.
  const j = nodeZlibCodec.createInflater({ windowBits: 15 });
  inflateMessage(j, payload);
  t.equal(j.ended, true);
  j.reset(true);
  j.reset();
  const onlyRef = zlib.deflateRawSync(Buffer.from("Hello"), { dictionary: Buffer.from("Hello"), finishFlush: zlib.constants.Z_SYNC_FLUSH });
  t.equal(j.inflate(onlyRef, 100), "invalid-data", "no window after reset()");
});

t.test("no zlib error callbacks for valid messages; a handle that reported one is replaced, never written to again", async (t) => {
  // On Node 20.20 a handle written to after it reported errors corrupts the
  // heap within some hundred thousand rounds (malloc aborts the process).
  // A handle reports an error through a callback (onerror), which fires
  // async_hooks' before/after for it: count those per handle.
  const zlibHandles = new Set<number>();
  const callbacks = new Map<number, number>();
  const hook = createHook({
    init(id, type) {
      if (type === "ZLIB") zlibHandles.add(id);
    },
    before(id) {
      if (zlibHandles.has(id)) callbacks.set(id, (callbacks.get(id) ?? 0) + 1);
    },
  }).enable();
  try {
    const d = nodeZlibCodec.createDeflater({ windowBits: 15, level: 6, memLevel: 8 });
    const i = nodeZlibCodec.createInflater({ windowBits: 15 });
    for (let k = 0; k < 50; k++) {
      // Sync-flushed messages: the inflater uses its input up exactly, so `ended` must ask zlib.
      t.equal(Buffer.from(inflateMessage(i, d.compress(utf8(`message ${k}`), true))).toString(), `message ${k}`);
      t.equal(i.ended, false);
    }
    const bfinal = new Uint8Array(Buffer.from("f348cdc9c90700", "hex"));
    for (let k = 0; k < 10; k++) {
      t.equal(Buffer.from(inflateMessage(i, bfinal)).toString(), "Hello");
      t.equal(i.ended, true);
      i.reset(true);
    }
    t.same([...callbacks.values()], [], "no error callback on any handle");
    // Corrupt data: zlib reports an error once; after reset() the inflater works on a new handle.
    const before = zlibHandles.size;
    t.equal(i.inflate(new Uint8Array([0x07]), 100), "invalid-data");
    t.equal(i.inflate(new Uint8Array([0x07]), 100), "invalid-data", "refused without asking zlib again");
    t.same([...callbacks.values()], [1], "one error callback");
    i.reset();
    t.equal(zlibHandles.size, before + 1, "a new handle");
    const again = zlib.deflateRawSync(Buffer.from("again"), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    t.equal(Buffer.from(inflateMessage(i, again)).toString(), "again");
    t.equal(i.ended, false);
    t.same([...callbacks.values()], [1], "no error on the new handle");
  } finally {
    hook.disable();
  }
});

t.test("bad options and inputs are LocalProtocolErrors (native zlib would abort the process)", async (t) => {
  const bad = [
    { windowBits: 8, level: 6, memLevel: 8 },
    { windowBits: 16, level: 6, memLevel: 8 },
    { windowBits: 15, level: 10, memLevel: 8 },
    { windowBits: 15, level: 6, memLevel: 0 },
    { windowBits: 15, level: 6, memLevel: 10 },
    { windowBits: 12.5, level: 6, memLevel: 8 },
    { windowBits: Number.NaN, level: 6, memLevel: 8 },
  ];
  for (const options of bad) {
    t.throws(() => nodeZlibCodec.createDeflater(options), LocalProtocolError, `deflater ${JSON.stringify(options)}`);
  }
  for (const windowBits of [7, 16, 9.5]) {
    t.throws(() => nodeZlibCodec.createInflater({ windowBits }), LocalProtocolError, `inflater windowBits ${windowBits}`);
  }
  // An 8-bit window inflates (as 9).
  const i8 = nodeZlibCodec.createInflater({ windowBits: 8 });
  const d9 = nodeZlibCodec.createDeflater({ windowBits: 9, level: 6, memLevel: 8 });
  t.equal(Buffer.from(inflateMessage(i8, d9.compress(utf8("Hello Hello Hello"), true))).toString(), "Hello Hello Hello");
  const d = nodeZlibCodec.createDeflater({ windowBits: 15, level: 6, memLevel: 8 });
  t.throws(() => d.compress("Hello" as unknown as Uint8Array, true), LocalProtocolError, "a string is refused");
  // Other views are read as their bytes.
  const words = new Uint16Array([0x6548, 0x6c6c]);
  const payload = d.compress(words as unknown as Uint8Array, true);
  t.equal(Buffer.from(inflateMessage(nodeZlibCodec.createInflater({ windowBits: 15 }), payload)).toString(), "Hell");
  const i = nodeZlibCodec.createInflater({ windowBits: 15 });
  t.equal(i.inflate(d.compress(new Uint8Array(5000), true), Number.NaN), "too-big", "a NaN limit is 0");
});

t.test("dropped deflaters and inflaters are freed by the garbage collector", async (t) => {
  const burst = (): void => {
    for (let k = 0; k < 400; k++) {
      const d = nodeZlibCodec.createDeflater({ windowBits: 15, level: 6, memLevel: 8 });
      const i = nodeZlibCodec.createInflater({ windowBits: 15 });
      inflateMessage(i, d.compress(utf8(`message ${k}`), true));
    }
  };
  burst();
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const before = process.memoryUsage().rss;
  // 2000 pairs hold ~600 MiB of zlib state if nothing is freed.
  for (let round = 0; round < 5; round++) {
    burst();
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  gc();
  const grown = process.memoryUsage().rss - before;
  t.ok(grown < 160 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB over 2000 dropped pairs`);
});

/** A masked client-to-server frame (all-zero mask) with RSV1 set. */
function compressedFrame(opcode: number, payload: Uint8Array): Uint8Array {
  // RFC 6455 §5.2: the minimal length encoding, a zero mask key.
  let header: Buffer;
  if (payload.length < 126) {
    header = Buffer.from([0xc0 | opcode, 0x80 | payload.length, 0, 0, 0, 0]);
  } else if (payload.length < 65536) {
    header = Buffer.from([0xc0 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 0xff, 0, 0, 0, 0]);
  } else {
    header = Buffer.alloc(14);
    header[0] = 0xc0 | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  return concat([header, payload]);
}

function nativeServer(limit: number): Connection {
  const ext = new PerMessageDeflate({ codec: nodeZlibCodec }).fork();
  ext.accept("permessage-deflate");
  return new Connection(ConnectionType.SERVER, { extensions: [ext], maxMessageSize: limit });
}

t.test("a 1 GiB-of-zeros bomb through a Connection on native zlib ends in 1009, memory near the limit", async (t) => {
  const sync = { finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 9 } as const;
  const prefix = zlib.deflateRawSync(Buffer.alloc(1 << 20), sync);
  const segment = zlib.deflateRawSync(Buffer.alloc(1 << 20), { ...sync, dictionary: Buffer.alloc(32 * 1024) });
  const frame = compressedFrame(2, concat([prefix, ...Array.from({ length: 1023 }, () => segment)]));
  const limit = 16 * 1024 * 1024;
  gc();
  const before = process.memoryUsage();
  const server = nativeServer(limit);
  let received = 0;
  let close: CloseConnection | null = null;
  let fed = 0;
  for (let at = 0; at < frame.length && close === null; at += 16384) {
    server.receiveData(frame.subarray(at, at + 16384));
    fed += Math.min(16384, frame.length - at);
    for (const e of server.events()) {
      if (e instanceof BytesMessage) received += e.data.length;
      else if (e instanceof CloseConnection) close = e;
    }
  }
  const after = process.memoryUsage();
  t.equal(close?.code, 1009, "the connection is failed with 1009");
  t.ok(received <= limit, `${received} bytes were delivered before`);
  t.ok(fed < 64 * 1024, `after ${fed} of ${frame.length} bytes`);
  const grown = after.arrayBuffers - before.arrayBuffers + (after.heapUsed - before.heapUsed);
  t.ok(grown < 2 * limit + 8 * 1024 * 1024, `memory grew by ${(grown / 1048576).toFixed(1)} MiB for a ${limit / 1048576} MiB limit`);
  t.ok(after.rss - before.rss < 2 * limit + 32 * 1024 * 1024, `RSS grew by ${((after.rss - before.rss) / 1048576).toFixed(1)} MiB`);
});

t.test("corrupt compressed data through a Connection on native zlib ends in 1007", async (t) => {
  for (const hex of ["7878787878", "07", "ff"]) {
    const server = nativeServer(1 << 20);
    server.receiveData(compressedFrame(2, new Uint8Array(Buffer.from(hex, "hex"))));
    const events = [...server.events()];
    const close = events.find((e): e is CloseConnection => e instanceof CloseConnection);
    t.equal(close?.code, 1007, `payload ${hex}`);
  }
});

function pair(clientCodec: DeflateCodec, serverCodec: DeflateCodec, options: { noTakeover: boolean; bits: number }): { client: WSConnection; server: WSConnection } {
  const client = new WSConnection(ConnectionType.CLIENT);
  const server = new WSConnection(ConnectionType.SERVER);
  const pmd = (codec: DeflateCodec, windows: boolean): PerMessageDeflate =>
    new PerMessageDeflate({
      codec,
      threshold: 0,
      clientNoContextTakeover: options.noTakeover,
      serverNoContextTakeover: options.noTakeover,
      // The client asks for the windows; the server accepts them.
      ...(windows ? { clientMaxWindowBits: options.bits, serverMaxWindowBits: options.bits } : {}),
    });
  server.receiveData(client.send(new Request({ host: "example.com", target: "/", extensions: [pmd(clientCodec, true)] })));
  if (!([...server.events()][0] instanceof Request)) throw new Error("no request");
  client.receiveData(server.send(new AcceptConnection({ extensions: [pmd(serverCodec, false)] })));
  if (!([...client.events()][0] instanceof AcceptConnection)) throw new Error("not accepted");
  return { client, server };
}

t.test("a WSConnection pair with pako on one side and native zlib on the other", async (t) => {
  for (const [clientCodec, serverCodec] of [
    [pakoCodec, nodeZlibCodec],
    [nodeZlibCodec, pakoCodec],
  ] as Array<[DeflateCodec, DeflateCodec]>) {
    for (const options of [
      { noTakeover: false, bits: 15 },
      { noTakeover: true, bits: 15 },
      { noTakeover: false, bits: 9 },
      { noTakeover: false, bits: 11 },
    ]) {
      const { client, server } = pair(clientCodec, serverCodec, options);
      const label = `client ${clientCodec.name}, server ${serverCodec.name}, ${JSON.stringify(options)}`;
      const msgs = messages(options.bits + (options.noTakeover ? 50 : 0));
      let ok = true;
      for (const [from, to, dir] of [
        [client, server, "c->s"],
        [server, client, "s->c"],
      ] as Array<[WSConnection, WSConnection, string]>) {
        for (const [k, m] of msgs.entries()) {
          const text = k % 2 === 0;
          const bytes = from.send(text ? new TextMessage({ data: new TextDecoder().decode(m) }) : new BytesMessage({ data: m }));
          if (m.length > 0 && (bytes[0]! & 0x40) === 0) {
            ok = false;
            t.fail(`${label} ${dir}: message ${k} not compressed`);
          }
          // Delivered in two halves, as a network might.
          to.receiveData(bytes.subarray(0, bytes.length >> 1));
          const events: Event[] = [...to.events()];
          to.receiveData(bytes.subarray(bytes.length >> 1));
          events.push(...to.events());
          const got = concat(
            events.map((e) => {
              if (e instanceof TextMessage) return utf8(e.data);
              if (e instanceof BytesMessage) return e.data;
              throw new Error(`${label} ${dir}: unexpected ${e.type}`);
            }),
          );
          if (Buffer.compare(Buffer.from(got), Buffer.from(m)) !== 0) {
            ok = false;
            t.fail(`${label} ${dir}: message ${k} differs`);
          }
        }
      }
      t.ok(ok, label);
    }
  }
});

t.test("under Bun and Deno (no native handle API) nodeZlibCodec is pako", async (t) => {
  const runs: Array<[string, string, string[]]> = [
    ["bun", BIN.bun, ["test/node/fixtures/zlib-fallback.ts"]],
    ["deno", BIN.deno, ["run", "-A", "--node-modules-dir=manual", "test/node/fixtures/zlib-fallback.ts"]],
  ];
  for (const [name, bin, args] of runs) {
    t.ok(have(bin), `${name} is installed (npm package)`);
    const r = await runPeer(t, bin, args, { cwd: ROOT, timeoutMs: 60_000 });
    t.equal(r.code, 0, explain(`${name} exits 0`, r));
    const result = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
    t.same(result, { native: false, name: "pako", payload: "f248cdc9c90700", text: "Hello" }, name);
  }
});

t.test("100,000 rounds of errors, resets and kept windows on this Node line, in a process of its own: no heap corruption", async (t) => {
  // Misusing a native handle corrupts the heap and malloc aborts the
  // process within some ten thousand calls (scripts/zlib-handle-check.mjs);
  // 50,000 errors, 25,000 too-big messages and 25,000 BFINAL resets here.
  const r = await runPeer(t, BIN.node, tsx("test/node/fixtures/zlib-errors.ts", "100000"), { cwd: ROOT, timeoutMs: 120_000 });
  t.equal(r.signal, null, explain("not killed by a signal (SIGABRT: malloc found the heap corrupt)", r));
  t.equal(r.code, 0, explain("exits 0", r));
  const result = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
  t.same(result, { node: process.versions.node, native: true, rounds: 100000, errors: 50000, unexpected: 0 });
});
