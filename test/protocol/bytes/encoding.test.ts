// The byte <-> text helpers (src/protocol/bytes/encoding.ts): base64 against
// Buffer, strict decoding, latin-1 (not windows-1252), concatBytes.
import t from "tap";
import { randomBytes } from "node:crypto";
import { base64Decode, base64DecodedLength, base64Encode, concatBytes, isLatin1, latin1Decode, latin1Encode } from "../../../src/protocol/bytes/encoding.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

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
  t.same(concatBytes([ascii("ab"), ascii("c")], 3), ascii("abc"), "with the total already counted");
  t.same(concatBytes([]), new Uint8Array(0));
});
