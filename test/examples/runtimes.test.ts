// The Deno and Bun examples, run by the real runtimes (the npm packages
// `deno` and `bun`): the same src/ code, their own sockets or node:net.
import t from "tap";
import { BIN, ROOT, runPeer, says } from "../helpers/process.ts";

t.test("examples/deno.ts runs under Deno (Deno.listen / Deno.connect)", async (t) => {
  const r = await runPeer(t, BIN.deno, ["run", "--allow-net", `${ROOT}examples/deno.ts`], {
    env: { DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
    timeoutMs: 60000,
  });
  t.equal(r.code, 0, says(r.code === 0, "exits 0", r));
  t.match(r.stdout, /listening on ws:\/\/127\.0\.0\.1:\d+\//);
  t.match(r.stdout, /open \(subprotocol chat, extensions permessage-deflate/, "subprotocol and deflate agreed");
  t.notMatch(r.stdout, /DIFFERS/, "every echo matches");
  t.match(r.stdout, /closed 1000 "bye"/, "clean close");
});

t.test("examples/bun.ts runs under Bun (node:net through the Node adapter)", async (t) => {
  const r = await runPeer(t, BIN.bun, [`${ROOT}examples/bun.ts`], { timeoutMs: 60000 });
  t.equal(r.code, 0, says(r.code === 0, "exits 0", r));
  t.match(r.stdout, /listening on ws:\/\/127\.0\.0\.1:\d+\/ \(Bun /, "runs on Bun");
  t.match(r.stdout, /open \(subprotocol chat, extensions permessage-deflate/, "subprotocol and deflate agreed");
  t.notMatch(r.stdout, /DIFFERS/, "every echo matches");
  t.match(r.stdout, /closed 1000 "bye"/, "clean close");
});
