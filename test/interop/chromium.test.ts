// Interop with Chromium's own WebSocket (headless /usr/bin/chromium): the
// client scenario runs in a page against our server, with permessage-deflate
// accepted (16 MiB message) and declined; then the same over HTTP/2 (RFC 8441).
import t, { type Test } from "tap";
import { readFileSync } from "node:fs";
import { launchChromium, serveStatic, type Chromium } from "../helpers/browser.ts";
import { ROOT } from "../helpers/process.ts";
import { BIG, expectedSteps, recordMatrix, startOurHttp2Server, startOurServer, runBrowserClient, type ClientSummary } from "./harness.ts";

/** What every Chromium run must show: no page error, every step, subprotocol chat, deflate as configured. */
function pageRan(t: Test, chrome: Chromium, summary: ClientSummary | null, error: string | null, deflate: boolean): summary is ClientSummary {
  t.equal(error, null, `no error in the page\n${chrome.log.join("\n")}`);
  if (!summary) return false;
  t.same(summary.steps, expectedSteps({ clientFragments: false, clientPing: false, big: deflate }), `every step ran (deflate ${deflate})`);
  t.equal(summary.protocol, "chat", "subprotocol chat agreed");
  if (deflate) t.match(summary.extensions, /permessage-deflate/, "permessage-deflate agreed");
  else t.equal(summary.extensions, "", "our server declined permessage-deflate");
  return true;
}

t.test("chromium WebSocket -> our server", async (t) => {
  const base = await serveStatic(t, `${ROOT}test/interop/peers`, ["browser-client.html", "ws-api-client.js"]);
  const chrome = await launchChromium(t);
  for (const deflate of [true, false]) {
    const server = await startOurServer(t, { deflate });
    const big = deflate ? BIG : 0;
    const { summary, error } = await runBrowserClient(chrome, `${base}browser-client.html?ws=${encodeURIComponent(server.url)}&big=${big}`);
    if (!pageRan(t, chrome, summary, error, deflate)) continue;
    recordMatrix({ peer: "chromium", direction: "our server", deflate: String(deflate), steps: summary.steps, ok: true });
    const records = await server.settled(2);
    for (const r of records) t.notOk("error" in r.closed, `our session ended cleanly: ${JSON.stringify(r.closed)}`);
  }
});

// RFC 8441: Chromium opens WebSockets over HTTP/2 when it already has an
// HTTP/2 connection to the origin whose SETTINGS enable extended CONNECT. The
// page and the WebSocket share one TLS origin served by our http2 secure
// server (a committed test-only certificate, accepted with
// --ignore-certificate-errors); the server also takes HTTP/1.1 upgrades on
// the same port, and records which way each WebSocket came.
t.test("chromium WebSocket -> our HTTP/2 TLS server (RFC 8441)", async (t) => {
  const cert = readFileSync(`${ROOT}test/node/fixtures/test-cert.pem`);
  const key = readFileSync(`${ROOT}test/node/fixtures/test-key.pem`);
  const chrome = await launchChromium(t, ["--ignore-certificate-errors"]);
  for (const deflate of [true, false]) {
    const server = await startOurHttp2Server(t, {
      deflate,
      tls: { cert, key },
      files: { dir: `${ROOT}test/interop/peers`, names: ["browser-client.html", "ws-api-client.js"] },
    });
    const big = deflate ? BIG : 0;
    const { summary, error } = await runBrowserClient(chrome, `${server.base}browser-client.html?ws=${encodeURIComponent(server.url)}&big=${big}`);
    if (!pageRan(t, chrome, summary, error, deflate)) continue;
    t.same(server.via, ["h2", "h2"], "Chromium negotiated RFC 8441: both WebSockets came as HTTP/2 extended CONNECT streams");
    recordMatrix({ peer: "chromium h2", direction: "our server", deflate: String(deflate), steps: summary.steps, ok: true });
    const records = await server.settled(2);
    for (const r of records) t.notOk("error" in r.closed, `our session ended cleanly: ${JSON.stringify(r.closed)}`);
  }
});
