/**
 * Frame layer against `ws` (its Receiver and Sender, with bufferutil's native
 * masking), on the compiled package (bench/compiled.ts; BENCH_SOURCE=1 for
 * the .ts sources), medians of BENCH_ROUNDS (default 7) alternating rounds.
 *
 * Ours runs as `wsproto/node` runs it: with `mask: nodeMasker()`
 * (bufferutil's native `mask` when installed). WSPROTO_NO_BUFFERUTIL=1
 * measures ours without it (the engine's WebAssembly SIMD, and JavaScript
 * for short payloads); MASK_JS=1 also turns the WebAssembly off. `ws` keeps
 * bufferutil either way.
 *
 * Parsing: a server-side Connection receives masked binary frames; ws's
 * Receiver (isServer) receives the same bytes through `write()`, as a ws
 * socket feeds it. Input arrives as a socket delivers it, in 64 KiB chunks
 * (frames straddle chunk boundaries). Both unmask in place, so the same input
 * buffers are fed again every round: the payload flips between masked and
 * unmasked, which costs the same for binary frames. "Streamed parts": our
 * Connection hands a large frame out as partial BytesMessage events
 * (views, unmasked in place); ws concatenates the chunks into one Buffer
 * and unmasks it (two passes). "Assembled whole": as the streams session
 * runs the engine, with `wholeFramesUpTo` (each frame comes out whole,
 * unmasked from the socket chunks straight into its own array: one pass per
 * byte) and `allocate` (uninitialised, Buffer.allocUnsafeSlow).
 *
 * Large rows also print this machine's memcpy bandwidth for the same work
 * (`Uint8Array.prototype.set` of the same bytes into a fresh uninitialised
 * array per message or frame) and ours as a fraction of it: the physical
 * limit of a row that must hand out a fresh array. Ours, ws and memcpy run
 * in alternating rounds of one comparison (the machine's drift hits all three
 * alike).
 *
 * Building: Connection.send(event) (one Uint8Array out; frames over 8 KiB
 * allocated by `allocate`, Buffer.allocUnsafeSlow, as ws allocates its
 * with Buffer.allocUnsafe) against Sender.frame(data, options) with
 * `readOnly: true` (a merged buffer when masking; a header plus the caller's
 * buffer, not copied, when not). Both get their argument built once (events
 * are immutable values and may be sent again). For a large unmasked frame
 * ws copies nothing, so that row compares it with Connection.sendParts(event),
 * which does not copy either ([header, data]).
 *
 * BENCH_DIST=dir loads a package compiled elsewhere (say, another commit's
 * `tsc -p tsconfig.build.json --outDir dir`), to compare before and after.
 * BENCH_CPU=1 times rounds by the process's CPU time instead of wall time
 * (steadier on a machine shared with other work).
 *
 * Run: `npm run bench -- frames` (or `node --import tsx bench/frames.bench.ts`);
 * FRAMES_ONLY=parse or FRAMES_ONLY=build for one half.
 */
import { createRequire } from "node:module";
import { compiledPackage, importCompiled } from "./compiled.ts";
import { compare, median, printTable, rate as wallRate, type Row } from "./util.ts";

type ConnectionModule = typeof import("../src/protocol/frames/connection.ts");
type EventsModule = typeof import("../src/protocol/events.ts");
type TypesModule = typeof import("../src/protocol/types.ts");
type MaskModule = typeof import("../src/protocol/bytes/mask.ts");
type MaskerModule = typeof import("../src/node/masker.ts");
type Event = import("../src/protocol/events.ts").Event;

async function loadOurs(): Promise<[ConnectionModule, EventsModule, TypesModule, MaskModule, MaskerModule]> {
  if (process.env["BENCH_SOURCE"] === "1") {
    return Promise.all([
      import("../src/protocol/frames/connection.ts"),
      import("../src/protocol/events.ts"),
      import("../src/protocol/types.ts"),
      import("../src/protocol/bytes/mask.ts"),
      import("../src/node/masker.ts"),
    ]);
  }
  // BENCH_DIST=dir measures a package compiled elsewhere (another commit, for before/after).
  const dist = process.env["BENCH_DIST"] ?? compiledPackage();
  const load = (path: string) => importCompiled<never>(dist, path);
  return Promise.all([
    load("protocol/frames/connection.js"),
    load("protocol/events.js"),
    load("protocol/types.js"),
    load("protocol/bytes/mask.js"),
    load("node/masker.js"),
  ]);
}
const [{ Connection }, { BytesMessage }, { ConnectionType }, { maskImplementation, useJavaScriptMasking }, { nodeMasker, nodeMaskerStatus }] =
  await loadOurs();

if (process.env["MASK_JS"] === "1") useJavaScriptMasking(true);
const mask = nodeMasker();

