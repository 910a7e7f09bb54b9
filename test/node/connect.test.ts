// The Node client's way to its server (src/node/connect.ts), over
// real loopback sockets: an HTTP CONNECT proxy written here (node:http
// 'connect'), with and without credentials, a refusing proxy, the opt-in
// environment (HTTP_PROXY / HTTPS_PROXY / NO_PROXY); redirect chains
// (301/302/307/308), loops, the count limit, wss: -> ws: refused, credentials
// dropped across origins; the createConnection hook over a Unix socket;
// what the user sees when DNS, TCP or TLS fail; and the heads read with
// HttpReader (a proxy's answer byte by byte with bare LF, a malformed one).
import t from "tap";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import { connect as netConnect, createServer, type Server, type Socket } from "node:net";
import { createServer as createHttpsServer } from "node:https";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import type { Duplex } from "node:stream";
import { acceptNodeUpgrade, connectNodeWebSocket, proxyFromEnvironment } from "../../src/node/index.ts";
import { WebSocketError, type WebSocketSession } from "../../src/streams/sessions.ts";
import { ROOT } from "../helpers/process.ts";
import { rejection } from "../streams/_helpers.ts";

const cert = readFileSync(new URL("fixtures/test-cert.pem", import.meta.url));
const key = readFileSync(new URL("fixtures/test-key.pem", import.meta.url));

async function listen(server: Server | HttpServer, t: { teardown(fn: () => unknown): void }): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as { port: number }).port;
}

/** A WebSocket echo server on node:http (or https) whose 'upgrade' answers by path: redirects or a WebSocket. */
interface EchoServer {
  port: number;
  /** Request targets and headers seen, in order. */
  seen: Array<{ url: string; headers: IncomingMessage["headers"] }>;
}

