// The pako DeflateCodec (or the one test/helpers/codec-under-test.ts selects): RFC 7692 §7.2.3 examples byte for byte, cross-checks
// against Node's zlib (both directions, windows 9..15, with and without
// context takeover), bounded inflate and a 1 GiB decompression bomb.
import t, { type Test } from "tap";
import zlib from "node:zlib";
import v8 from "node:v8";
import vm from "node:vm";
import { createHook } from "node:async_hooks";
import { type Deflater, type Inflater } from "../../../src/protocol/extensions/deflate-codec.ts";
import { codecUnderTest } from "../../helpers/codec-under-test.ts";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const hex = (u: Uint8Array): string => Buffer.from(u).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function deflater(windowBits = 15): Deflater {
  return codecUnderTest.createDeflater({ windowBits, level: 6, memLevel: 8 });
}
function inflater(windowBits = 15): Inflater {
  return codecUnderTest.createInflater({ windowBits });
}
/** Inflate one whole message payload the RFC 7692 §7.2.2 way. */
function inflateMessage(i: Inflater, payload: Uint8Array, max = 1 << 30): Uint8Array {
  const a = i.inflate(payload, max);
  if (typeof a === "string") throw new Error(a);
  const b = i.inflate(TAIL, max - a.length);
  if (typeof b === "string") throw new Error(b);
  return new Uint8Array(Buffer.concat([a, b]));
}

/** Byte equality without tap's (slow, huge) diff of large arrays. */
function sameBytes(t: Test, actual: Uint8Array | string, expected: Uint8Array, message: string): void {
  if (typeof actual === "string") {
    t.fail(`${message}: ${actual}`);
    return;
  }
  const equal = Buffer.compare(Buffer.from(actual.buffer, actual.byteOffset, actual.length), Buffer.from(expected.buffer, expected.byteOffset, expected.length)) === 0;
  t.ok(equal, message, equal ? {} : { actualLength: actual.length, expectedLength: expected.length });
}

/** Deterministic text-like data with long-distance repeats. */
function corpus(seed: number, length: number): Uint8Array {
  const words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "{", "}", ":", ",", '"id"', '"name"', "\n"];
  let x = seed >>> 0 || 1;
  const out: string[] = [];
  let size = 0;
  while (size < length) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const w = x % 7 === 0 ? String(x % 100000) : words[x % words.length]!;
    out.push(w);
    size += w.length + 1;
  }
  return utf8(out.join(" ")).subarray(0, length);
}

/**
 * A message sequence whose later messages repeat earlier ones at distances
 * from ~300 bytes to ~24 KiB: context takeover pays off, and a compressor
 * using a larger window than agreed produces back-references that an
 * inflater with the agreed window rejects.
 */
function messages(seed: number): Uint8Array[] {
  const a = corpus(seed, 24 * 1024);
  const b = corpus(seed + 1, 6 * 1024);
  return [a, b, a.subarray(0, 4096), b.subarray(100, 400), utf8(""), a.subarray(20000), b];
}

/**
 * A raw DEFLATE stream (without the final 00 00 ff ff) that inflates to
 * `mib` MiB of zeros, about 1 KiB per MiB: a zero-filled start, then one
 * sync-flushed segment (1 MiB of zeros compressed against a zero
 * dictionary, so every back-reference lands on zeros) repeated.
 */