const require = createRequire(import.meta.url);
// ws's frame parser and builder (lib/receiver.js and lib/sender.js; the
// package exports them from its main entry, not by path).
const wsLib = require("ws") as { Receiver: unknown; Sender: unknown };
const Receiver = wsLib.Receiver as new (options: object) => {
  write(chunk: Buffer): boolean;
  on(event: "message", fn: (data: Buffer, isBinary: boolean) => void): void;
  on(event: "error", fn: (error: Error) => void): void;
};
const Sender = wsLib.Sender as {
  frame(data: Buffer, options: object): Buffer[];
};
const wsBufferUtil = (() => {
  try {
    require.resolve("bufferutil");
    return process.env["WS_NO_BUFFER_UTIL"] ? "off" : "loaded";
  } catch {
    return "NOT available";
  }
})();

/**
 * Units per second of `fn`, timed by this process's CPU time (user +
 * system) when BENCH_CPU=1: on a machine shared with other work, time spent
 * descheduled then does not count against either side. Otherwise wall time.
 */
async function rate(fn: () => unknown, units: number, ms = 300): Promise<number> {
  if (process.env["BENCH_CPU"] !== "1") return wallRate(fn, units, ms);
  for (let i = 0; i < 3; i++) fn();
  let calls = 0;
  const wallStart = performance.now();
  const start = process.cpuUsage();
  while (performance.now() - wallStart < ms) {
    fn();
    calls++;
  }
  const used = process.cpuUsage(start);
  return (calls * units * 1e6) / (used.user + used.system);
}

const CHUNK = 64 * 1024;
const ROUND_MS = Number(process.env["BENCH_MS"] ?? 250);
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 7);

/** Masked client frames carrying `payloadSize` bytes each, `count` of them, in one buffer. */
function maskedFrames(payloadSize: number, count: number): Buffer {
  const client = new Connection(ConnectionType.CLIENT);
  const payload = Uint8Array.from({ length: payloadSize }, (_, i) => (i * 7) & 0xff);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) parts.push(client.send(new BytesMessage({ data: payload })));
  return Buffer.concat(parts);
}

/** Split into socket-sized chunks (each its own buffer, as a socket delivers them). */
function socketChunks(bytes: Buffer, size = CHUNK): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(Buffer.from(bytes.subarray(i, Math.min(i + size, bytes.length))));
  return out;
}

/** Node's uninitialised allocation as a plain Uint8Array (what a Node layer passes as `allocate`). */
function allocUninitialised(size: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(b.buffer, b.byteOffset, size);
}

function oursParse(chunks: Buffer[], expectMessages: number, whole = false): () => number {
  const maxMessageSize = 64 * 1024 * 1024;
  const conn = new Connection(
    ConnectionType.SERVER,
    whole ? { maxMessageSize, wholeFramesUpTo: maxMessageSize, allocate: allocUninitialised, mask } : { maxMessageSize, mask },
  );
  return () => {
    let messages = 0;
    for (const chunk of chunks) {
      conn.receiveData(chunk);
      for (const event of conn.events() as Generator<Event>) {
        if (event.type !== "BytesMessage") throw new Error(`unexpected ${event.type}`);
        if (event.messageFinished) messages++;
      }
    }
    if (messages !== expectMessages) throw new Error(`ours: ${messages} messages, expected ${expectMessages}`);
    return messages;
  };
}

function wsParse(chunks: Buffer[], expectMessages: number): () => number {
  const receiver = new Receiver({ isServer: true, binaryType: "nodebuffer", maxPayload: 0 });
  let messages = 0;
  receiver.on("message", () => {
    messages++;
  });
  receiver.on("error", (error) => {
    throw error;
  });
  return () => {
    messages = 0;
    for (const chunk of chunks) receiver.write(chunk);
    if (messages !== expectMessages) throw new Error(`ws: ${messages} messages, expected ${expectMessages}`);
    return messages;
  };
}

/**
 * memcpy for parsing: each message's payload bytes, `set` from the chunks
 * they arrived in into a fresh uninitialised array of the payload's size.
 */
function memcpyMessages(chunks: Buffer[], payloadSize: number, headerSize: number, count: number): () => void {
  const pieces: Uint8Array[][] = [];
  const all = Buffer.concat(chunks);
  let offset = 0;
  for (let m = 0; m < count; m++) {
    const start = offset + headerSize;
    const end = start + payloadSize;
    const list: Uint8Array[] = [];
    for (let c = Math.floor(start / CHUNK); c * CHUNK < end; c++) {
      const from = Math.max(start, c * CHUNK) - c * CHUNK;
      const to = Math.min(end, (c + 1) * CHUNK) - c * CHUNK;
      list.push(chunks[c]!.subarray(from, to));
    }
    pieces.push(list);
    offset = end;
  }
  if (offset !== all.length) throw new Error("memcpy: the frames do not add up");
  return () => {
    for (const list of pieces) {
      const out = allocUninitialised(payloadSize);
      let o = 0;
      for (const p of list) {
        out.set(p, o);
        o += p.length;
      }
    }
  };
}

