// The same streams layer on Deno and Bun: each runtime runs our server and
// our client over its own native sockets (Deno.listen / Deno.connect streams;
// Bun.listen / Bun.connect wrapped into web streams, plus node:net through
// our Node adapter under Bun), with and without permessage-deflate: text, a
// 1 MiB binary message, an empty one, a ping, a clean close.
//
// Deno runs the .ts sources directly: our `.ts` imports resolve as they are,
// and the bare `pako` import resolves from node_modules through package.json
// (Deno's default in a directory with package.json and node_modules; the test
// passes --node-modules-dir=manual to say so explicitly).
import t from "tap";
import { BIN, ROOT, explain, have, runPeer } from "../helpers/process.ts";


t.test("Deno: echo over Deno.listen / Deno.connect streams", async (t) => {
  t.ok(have(BIN.deno), "deno is installed (npm package)");
  const r = await runPeer(t, BIN.deno, ["run", "-A", "--node-modules-dir=manual", "test/runtimes/deno-echo.ts"], {
    cwd: ROOT,
    timeoutMs: 60_000,
  });
  t.equal(r.code, 0, explain("deno exits 0", r));
  const result = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Record<string, Record<string, unknown>>;
  for (const name of ["plain", "deflate"]) {
    t.match(result[name], { same: true, pinged: true, closed: { closeCode: 1000, reason: "deno done" } }, name);
  }
  t.equal(result["plain"]?.["extensions"], "");
  t.match(result["mask"], { implementation: "wasm", failure: null }, "masking self-check (WebAssembly and forced JavaScript)");
  t.match(result["deflate"]?.["extensions"], /^permessage-deflate/);
});

t.test("Bun: echo over Bun.listen / Bun.connect (wrapped) and over node:net (adapter)", async (t) => {
  t.ok(have(BIN.bun), "bun is installed (npm package)");
  const r = await runPeer(t, BIN.bun, ["test/runtimes/bun-echo.ts"], { cwd: ROOT, timeoutMs: 60_000 });
  t.equal(r.code, 0, explain("bun exits 0", r));
  const result = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Record<string, Record<string, unknown>>;
  for (const name of ["bunSockets", "bunSockets+deflate", "nodeNet+deflate"]) {
    t.match(result[name], { same: true, pinged: true, closed: { closeCode: 1000, reason: "bun done" } }, name);
  }
  t.equal(result["bunSockets"]?.["extensions"], "");
  t.match(result["mask"], { implementation: "wasm", failure: null }, "masking self-check (WebAssembly and forced JavaScript)");
  t.match(result["bunSockets+deflate"]?.["extensions"], /^permessage-deflate/);
});
