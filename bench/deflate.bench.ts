/**
 * permessage-deflate: inflate and deflate of 1 KiB and 64 KiB JSON-like
 * messages through our PerMessageDeflate hooks (synchronous, on pako and on
 * native zlib through `nodeZlibCodec`) and
 * through ws's PerMessageDeflate (asynchronous Node zlib), in one process,
 * medians of BENCH_ROUNDS (default 7) alternating rounds.
 *
 * Both sides use context takeover, zlib level 6 / memLevel 8 / 15-bit
 * windows. Each batch starts from a freshly negotiated extension (the stream
 * is stateful) and handles the same messages in order; ws's calls are awaited
 * one after the other, as its Receiver and Sender do.
 *
 * Then the compression ratio table of the memory presets against ws's
 * defaults (context takeover, level 6, memLevel 8, 15-bit window) on
 * deterministic payloads generated here (JSON, HTML, English text, binary),
 * as streams of messages of one size; and the cost of a message that ends
 * its DEFLATE stream (BFINAL) after a full window, per codec.
 *
 * Run: `npm run bench -- deflate` (or `node --import tsx bench/deflate.bench.ts`);
 * DEFLATE_ONLY=ratio or DEFLATE_ONLY=bfinal for one part.
 */
import { createRequire } from "node:module";
import zlib from "node:zlib";
import { dirname, join } from "node:path";
import { compare, printTable, rate, type Row } from "./util.ts";
import { PerMessageDeflate } from "../src/protocol/extensions/permessage-deflate.ts";
import { NO_RSV, type FrameProtocolView, type RsvBits } from "../src/protocol/extensions/extension.ts";
import { Opcode } from "../src/protocol/types.ts";
import type { DeflateCodec } from "../src/protocol/extensions/deflate-codec.ts";
import { pakoCodec } from "../src/protocol/extensions/pako-codec.ts";
import { nodeZlibCodec, nodeZlibNative } from "../src/node/zlib.ts";

