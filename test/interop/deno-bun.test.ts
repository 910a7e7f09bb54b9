// Interop with Deno's and Bun's own WebSocket implementations: their clients
// (the WHATWG WebSocket of each runtime) against our server, and our client
// against Deno.serve + Deno.upgradeWebSocket and Bun.serve. 16 MiB once per
// peer. Deno's client and server have no permessage-deflate; Bun's have it.
import t from "tap";
import { BIN, ROOT, explain, runPeer, startPeer } from "../helpers/process.ts";
import { BIG, expectedSteps, parseSummary, recordMatrix, runOurClient, startOurServer } from "./harness.ts";

const PEERS = `${ROOT}test/interop/peers/`;
const ENV = { DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" };
const RUNTIMES = {
  deno: { cmd: BIN.deno, pre: ["run", "-A", "--no-lock", "--no-config"], server: "deno-server.js", deflate: false, serverPing: false },
  bun: { cmd: BIN.bun, pre: [], server: "bun-server.js", deflate: true, serverPing: true },
} as const;

for (const [name, rt] of Object.entries(RUNTIMES)) {
  t.test(`${name} WebSocket client -> our server`, async (t) => {
    const server = await startOurServer(t);
    const r = await runPeer(t, rt.cmd, [...rt.pre, `${PEERS}ws-api-client-cli.js`, server.url, "--big", String(BIG)], {
      env: ENV,
      timeoutMs: 90000,
    });
    const summary = parseSummary(r.stdout);
    const ok = r.code === 0 && summary !== null;
    const what = `${name}'s client completes the scenario`;
    t.ok(ok, ok ? what : explain(what, r));
    if (summary) {
      t.same(summary.steps, expectedSteps({ clientFragments: false, clientPing: false, big: true }), "every step ran");
      t.equal(summary.protocol, "chat", "subprotocol chat agreed");
      if (rt.deflate) t.match(summary.extensions, /permessage-deflate/, "permessage-deflate agreed");
      else t.equal(summary.extensions, "", `${name}'s client offers no extension`);
      recordMatrix({ peer: name, direction: "our server", deflate: summary.extensions ? "true" : "false (peer has none)", steps: summary.steps, ok });
    }
    const records = await server.settled(2);
    for (const rec of records) t.notOk("error" in rec.closed, `our session ended cleanly: ${JSON.stringify(rec.closed)}`);
  });

  t.test(`our client -> ${name} server`, async (t) => {
    const peer = await startPeer(t, rt.cmd, [...rt.pre, `${PEERS}${rt.server}`, "--port", "0"], { env: ENV });
    const cases = rt.deflate ? [true, false] : [true];
    for (const deflate of cases) {
      try {
        const summary = await runOurClient(peer.url, { deflate, big: deflate ? BIG : 0 });
        t.same(summary.steps, expectedSteps({ serverPing: rt.serverPing, big: deflate }), `every step ran (offer deflate ${deflate})`);
        t.equal(summary.protocol, "chat", "subprotocol chat agreed");
        if (rt.deflate && deflate) t.match(summary.extensions, /permessage-deflate/, "permessage-deflate agreed");
        else t.equal(summary.extensions, "", "no extension agreed");
        recordMatrix({
          peer: name,
          direction: "our client",
          deflate: rt.deflate ? String(deflate) : "offered, declined (peer has none)",
          steps: summary.steps,
          ok: true,
        });
      } catch (e) {
        t.fail(explain(`our client (deflate ${deflate}): ${String(e)}`, peer));
      }
    }
  });
}
