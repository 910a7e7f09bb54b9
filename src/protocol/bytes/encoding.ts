/**
 * Byte <-> text helpers the handshake needs: base64 (RFC 4648 §4) and
 * latin-1, the encoding of HTTP/1.1 header bytes (RFC 7230 §3.2.4: header
 * octets outside ASCII are opaque data, so each byte maps to one code unit).
 *
 * `TextDecoder("latin1")` cannot be used: the WHATWG Encoding Standard maps
 * that label to windows-1252, which rewrites bytes 0x80–0x9F.
 *
 * Invariants: pure; `base64Decode` returns `null` for anything but canonical
 * base64; latin-1 maps each byte to one code unit both ways.
 * @module
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;
const PAD = 0x3d; // "="
const ALPHABET_CODES: readonly number[] = Array.from(ALPHABET, (c) => c.charCodeAt(0));
// Plain arrays of char codes, one per short length, reused (the handshake's
// keys and accept tokens are 24 and 28 characters): String.fromCharCode.apply
// spreads a plain array without copying it, so the string is the only allocation.
const SHORT_CODES: number[][] = [];
const MAX_SHORT = 64;

/** An array of `length` char codes to fill; shared for short lengths (fill it, then call {@link codesToString} at once). */
function charCodes(length: number): number[] {
  if (length > MAX_SHORT) return new Array<number>(length).fill(0);
  return (SHORT_CODES[length] ??= new Array<number>(length).fill(0));
}

function codesToString(codes: number[]): string {
  if (codes.length <= 4096) return String.fromCharCode.apply(null, codes);
  let out = "";
  for (let i = 0; i < codes.length; i += 4096) out += String.fromCharCode.apply(null, codes.slice(i, i + 4096));
  return out;
}

/**
 * Standard base64 with padding (RFC 4648 §4).
 * @example
 * ```ts
 * base64Encode(new Uint8Array([1, 2, 3])); // "AQID"
 * ```
 */
export function base64Encode(bytes: Uint8Array): string {
  const n = bytes.length;
  const codes = charCodes(Math.ceil(n / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    codes[o++] = ALPHABET_CODES[v >>> 18]!;
    codes[o++] = ALPHABET_CODES[(v >>> 12) & 63]!;
    codes[o++] = ALPHABET_CODES[(v >>> 6) & 63]!;
    codes[o++] = ALPHABET_CODES[v & 63]!;
  }
  if (i < n) {
    const v = (bytes[i]! << 16) | (i + 1 < n ? bytes[i + 1]! << 8 : 0);
    codes[o++] = ALPHABET_CODES[v >>> 18]!;
    codes[o++] = ALPHABET_CODES[(v >>> 12) & 63]!;
    codes[o++] = i + 1 < n ? ALPHABET_CODES[(v >>> 6) & 63]! : PAD;
    codes[o++] = PAD;
  }
  return codesToString(codes);
}

/**
 * Strict standard base64 decoding: the length must be a multiple of 4, padding
 * is required, no whitespace or other characters. Returns `null` for anything
 * else (never throws).
 * @example
 * ```ts
 * base64Decode("AQID"); // Uint8Array [1, 2, 3]
 * base64Decode("AQI");  // null
 * ```
 */
export function base64Decode(text: string): Uint8Array | null {
  const len = text.length;
  if (len % 4 !== 0) return null;
  let pad = 0;
  if (len > 0 && text.charCodeAt(len - 1) === 0x3d) pad = text.charCodeAt(len - 2) === 0x3d ? 2 : 1;
  const out = new Uint8Array((len / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < len; i += 4) {
    const last = i + 4 === len;
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    const c = last && pad === 2 ? 0 : sextet(text, i + 2);
    const d = last && pad >= 1 ? 0 : sextet(text, i + 3);
    if ((a | b | c | d) < 0) return null;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >>> 16;
    if (o < out.length) out[o++] = (v >>> 8) & 0xff;
    if (o < out.length) out[o++] = v & 0xff;
  }
  return out;
}

/**
 * The length {@link base64Decode} would return for `text`, or -1 where it
 * would return `null`; decodes nothing (checking a key allocates nothing).
 * @example
 * ```ts
 * base64DecodedLength("dGhlIHNhbXBsZSBub25jZQ=="); // 16
 * base64DecodedLength("AQI");                      // -1
 * ```
 */
export function base64DecodedLength(text: string): number {
  const len = text.length;
  if (len % 4 !== 0) return -1;
  let pad = 0;
  if (len > 0 && text.charCodeAt(len - 1) === 0x3d) pad = text.charCodeAt(len - 2) === 0x3d ? 2 : 1;
  // The same sextets base64Decode reads: all but the padding of the last group.
  const checked = len - pad;
  for (let i = 0; i < checked; i++) if (sextet(text, i) < 0) return -1;
  return (len / 4) * 3 - pad;
}

function sextet(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code < 128 ? DECODE[code]! : -1;
}

/**
 * Bytes to a string with one code unit per byte (ISO-8859-1).
 * @example
 * ```ts
 * latin1Decode(new Uint8Array([0x48, 0xe9])); // "Hé"
 * ```
 */
export function latin1Decode(bytes: Uint8Array, start = 0, end = bytes.length): string {
  // ASCII bytes (nearly every header line) are the same text in UTF-8: the
  // platform's decoder makes the string directly, where fromCharCode.apply
  // would first copy the bytes into an argument list (8 bytes per byte).
  if (end - start >= MIN_DECODER_LENGTH && isAscii(bytes, start, end)) return ASCII.decode(bytes.subarray(start, end));
  let out = "";
  for (let i = start; i < end; i += 4096) {
    const piece = bytes.subarray(i, Math.min(i + 4096, end));
    out += String.fromCharCode.apply(null, piece as unknown as number[]);
  }
  return out;
}

/** UTF-8 without BOM handling, used on ASCII bytes only (where it is latin-1). */
const ASCII = new TextDecoder("utf-8", { ignoreBOM: true });
/** Below this, fromCharCode.apply's copy is smaller than a call into the decoder costs. */
const MIN_DECODER_LENGTH = 16;

function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! > 0x7f) return false;
  return true;
}

/**
 * `true` when every code unit of `text` fits in one byte (ISO-8859-1).
 * @example
 * ```ts
 * isLatin1("café"); // true
 * isLatin1("€");    // false
 * ```
 */
export function isLatin1(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\xff]*$/.test(text);
}

/**
 * A string whose code units are all <= 0xFF to bytes, one byte per code unit.
 * Callers check {@link isLatin1} first; higher code units are truncated.
 * @example
 * ```ts
 * latin1Encode("GET"); // Uint8Array [0x47, 0x45, 0x54]
 * ```
 */
export function latin1Encode(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/**
 * Concatenate byte arrays into one new array: the one copy loop of the
 * library. `total`, when the caller already counted it, saves a pass; it
 * must be the sum of the parts' lengths.
 * @example
 * ```ts
 * concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[], total = totalLength(parts)): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function totalLength(parts: readonly Uint8Array[]): number {
  let total = 0;
  for (const p of parts) total += p.length;
  return total;
}
