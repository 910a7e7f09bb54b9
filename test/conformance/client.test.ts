// The conformance corpus against our client: test/conformance/echo-client.ts
// (connectWebSocket over fromNodeSocket, echoing every message) connecting to
// the raw peer, which plays a scripted server on loopback. Every case must
// pass strictly.
import t from "tap";
import { CASES } from "./corpus.ts";
import { assertStrict } from "./assert-results.ts";
import { runEchoClient } from "./echo-client.ts";
import { FuzzingServer, runCases } from "./runner.ts";

t.test("Autobahn-style corpus, client under test (test/conformance/echo-client.ts)", async (t) => {
  const fuzzer = new FuzzingServer((url) => runEchoClient(url));
  await fuzzer.listen();
  t.teardown(() => fuzzer.close());
  const results = await runCases(CASES, fuzzer, { pmdBudget: 64 * 1024, pmdMaxCount: 40 });
  t.equal(results.length, CASES.length, "every case ran");
  await assertStrict(t, results);
});
