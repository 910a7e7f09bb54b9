/**
 * `npm run conformance`: run the Autobahn-style corpus over loopback TCP
 * against our echo server (examples/echo-server.ts, the raw peer plays the
 * client) and our echo client (test/conformance/echo-client.ts, the raw peer
 * plays the server), and print a table per case group and the totals.
 *
 *   npm run conformance -- [--role server|client|both] [--peer ours|ws]
 *                          [--cases 1.* --cases 6.4.*] [--exclude 9.*]
 *                          [--full | --pmd-budget BYTES --pmd-max-count N]
 *                          [--failures-only] [--json out.json] [--verbose]
 *
 * --peer ws runs the same corpus against `ws` (which passes Autobahn), to
 * check the harness itself. --full sends Autobahn's 1000 messages per case
 * in sections 12 and 13 instead of the budgeted ~256 KiB per case.
 * Exit status 1 when a case is neither OK nor INFORMATIONAL.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { selectCases } from "../test/conformance/corpus.ts";
import { runEchoClient } from "../test/conformance/echo-client.ts";
import { startEchoServer } from "../test/conformance/echo-server-process.ts";
import { formatReport, tally } from "../test/conformance/report.ts";
import { FuzzingServer, runCases, serverTarget, type CaseResult } from "../test/conformance/runner.ts";
import { startWsEchoServer, wsEchoClient } from "../test/conformance/ws-peers.ts";

const { values } = parseArgs({
  options: {
    role: { type: "string", default: "both" },
    peer: { type: "string", default: "ours" },
    cases: { type: "string", multiple: true },
    exclude: { type: "string", multiple: true },
    full: { type: "boolean", default: false },
    "failures-only": { type: "boolean", default: false },
    "fail-fast-ms": { type: "string" },
    "pmd-budget": { type: "string" },
    "pmd-max-count": { type: "string" },
    json: { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});

const roles = values.role === "both" ? ["server", "client"] : [values.role];
if (!roles.every((r) => r === "server" || r === "client") || (values.peer !== "ours" && values.peer !== "ws")) {
  process.stderr.write("usage: conformance.ts [--role server|client|both] [--peer ours|ws] [--cases PATTERN]... [--full]\n");
  process.exit(2);
}
const cases = selectCases(values.cases ?? null, values.exclude ?? []);
// Against ws, whose UTF-8 checks are per message, the split cases would wait out every fail-fast window.
const failFastMs = Number(values["fail-fast-ms"] ?? (values.peer === "ws" ? 300 : 5000));
const options = {
  failFastMs,
  full: values.full,
  ...(values["pmd-budget"] ? { pmdBudget: Number(values["pmd-budget"]) } : {}),
  ...(values["pmd-max-count"] ? { pmdMaxCount: Number(values["pmd-max-count"]) } : {}),
  onResult: (r: CaseResult) => {
    if (values.verbose || (r.verdict !== "OK" && r.verdict !== "INFORMATIONAL")) {
      process.stderr.write(`  ${r.id} ${r.verdict} ${r.durationMs} ms ${r.detail}\n`);
    }
  },
};

const all: Record<string, CaseResult[]> = {};
let bad = 0;
for (const role of roles) {
  const started = Date.now();
  const who = values.peer === "ws" ? "ws 8 (reference)" : "ours";
  let results: CaseResult[];
  let title: string;
  if (role === "server") {
    title = `server under test: ${values.peer === "ws" ? "ws echo server" : "examples/echo-server.ts"} (${who}); the raw peer is the client`;
    process.stderr.write(`running ${cases.length} cases: ${title}\n`);
    const srv = values.peer === "ws" ? await startWsEchoServer() : await startEchoServer();
    try {
      results = await runCases(cases, serverTarget("127.0.0.1", srv.port), options);
    } finally {
      await srv.stop();
    }
  } else {
    title = `client under test: ${values.peer === "ws" ? "ws echo client" : "test/conformance/echo-client.ts"} (${who}); the raw peer is the server`;
    process.stderr.write(`running ${cases.length} cases: ${title}\n`);
    const fuzzer = new FuzzingServer(values.peer === "ws" ? wsEchoClient : (url) => runEchoClient(url));
    await fuzzer.listen();
    try {
      results = await runCases(cases, fuzzer, options);
    } finally {
      await fuzzer.close();
    }
  }
  all[role] = results;
  const t = tally(results);
  bad += results.length - t.OK - t.INFORMATIONAL;
  process.stdout.write(formatReport(`${title}; ${((Date.now() - started) / 1000).toFixed(1)} s`, results, { allCases: !values["failures-only"] }) + "\n\n");
}
if (values.json) writeFileSync(values.json, JSON.stringify(all, null, 2));
process.exitCode = bad === 0 ? 0 : 1;
