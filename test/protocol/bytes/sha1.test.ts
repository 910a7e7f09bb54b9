// SHA-1 (src/protocol/bytes/sha1.ts) against FIPS 180 examples and node:crypto.
import t from "tap";
import { createHash, randomBytes } from "node:crypto";
import { sha1, sha1Into } from "../../../src/protocol/bytes/sha1.ts";

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
