// RFC 8441 (WebSockets over HTTP/2) in both roles (src/node/http2.ts),
// over real loopback HTTP/2: negotiation (subprotocol, permessage-deflate),
// messages and close codes both ways, rejections with a status and body, a
// request that is not a WebSocket, a server without extended CONNECT, one
// HTTP/2 connection shared by several WebSockets, TLS with HTTP/1.1 beside it
// on one port (allowHTTP1), and flow control as back-pressure.
import t from "tap";
import * as http2 from "node:http2";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import {
  HTTP2_WEBSOCKET_SETTINGS,
  acceptHttp2WebSocket,
  acceptNodeUpgrade,
  connectHttp2WebSocket,
  connectNodeWebSocket,
  isHttp2WebSocketRequest,
  type Http2AcceptOptions,
} from "../../src/node/index.ts";
import { WebSocketError, type WebSocketSession } from "../../src/streams/sessions.ts";
import { rejection } from "../streams/_helpers.ts";

const cert = readFileSync(new URL("fixtures/test-cert.pem", import.meta.url));
const key = readFileSync(new URL("fixtures/test-key.pem", import.meta.url));

type Teardown = { teardown(fn: () => unknown): void };

/** Track a server's HTTP/2 sessions and close everything in teardown. */
async function serve(t: Teardown, server: http2.Http2Server | http2.Http2SecureServer): Promise<number> {
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(async () => {
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

/** An RFC 8441 echo server; `sessions` collects the server-side sessions. */
async function echoServer(t: Teardown, options: Http2AcceptOptions = {}) {
  const server = http2.createServer({ settings: HTTP2_WEBSOCKET_SETTINGS });
  const sessions: WebSocketSession[] = [];
  const paths: string[] = [];
  server.on("stream", (stream, headers) => {
    paths.push(String(headers[":path"]));
    const ws = acceptHttp2WebSocket(stream, headers, { pingInterval: null, ...options });
    sessions.push(ws);
    ws.opened
      .then(async ({ readable, writable }) => {
        const writer = writable.getWriter();
        const reader = readable.getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          if (r.value === "close please") ws.close({ closeCode: 4001, reason: "server-bye" });
          else await writer.write(r.value);
        }
      })
      .catch(() => {});
    ws.closed.catch(() => {});
  });
  const port = await serve(t, server);
  return { url: `ws://127.0.0.1:${port}`, sessions, paths, server };
}

t.test("both roles: negotiation, messages, pings and close codes both ways", async (t) => {
  const server = await echoServer(t, { protocols: ["chat"] });
  const ws = connectHttp2WebSocket(`${server.url}/room?x=1`, { protocols: ["other", "chat"], pingInterval: null });
  const { readable, writable, protocol, extensions } = await ws.opened;
  t.equal(protocol, "chat", "subprotocol negotiated from the HTTP/2 headers");
  t.match(extensions, /^permessage-deflate/, "permessage-deflate negotiated");
  t.same(server.paths, ["/room?x=1"], ":path carries the target");
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write("héllo ✓");
  t.equal((await reader.read()).value, "héllo ✓");
  const big = new Uint8Array(3_000_000).map((_, i) => (i * 7) & 255);
  await writer.write(big);
  t.same((await reader.read()).value, big, "3 MB binary echoed intact");
  t.type(await ws.ping("rtt"), "number", "a ping gets its pong");
  ws.close({ closeCode: 4000, reason: "bye" });
  t.same(await ws.closed, { closeCode: 4000, reason: "bye" }, "client-initiated close");
  t.same(await server.sessions[0]!.closed, { closeCode: 4000, reason: "bye" });

  const second = connectHttp2WebSocket(server.url, { pingInterval: null, extensions: [] });
  const s = await second.opened;
  t.equal(s.extensions, "", "no extension without an offer");
  await s.writable.getWriter().write("close please");
  t.same(await second.closed, { closeCode: 4001, reason: "server-bye" }, "server-initiated close");
});

t.test("server decisions travel as HTTP/2 responses: rejection with status and body; non-WebSocket requests", async (t) => {
  const server = await echoServer(t, {
    handleRequest: (request) => (request.target === "/private" ? { status: 403, headers: [["x-why", "members only"]], body: "go away" } : undefined),
  });
  const rejected = (await rejection(connectHttp2WebSocket(`${server.url}/private`).opened)) as WebSocketError;
  t.equal(rejected.status, 403);
  t.equal(Buffer.from(rejected.body ?? []).toString(), "go away", "the rejection body arrives");
  t.same(rejected.headers.find(([n]) => n === "x-why"), ["x-why", "members only"]);
  await rejection(server.sessions[0]!.opened);

  // A plain GET handed to acceptHttp2WebSocket is refused by the engine, as over HTTP/1.1.
  const client = http2.connect(server.url.replace("ws:", "http:"));
  t.teardown(() => client.close());
  const request = client.request({ ":path": "/plain" });
  const [response] = (await new Promise((resolve) => request.once("response", (h) => resolve([h])))) as [http2.IncomingHttpHeaders];
  request.resume();
  t.equal(response[":status"], 400, "400 for a request that is not extended CONNECT");
  const error = await rejection(server.sessions[1]!.opened);
  t.ok(error instanceof Error, "the server session reports the refused request");
});

t.test("a server without SETTINGS_ENABLE_CONNECT_PROTOCOL: a clear error, no request sent", async (t) => {
  const server = http2.createServer();
  let streams = 0;
  server.on("stream", (stream) => {
    streams++;
    stream.respond({ ":status": 404 }, { endStream: true });
  });
  const port = await serve(t, server);
  const error = await rejection(connectHttp2WebSocket(`ws://127.0.0.1:${port}/`).opened);
  t.match(error.message, /does not accept WebSockets: it did not send SETTINGS_ENABLE_CONNECT_PROTOCOL \(RFC 8441\)/);
  t.equal(streams, 0);
  const refused = await rejection(connectHttp2WebSocket("ws://127.0.0.1:1/").opened);
  t.match(refused.message, /connect ECONNREFUSED 127\.0\.0\.1:1/);
});

t.test("several WebSockets share one ClientHttp2Session, which stays the caller's", async (t) => {
  const server = await echoServer(t);
  const session = http2.connect(server.url.replace("ws:", "http:"));
  t.teardown(() => session.close());
  const a = connectHttp2WebSocket(`${server.url}/a`, { session, pingInterval: null });
  const b = connectHttp2WebSocket(`${server.url}/b`, { session, pingInterval: null });
  const [oa, ob] = await Promise.all([a.opened, b.opened]);
  const [wa, wb] = [oa.writable.getWriter(), ob.writable.getWriter()];
  const [ra, rb] = [oa.readable.getReader(), ob.readable.getReader()];
  await Promise.all([wa.write("to a"), wb.write("to b")]);
  t.equal((await ra.read()).value, "to a");
  t.equal((await rb.read()).value, "to b");
  a.close({ closeCode: 1000 });
  b.close({ closeCode: 1000 });
  await Promise.all([a.closed, b.closed]);
  t.same(server.paths.sort(), ["/a", "/b"]);
  t.notOk(session.closed || session.destroyed, "the caller's session is left open");
  const c = connectHttp2WebSocket(`${server.url}/c`, { session, pingInterval: null });
  await c.opened;
  c.close({ closeCode: 1000 });
  await c.closed;
});

t.test("TLS: HTTP/2 and HTTP/1.1 WebSockets on one port (allowHTTP1)", async (t) => {
  const server = http2.createSecureServer({ cert, key, allowHTTP1: true, settings: HTTP2_WEBSOCKET_SETTINGS });
  const seen: string[] = [];
  const echo = (ws: WebSocketSession): void => {
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
    ws.closed.catch(() => {});
  };
  server.on("stream", (stream, headers) => {
    if (!isHttp2WebSocketRequest(headers)) return;
    seen.push("h2");
    echo(acceptHttp2WebSocket(stream, headers, { pingInterval: null }));
  });
  server.on("upgrade", (req, socket, head) => {
    seen.push("http/1.1");
    echo(acceptNodeUpgrade(req, socket, head, { pingInterval: null }));
  });
  const port = await serve(t, server);
  const connects: Array<(url: string, options: { tls: { ca: Buffer }; pingInterval: null }) => WebSocketSession> = [
    connectHttp2WebSocket,
    connectNodeWebSocket,
  ];
  for (const connect of connects) {
    const ws = connect(`wss://127.0.0.1:${port}/`, { tls: { ca: cert }, pingInterval: null });
    const { readable, writable } = await ws.opened;
    await writable.getWriter().write("secure");
    t.equal((await readable.getReader().read()).value, "secure");
    ws.close({ closeCode: 1000 });
    await ws.closed;
  }
  t.same(seen, ["h2", "http/1.1"], "one port, both protocols");
});

for (const direction of ["client to server", "server to client"] as const) {
  t.test(`flow control is the back-pressure (${direction}): a stalled reader stalls the writer, nothing is lost`, async (t) => {
    const MESSAGES = 48;
    const SIZE = 1024 * 1024;
    let serverSession!: WebSocketSession;
    const server = http2.createServer({ settings: HTTP2_WEBSOCKET_SETTINGS });
    const accepted = new Promise<void>((resolve) =>
      server.on("stream", (stream, headers) => {
        serverSession = acceptHttp2WebSocket(stream, headers, { pingInterval: null, extensions: [], maxMessageSize: 2 * SIZE });
        resolve();
      }),
    );
    const port = await serve(t, server);
    const client = connectHttp2WebSocket(`ws://127.0.0.1:${port}/`, { pingInterval: null, extensions: [], maxMessageSize: 2 * SIZE });
    const clientSide = await client.opened;
    await accepted;
    const serverSide = await serverSession.opened;
    const [from, to] = direction === "client to server" ? [clientSide, serverSide] : [serverSide, clientSide];
    const writer = from.writable.getWriter();
    let settled = 0;
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < MESSAGES; i++) {
      writes.push(writer.write(new Uint8Array(SIZE).fill(i)).then(() => void settled++));
    }
    // Wait until the writer stops making progress (quiescence, not a timing assertion).
    let last = -1;
    let still = 0;
    while (still < 10) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (settled === last) still++;
      else [last, still] = [settled, 0];
    }
    t.ok(settled < MESSAGES, `the writer stalled: ${settled} of ${MESSAGES} MiB handed over while nobody reads`);
    t.ok(settled <= 8, `what is in flight stays bounded by the windows and high-water marks (${settled} MiB)`);

    const reader = to.readable.getReader();
    let intact = 0;
    for (let i = 0; i < MESSAGES; i++) {
      const bytes = (await reader.read()).value as Uint8Array;
      if (bytes.byteLength === SIZE && bytes[0] === i && bytes[SIZE - 1] === i) intact++;
    }
    await Promise.all(writes);
    t.equal(intact, MESSAGES, "every message arrives, in order, once the reader reads");
    client.close({ closeCode: 1000 });
    await Promise.all([client.closed, serverSession.closed]);
  });
}