interface WsPerMessageDeflate {
  accept(configurations: Array<Record<string, unknown>>): unknown;
  compress(data: Uint8Array, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  decompress(data: Uint8Array, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  cleanup(): void;
}
type WsPerMessageDeflateClass = new (options: Record<string, unknown>) => WsPerMessageDeflate;
const require = createRequire(import.meta.url);
// Not in ws's "exports": load it by path, next to ws's main file.
const WsPmd = require(join(dirname(require.resolve("ws")), "lib", "permessage-deflate.js")) as WsPerMessageDeflateClass;

const RSV1: RsvBits = { rsv1: true, rsv2: false, rsv3: false };
const SERVER: FrameProtocolView = { client: false, maxMessageSize: 64 << 20 };
const TAIL = Buffer.from([0, 0, 0xff, 0xff]);

/** JSON-like messages of exactly `size` bytes, each different (ids, values). */
function messages(size: number, count: number): Uint8Array[] {
  const encoder = new TextEncoder();
  return Array.from({ length: count }, (_, m) => encoder.encode(json(size, 42 + m)));
}

/** The messages compressed with Node's zlib as one context-takeover stream (what a peer sends). */
async function compressed(msgs: Uint8Array[]): Promise<Uint8Array[]> {
  const z = zlib.createDeflateRaw({ level: 6, memLevel: 8, windowBits: 15 });
  const out: Uint8Array[] = [];
  for (const m of msgs) {
    const chunks: Buffer[] = [];
    const on = (c: Buffer): void => void chunks.push(c);
    z.on("data", on);
    z.write(m);
    await new Promise<void>((resolve) => z.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
    z.off("data", on);
    out.push(new Uint8Array(Buffer.concat(chunks).subarray(0, -4)));
  }
  z.close();
  return out;
}

function ours(codec: DeflateCodec, memory: "high" | "medium" | "low" = "high"): PerMessageDeflate {
  const ext = new PerMessageDeflate({ codec, memory }).fork();
  ext.accept("permessage-deflate");
  return ext;
}
function theirs(): WsPerMessageDeflate {
  const pmd = new WsPmd({ isServer: true, threshold: 0, maxPayload: 64 << 20 });
  pmd.accept([{}]);
  return pmd;
}

function oursInflate(payloads: Uint8Array[], codec: DeflateCodec): number {
  const ext = ours(codec);
  let total = 0;
  for (const p of payloads) {
    // As the frame layer calls the hooks for one whole frame.
    ext.frameInboundHeader(SERVER, Opcode.BINARY, RSV1, p.length);
    const a = ext.frameInboundPayloadData(SERVER, p);
    const b = ext.frameInboundComplete(SERVER, true);
    if (typeof a === "number" || typeof b === "number") throw new Error(`inflate failed: ${a} ${b}`);
    total += a.length + (b === null ? 0 : b.length);
  }
  return total;
}
async function theirsInflate(payloads: Uint8Array[]): Promise<number> {
  const pmd = theirs();
  let total = 0;
  for (const p of payloads) {
    const data = await new Promise<Buffer>((resolve, reject) =>
      pmd.decompress(p, true, (e, r) => (e ? reject(e) : resolve(r!))),
    );
    total += data.length;
  }
  pmd.cleanup();
  return total;
}
function oursDeflate(msgs: Uint8Array[], codec: DeflateCodec): number {
  const ext = ours(codec);
  let total = 0;
  for (const m of msgs) total += ext.frameOutbound(SERVER, Opcode.BINARY, NO_RSV, m, true)[1].length;
  return total;
}
async function theirsDeflate(msgs: Uint8Array[]): Promise<number> {
  const pmd = theirs();
  let total = 0;
  for (const m of msgs) {
    const data = await new Promise<Buffer>((resolve, reject) => pmd.compress(m, true, (e, r) => (e ? reject(e) : resolve(r!))));
    total += data.length;
  }
  pmd.cleanup();
  return total;
}

async function check(msgs: Uint8Array[], payloads: Uint8Array[], codec: DeflateCodec): Promise<void> {
  // Both inflaters reproduce the messages, and both deflaters' output inflates back.
  const expected = msgs.reduce((s, m) => s + m.length, 0);
  if (oursInflate(payloads, codec) !== expected || (await theirsInflate(payloads)) !== expected) throw new Error("inflate mismatch");
  const ext = ours(codec);
  const stream = Buffer.concat(msgs.flatMap((m) => [ext.frameOutbound(SERVER, Opcode.BINARY, NO_RSV, m, true)[1], TAIL]));
  const back = zlib.inflateRawSync(stream, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  if (Buffer.compare(back, Buffer.concat(msgs)) !== 0) throw new Error("deflate mismatch");
}

/**
 * Units per second of process CPU time (all threads, so ws's zlib thread
 * pool counts): on a shared machine this varies less than wall time.
 */
async function cpuRate(fn: () => unknown, units: number, ms = 300): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  const before = process.cpuUsage();
  const start = performance.now();
  let calls = 0;
  while (performance.now() - start < ms) {
    await fn();
    calls++;
  }
  const used = process.cpuUsage(before);
  return (calls * units * 1e6) / (used.user + used.system);
}

async function speed(): Promise<void> {
const small = messages(1024, 256);
const large = messages(64 * 1024, 16);
const smallZ = await compressed(small);
const largeZ = await compressed(large);
for (const codec of [pakoCodec, nodeZlibCodec]) {
  await check(small, smallZ, codec);
  await check(large, largeZ, codec);
}
if (!nodeZlibNative) console.log("note: the native zlib handle API is missing here; the node:zlib rows run on pako");
const ratio = (z: Uint8Array[], m: Uint8Array[]): string =>
  ((100 * z.reduce((s, p) => s + p.length, 0)) / m.reduce((s, p) => s + p.length, 0)).toFixed(1);
console.log(`1 KiB messages compress to ${ratio(smallZ, small)}%, 64 KiB to ${ratio(largeZ, large)}% (zlib level 6, context takeover)`);

const workloads: Array<{ name: string; unit: string; units: number; target: number; ours: () => unknown; theirs: () => unknown }> = [];
for (const codec of [pakoCodec, nodeZlibCodec]) {
  // The pako rows keep their names; the native ones are tagged.
  const tag = codec === pakoCodec ? "" : ` [${codec.name}]`;
  workloads.push(
    { name: `inflate 1 KiB JSON${tag}`, unit: "msg/s", units: small.length, target: 3, ours: () => oursInflate(smallZ, codec), theirs: () => theirsInflate(smallZ) },
    { name: `inflate 64 KiB JSON${tag}`, unit: "B/s", units: large.length * 64 * 1024, target: 0.6, ours: () => oursInflate(largeZ, codec), theirs: () => theirsInflate(largeZ) },
    { name: `deflate 1 KiB JSON${tag}`, unit: "msg/s", units: small.length, target: 1, ours: () => oursDeflate(small, codec), theirs: () => theirsDeflate(small) },
    { name: `deflate 64 KiB JSON${tag}`, unit: "B/s", units: large.length * 64 * 1024, target: 0.5, ours: () => oursDeflate(large, codec), theirs: () => theirsDeflate(large) },
  );
}
const wall: Row[] = [];
const cpu: Row[] = [];
for (const w of workloads) {
  wall.push(await compare(w.name, w.unit, () => rate(w.ours, w.units), () => rate(w.theirs, w.units), { target: w.target }));
  cpu.push(await compare(w.name, `${w.unit} CPU`, () => cpuRate(w.ours, w.units), () => cpuRate(w.theirs, w.units), { target: w.target }));
}
printTable("permessage-deflate, wall time: ours (pako or [node:zlib], sync) vs ws (node zlib, async)", wall);
printTable("permessage-deflate, per CPU second (all threads)", cpu);
}

// ---- compression ratio of the memory presets -----------------------------------

/** A deterministic pseudo-random source (xorshift32). */
function lcg(seed: number): () => number {
  let x = (seed * 2654435761) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) & 0x7fffffff;
  };
}

function json(size: number, seed: number): string {
  const next = lcg(seed);
  const items: string[] = [];
  let length = 2;
  while (length < size) {
    const item = JSON.stringify({
      id: next() % 1000000,
      user: `user${next() % 5000}`,
      email: `u${next() % 5000}@example.${["com", "org", "net"][next() % 3]}`,
      active: next() % 2 === 0,
      score: (next() % 100000) / 100,
      tags: ["alpha", "beta", "gamma", "delta"].slice(next() % 4),
      updated: `2024-0${1 + (next() % 9)}-1${next() % 9}T1${next() % 9}:0${next() % 9}:00Z`,
    });
    items.push(item);
    length += item.length + 1;
  }
  return `[${items.join(",")}]`.slice(0, size);
}

const WORDS = (
  "the of and to in a is that for it as was with be by on not he i this are or his from at which but have an they you " +
  "were her she there been one all we their has would when if so no will more what up out who them some could into than " +
  "time only other new about its then two may these after first any like our over such now very years most well where " +
  "people through long because before house water world little work between under never same should while great " +
  "ground light question morning evening river mountain letter garden window country history number example"
).split(" ");

function englishText(size: number, seed: number): string {
  const next = lcg(seed);
  let out = "";
  while (out.length < size) {
    const n = 6 + (next() % 14);
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push(WORDS[next() % WORDS.length]!);
    const sentence = words.join(" ");
    out += sentence[0]!.toUpperCase() + sentence.slice(1) + (next() % 5 === 0 ? "? " : ". ");
  }
  return out.slice(0, size);
}

function html(size: number, seed: number): string {
  const next = lcg(seed);
  let out = "";
  const classes = ["item", "row", "card", "title", "muted", "price", "nav-link", "btn btn-primary"];
  while (out.length < size) {
    const id = next() % 10000;
    out +=
      `<div class="${classes[next() % classes.length]}" data-id="${id}"><h3 class="title">` +
      `${englishText(20 + (next() % 30), next())}</h3><p>${englishText(60 + (next() % 120), next())}</p>` +
      `<a href="/items/${id}" class="nav-link">more</a><span class="price">${next() % 500}.${next() % 100}</span></div>\n`;
  }
  return out.slice(0, size);
}

function binary(size: number, seed: number): Uint8Array {
  const next = lcg(seed);
  return Uint8Array.from({ length: size }, () => next() & 0xff);
}

const KINDS: Array<[string, (size: number, seed: number) => Uint8Array]> = [
  ["JSON", (size, seed) => new TextEncoder().encode(json(size, seed))],
  ["HTML", (size, seed) => new TextEncoder().encode(html(size, seed))],
  ["English text", (size, seed) => new TextEncoder().encode(englishText(size, seed))],
  ["binary (random)", binary],
];

async function ratios(): Promise<void> {
  console.log("\n### Compression ratio (compressed / original, lower is better): memory presets vs ws defaults\n");
  console.log("| payload | message size | ws (context takeover, 15/8) | high | medium (default) | low | medium / ws |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [kind, make] of KINDS) {
    for (const [size, count] of [
      [256, 200],
      [4096, 60],
      [65536, 8],
    ] as const) {
      const msgs = Array.from({ length: count }, (_, i) => make(size, 1000 * size + i));
      const raw = msgs.reduce((n, m) => n + m.length, 0);
      const ws = await theirsDeflateSizes(msgs);
      const pct = (n: number): string => ((100 * n) / raw).toFixed(1) + "%";
      const cells: number[] = [];
      for (const memory of ["high", "medium", "low"] as const) {
        const ext = ours(pakoCodec, memory);
        let total = 0;
        for (const m of msgs) total += ext.frameOutbound(SERVER, Opcode.BINARY, NO_RSV, m, true)[1].length;
        cells.push(total);
      }
      console.log(
        `| ${kind} | ${size} B × ${count} | ${pct(ws)} | ${cells.map(pct).join(" | ")} | ${(cells[1]! / ws).toFixed(2)}× |`,
      );
    }
  }
}

async function theirsDeflateSizes(msgs: Uint8Array[]): Promise<number> {
  return theirsDeflate(msgs);
}

// ---- BFINAL after a full window ------------------------------------------------

function bfinal(): void {
  // A peer that ends every message with a BFINAL block (a new DEFLATE stream
  // per message, context kept): after a 64 KiB message fills the window, each
  // 2-byte message costs its inflate plus the reset that keeps the window.
  // The same 2 bytes sent the usual way (sync flush, no BFINAL) for reference.
  const first = messages(64 * 1024, 1)[0]!;
  const firstZ = zlib.deflateRawSync(first, { finishFlush: zlib.constants.Z_FINISH });
  const tinyFinal = zlib.deflateRawSync(Buffer.from("ok"), { finishFlush: zlib.constants.Z_FINISH });
  const tinySync = zlib.deflateRawSync(Buffer.from("ok"), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  const rows: string[] = [];
  for (const codec of [pakoCodec, nodeZlibCodec]) {
    for (const [label, tiny] of [
      ["BFINAL", tinyFinal],
      ["sync flush (reference)", tinySync],
    ] as const) {
      const times: number[] = [];
      for (let round = 0; round < Number(process.env["BENCH_ROUNDS"] ?? 7); round++) {
        const ext = ours(codec);
        const receive = (p: Uint8Array): void => {
          ext.frameInboundHeader(SERVER, Opcode.BINARY, RSV1, p.length);
          const a = ext.frameInboundPayloadData(SERVER, p);
          const b = ext.frameInboundComplete(SERVER, true);
          if (typeof a === "number" || typeof b === "number") throw new Error("inflate failed");
        };
        receive(label === "BFINAL" ? firstZ : zlib.deflateRawSync(first, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4));
        const n = 20000;
        for (let i = 0; i < 1000; i++) receive(tiny);
        // CPU time of this process (the machine may be shared: wall time would count the others).
        const before = process.cpuUsage();
        for (let i = 0; i < n; i++) receive(tiny);
        const used = process.cpuUsage(before);
        times.push((used.user + used.system) / n);
      }
      times.sort((a, b) => a - b);
      const median = times[times.length >> 1]!;
      const target = label === "BFINAL" ? `≤ 2 µs ${median <= 2 ? "met" : "MISSED"}` : "";
      rows.push(`| ${codec.name} | ${label} | ${median.toFixed(2)} µs | ${target} |`);
    }
  }
  console.log("\n### A 2-byte message after a full window, per message (median CPU time)\n");
  console.log("| codec | message ends with | CPU time per message | target |");
  console.log("| --- | --- | ---: | ---: |");
  for (const r of rows) console.log(r);
}

const only = process.env["DEFLATE_ONLY"];
if (only === undefined || only === "speed") await speed();
if (only === undefined || only === "ratio") await ratios();
if (only === undefined || only === "bfinal") bfinal();
