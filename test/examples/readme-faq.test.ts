// The FAQ's code blocks, marked `<!-- readme-test: faq-... -->` in README.md
// (or, until they are folded into it, in docs/notes/*.md), extracted by
// test/helpers/readme.ts and run to completion, each in its own process:
// each must exit 0 and print what its comments say.
import t from "tap";
import { BIN, runPeer, says, tsx } from "../helpers/process.ts";
import { markers, markedBlock, writeRunnable } from "../helpers/readme.ts";

/** What each marked FAQ block prints (its comments say the same). */
const FAQ_OUTPUT: Record<string, RegExp[]> = {
  "faq-keepalive": [/round trip in ms: number/, /client saw 1011/, /dead peer dropped: WS_ERR_KEEPALIVE_TIMEOUT/],
  "faq-auth": [/hello ada\nhello ada\nrefused 401/],
  "faq-several-servers": [/\/chat chat\n\/feed feed/],
  "faq-binary": [/binary 3 bytes\nbinary 8 bytes\ntext text/],
  "faq-errors": [/onSession failed for 127\.0\.0\.1: RangeError: unknown API version: \/v2\/chat/, /\/v2\/chat closed with 1011\nok hello\n\/v1\/chat closed with 1000/],
  "faq-shutdown": [/open 3\nclosed 1001\nclosed 1001\nclosed 1001\nopen 0/],
  "faq-subprotocols": [/chat\.v1,chat\.v2 -> "chat\.v1"\nsuperchat -> ""\nstrict server: 400/],
};

t.test("the FAQ blocks run to completion and print what they say", async (t) => {
  const found = markers().filter((m) => m.startsWith("faq-"));
  t.same(found, Object.keys(FAQ_OUTPUT).sort(), "every FAQ block is checked");
  for (const name of found) {
    const r = await runPeer(t, BIN.node, tsx(writeRunnable(markedBlock(name), name)), { timeoutMs: 30_000 });
    t.equal(r.code, 0, says(r.code === 0, `${name} exits 0`, r));
    for (const expected of FAQ_OUTPUT[name] ?? []) t.match(r.stdout, expected, `${name} prints ${expected}`);
  }
});

