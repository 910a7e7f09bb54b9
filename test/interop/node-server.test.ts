// Independent clients against WebSocketServer (the deployable server, which
// owns its port): python websockets (10.x, Debian interpreter) and
// Chromium's own WebSocket run the client scenario of peers/README.md, with
// permessage-deflate accepted and declined (16 MiB once, with python).
import t from "tap";
import { launchChromium, serveStatic } from "../helpers/browser.ts";
import { BIN, ROOT, explain, runPeer } from "../helpers/process.ts";
import { BIG, expectedSteps, parseSummary, startOurWebSocketServer, runBrowserClient } from "./harness.ts";

const PEERS = `${ROOT}test/interop/peers/`;

t.test("python websockets client -> WebSocketServer", async (t) => {
  for (const deflate of [true, false]) {
    const server = await startOurWebSocketServer(t, { deflate });
    const args = [`${PEERS}websockets_client.py`, server.url, ...(deflate ? ["--deflate", "--big", String(BIG)] : ["--deflate"])];
    const r = await runPeer(t, BIN.python, args, { timeoutMs: 90000 });
    const summary = parseSummary(r.stdout);
    const ok = r.code === 0 && summary !== null;
    t.ok(ok, ok ? `websockets client completes the scenario (server deflate ${deflate})` : explain("websockets client", r));
    if (!summary) continue;
    t.same(summary.steps, expectedSteps({ big: deflate }), "every step ran");
    t.equal(summary.protocol, "chat", "subprotocol chat agreed");
    if (deflate) t.match(summary.extensions, /permessage-deflate/, "permessage-deflate agreed");
    else t.equal(summary.extensions, "", "the server declined permessage-deflate");
    const records = await server.settled(1);
    t.notOk("error" in records[0]!.closed, `the server session ended cleanly: ${JSON.stringify(records[0]!.closed)}`);
  }
});

t.test("chromium WebSocket -> WebSocketServer", async (t) => {
  const base = await serveStatic(t, `${ROOT}test/interop/peers`, ["browser-client.html", "ws-api-client.js"]);
  const chrome = await launchChromium(t);
  for (const deflate of [true, false]) {
    const server = await startOurWebSocketServer(t, { deflate });
    // The 16 MiB case runs against the same engine in chromium.test.ts; here the server is what is new.
    const big = 0;
    const { summary, error } = await runBrowserClient(chrome, `${base}browser-client.html?ws=${encodeURIComponent(server.url)}&big=${big}`);
    t.equal(error, null, `no error in the page\n${chrome.log.join("\n")}`);
    if (!summary) continue;
    t.same(summary.steps, expectedSteps({ clientFragments: false, clientPing: false, big: false }), `every step ran (deflate ${deflate})`);
    t.equal(summary.protocol, "chat");
    if (deflate) t.match(summary.extensions, /permessage-deflate/);
    else t.equal(summary.extensions, "");
    const records = await server.settled(1);
    t.notOk("error" in records[0]!.closed, `the server session ended cleanly: ${JSON.stringify(records[0]!.closed)}`);
  }
});