function zeroBomb(mib: number): Uint8Array {
  const sync = { finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 9 } as const;
  const prefix = zlib.deflateRawSync(Buffer.alloc(1 << 20), sync);
  const segment = zlib.deflateRawSync(Buffer.alloc(1 << 20), { ...sync, dictionary: Buffer.alloc(32 * 1024) });
  const check = zlib.inflateRawSync(Buffer.concat([prefix, segment, segment]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  if (check.length !== 3 << 20 || check.some((b) => b !== 0)) throw new Error("bomb construction failed");
  const parts = [prefix.subarray(0, -4)];
  for (let k = 1; k < mib; k++) parts.push(segment.subarray(0, -4));
  // Each piece ends with a sync flush, so dropping the marker between pieces
  // leaves a valid stream; put the markers back except the last.
  return new Uint8Array(Buffer.concat(parts.flatMap((p, k) => (k < parts.length - 1 ? [p, TAIL] : [p]))));
}

t.test("a 1 GiB-of-zeros bomb stops at the limit, with memory growth near the limit", async (t) => {
  const bomb = zeroBomb(1024);
  t.ok(bomb.length < 2 * 1024 * 1024, `the bomb is ${bomb.length} bytes`);
  const limit = 16 * 1024 * 1024;
  // This test runs first, so the process's peak RSS is still its baseline.
  gc();
  const before = process.memoryUsage();
  const peakBefore = process.resourceUsage().maxRSS * 1024;
  const i = inflater();
  // Feed it as a network would, 4 KiB at a time, keeping every output as a
  // message assembler would.
  const step = 4096;
  const kept: Uint8Array[] = [];
  let total = 0;
  let fedBytes = 0;
  let result: string | null = null;
  for (let at = 0; at < bomb.length; at += step) {
    const chunk = bomb.subarray(at, at + step);
    fedBytes += chunk.length;
    const out = i.inflate(chunk, limit - total);
    if (typeof out === "string") {
      result = out;
      break;
    }
    kept.push(out);
    total += out.length;
  }
  const peakAfter = process.resourceUsage().maxRSS * 1024;
  gc();
  const after = process.memoryUsage();
  t.equal(result, "too-big");
  t.ok(total <= limit, "never more than the limit was handed out");
  // Each compressed byte yields about 1000 zeros.
  t.ok(fedBytes <= step * (Math.ceil(limit / (900 * step)) + 1), `stopped after ${fedBytes} of ${bomb.length} compressed bytes`);
  const kept_ = after.arrayBuffers - before.arrayBuffers + (after.heapUsed - before.heapUsed);
  // (The output kept is up to the limit; array buffers freed by the last
  // collection may still be counted, hence twice the limit.)
  t.ok(kept_ < 2 * limit + 4 * 1024 * 1024, `memory grew by ${(kept_ / 1048576).toFixed(1)} MiB (the output kept) for a ${limit / 1048576} MiB limit`);
  const peak = peakAfter - peakBefore;
  t.ok(peak < 2 * limit + 16 * 1024 * 1024, `peak RSS grew by ${(peak / 1048576).toFixed(1)} MiB`);
  // The whole bomb in one call as well.
  const j = inflater();
  t.equal(j.inflate(bomb, limit), "too-big");
  // And the bomb is genuine: with no limit it would be 1 GiB (checked on a
  // 32 MiB prefix of it to stay fast).
  const k = inflater();
  const small = zeroBomb(32);
  const all = k.inflate(small, Infinity);
  t.equal(typeof all === "string" ? -1 : all.length, 32 * 1024 * 1024, "32 segments inflate to 32 MiB");
  t.ok(kept.length > 1, "output was handed out before the limit was reached");
});

t.test("RFC 7692 §7.2.3.1/§7.2.3.2: 'Hello', then 'Hello' again sharing the window, byte for byte", async (t) => {
  const d = deflater();
  t.equal(hex(d.compress(utf8("Hello"), true)), "f248cdc9c90700");
  t.equal(hex(d.compress(utf8("Hello"), true)), "f200110000");
  const i = inflater();
  t.equal(Buffer.from(inflateMessage(i, unhex("f248cdc9c90700"))).toString(), "Hello");
  t.equal(Buffer.from(inflateMessage(i, unhex("f200110000"))).toString(), "Hello");
});

t.test("RFC 7692 §7.2.3.3: a DEFLATE block with no compression", async (t) => {
  const i = inflater();
  t.equal(Buffer.from(inflateMessage(i, unhex("00 05 00 fa ff 48 65 6c 6c 6f 00"))).toString(), "Hello");
});

t.test("RFC 7692 §7.2.3.4: a DEFLATE block with BFINAL set; the stream may continue in the next message", async (t) => {
  const i = inflater();
  t.equal(Buffer.from(inflateMessage(i, unhex("f3 48 cd c9 c9 07 00 00"))).toString(), "Hello");
  t.equal(i.ended, true, "the DEFLATE stream ended");
  sameBytes(t, i.inflate(unhex("f248cdc9c90700"), 100), new Uint8Array(0), "input after the end is ignored");
  // Under context takeover the next message is a new DEFLATE stream that
  // may refer back into the previous one's output.
  i.reset(true);
  t.equal(i.ended, false);
  const next = zlib.deflateRawSync(Buffer.from("Hello, Hello"), { dictionary: Buffer.from("Hello"), finishFlush: zlib.constants.Z_SYNC_FLUSH });
  t.equal(Buffer.from(inflateMessage(i, next.subarray(0, -4))).toString(), "Hello, Hello");
  // Without keepWindow the reference is out of reach.
  const j = inflater();
  inflateMessage(j, unhex("f3 48 cd c9 c9 07 00 00"));
  j.reset();
  const onlyRef = zlib.deflateRawSync(Buffer.from("Hello"), { dictionary: Buffer.from("Hello"), finishFlush: zlib.constants.Z_SYNC_FLUSH });
  t.equal(j.inflate(Buffer.concat([onlyRef.subarray(0, -4), TAIL]), 100), "invalid-data");
});

t.test("BFINAL after a wrapped window: the next message may refer back a whole window (windows 9..15)", async (t) => {
  for (const bits of [9, 12, 15]) {
    const size = 1 << bits;
    // A first message longer than the window (so zlib's circular window has
    // wrapped), ended by a BFINAL block.
    const first = Buffer.from(Array.from({ length: size * 2 + 123 }, (_, k) => ((k * 2654435761) >>> 13) & 0xff));
    const i = inflater(bits);
    const payload = zlib.deflateRawSync(first, { windowBits: Math.max(bits, 9), finishFlush: zlib.constants.Z_FINISH });
    t.ok(Buffer.from(inflateMessage(i, payload)).equals(first), `first message (${bits})`);
    t.equal(i.ended, true);
    i.reset(true);
    // The second refers to the oldest byte of the window (distance = window size) and to the newest.
    const window = first.subarray(first.length - size);
    const second = Buffer.concat([window.subarray(0, 300), window.subarray(size - 40)]);
    const next = zlib.deflateRawSync(second, { windowBits: Math.max(bits, 9), dictionary: window, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    // (zlib's deflater reaches back only window - 262 bytes, so with 9 bits part of it is literal.)
    if (bits >= 12) t.ok(next.length < 100, `the second message is all back-references (${next.length} bytes)`);
    t.ok(Buffer.from(inflateMessage(i, next.subarray(0, -4))).equals(second), `second message (${bits})`);
  }
});

t.test("resets keep what the inflater has: no new code tables (pako), no new native handles (node:zlib)", async (t) => {
  // A peer ending every message with a BFINAL block under context takeover
  // costs a reset(true) per message, and a peer without context takeover a
  // reset() per message: both must stay cheap (no allocation per reset).
  const bfinal = unhex("f3 48 cd c9 c9 07 00"); // "Hello", BFINAL
  const next = zlib.deflateRawSync(Buffer.from("Hello, Hello"), { dictionary: Buffer.from("Hello"), finishFlush: zlib.constants.Z_FINISH });
  const i = inflater();
  const cycle = (): void => {
    t.equal(Buffer.from(inflateMessage(i, bfinal)).toString(), "Hello");
    i.reset(true);
    // Refers back into the message before the reset.
    t.equal(Buffer.from(inflateMessage(i, next)).toString(), "Hello, Hello");
    i.reset(true);
    inflateMessage(i, bfinal);
    i.reset();
  };
  cycle(); // warm-up: one-time checks and scratch areas
  let tables = 0;
  let handles = 0;
  const Int32 = globalThis.Int32Array;
  globalThis.Int32Array = new Proxy(Int32, {
    construct(target, args, newTarget) {
      tables++;
      return Reflect.construct(target, args, newTarget) as object;
    },
  });
  const hook = createHook({
    init(_id, type) {
      if (type === "ZLIB") handles++;
    },
  }).enable();
  try {
    for (let k = 0; k < 20; k++) cycle();
  } finally {
    hook.disable();
    globalThis.Int32Array = Int32;
  }
  t.equal(tables, 0, "no Int32Array allocated by 60 resets");
  t.equal(handles, 0, "no zlib handle created by 60 resets");
});

t.test("RFC 7692 §7.2.3.5: two DEFLATE blocks in one message", async (t) => {
  const i = inflater();
  t.equal(Buffer.from(inflateMessage(i, unhex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"))).toString(), "Hello");
});

t.test("an empty message is the empty stored block minus the tail, also after a flushed message", async (t) => {
  const d = deflater();
  t.equal(hex(d.compress(new Uint8Array(0), true)), "00");
  t.equal(hex(d.compress(utf8("Hello"), true)), "f248cdc9c90700", "an empty message adds nothing to the window");
  t.equal(hex(d.compress(new Uint8Array(0), true)), "00");
  t.equal(hex(d.compress(new Uint8Array(0), true)), "00");
  const i = inflater();
  sameBytes(t, inflateMessage(i, unhex("00")), new Uint8Array(0), "empty message");
});

t.test("fragments: non-final compress calls are not flushed; the final one completes the message", async (t) => {
  const d = deflater();
  const a = d.compress(utf8("Hel"), false);
  const b = d.compress(utf8("lo"), true);
  t.equal(hex(a), "", "nothing is emitted before the flush");
  t.equal(hex(b), "f248cdc9c90700");
  // A final fragment that is empty still flushes what earlier ones left.
  const e = deflater();
  const c1 = e.compress(utf8("Hello"), false);
  const c2 = e.compress(new Uint8Array(0), true);
  t.equal(Buffer.from(inflateMessage(inflater(), Buffer.concat([c1, c2]))).toString(), "Hello");
});

t.test("large messages: output buffers grow as needed and results are independent copies", async (t) => {
  const d = deflater();
  // Incompressible data expands slightly: exercises growing the output.
  // 1.5 MiB: past the shared output area's cap, so a temporary one grows.
  const noise = new Uint8Array(1536 * 1024);
  let x = 12345;
  for (let k = 0; k < noise.length; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    noise[k] = x >>> 24;
  }
  const p1 = d.compress(noise, true);
  const copy = Uint8Array.from(p1);
  const p2 = d.compress(utf8("small"), true);
  sameBytes(t, p1, copy, "a later call does not overwrite an earlier result");
  const i = inflater();
  sameBytes(t, inflateMessage(i, p1), noise, "noise round trip");
  t.equal(Buffer.from(inflateMessage(i, p2)).toString(), "small");
  // And 2 MiB of highly compressible data in one call.
  const big = new Uint8Array(2 * 1024 * 1024).fill(0x61);
  const pb = d.compress(big, true);
  t.ok(pb.length < 8 * 1024);
  sameBytes(t, inflateMessage(i, pb), big, "2 MiB round trip");
});

for (let w = 9; w <= 15; w++) {
  t.test(`our deflate -> node:zlib inflateRaw, windowBits ${w}`, async (t) => {
    const msgs = messages(w);
    // Context takeover: the payloads plus tails form one DEFLATE stream.
    const d = deflater(w);
    const payloads = msgs.map((m) => d.compress(m, true));
    const stream = Buffer.concat(payloads.flatMap((p) => [p, TAIL]));
    // A tiny output chunk: zlib checks back-reference distances against the
    // window only across calls, so this makes nearly every one count.
    const all = zlib.inflateRawSync(stream, { windowBits: w, chunkSize: 64, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    sameBytes(t, all, Buffer.concat(msgs), "node inflates the whole sequence");
    if (w === 15) {
      t.ok(payloads[2]!.length < 200, `a repeat 24 KiB back costs ${payloads[2]!.length} bytes with context takeover`);
    }
    // No context takeover: each message inflates on its own.
    const n = deflater(w);
    for (const [k, m] of msgs.entries()) {
      const p = n.compress(m, true);
      n.reset();
      const one = zlib.inflateRawSync(Buffer.concat([p, TAIL]), { windowBits: w, finishFlush: zlib.constants.Z_SYNC_FLUSH });
      sameBytes(t, one, m, `message ${k} alone`);
    }
  });

  t.test(`node:zlib deflateRaw -> our inflate, windowBits ${w}`, async (t) => {
    const msgs = messages(100 + w);
    for (const takeover of [true, false]) {
      const payloads = await nodeDeflate(msgs, w, takeover);
      const i = inflater(w);
      for (const [k, p] of payloads.entries()) {
        sameBytes(t, inflateMessage(i, p), msgs[k]!, `message ${k} (${takeover ? "context takeover" : "no context takeover"})`);
        if (!takeover) i.reset();
      }
      // Fed byte-chunked, the output is the same.
      const j = inflater(w);
      for (const [k, p] of payloads.entries()) {
        const parts: Uint8Array[] = [];
        for (let at = 0; at < p.length; at += 997) {
          const out = j.inflate(p.subarray(at, at + 997), 1 << 30);
          if (typeof out === "string") throw new Error(out);
          parts.push(out);
        }
        const end = j.inflate(TAIL, 1 << 30);
        if (typeof end === "string") throw new Error(end);
        parts.push(end);
        sameBytes(t, Buffer.concat(parts), msgs[k]!, `message ${k} in chunks`);
        if (!takeover) j.reset();
      }
    }
  });
}

/** Compress messages with Node's zlib, flushing each with Z_SYNC_FLUSH (as ws does). */
async function nodeDeflate(msgs: Uint8Array[], windowBits: number, takeover: boolean): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  let z: zlib.DeflateRaw | null = null;
  for (const m of msgs) {
    z ??= zlib.createDeflateRaw({ windowBits, level: 6, memLevel: 8 });
    const chunks: Buffer[] = [];
    const onData = (c: Buffer): void => void chunks.push(c);
    z.on("data", onData);
    z.write(m);
    await new Promise<void>((resolve) => z!.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
    z.off("data", onData);
    const all = Buffer.concat(chunks);
    if (hex(all.subarray(-4)) !== "0000ffff") throw new Error("no sync flush marker");
    out.push(new Uint8Array(all.subarray(0, -4)));
    if (!takeover) {
      z.close();
      z = null;
    }
  }
  z?.close();
  return out;
}

t.test("a window smaller than the stream's is detected: inflate with 9 bits what was deflated with 15", async (t) => {
  const m = messages(7);
  const d = deflater(15);
  const i = inflater(9);
  const first = d.compress(m[0]!, true);
  const second = d.compress(m[2]!, true); // refers ~24 KiB back
  inflateMessage(i, first);
  t.equal(i.inflate(Buffer.concat([second, TAIL]), 1 << 30), "invalid-data");
});

t.test("corrupt input is invalid-data; reset makes the inflater usable again", async (t) => {
  const i = inflater();
  t.equal(i.inflate(unhex("7878787878"), 100), "invalid-data");
  i.reset();
  t.equal(Buffer.from(inflateMessage(i, unhex("f248cdc9c90700"))).toString(), "Hello");
  // A reserved block type (BTYPE=11).
  t.equal(inflater().inflate(unhex("07"), 100), "invalid-data");
});

t.test("inflate output is bounded by maxOutput", async (t) => {
  const zeros = new Uint8Array(1024 * 1024);
  const payload = deflater().compress(zeros, true);
  t.equal(inflateMessage(inflater(), payload, zeros.length).length, zeros.length, "exactly the limit passes");
  const i = inflater();
  const a = i.inflate(payload, zeros.length - 1);
  const b = typeof a === "string" ? a : i.inflate(TAIL, zeros.length - 1 - a.length);
  t.equal(typeof a === "string" ? a : b, "too-big", "one byte over fails");
  t.equal(inflater().inflate(payload, 1000), "too-big");
  t.equal(inflater().inflate(payload, 0), "too-big");
  t.equal(inflateMessage(inflater(), payload, Infinity).length, zeros.length, "Infinity means no limit");
  t.equal(inflater().inflate(new Uint8Array(0), 0), inflater().inflate(new Uint8Array(0), 5), "empty input yields the shared empty array");
});

