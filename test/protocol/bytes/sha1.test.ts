// SHA-1 and the base64 / latin-1 helpers of the handshake (src/protocol/bytes/sha1.ts,
// src/protocol/bytes/encoding.ts), against FIPS 180 examples and node:crypto.
import t from "tap";
import { createHash, randomBytes } from "node:crypto";
import { sha1, sha1Into } from "../../../src/protocol/bytes/sha1.ts";
import { base64Decode, base64DecodedLength, base64Encode, concatBytes, isLatin1, latin1Decode, latin1Encode } from "../../../src/protocol/bytes/encoding.ts";
import { generateAcceptToken, generateNonce, isValidNonce } from "../../../src/protocol/handshake/accept-key.ts";
import { sequentialRandom } from "../../../src/protocol/bytes/random.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

t.test("FIPS 180 examples", async (t) => {
  t.equal(hex(sha1(ascii(""))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  t.equal(hex(sha1(ascii("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  t.equal(
    hex(sha1(ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  );
  t.equal(hex(sha1(new Uint8Array(1_000_000).fill(0x61))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
});

t.test("every length around the block boundaries matches node:crypto", async (t) => {
  for (let n = 0; n <= 200; n++) {
    const data = randomBytes(n);
    const want = createHash("sha1").update(data).digest("hex");
    if (hex(sha1(new Uint8Array(data))) !== want) t.fail(`length ${n}`);
  }
  t.pass("lengths 0..200");
});

t.test("sha1Into hashes a prefix into the given array, whatever the state left by the last call", async (t) => {
  const data = new Uint8Array(randomBytes(300));
  const out = new Uint8Array(20);
  for (const n of [0, 55, 56, 63, 64, 65, 119, 120, 128, 300]) {
    sha1Into(new Uint8Array(randomBytes(200)), 200, new Uint8Array(20)); // scratch state from a longer message
    t.equal(sha1Into(data, n, out), out, `returns out (${n})`);
    t.equal(hex(out), createHash("sha1").update(data.subarray(0, n)).digest("hex"), `length ${n}`);
  }
});

t.test("the RFC 6455 accept token example", async (t) => {
  // RFC 6455 §1.3
  t.equal(generateAcceptToken("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // The key is used as sent: no trimming, no decoding (wsproto: "short" -> this token).
  t.equal(generateAcceptToken("short"), "JQHdhQRrQ3pd0VAHx7vMGlEiL+4=");
  t.equal(generateAcceptToken("AAECAwQFBgcICQoLDA0ODw=="), "Bz3qJYTGdOe8gUSpLosEdiLKDrk=");
});

t.test("nonces come from the injected random source", async (t) => {
  t.equal(generateNonce(sequentialRandom()), "AAECAwQFBgcICQoLDA0ODw==");
  const a = generateNonce((b) => b.fill(0xff));
  t.equal(a, "/////////////////////w==");
  t.ok(isValidNonce(a));
  t.ok(isValidNonce("dGhlIHNhbXBsZSBub25jZQ=="));
  for (const bad of ["", "short", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ==\n", "dGhlIHNhbXBsZSBub25jZQ", "AAAAAAAAAAAAAAAAAAAAAAAA", "!GhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ==AAAA"]) {
    t.notOk(isValidNonce(bad), `invalid key ${JSON.stringify(bad)}`);
  }
});

t.test("base64 round trips and matches Buffer", async (t) => {
  for (let n = 0; n < 70; n++) {
    const data = new Uint8Array(randomBytes(n));
    const enc = base64Encode(data);
    if (enc !== Buffer.from(data).toString("base64")) t.fail(`encode length ${n}`);
    const dec = base64Decode(enc);
    if (dec === null || hex(dec) !== hex(data)) t.fail(`decode length ${n}`);
  }
  t.pass("lengths 0..69");
});

t.test("base64 decoding is strict", async (t) => {
  for (const bad of ["A", "AB", "ABC", "AB=C", "A===", "AB C", "AB\nC", "ABCDE===", "ÀBCD", "AB-_", "=AAA"]) {
    t.equal(base64Decode(bad), null, JSON.stringify(bad));
    t.equal(base64DecodedLength(bad), -1, `length of ${JSON.stringify(bad)}`);
  }
  for (const good of ["", "AQID", "AQ==", "AQI=", "AR==", "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZR=="]) {
    t.equal(base64DecodedLength(good), base64Decode(good)!.length, `length of ${JSON.stringify(good)}`);
  }
  t.same(base64Decode(""), new Uint8Array(0));
  t.same(base64Decode("AQID"), new Uint8Array([1, 2, 3]));
  t.same(base64Decode("AQ=="), new Uint8Array([1]));
});

t.test("latin-1 maps each byte to one code unit (not windows-1252)", async (t) => {
  const all = new Uint8Array(256).map((_, i) => i);
  const text = latin1Decode(all);
  t.equal(text.length, 256);
  t.equal(text.charCodeAt(0x80), 0x80, "0x80 stays U+0080 (windows-1252 would give U+20AC)");
  t.same(latin1Encode(text), all);
  t.ok(isLatin1(text));
  t.notOk(isLatin1("€"));
  t.equal(latin1Decode(new Uint8Array(10000).fill(0x41)).length, 10000, "long inputs are decoded in pieces");
  t.equal(latin1Decode(ascii("hello"), 1, 4), "ell");
  t.same(concatBytes([ascii("ab"), new Uint8Array(0), ascii("c")]), ascii("abc"));
});
