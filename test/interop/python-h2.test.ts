// Interop over HTTP/2 (RFC 8441) with an independent peer: Python's h2 with
// wsproto's post-handshake Connection (the recipe of wsproto's HTTP/2
// documentation), run with the Debian interpreter (python3-h2,
// python3-wsproto): their client against our acceptHttp2WebSocket server,
// our connectHttp2WebSocket client against their server, with and without
// permessage-deflate; text, binary, fragments both ways, pings both ways,
// 16 MiB (with deflate), close codes both ways.
import t from "tap";
import { BIN, ROOT, explain, runPeer, startPeer } from "../helpers/process.ts";
import { connectHttp2WebSocket } from "../../src/node/index.ts";
import { BIG, expectedSteps, parseSummary, recordMatrix, runOurClient, startOurHttp2Server, type ConnectFunction } from "./harness.ts";

const PEERS = `${ROOT}test/interop/peers/`;

t.test("python h2 client -> our HTTP/2 server", async (t) => {
  for (const deflate of [true, false]) {
    const server = await startOurHttp2Server(t, { deflate });
    const args = [`${PEERS}h2_client.py`, server.url, ...(deflate ? ["--deflate", "--big", String(BIG)] : [])];
    const r = await runPeer(t, BIN.python, args, { timeoutMs: 90000 });
    const summary = parseSummary(r.stdout);
    const ok = r.code === 0 && summary !== null;
    const what = `h2 client (deflate ${deflate}) completes the scenario`;
    t.ok(ok, ok ? what : explain(what, r));
    if (!summary) continue;
    t.same(summary.steps, expectedSteps({ big: deflate }), "every step ran");
    t.equal(summary.protocol, "chat", "subprotocol chat agreed");
    if (deflate) t.match(summary.extensions, /permessage-deflate/, "permessage-deflate agreed");
    else t.equal(summary.extensions, "", "no extension when the server declines");
    recordMatrix({ peer: "python h2", direction: "our server", deflate: String(deflate), steps: summary.steps, ok });
    const records = await server.settled(2);
    t.same(
      records.map((r) => r.closed),
      [
        { closeCode: 4000, reason: "bye" },
        { closeCode: 4001, reason: "server-bye" },
      ],
      "our server sessions closed cleanly with the codes of both directions",
    );
  }
});

t.test("our HTTP/2 client -> python h2 server", async (t) => {
  const peerServer = await startPeer(t, BIN.python, [`${PEERS}h2_server.py`, "--port", "0"]);
  for (const deflate of [true, false]) {
    try {
      const summary = await runOurClient(peerServer.url, {
        deflate,
        big: deflate ? BIG : 0,
        connect: connectHttp2WebSocket as ConnectFunction,
      });
      t.same(summary.steps, expectedSteps({ big: deflate }), `every step ran (deflate ${deflate})`);
      t.equal(summary.protocol, "chat", "subprotocol chat agreed");
      if (deflate) t.match(summary.extensions, /permessage-deflate/, "permessage-deflate agreed");
      else t.equal(summary.extensions, "", "no extension without an offer");
      recordMatrix({ peer: "python h2", direction: "our client", deflate: String(deflate), steps: summary.steps, ok: true });
    } catch (e) {
      t.fail(explain(`our client (deflate ${deflate}): ${String(e)}`, peerServer));
    }
  }
  const status = await peerServer.kill();
  t.ok(status.code === 0 || status.signal === "SIGTERM", "the peer server exits on SIGTERM");
});
