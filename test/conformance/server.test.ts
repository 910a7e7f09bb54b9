// The conformance corpus against our server: examples/echo-server.ts in a
// child process on loopback, the raw peer (test/conformance/raw-peer.ts)
// playing a scripted client. Every case must pass strictly.
import t from "tap";
import { CASES } from "./corpus.ts";
import { assertStrict } from "./assert-results.ts";
import { startEchoServer } from "./echo-server-process.ts";
import { runCases, serverTarget } from "./runner.ts";

t.test("Autobahn-style corpus, server under test (examples/echo-server.ts)", async (t) => {
  const server = await startEchoServer();
  t.teardown(() => server.stop());
  const results = await runCases(CASES, serverTarget("127.0.0.1", server.port), { pmdBudget: 64 * 1024, pmdMaxCount: 40 });
  t.equal(results.length, CASES.length, "every case ran");
  await assertStrict(t, results);
});
