/**
 * A small synchronous SHA-1 (FIPS 180-4 §6.1), used only for the opening
 * handshake's accept token (RFC 6455 §4.2.2). WebCrypto's digest is
 * asynchronous, which a sans-I/O `send()` cannot await, and SHA-1 here
 * protects nothing cryptographically: it only proves the server read the key.
 * @module
 */

// The message schedule, reused: sha1() is synchronous and never re-entered.
const W = new Int32Array(80);

/**
 * The 20-byte SHA-1 digest of `data`.
 * @example
 * ```ts
 * sha1(new TextEncoder().encode("abc")); // a9 99 3e 36 ...
 * ```
 */
export function sha1(data: Uint8Array): Uint8Array {
  const bitLength = data.length * 8;
  // Message + 0x80 + zero padding + 64-bit big-endian length, to a multiple of 64 bytes.
  const padded = new Uint8Array(((data.length + 8) >>> 6) * 64 + 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const n = padded.length;
  const high = Math.floor(bitLength / 0x100000000);
  const low = bitLength >>> 0;
  padded[n - 8] = high >>> 24;
  padded[n - 7] = high >>> 16;
  padded[n - 6] = high >>> 8;
  padded[n - 5] = high;
  padded[n - 4] = low >>> 24;
  padded[n - 3] = low >>> 16;
  padded[n - 2] = low >>> 8;
  padded[n - 1] = low;

  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  const w = W;
  for (let block = 0; block < n; block += 64) {
    for (let t = 0, i = block; t < 16; t++, i += 4) {
      w[t] = (padded[i]! << 24) | (padded[i + 1]! << 16) | (padded[i + 2]! << 8) | padded[i + 3]!;
    }
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
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
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const out = new Uint8Array(20);
  const hs = [h0, h1, h2, h3, h4];
  for (let i = 0; i < 5; i++) {
    const h = hs[i]!;
    out[i * 4] = h >>> 24;
    out[i * 4 + 1] = h >>> 16;
    out[i * 4 + 2] = h >>> 8;
    out[i * 4 + 3] = h;
  }
  return out;
}
