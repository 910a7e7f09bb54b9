/**
 * RFC 6455 §5.3 masking: octet i of a payload is XORed with octet
 * (i + phase) mod 4 of the 4-byte key. Two implementations, same results:
 *
 * - WebAssembly SIMD (mask.wat, embedded as bytes in mask-wasm.ts), compiled
 *   synchronously on first use when `WebAssembly.validate` accepts it. A
 *   module cannot see the caller's arrays, so payloads go through its memory
 *   in {@link WASM_BLOCK}-byte blocks: copy in, XOR 64 bytes per iteration,
 *   copy out (each block stays in cache). Used from {@link WASM_MIN} bytes.
 * - Portable JavaScript, a 32-bit word at a time: short payloads (where the
 *   copies and the call cost more than they save) and wherever WebAssembly
 *   or its SIMD is missing.
 *
 * A third may be injected ({@link MaskFunction}, `ConnectionOptions.mask`):
 * `bufferutil`'s native `mask`, which XORs from a source straight into an
 * output in one pass (no block copies), is what the Node helpers pass. It
 * takes payloads from {@link NATIVE_MIN} bytes; shorter ones stay on the
 * JavaScript loop, which beats the cost of a native call there.
 *
 * Keys travel as one big-endian 32-bit number (key byte 0 in the top 8 bits):
 * rotating it left by 8 moves to the next key byte.
 * @module
 */
import { MASK_WASM } from "./mask-wasm.ts";

/**
 * Payloads from this many bytes on are masked in WebAssembly. Measured on
 * Node 20 (x86-64): the two break even at about 512 bytes, WebAssembly is
 * 1.3x faster at 1 KiB and 2-4x from 4 KiB on.
 */
