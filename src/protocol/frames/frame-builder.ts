/**
 * Building frames (RFC 6455 §5.2): a built frame is one `Uint8Array` holding
 * header, key and payload, masked in one pass into its output (through the
 * caller's `mask` when given).
 *
 * Invariants:
 * - Frames up to {@link SLAB_MAX_FRAME} bytes are carved from a shared slab
 *   (one `ArrayBuffer` allocation per {@link SLAB_SIZE} bytes of small
 *   frames, not one per frame); a region of a slab is written only before it
 *   is handed out, once, so a returned frame stays valid for as long as it is
 *   referenced. Larger frames get an array of their own (from `allocate`
 *   when given). The slab is the module's only state: at most 64 KiB.
 * @module
 */
import { NATIVE_MIN, maskCopy, type MaskFunction } from "../bytes/mask.ts";
import type { ConnectionOptions } from "../options.ts";
import { MASK_BIT, MAX_PAYLOAD_NORMAL, MAX_PAYLOAD_TWO_BYTE, PAYLOAD_LENGTH_TWO_BYTE, PAYLOAD_LENGTH_EIGHT_BYTE, frameHeaderLength, allocated } from "./frame-header.ts";

/** Bytes of small frames carved from one slab. */
const SLAB_SIZE = 64 * 1024;
/** Frames up to this many bytes come from the slab; larger ones get an allocation of their own. */
const SLAB_MAX_FRAME = 8 * 1024;
let slab: ArrayBuffer | null = null;
/** The current slab as 32-bit words, for copying short payloads a word per store. */
let slabWords: Int32Array | null = null;
let slabUsed = SLAB_SIZE;
/** Words assembled from bytes go into memory little-endian (so on every current platform); elsewhere bytes are copied one by one. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * `size` fresh bytes for a frame. Small frames are views of a shared slab:
 * creating a view costs a fraction of allocating an `ArrayBuffer`, and the
 * region is never handed out again (the next frame starts after it, at an
 * 8-byte boundary), so the frame stays valid while referenced. A slab is
 * freed once no frame cut from it is referenced.
 */
function allocateFrame(size: number, allocate: ((size: number) => Uint8Array) | null = null): Uint8Array {
  if (size > SLAB_MAX_FRAME) return allocate === null ? new Uint8Array(size) : allocated(allocate, size);
  let offset = slabUsed;
  if (offset + size > SLAB_SIZE) {
    newSlab();
    offset = 0;
  }
  slabUsed = (offset + size + 7) & ~7;
  return new Uint8Array(slab!, offset, size);
}

function newSlab(): void {
  slab = new ArrayBuffer(SLAB_SIZE);
  slabWords = null;
}

/** Write the header of a frame up to its length field (the masking key, if any, follows it). */
function writeHeader(out: Uint8Array, firstByte: number, len: number, maskBit: number): void {
  out[0] = firstByte;
  if (len <= MAX_PAYLOAD_NORMAL) {
    out[1] = len | maskBit;
  } else if (len <= MAX_PAYLOAD_TWO_BYTE) {
    out[1] = PAYLOAD_LENGTH_TWO_BYTE | maskBit;
    out[2] = len >>> 8;
    out[3] = len & 0xff;
  } else {
    // RFC 6455 §5.2: the most significant bit of the 64-bit length MUST be 0.
    // JS lengths stay below 2^53, so the high word fits in 21 bits.
    const hi = Math.floor(len / 0x100000000);
    const lo = len >>> 0;
    out[1] = PAYLOAD_LENGTH_EIGHT_BYTE | maskBit;
    out[2] = 0;
    out[3] = 0;
    out[4] = hi >>> 8;
    out[5] = hi & 0xff;
    out[6] = lo >>> 24;
    out[7] = (lo >>> 16) & 0xff;
    out[8] = (lo >>> 8) & 0xff;
    out[9] = lo & 0xff;
  }
}

/**
 * The header alone of an unmasked frame carrying `payloadLength` bytes, for
 * writing a large payload after it without copying it into the frame.
 * @example
 * ```ts
 * socket.cork(); socket.write(buildFrameHeader(0x82, data.length)); socket.write(data); socket.uncork();
 * ```
 */
export function buildFrameHeader(firstByte: number, payloadLength: number): Uint8Array {
  const out = allocateFrame(frameHeaderLength(payloadLength, false));
  writeHeader(out, firstByte, payloadLength, 0);
  return out;
}