async function echoServer(
  t: { teardown(fn: () => unknown): void },
  redirects: Record<string, [number, string]> = {},
  secure = false,
): Promise<EchoServer> {
  const server = secure ? createHttpsServer({ cert, key }) : createHttpServer();
  const seen: EchoServer["seen"] = [];
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    const redirect = redirects[req.url ?? ""];
    if (redirect !== undefined) {
      socket.end(`HTTP/1.1 ${redirect[0]} Redirect\r\nLocation: ${redirect[1]}\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const ws = acceptNodeUpgrade(req, socket, head, { pingInterval: null });
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
    ws.closed.catch(() => {});
  });
  const port = await listen(server as unknown as Server, t);
  return { port, seen };
}

/** An HTTP CONNECT proxy (node:http 'connect'): records targets; optional Basic credentials; optional refusal. */
interface Proxy {
  url: string;
  connects: Array<{ target: string; authorization: string | undefined }>;
}

async function startProxy(
  t: { teardown(fn: () => unknown): void },
  { credentials, refuse }: { credentials?: string; refuse?: string } = {},
): Promise<Proxy> {
  const server = createHttpServer();
  const connects: Proxy["connects"] = [];
  const tunnels = new Set<Socket>();
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    connects.push({ target: req.url ?? "", authorization: req.headers["proxy-authorization"] });
    if (refuse !== undefined) {
      client.end(`HTTP/1.1 ${refuse}\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    if (credentials !== undefined && req.headers["proxy-authorization"] !== `Basic ${Buffer.from(credentials).toString("base64")}`) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = [req.url!.slice(0, req.url!.lastIndexOf(":")), Number(req.url!.slice(req.url!.lastIndexOf(":") + 1))];
    const upstream = netConnect({ host: host.replace(/^\[|\]$/g, ""), port }, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.byteLength > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    tunnels.add(upstream).add(client);
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  const port = await listen(server, t);
  t.teardown(() => {
    for (const s of tunnels) s.destroy();
  });
  return { url: `http://127.0.0.1:${port}`, connects };
}

/** Echo one text message and close cleanly. */
async function roundTrip(ws: WebSocketSession, text = "through"): Promise<string> {
  const { readable, writable } = await ws.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write(text);
  const got = (await reader.read()).value as string;
  ws.close({ closeCode: 1000 });
  await ws.closed;
  return got;
}

t.test("proxy: CONNECT through an HTTP proxy, without and with credentials", async (t) => {
  const server = await echoServer(t);
  const open = await startProxy(t);
  t.equal(await roundTrip(connectNodeWebSocket(`ws://127.0.0.1:${server.port}/a`, { proxy: open.url, pingInterval: null })), "through");
  t.same(open.connects, [{ target: `127.0.0.1:${server.port}`, authorization: undefined }], "one tunnel to the server, no credentials");

  const guarded = await startProxy(t, { credentials: "user:p@ss word" });
  const url = guarded.url.replace("http://", "http://user:p%40ss%20word@");
  t.equal(await roundTrip(connectNodeWebSocket(`ws://127.0.0.1:${server.port}/b`, { proxy: url, pingInterval: null })), "through");
  t.equal(guarded.connects[0]!.authorization, `Basic ${Buffer.from("user:p@ss word").toString("base64")}`, "Basic credentials, percent-decoded");

  // Without the credentials the proxy answers 407: the error shows its status line.
  const refused = connectNodeWebSocket(`ws://127.0.0.1:${server.port}/c`, { proxy: guarded.url, pingInterval: null });
  const error = (await rejection(refused.opened)) as WebSocketError;
  t.match(error.message, new RegExp(`refused CONNECT 127\\.0\\.0\\.1:${server.port}: HTTP/1\\.1 407 Proxy Authentication Required`));
  t.equal(error.closeCode, 1006);
  t.equal((error.cause as WebSocketError).code, "WS_ERR_PROXY");
  t.equal((error.cause as WebSocketError).status, 407);
  t.same(server.seen.map((s) => s.url), ["/a", "/b"], "the refused attempt never reached the server");
});

t.test("proxy: a refusing proxy, an unreachable proxy, and wss: through a proxy (TLS inside the tunnel)", async (t) => {
  const server = await echoServer(t);
  const forbidding = await startProxy(t, { refuse: "403 Forbidden" });
  const error = await rejection(connectNodeWebSocket(`ws://127.0.0.1:${server.port}/`, { proxy: forbidding.url }).opened);
  t.match(error.message, /The proxy 127\.0\.0\.1:\d+ refused CONNECT 127\.0\.0\.1:\d+: HTTP\/1\.1 403 Forbidden/);

  const unreachable = await rejection(connectNodeWebSocket(`ws://127.0.0.1:${server.port}/`, { proxy: "http://127.0.0.1:1" }).opened);
  t.match(unreachable.message, /Could not reach the proxy 127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1/);

  const secure = await echoServer(t, {}, true);
  const proxy = await startProxy(t);
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on("warning", onWarning);
  t.teardown(() => process.off("warning", onWarning));
  const ws = connectNodeWebSocket(`wss://127.0.0.1:${secure.port}/tls`, { proxy: proxy.url, tls: { ca: cert }, pingInterval: null });
  t.equal(await roundTrip(ws, "tls in a tunnel"), "tls in a tunnel");
  t.same(proxy.connects.map((c) => c.target), [`127.0.0.1:${secure.port}`]);
  t.same(secure.seen.map((s) => s.url), ["/tls"]);
  // No SNI for an IP literal (Node warns DEP0123 when one is given).
  const direct = connectNodeWebSocket(`wss://127.0.0.1:${secure.port}/direct`, { tls: { ca: cert }, pingInterval: null });
  t.equal(await roundTrip(direct), "through");
  await new Promise((resolve) => setImmediate(resolve));
  t.same(warnings.filter((w) => /servername|SNI|RFC 6066/i.test(w)), [], "no TLS servername warning for IP literals");
});

t.test("proxy: true reads HTTP_PROXY / HTTPS_PROXY and honours NO_PROXY (opt-in only)", async (t) => {
  const server = await echoServer(t);
  const proxy = await startProxy(t);
  const saved = { ...process.env };
  t.teardown(() => {
    for (const name of ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"]) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });
  for (const name of ["http_proxy", "https_proxy", "no_proxy", "NO_PROXY"]) delete process.env[name];
  process.env.HTTP_PROXY = proxy.url;
  const url = `ws://127.0.0.1:${server.port}/env`;

  t.equal(await roundTrip(connectNodeWebSocket(url, { pingInterval: null })), "through");
  t.equal(proxy.connects.length, 0, "without proxy: true the environment is not read");
  t.equal(await roundTrip(connectNodeWebSocket(url, { proxy: true, pingInterval: null })), "through");
  t.equal(proxy.connects.length, 1, "proxy: true tunnels through HTTP_PROXY");
  process.env.NO_PROXY = "example.com, 127.0.0.1";
  t.equal(await roundTrip(connectNodeWebSocket(url, { proxy: true, pingInterval: null })), "through");
  t.equal(proxy.connects.length, 1, "NO_PROXY listing the host bypasses the proxy");

  // The rules, as python websockets and curl apply them.
  const env = { HTTPS_PROXY: "http://secure-proxy:1", HTTP_PROXY: "http://plain-proxy:2", http_proxy: "http://lower:3" };
  t.equal(proxyFromEnvironment(new URL("wss://a.example/"), env), "http://secure-proxy:1", "wss: uses HTTPS_PROXY");
  t.equal(proxyFromEnvironment(new URL("ws://a.example/"), env), "http://lower:3", "lower-case names first");
  t.equal(proxyFromEnvironment(new URL("ws://a.example/"), {}), null);
  t.equal(proxyFromEnvironment(new URL("ws://a.example/"), { ...env, NO_PROXY: "*" }), null, "* bypasses everything");
  t.equal(proxyFromEnvironment(new URL("ws://sub.a.example/"), { ...env, NO_PROXY: ".a.example" }), null, ".suffix");
  t.equal(proxyFromEnvironment(new URL("ws://sub.a.example/"), { ...env, NO_PROXY: "a.example" }), null, "a domain covers its subdomains");
  t.equal(proxyFromEnvironment(new URL("ws://nota.example/"), { ...env, NO_PROXY: "a.example" }), "http://lower:3", "but not other names ending alike");
  t.equal(proxyFromEnvironment(new URL("ws://a.example:8080/"), { ...env, NO_PROXY: "a.example:9090" }), "http://lower:3", "a port must match");
  t.equal(proxyFromEnvironment(new URL("ws://a.example:8080/"), { ...env, NO_PROXY: "a.example:8080" }), null);
  t.equal(proxyFromEnvironment(new URL("ws://[::1]:8080/"), { ...env, NO_PROXY: "::1" }), null, "IPv6 literals");
});

t.test("redirects: a 301/302/307/308 chain is followed only when asked, to its end", async (t) => {
  const server = await echoServer(t, {
    "/start": [301, "/two"],
    "/two": [302, "/three?x=1"],
    "/three?x=1": [307, "three-b"],
    "/three-b": [308, "/final"],
  });
  const url = `ws://127.0.0.1:${server.port}/start`;

  const notFollowed = (await rejection(connectNodeWebSocket(url, { pingInterval: null }).opened)) as WebSocketError;
  t.equal(notFollowed.status, 301, "off by default: the redirect is the rejection");
  t.same(notFollowed.headers.find(([n]) => n === "location"), ["location", "/two"]);

  const ws = connectNodeWebSocket(url, { followRedirects: true, pingInterval: null, headers: [["authorization", "Bearer same-origin"]] });
  t.equal(await roundTrip(ws), "through");
  t.same(server.seen.slice(1).map((s) => s.url), ["/start", "/two", "/three?x=1", "/three-b", "/final"], "every hop, relative Locations resolved");
  t.equal(server.seen.at(-1)!.headers.authorization, "Bearer same-origin", "credentials kept on the same origin");
  t.equal(server.seen.at(-1)!.headers.host, `127.0.0.1:${server.port}`);

  const limited = (await rejection(connectNodeWebSocket(url, { followRedirects: 3, pingInterval: null }).opened)) as WebSocketError;
  t.match(limited.message, /Too many redirects: more than 3/);
  t.equal((limited.cause as WebSocketError).code, "WS_ERR_REDIRECT");
  const exact = connectNodeWebSocket(url, { followRedirects: 4, pingInterval: null });
  t.equal(await roundTrip(exact), "through", "exactly the limit is fine");
});

t.test("redirects: loops, wss: to ws: refused, credentials dropped across origins", async (t) => {
  const other = await echoServer(t);
  const server = await echoServer(t, {
    "/a": [302, "/b"],
    "/b": [302, "/a"],
    "/away": [307, `ws://127.0.0.1:${other.port}/landed`],
  });
  const loop = await rejection(connectNodeWebSocket(`ws://127.0.0.1:${server.port}/a`, { followRedirects: 20 }).opened);
  t.match(loop.message, new RegExp(`Redirect loop: ws://127\\.0\\.0\\.1:${server.port}/a was already visited`));
  t.same(server.seen.map((s) => s.url), ["/a", "/b"], "stopped before asking again");

  const ws = connectNodeWebSocket(`ws://127.0.0.1:${server.port}/away`, {
    followRedirects: true,
    pingInterval: null,
    headers: [
      ["authorization", "Bearer secret"],
      ["cookie", "session=1"],
      ["x-kept", "yes"],
    ],
  });
  t.equal(await roundTrip(ws), "through");
  const landed = other.seen[0]!;
  t.equal(landed.url, "/landed");
  t.equal(landed.headers.authorization, undefined, "Authorization dropped for another origin");
  t.equal(landed.headers.cookie, undefined, "Cookie dropped for another origin");
  t.equal(landed.headers["x-kept"], "yes");
  t.equal(landed.headers.host, `127.0.0.1:${other.port}`);

  const secure = await echoServer(t, { "/down": [301, `ws://127.0.0.1:${other.port}/plain`] }, true);
  const down = await rejection(
    connectNodeWebSocket(`wss://127.0.0.1:${secure.port}/down`, { followRedirects: true, tls: { ca: cert } }).opened,
  );
  t.match(down.message, /Refusing to follow a redirect from wss:\/\/127\.0\.0\.1:\d+\/down to ws:\/\/127\.0\.0\.1:\d+\/plain/);
  t.equal(other.seen.length, 1, "the plain server was never contacted");
});

t.test("createConnection: a WebSocket over a Unix domain socket", async (t) => {
  const dir = `${ROOT}.test-tmp/`;
  mkdirSync(dir, { recursive: true });
  const path = `${dir}ws-${process.pid}.sock`;
  rmSync(path, { force: true });
  const server = createHttpServer();
  server.on("upgrade", (req, socket, head) => {
    const ws = acceptNodeUpgrade(req, socket, head, { pingInterval: null });
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
    ws.closed.catch(() => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const targets: Array<{ host: string; port: number; secure: boolean }> = [];
  const ws = connectNodeWebSocket("ws://localhost/over-unix", {
    pingInterval: null,
    createConnection: ({ host, port, secure }) => {
      targets.push({ host, port, secure });
      return netConnect({ path });
    },
  });
  t.equal(await roundTrip(ws, "unix"), "unix");
  t.same(targets, [{ host: "localhost", port: 80, secure: false }], "the hook is told where the hop goes");
});

t.test("errors say what happened: refused, DNS, TLS; bad options are LocalProtocolErrors", async (t) => {
  const refused = (await rejection(connectNodeWebSocket("ws://127.0.0.1:1/", { pingInterval: null }).opened)) as WebSocketError;
  t.equal(refused.message, "The transport failed: connect ECONNREFUSED 127.0.0.1:1");
  t.equal(refused.code, "WS_ERR_TRANSPORT");
  t.equal((refused.cause as { code?: string }).code, "ECONNREFUSED");
  // The same through the path that reads redirects and the one that makes its own connection.
  const redirecting = await rejection(connectNodeWebSocket("ws://127.0.0.1:1/", { followRedirects: true }).opened);
  t.equal(redirecting.message, "The transport failed: connect ECONNREFUSED 127.0.0.1:1");
  const hooked = await rejection(connectNodeWebSocket("ws://127.0.0.1:1/", { createConnection: ({ port }) => netConnect(port, "127.0.0.1") }).opened);
  t.equal(hooked.message, "The transport failed: connect ECONNREFUSED 127.0.0.1:1");

  const dns = await rejection(connectNodeWebSocket("ws://no-such-host.invalid/", { pingInterval: null }).opened);
  t.match(dns.message, /^The transport failed: getaddrinfo (ENOTFOUND|EAI_AGAIN) no-such-host\.invalid/);

  const secure = await echoServer(t, {}, true);
  const tls = (await rejection(connectNodeWebSocket(`wss://127.0.0.1:${secure.port}/`, { pingInterval: null }).opened)) as WebSocketError;
  // Node's own words and code, passed through. From Node 24 on the words
  // carry a hint (measured on 20.20, 22.23, 24.22, 26.12).
  const tlsCause = tls.cause as { message?: string; code?: string };
  const hint = Number(process.versions.node.split(".")[0]) >= 24 ? "; if the root CA is installed locally, try running Node.js with --use-system-ca" : "";
  t.equal(tlsCause.code, "DEPTH_ZERO_SELF_SIGNED_CERT");
  t.equal(tlsCause.message, `self-signed certificate${hint}`);
  t.equal(tls.message, `The transport failed: self-signed certificate${hint} (DEPTH_ZERO_SELF_SIGNED_CERT)`);
  t.equal(tls.code, "WS_ERR_TRANSPORT");

  t.throws(() => connectNodeWebSocket("ws://127.0.0.1/", { proxy: "not a url" }), { code: "WS_ERR_INVALID_OPTION" });
  t.throws(() => connectNodeWebSocket("ws://127.0.0.1/", { proxy: "socks5://127.0.0.1:1080" }), { code: "WS_ERR_INVALID_OPTION" });
  t.throws(() => connectNodeWebSocket("ws://127.0.0.1/", { followRedirects: -1 }), { code: "WS_ERR_INVALID_OPTION" });
  t.throws(() => connectNodeWebSocket("ws://127.0.0.1/", { proxy: "http://127.0.0.1:1", createConnection: () => netConnect(1) }), {
    code: "WS_ERR_INVALID_OPTION",
  });
});

/** A raw TCP "proxy" that answers CONNECT with `answer` one byte at a time, then tunnels to the target (or closes). */
async function rawProxy(t: { teardown(fn: () => unknown): void }, answer: string, tunnel: boolean): Promise<string> {
  const server = createServer((client) => {
    let head = "";
    const onData = (chunk: Buffer): void => {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      client.off("data", onData);
      client.pause();
      const target = /^CONNECT (\S+):(\d+) /.exec(head)!;
      const upstream = netConnect({ host: target[1]!, port: Number(target[2]) }, async () => {
        for (const byte of Buffer.from(answer, "latin1")) {
          client.write(Buffer.of(byte));
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (!tunnel) {
          client.end();
          upstream.destroy();
          return;
        }
        upstream.pipe(client);
        client.pipe(upstream);
        client.resume();
      });
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
    };
    client.on("data", onData);
  });
  const port = await listen(server, t);
  return `http://127.0.0.1:${port}`;
}

t.test("heads are read with the protocol's HttpReader: byte by byte, bare LF, Content-Length: 0, malformed", async (t) => {
  const server = await echoServer(t, { "/old": [301, "/new"] });
  // A proxy answer with bare LF line ends and an explicit empty body, delivered one byte at a time.
  const lf = await rawProxy(t, "HTTP/1.1 200 Connection established\nContent-Length: 0\n\n", true);
  const ws = connectNodeWebSocket(`ws://127.0.0.1:${server.port}/old`, { proxy: lf, followRedirects: true, pingInterval: null });
  t.equal(await roundTrip(ws, "lf"), "lf", "tunnel opened, the redirect's head (read through the tunnel) followed");
  t.same(
    server.seen.map((s) => s.url),
    ["/old", "/new"],
  );
  const bad = await rawProxy(t, "HTTP/1.1 2x0 Nope\r\n\r\n", false);
  const error = (await rejection(connectNodeWebSocket(`ws://127.0.0.1:${server.port}/`, { proxy: bad, pingInterval: null }).opened)) as WebSocketError;
  t.match(error.message, /answered CONNECT 127\.0\.0\.1:\d+ with a malformed response: illegal status line/);
  t.equal((error.cause as WebSocketError | undefined)?.code ?? error.code, "WS_ERR_PROXY");
});