export const WASM_MIN = 1024;
/** Bytes masked per round trip through the module's memory (fits L1/L2 with room to spare). */
export const WASM_BLOCK = 32 * 1024;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A masking primitive in `bufferutil`'s shape: `output[offset + i] =
 * source[i] ^ mask[i & 3]` for `i` in `[0, length)`, one pass. `source` is
 * read from its index 0; it may be `output` itself at the same position
 * (masking in place). `mask` holds the 4 key bytes.
 * @example
 * ```ts
 * // A native masker the platform layer loaded (on Node: bufferutil's, via wsproto/node's nodeMasker()).
 * declare const mask: MaskFunction;
 * new Connection(ConnectionType.SERVER, { mask });
 * ```
 */
export type MaskFunction = (source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number) => void;

/**
 * Payloads from this many bytes on go to an injected {@link MaskFunction}.
 * Measured with bufferutil on Node 20 (x86-64): a native call costs about
 * 70 ns, which the JavaScript loop matches at about 32 bytes.
 */
export const NATIVE_MIN = 64;

// The key bytes handed to an injected masker, rotated to the phase; used
// within one synchronous call only, so one serves every connection.
const KEY_BYTES = new Uint8Array(4);

/**
 * The 4 key bytes at `key[offset]` as one big-endian 32-bit number.
 * @example
 * ```ts
 * packKey(new Uint8Array([1, 2, 3, 4])); // 0x01020304
 * ```
 */
export function packKey(key: Uint8Array, offset = 0): number {
  return (key[offset]! << 24) | (key[offset + 1]! << 16) | (key[offset + 2]! << 8) | key[offset + 3]!;
}

/** Byte-swap a 32-bit value. */
function swap32(x: number): number {
  return (x >>> 24) | ((x >>> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24);
}

/** The key rotated so its top byte applies to the byte at `phase` (mod 4). */
function rotateKey(key32: number, phase: number): number {
  const s = (phase & 3) << 3;
  return s === 0 ? key32 : (key32 << s) | (key32 >>> (32 - s));
}

/**
 * XOR `count` 32-bit words of `w` with `k`. Unrolled by 16; the `| 0` on each
 * index lets V8 drop its overflow check (about a tenth faster there, the
 * same on JavaScriptCore). A BigUint64Array loop would be faster still on
 * V8 but allocates a BigInt per element on JavaScriptCore (Bun: ~0.1 GB/s).
 */
function maskWords(w: Int32Array, count: number, k: number): void {
  let j = 0;
  const stop = count - 16;
  for (; j <= stop; j = (j + 16) | 0) {
    w[j] = w[j]! ^ k;
    w[(j + 1) | 0] = w[(j + 1) | 0]! ^ k;
    w[(j + 2) | 0] = w[(j + 2) | 0]! ^ k;
    w[(j + 3) | 0] = w[(j + 3) | 0]! ^ k;
    w[(j + 4) | 0] = w[(j + 4) | 0]! ^ k;
    w[(j + 5) | 0] = w[(j + 5) | 0]! ^ k;
    w[(j + 6) | 0] = w[(j + 6) | 0]! ^ k;
    w[(j + 7) | 0] = w[(j + 7) | 0]! ^ k;
    w[(j + 8) | 0] = w[(j + 8) | 0]! ^ k;
    w[(j + 9) | 0] = w[(j + 9) | 0]! ^ k;
    w[(j + 10) | 0] = w[(j + 10) | 0]! ^ k;
    w[(j + 11) | 0] = w[(j + 11) | 0]! ^ k;
    w[(j + 12) | 0] = w[(j + 12) | 0]! ^ k;
    w[(j + 13) | 0] = w[(j + 13) | 0]! ^ k;
    w[(j + 14) | 0] = w[(j + 14) | 0]! ^ k;
    w[(j + 15) | 0] = w[(j + 15) | 0]! ^ k;
  }
  for (; j < count; j++) w[j] = w[j]! ^ k;
}

/** The JavaScript path of {@link maskInPlace}: words over the 4-byte aligned middle, bytes at the edges. */
function maskInPlaceJs(buf: Uint8Array, start: number, end: number, key32: number, phase: number): void {
  // k's top byte is the key byte for position i; rotate left by 8 per byte.
  let k = rotateKey(key32, phase);
  let i = start;
  if (end - start >= 32) {
    // Bytes up to the next 4-byte boundary of the underlying buffer.
    for (const stop = i + ((4 - ((buf.byteOffset + i) & 3)) & 3); i < stop; i++) {
      buf[i] = buf[i]! ^ (k >>> 24);
      k = (k << 8) | (k >>> 24);
    }
    const words = (end - i) >>> 2;
    maskWords(new Int32Array(buf.buffer, buf.byteOffset + i, words), words, LITTLE_ENDIAN ? swap32(k) : k);
    i += words << 2;
  }
  for (; i < end; i++) {
    buf[i] = buf[i]! ^ (k >>> 24);
    k = (k << 8) | (k >>> 24);
  }
}

interface WasmMask {
  /** mask(src, dst, len, keyLE) over the module's memory. */
  run: (src: number, dst: number, len: number, key: number) => void;
  /** The module's memory (one page, never grown, so the view never detaches). */
  heap: Uint8Array;
}

// undefined: not tried yet; null: unavailable or disabled.
let wasm: WasmMask | null | undefined;
let forcedJs = false;

/** Compile and instantiate mask.wat's module, or `null` where WebAssembly (SIMD) is unavailable. */
function loadWasm(): WasmMask | null {
  try {
    if (typeof WebAssembly !== "object" || !WebAssembly.validate(MASK_WASM)) return null;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(MASK_WASM), {});
    const exports = instance.exports as unknown as { mask: WasmMask["run"]; memory: { buffer: ArrayBuffer } };
    const heap = new Uint8Array(exports.memory.buffer);
    if (heap.length < WASM_BLOCK) return null;
    return { run: exports.mask, heap };
  } catch {
    // A platform that forbids compiling (a content security policy, a
    // WebAssembly-less embedder) masks in JavaScript.
    return null;
  }
}

function getWasm(): WasmMask | null {
  if (wasm === undefined) wasm = forcedJs ? null : loadWasm();
  return wasm;
}

/**
 * Which implementation masks payloads of {@link WASM_MIN} bytes and more:
 * `"wasm"` or `"js"`. `useJavaScriptMasking(true)` forces the JavaScript
 * path (for tests and for comparing the two).
 * @example
 * ```ts
 * maskImplementation(); // "wasm" on Node 20, Deno, Bun and current browsers
 * ```
 */
export function maskImplementation(): "wasm" | "js" {
  return getWasm() === null ? "js" : "wasm";
}

/**
 * Force masking onto the JavaScript path (`true`) or let it use WebAssembly
 * where available (`false`, the default). Results are identical either way.
 * @example
 * ```ts
 * useJavaScriptMasking(true); // every payload now masked by the JavaScript loop
 * ```
 */
export function useJavaScriptMasking(force: boolean): void {
  forcedJs = force;
  wasm = undefined;
}

/**
 * XOR `buf[start, end)` in place with the key `key32` (big-endian packed, see
 * {@link packKey}), the first byte using key byte `phase % 4` (so a payload
 * split across chunks keeps the key phase).
 * @example
 * ```ts
 * const data = new Uint8Array([1, 2, 3]);
 * maskInPlace(data, 0, 3, 0x01020304, 0); // data is now 0, 0, 0
 * ```
 */
export function maskInPlace(buf: Uint8Array, start: number, end: number, key32: number, phase: number): void {
  if (end - start >= WASM_MIN) {
    const w = wasm === undefined ? getWasm() : wasm;
    if (w !== null) {
      wasmMask(w, buf, start, buf, start, end - start, key32, phase);
      return;
    }
  }
  maskInPlaceJs(buf, start, end, key32, phase);
}

/**
 * Masked copy: `dst[dstStart + i] = src[srcStart + i] ^ key[(phase + i) % 4]`
 * for `i` in `[0, length)`, one pass over the bytes. `src` is not modified
 * (unless it is `dst` at the same offsets: then this masks in place).
 * @example
 * ```ts
 * const out = new Uint8Array(3);
 * maskCopy(new Uint8Array([1, 2, 3]), 0, out, 0, 3, 0x01020304, 0); // out is 0, 0, 0
 * ```
 */
export function maskCopy(
  src: Uint8Array,
  srcStart: number,
  dst: Uint8Array,
  dstStart: number,
  length: number,
  key32: number,
  phase: number,
): void {
  if (length >= WASM_MIN) {
    const w = wasm === undefined ? getWasm() : wasm;
    if (w !== null) {
      wasmMask(w, src, srcStart, dst, dstStart, length, key32, phase);
      return;
    }
  }
  if (length >= 32) {
    dst.set(
      srcStart === 0 && length === src.length ? src : new Uint8Array(src.buffer, src.byteOffset + srcStart, length),
      dstStart,
    );
    maskInPlaceJs(dst, dstStart, dstStart + length, key32, phase);
    return;
  }
  let k = rotateKey(key32, phase);
  for (let i = 0; i < length; i++) {
    dst[dstStart + i] = src[srcStart + i]! ^ (k >>> 24);
    k = (k << 8) | (k >>> 24);
  }
}

/**
 * {@link maskCopy} through `native` when given and the payload is at least
 * {@link NATIVE_MIN} bytes, else through the built-in paths. Same
 * arguments and results; `src` may be `dst` at the same offsets (in place).
 * @example
 * ```ts
 * maskCopyWith(bufferutil.mask, chunk, 6, out, 0, 4096, 0x01020304, 0);
 * ```
 */
export function maskCopyWith(
  native: MaskFunction | null,
  src: Uint8Array,
  srcStart: number,
  dst: Uint8Array,
  dstStart: number,
  length: number,
  key32: number,
  phase: number,
): void {
  if (native === null || length < NATIVE_MIN) {
    if (src === dst && srcStart === dstStart) maskInPlace(dst, dstStart, dstStart + length, key32, phase);
    else maskCopy(src, srcStart, dst, dstStart, length, key32, phase);
    return;
  }
  const k = rotateKey(key32, phase);
  const key = KEY_BYTES;
  key[0] = k >>> 24;
  key[1] = k >>> 16;
  key[2] = k >>> 8;
  key[3] = k;
  // The native call reads its source from index 0: a view when the bytes start further in.
  native(srcStart === 0 ? src : new Uint8Array(src.buffer, src.byteOffset + srcStart, length), key, dst, dstStart, length);
}

/**
 * The built-in masking (WebAssembly SIMD, JavaScript for short payloads) as
 * a {@link MaskFunction}: what the engine uses when no `mask` option is
 * given. Results are identical to `bufferutil`'s `mask`.
 * @example
 * ```ts
 * const out = new Uint8Array(3);
 * builtinMask(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3, 4]), out, 0, 3); // out is 0, 0, 0
 * ```
 */
export const builtinMask: MaskFunction = (source, mask, output, offset, length) => {
  maskCopy(source, 0, output, offset, length, packKey(mask), 0);
};

/** Mask through the module's memory, a block at a time (blocks are multiples of 4: the phase holds). */
function wasmMask(
  w: WasmMask,
  src: Uint8Array,
  srcStart: number,
  dst: Uint8Array,
  dstStart: number,
  length: number,
  key32: number,
  phase: number,
): void {
  const heap = w.heap;
  const run = w.run;
  // The module reads the key as a little-endian word: key byte `phase` lowest.
  const key = swap32(rotateKey(key32, phase)) | 0;
  const sb = src.buffer;
  const so = src.byteOffset + srcStart;
  for (let done = 0; done < length; done += WASM_BLOCK) {
    const n = length - done < WASM_BLOCK ? length - done : WASM_BLOCK;
    heap.set(new Uint8Array(sb, so + done, n), 0);
    run(0, 0, n, key);
    dst.set(n === WASM_BLOCK ? heap.subarray(0, WASM_BLOCK) : new Uint8Array(heap.buffer, 0, n), dstStart + done);
  }
}
