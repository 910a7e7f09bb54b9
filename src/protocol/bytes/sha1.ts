/**
 * A small synchronous SHA-1 (FIPS 180-4 §6.1), used only for the opening
 * handshake's accept token (RFC 6455 §4.2.2). WebCrypto's digest is
 * asynchronous, which a sans-I/O `send()` cannot await, and SHA-1 here
 * protects nothing cryptographically: it only proves the server read the key.
 *
 * Invariants: synchronous and never re-entered, so it hashes in module-level
 * scratch (an 80-word schedule, two blocks of tail) and allocates only the
 * digest it is not given.
 * @module
 */

// Scratch state, reused: sha1Into() is synchronous and never re-entered.
const W = new Int32Array(80); // the message schedule
const TAIL = new Uint8Array(128); // the last one or two blocks: the message's tail, 0x80, zeros, the bit length
const H = new Int32Array(5); // the chaining value

/**
 * The 20-byte SHA-1 digest of `data`.
 * @example
 * ```ts
 * sha1(new TextEncoder().encode("abc")); // a9 99 3e 36 ...
 * ```
 */
export function sha1(data: Uint8Array): Uint8Array {
  return sha1Into(data, data.length, new Uint8Array(20));
}

/**
 * The SHA-1 digest of `data[0, length)` written into `out[0, 20)` (returned);
 * allocates nothing: whole blocks are read in place, the padded tail goes
 * through a scratch buffer.
 * @example
 * ```ts
 * const digest = sha1Into(bytes, bytes.length, new Uint8Array(20));
 * ```
 */
export function sha1Into(data: Uint8Array, length: number, out: Uint8Array): Uint8Array {
  H[0] = 0x67452301;
  H[1] = 0xefcdab89 | 0;
  H[2] = 0x98badcfe | 0;
  H[3] = 0x10325476;
  H[4] = 0xc3d2e1f0 | 0;
  const whole = length & ~63;
  for (let block = 0; block < whole; block += 64) compress(data, block);
  // Message tail + 0x80 + zero padding + 64-bit big-endian length, to one or two blocks.
  const rest = length - whole;
  const tail = TAIL;
  tail.fill(0);
  for (let i = 0; i < rest; i++) tail[i] = data[whole + i]!;
  tail[rest] = 0x80;
  const n = rest + 8 < 64 ? 64 : 128;
  const bitLength = length * 8;
  const high = Math.floor(bitLength / 0x100000000);
  const low = bitLength >>> 0;
  tail[n - 8] = high >>> 24;
  tail[n - 7] = high >>> 16;
  tail[n - 6] = high >>> 8;
  tail[n - 5] = high;
  tail[n - 4] = low >>> 24;
  tail[n - 3] = low >>> 16;
  tail[n - 2] = low >>> 8;
  tail[n - 1] = low;
  compress(tail, 0);
  if (n === 128) compress(tail, 64);
  for (let i = 0; i < 5; i++) {
    const h = H[i]!;
    out[i * 4] = h >>> 24;
    out[i * 4 + 1] = h >>> 16;
    out[i * 4 + 2] = h >>> 8;
    out[i * 4 + 3] = h;
  }
  return out;
}

/** One 64-byte block at `offset` into the chaining value `H`. */
function compress(bytes: Uint8Array, offset: number): void {
  const w = W;
  for (let t = 0, i = offset; t < 16; t++, i += 4) {
    w[t] = (bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!;
  }
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
    w[t] = (x << 1) | (x >>> 31);
  }
  let a = H[0]!;
  let b = H[1]!;
  let c = H[2]!;
  let d = H[3]!;
  let e = H[4]!;
  for (let t = 0; t < 80; t++) {
    let f: number;
    let k: number;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc | 0;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6 | 0;
    }
    const temp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = temp;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
}
