// The Node examples, each run as its own process: the HTTP server 'upgrade'
// hand-off, TLS (wss:) with a certificate made for the test, and WebSockets
// over HTTP/2 extended CONNECT (RFC 8441).
import t from "tap";
import { once } from "node:events";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { BIN, ROOT, runPeer, says, startPeer, tsx } from "../helpers/process.ts";

t.test("node-http-upgrade.ts: plain HTTP, a WebSocket on /echo, 404 elsewhere", async (t) => {
  const server = await startPeer(t, BIN.node, tsx("examples/node-http-upgrade.ts", "--port", "0"));
  const base = server.url.replace(/^ws:/, "http:").replace(/echo$/, "");
  const res = await fetch(base + "hello");
  t.equal(res.status, 200, "a plain GET is answered by the HTTP server");
  t.match(await res.text(), /plain HTTP still works/);

  const ws = new WebSocket(server.url, { perMessageDeflate: true });
  await once(ws, "open");
  t.match(ws.extensions, /permessage-deflate/, "permessage-deflate accepted");
  ws.send("through the upgrade hand-off");
  const [data] = (await once(ws, "message")) as [Buffer];
  t.equal(data.toString(), "through the upgrade hand-off", "echoed");
  ws.close(1000);
  const [code] = (await once(ws, "close")) as [number];
  t.equal(code, 1000, "clean close");

  const other = new WebSocket(base + "elsewhere");
  other.on("error", () => {});
  const [, response] = (await once(other, "unexpected-response")) as [unknown, import("node:http").IncomingMessage];
  t.equal(response.statusCode, 404, "an upgrade for another path is rejected with 404");
  let body = "";
  for await (const chunk of response) body += String(chunk);
  t.equal(body, "no WebSocket here\n", "with the body the server chose");
  response.destroy();
});

t.test("tls.ts: wss:// with a self-signed certificate made at test time", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "wsproto-tls-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let cert = join(dir, "cert.pem");
  let key = join(dir, "key.pem");
  if (existsSync("/usr/bin/openssl")) {
    execFileSync(
      "/usr/bin/openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out", cert],
      { stdio: "ignore", timeout: 30000 },
    );
  } else {
    // No openssl: Node can make keys but not certificates; use the
    // committed localhost pair (test-only, valid until 2126).
    cert = `${ROOT}test/examples/fixtures/localhost-cert.pem`;
    key = `${ROOT}test/examples/fixtures/localhost-key.pem`;
  }
  const r = await runPeer(t, BIN.node, tsx("examples/tls.ts", "--cert", cert, "--key", key), { timeoutMs: 30000 });
  t.equal(r.code, 0, says(r.code === 0, "the TLS example exits 0", r));
  t.match(r.stdout, /listening on wss:\/\/127\.0\.0\.1:\d+\//);
  t.match(r.stdout, /TLS \+ WebSocket open \(extensions permessage-deflate/, "handshake over TLS with deflate");
  t.match(r.stdout, /echo "secret ✓"/, "text echoed");
  t.match(r.stdout, /echo <4 bytes>/, "binary echoed");
  t.match(r.stdout, /closed 1000/, "clean close");
});

t.test("tls fixture certificate (used without openssl) still loads", async (t) => {
  const { X509Certificate } = await import("node:crypto");
  const { readFileSync } = await import("node:fs");
  const x = new X509Certificate(readFileSync(`${ROOT}test/examples/fixtures/localhost-cert.pem`));
  t.ok(x.checkHost("localhost"), "made for localhost");
  t.ok(new Date(x.validTo) > new Date(), "not expired");
});

t.test("http2.ts: a WebSocket over an HTTP/2 extended CONNECT stream", async (t) => {
  const r = await runPeer(t, BIN.node, tsx("examples/http2.ts"), { timeoutMs: 30000 });
  t.equal(r.code, 0, says(r.code === 0, "the HTTP/2 example exits 0", r));
  t.match(r.stdout, /SETTINGS_ENABLE_CONNECT_PROTOCOL = 1/, "the server enabled extended CONNECT");
  t.match(r.stdout, /client: 200, subprotocol chat, extensions \[permessage-deflate\]/, "negotiated over HTTP/2 headers");
  t.match(r.stdout, /client: received Pong/, "ping answered");
  t.match(r.stdout, /client: closed with 1000/, "clean close");
});
