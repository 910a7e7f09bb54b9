/**
 * Masking checked against a plain scalar reference, for both implementations
 * of src/protocol/bytes/mask.ts (WebAssembly and the JavaScript fallback, forced):
 * every length 0-300 and some large ones, every key phase, unaligned offsets,
 * in place and into a destination. Shared by test/protocol/bytes/mask.test.ts and
 * the Deno and Bun runtime tests (pure: runs on any runtime).
 */
import { maskCopy, maskImplementation, maskInPlace, useJavaScriptMasking } from "../../../src/protocol/bytes/mask.ts";

/** The scalar reference: byte i XOR key byte (phase + i) mod 4. */
export function referenceMask(src: Uint8Array, key: Uint8Array, phase: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! ^ key[(phase + i) & 3]!;
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function pseudoRandom(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface MaskCheckResult {
  /** The implementation the default (unforced) path used. */
  implementation: "wasm" | "js";
  /** Cases checked per path. */
  cases: number;
  /** The first mismatch, or null. */
  failure: string | null;
}

/** Check one path (the current setting of useJavaScriptMasking) over `lengths`. */
function checkPath(lengths: number[], keys: Uint8Array[], label: string): { cases: number; failure: string | null } {
  let cases = 0;
  for (const length of lengths) {
    const data = pseudoRandom(length + 16, length * 7 + 1);
    for (const key of keys) {
      const key32 = (key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!;
      for (let phase = 0; phase < 4; phase++) {
        // Source and destination offsets 0-3 cover every alignment of both.
        for (let offset = 0; offset < 4; offset++) {
          const src = data.subarray(offset, offset + length);
          const expected = referenceMask(src, key, phase);
          cases++;
          // In place, in a copy living at the same misalignment.
          const holder = new Uint8Array(length + 8);
          holder.set(src, offset);
          maskInPlace(holder, offset, offset + length, key32, phase);
          if (!equal(holder.subarray(offset, offset + length), expected)) {
            return { cases, failure: `${label} in place: length ${length}, phase ${phase}, offset ${offset}` };
          }
          // Edges untouched.
          for (let i = 0; i < offset; i++) if (holder[i] !== 0) return { cases, failure: `${label} wrote before the range` };
          for (let i = offset + length; i < holder.length; i++) {
            if (holder[i] !== 0) return { cases, failure: `${label} wrote after the range` };
          }
          // Into a destination at another offset; the source unchanged.
          const before = Uint8Array.from(src);
          const dst = new Uint8Array(length + 8);
          const dstOffset = (offset + 1) & 3;
          maskCopy(data, offset, dst, dstOffset, length, key32, phase);
          if (!equal(dst.subarray(dstOffset, dstOffset + length), expected)) {
            return { cases, failure: `${label} copy: length ${length}, phase ${phase}, offset ${offset}` };
          }
          if (!equal(src, before)) return { cases, failure: `${label} copy modified its source` };
          // Masking twice restores the payload.
          maskInPlace(holder, offset, offset + length, key32, phase);
          if (!equal(holder.subarray(offset, offset + length), src)) {
            return { cases, failure: `${label} twice is not the identity: length ${length}` };
          }
        }
      }
    }
  }
  return { cases, failure: null };
}

/**
 * Run the masking check on both paths. `everyKey` runs all 2^8 values of
 * each key byte position for the short lengths (slower); otherwise a handful
 * of keys.
 */
export function maskSelfCheck(options: { lengths?: number[]; keys?: Uint8Array[] } = {}): MaskCheckResult {
  const lengths = options.lengths ?? [
    ...Array.from({ length: 301 }, (_, i) => i),
    1023,
    1024,
    1025,
    4099,
    32 * 1024 - 1,
    32 * 1024,
    32 * 1024 + 3,
    65536 + 13,
    200_001,
  ];
  const keys = options.keys ?? [
    new Uint8Array([0, 0, 0, 0]),
    new Uint8Array([0xff, 0xff, 0xff, 0xff]),
    new Uint8Array([0x01, 0x02, 0x03, 0x04]),
    new Uint8Array([0x80, 0x7f, 0xa5, 0x5a]),
  ];
  useJavaScriptMasking(false);
  const implementation = maskImplementation();
  const fast = checkPath(lengths, keys, implementation);
  if (fast.failure !== null) return { implementation, cases: fast.cases, failure: fast.failure };
  useJavaScriptMasking(true);
  try {
    const js = checkPath(lengths, keys, "js (forced)");
    return { implementation, cases: fast.cases, failure: js.failure };
  } finally {
    useJavaScriptMasking(false);
  }
}