/** Ours, ws and memcpy in alternating rounds; a row with ours against ws and ours as a fraction of memcpy. */
async function compareWithMemcpy(
  name: string,
  ours: () => unknown,
  ws: () => unknown,
  copy: () => unknown,
  bytes: number,
  options: { baselineName: string; target?: number; memcpyTarget?: number },
): Promise<Row> {
  const runs: Record<"ours" | "ws" | "copy", number[]> = { ours: [], ws: [], copy: [] };
  for (let i = 0; i < ROUNDS; i++) {
    runs.ours.push(await rate(ours, bytes, ROUND_MS));
    runs.ws.push(await rate(ws, bytes, ROUND_MS));
    runs.copy.push(await rate(copy, bytes, ROUND_MS));
  }
  const row: Row = {
    name,
    unit: "B/s",
    ours: median(runs.ours),
    baseline: median(runs.ws),
    baselineName: options.baselineName,
    memcpy: median(runs.copy),
  };
  if (options.target !== undefined) row.target = options.target;
  if (options.memcpyTarget !== undefined) row.memcpyTarget = options.memcpyTarget;
  return row;
}

async function parseRows(): Promise<Row[]> {
  const rows: Row[] = [];
  // 16-byte masked frames: 4096 of them (22 bytes each) in 64 KiB chunks.
  {
    const n = 4096;
    const chunks = socketChunks(maskedFrames(16, n));
    const ours = oursParse(chunks, n);
    const ws = wsParse(chunks, n);
    rows.push(
      await compare("parse 16 B masked frames", "frames/s", () => rate(ours, n, ROUND_MS), () => rate(ws, n, ROUND_MS), {
        target: 2,
        baselineName: "ws+bufferutil",
      }),
    );
  }
  for (const [label, size, count, target] of [
    ["64 KiB", 64 * 1024, 64, 1.3],
    ["16 MiB", 16 * 1024 * 1024, 1, 1.5],
  ] as const) {
    const chunks = socketChunks(maskedFrames(size, count));
    const total = size * count;
    const ws = wsParse(chunks, count);
    const copy = memcpyMessages(chunks, size, size > 65535 ? 14 : 8, count);
    const baselineName = "ws+bufferutil";
    rows.push(
      await compareWithMemcpy(`parse ${label} masked, assembled whole`, oursParse(chunks, count, true), ws, copy, total, {
        baselineName,
        target,
      }),
    );
    rows.push(await compareWithMemcpy(`parse ${label} masked, streamed parts`, oursParse(chunks, count), ws, copy, total, { baselineName }));
  }
  return rows;
}

async function buildRows(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [label, size] of [
    ["16 B", 16],
    ["64 KiB", 64 * 1024],
  ] as const) {
    const data = Buffer.alloc(size, 0x61);
    for (const masked of [true, false]) {
      // Frames too large for the slab come from Node's uninitialised
      // allocation, as ws's do (Buffer.allocUnsafe), passed as a Node layer would.
      const conn = new Connection(masked ? ConnectionType.CLIENT : ConnectionType.SERVER, { allocate: allocUninitialised, mask });
      const options = { fin: true, rsv1: false, opcode: 0x02, mask: masked, readOnly: true };
      const batch = size > 1024 ? 16 : 1024;
      let sink = 0;
      const event = new BytesMessage({ data });
      // A large unmasked frame: ws hands back [header, data]; so does sendParts.
      const parts = size > 1024 && !masked;
      const ours = parts
        ? (): void => {
            for (let i = 0; i < batch; i++) sink += conn.sendParts(event).length;
          }
        : (): void => {
            for (let i = 0; i < batch; i++) sink += conn.send(event).length;
          };
      const ws = (): void => {
        for (let i = 0; i < batch; i++) sink += Sender.frame(data, options).length;
      };
      const baselineName = masked ? "ws+bufferutil" : "ws";
      const name = `build ${label} ${masked ? "masked" : "unmasked"} frames${parts ? " (sendParts, uncopied)" : ""}`;
      if (size > 1024 && masked) {
        const copy = (): void => {
          for (let i = 0; i < batch; i++) allocUninitialised(size + 14).set(data, 14);
        };
        rows.push(await compareWithMemcpy(name, ours, ws, copy, batch * size, { baselineName, target: 1, memcpyTarget: 0.8 }));
      } else {
        const unit = size > 1024 ? "B/s" : "frames/s";
        const units = size > 1024 ? batch * size : batch;
        // (No target for the uncopied row: neither side touches the payload.)
        rows.push(
          await compare(name, unit, () => rate(ours, units, ROUND_MS), () => rate(ws, units, ROUND_MS), parts ? { baselineName } : { target: 1, baselineName }),
        );
      }
      if (sink < 0) console.log(sink);
    }
  }
  return rows;
}

const status = nodeMaskerStatus();
console.log(
  `ours: masker ${status.masker === "bufferutil" ? "bufferutil" : `built-in, ${maskImplementation()} (${status.reason})`}; ws: bufferutil ${wsBufferUtil}; ` +
    `${process.env["BENCH_SOURCE"] === "1" ? "sources" : "compiled package"}; Node ${process.version}; rounds: ${ROUNDS}`,
);
// FRAMES_ONLY=parse or FRAMES_ONLY=build runs one half.
const only = process.env["FRAMES_ONLY"];
if (only !== "build") printTable("Frame parsing (64 KiB socket chunks)", await parseRows());
if (only !== "parse") printTable("Frame building", await buildRows());