/**
 * Build one frame into one `Uint8Array`: header, masking key (when `maskKey`
 * is given) and payload (masked with it). `firstByte` is FIN | RSV | opcode.
 * The result is fresh bytes (small frames share a slab's `ArrayBuffer`, see
 * the module notes); the caller's payload is not modified. A frame too large
 * for the slab comes from `allocate` when given (every byte of it is
 * written, so it need not zero-fill), else from `new Uint8Array`. A
 * payload of {@link NATIVE_MIN} bytes or more is masked by `mask` when
 * given (`ConnectionOptions.mask`), straight from the payload into the frame.
 * @example
 * ```ts
 * buildFrame(0x81, new TextEncoder().encode("Hello"), null); // 81 05 48 65 6c 6c 6f
 * ```
 */
export function buildFrame(
  firstByte: number,
  payload: Uint8Array,
  maskKey: Uint8Array | null,
  allocate: ((size: number) => Uint8Array) | null = null,
  mask: MaskFunction | null = null,
): Uint8Array {
  if (maskKey === null) return buildUnmaskedFrame(firstByte, payload, allocate);
  const len = payload.length;
  const hdr = frameHeaderLength(len, true);
  const out = allocateFrame(hdr + len, allocate);
  writeHeader(out, firstByte, len, MASK_BIT);
  // RFC 6455 §5.3: the key goes right before the payload, which is XORed with it.
  const k0 = maskKey[0]!;
  const k1 = maskKey[1]!;
  const k2 = maskKey[2]!;
  const k3 = maskKey[3]!;
  out[hdr - 4] = k0;
  out[hdr - 3] = k1;
  out[hdr - 2] = k2;
  out[hdr - 1] = k3;
  if (len >= 32) {
    // One masked copy into the frame (no copy-then-mask second pass).
    if (mask !== null && len >= NATIVE_MIN) mask(payload, maskKey, out, hdr, len);
    else maskCopy(payload, 0, out, hdr, len, (k0 << 24) | (k1 << 16) | (k2 << 8) | k3, 0);
    return out;
  }
  let i = 0;
  for (; i + 4 <= len; i = (i + 4) | 0) {
    const o = (hdr + i) | 0;
    out[o] = payload[i]! ^ k0;
    out[(o + 1) | 0] = payload[(i + 1) | 0]! ^ k1;
    out[(o + 2) | 0] = payload[(i + 2) | 0]! ^ k2;
    out[(o + 3) | 0] = payload[(i + 3) | 0]! ^ k3;
  }
  for (; i < len; i++) out[hdr + i] = payload[i]! ^ maskKey[i & 3]!;
  return out;
}

/**
 * {@link buildFrame} without a masking key (a server's frame): header and
 * payload in one `Uint8Array`. Small, so that it inlines into the send path.
 * @example
 * ```ts
 * buildUnmaskedFrame(0x82, new Uint8Array([1, 2])); // 82 02 01 02
 * ```
 */
export function buildUnmaskedFrame(
  firstByte: number,
  payload: Uint8Array,
  allocate: ((size: number) => Uint8Array) | null = null,
): Uint8Array {
  const len = payload.length;
  if (len > 32) return buildLongUnmaskedFrame(firstByte, payload, allocate);
  // A short frame from the slab, placed so that its payload starts on a
  // 4-byte boundary (2 bytes after an 8-byte one): the payload is copied a
  // word per store (a loop beats the call into `set` at this size).
  const size = (len + 2) | 0;
  let o = (slabUsed + 2) | 0;
  if (o + size > SLAB_SIZE) {
    newSlab();
    o = 2;
  }
  slabUsed = (o + size + 7) & ~7;
  let i = 0;
  if (LITTLE_ENDIAN) {
    const words = (slabWords ??= new Int32Array(slab!));
    // `| 0` keeps the indices small integers (see maskWords).
    for (let w = (o + 2) >> 2; i + 4 <= len; i = (i + 4) | 0, w = (w + 1) | 0) {
      words[w] = payload[i]! | (payload[(i + 1) | 0]! << 8) | (payload[(i + 2) | 0]! << 16) | (payload[(i + 3) | 0]! << 24);
    }
  }
  const out = new Uint8Array(slab!, o, size);
  out[0] = firstByte;
  out[1] = len;
  for (; i < len; i = (i + 1) | 0) out[(i + 2) | 0] = payload[i]!;
  return out;
}

/** {@link buildUnmaskedFrame} for payloads over 32 bytes. */
function buildLongUnmaskedFrame(firstByte: number, payload: Uint8Array, allocate: ((size: number) => Uint8Array) | null): Uint8Array {
  const len = payload.length;
  const hdr = frameHeaderLength(len, false);
  const out = allocateFrame(hdr + len, allocate);
  writeHeader(out, firstByte, len, 0);
  out.set(payload, hdr);
  return out;
}
