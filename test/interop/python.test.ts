// Interop with Python's websockets (10.x) and wsproto (1.2), run with the
// Debian interpreter: their clients against our server, our client against
// their servers, with and without permessage-deflate; 16 MiB once per peer.
import t from "tap";
import { BIN, ROOT, explain, runPeer, startPeer } from "../helpers/process.ts";
import { BIG, expectedSteps, parseSummary, recordMatrix, runOurClient, startOurServer } from "./harness.ts";

const PEERS = `${ROOT}test/interop/peers/`;

for (const peer of ["websockets", "wsproto"] as const) {
  t.test(`python ${peer} client -> our server`, async (t) => {
    const server = await startOurServer(t);
    for (const deflate of [true, false]) {
      const args = [`${PEERS}${peer}_client.py`, server.url, ...(deflate ? ["--deflate", "--big", String(BIG)] : [])];
      const r = await runPeer(t, BIN.python, args, { timeoutMs: 90000 });
      const summary = parseSummary(r.stdout);
      const ok = r.code === 0 && summary !== null;
      const what = `${peer} client (deflate ${deflate}) completes the scenario`;
      t.ok(ok, ok ? what : explain(what, r));
      if (!summary) continue;
      t.same(summary.steps, expectedSteps({ big: deflate }), "every step ran");
      t.equal(summary.protocol, "chat", "subprotocol chat agreed");
      if (deflate) t.match(summary.extensions, /permessage-deflate/, "permessage-deflate agreed");
      else t.equal(summary.extensions, "", "no extension without an offer");
      recordMatrix({ peer: `python ${peer}`, direction: "our server", deflate: String(deflate), steps: summary.steps, ok });
    }
    const records = await server.settled(4);
    for (const r of records) t.notOk("error" in r.closed, `our server session ended cleanly: ${JSON.stringify(r.closed)}`);
  });

  t.test(`our client -> python ${peer} server`, async (t) => {
    const peerServer = await startPeer(t, BIN.python, [`${PEERS}${peer}_server.py`, "--port", "0"]);
    for (const deflate of [true, false]) {
      try {
        const summary = await runOurClient(peerServer.url, { deflate, big: deflate ? BIG : 0 });
        t.same(summary.steps, expectedSteps({ big: deflate }), `every step ran (deflate ${deflate})`);
        t.equal(summary.protocol, "chat", "subprotocol chat agreed");
        if (deflate) t.match(summary.extensions, /permessage-deflate/, "permessage-deflate agreed");
        else t.equal(summary.extensions, "", "no extension without an offer");
        recordMatrix({ peer: `python ${peer}`, direction: "our client", deflate: String(deflate), steps: summary.steps, ok: true });
      } catch (e) {
        t.fail(explain(`our client (deflate ${deflate}): ${String(e)}`, peerServer));
      }
    }
    const status = await peerServer.kill();
    t.ok(status.code === 0 || status.signal === "SIGTERM", "the peer server exits on SIGTERM");
  });
}
