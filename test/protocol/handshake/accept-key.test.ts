// The handshake's keys (src/protocol/handshake/accept-key.ts): the RFC 6455
// accept token, nonces from the injected random source, key validation.
import t from "tap";
import { generateAcceptToken, generateNonce, isValidNonce } from "../../../src/protocol/handshake/accept-key.ts";
import { sequentialRandom } from "../../../src/protocol/bytes/random.ts";

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
