// WebSocketServer over real loopback TCP: 1,000 `ws` clients get a 1 KiB
// broadcast; a client that never reads is skipped (or closed) at the
// backpressure limit; close() ends everything with 1001 within its timeout;
// noServer + handleUpgrade and server: modes; plain HTTP beside (handleHttp,
// else 426); path -> 404, origins -> 403; per-message compression control;
// and every bad upgrade of issue 12's table answered with a 4xx with a reason
// phrase and a body on every path (acceptNodeUpgrade, WebSocketServer, bare
// TCP acceptWebSocket).
import t, { type Test } from "tap";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import WebSocket from "ws";
import { acceptNodeUpgrade, fromNodeSocket, nodeZlibCodec, WebSocketServer } from "../../src/node/index.ts";
import { PerMessageDeflate } from "../../src/protocol/extensions/permessage-deflate.ts";
import type { DeflateCodec } from "../../src/protocol/extensions/deflate-codec.ts";
import { acceptWebSocket } from "../../src/streams/sessions.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const UPGRADE = `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`;
const FAST = { pingInterval: null, closeTimeout: 2000, handshakeTimeout: 5000 } as const;

async function listen(server: Server | HttpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))),
  ]);
}

/** Write raw bytes to host:port and read until the server ends the connection (bounded). */
async function rawExchange(port: number, request: string | Uint8Array): Promise<string> {
  const socket = createConnection(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.write(request);
  await withTimeout(
    new Promise<void>((resolve) => {
      socket.on("close", () => resolve());
      socket.on("end", () => socket.end());
      socket.on("error", () => resolve());
    }),
    10_000,
    "raw exchange",
  );
  socket.destroy();
  return Buffer.concat(chunks).toString("latin1");
}

/** A raw client that completes the handshake (offering `extensions`) and hands back the socket and the bytes after the 101. */
async function rawClient(port: number, path = "/", extensions = ""): Promise<{ socket: Socket; rest: Buffer; response: string }> {
  const socket = createConnection(port, "127.0.0.1");
  socket.setNoDelay(true);
  const ext = extensions === "" ? "" : `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}${ext}\r\n`);
  let buffer = Buffer.alloc(0);
  return withTimeout(
    new Promise((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        buffer = Buffer.concat([buffer, chunk]);
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        socket.pause();
        resolve({ socket, rest: buffer.subarray(end + 4), response: buffer.subarray(0, end).toString("latin1") });
      };
      socket.on("data", onData);
      socket.on("error", reject);
    }),
    10_000,
    "raw handshake",
  );
}

function wsOpen(url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  return withTimeout(
    new Promise((resolve, reject) => {
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
    }),
    20_000,
    "ws open",
  );
}

function wsRejection(url: string, options: WebSocket.ClientOptions = {}): Promise<{ status: number; body: string }> {
  const ws = new WebSocket(url, options);
  return withTimeout(
    new Promise((resolve, reject) => {
      ws.once("open", () => reject(new Error("unexpectedly opened")));
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.once("error", () => {});
    }),
    10_000,
    "ws rejection",
  );
}

async function serve(t: Test, options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<{ server: WebSocketServer; port: number; url: string }> {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", ...FAST, ...options });
  t.teardown(() => server.close({ timeout: 500 }));
  const { port } = await server.listening;
  return { server, port, url: `ws://127.0.0.1:${port}` };
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

t.test("1,000 ws clients connected: one 1 KiB broadcast reaches every one", async (t) => {
  const { server, url } = await serve(t);
  const clients: WebSocket[] = [];
  t.teardown(() => clients.forEach((c) => c.terminate()));
  for (let batch = 0; batch < 10; batch++) {
    clients.push(...(await Promise.all(Array.from({ length: 100 }, () => wsOpen(url)))));
  }
  await until("1,000 connections", () => server.connections.size === 1000);
  const payload = new Uint8Array(1024).map((_, i) => i & 0xff);
  const received = clients.map(
    (ws) => new Promise<Buffer>((resolve) => ws.once("message", (data: Buffer) => resolve(data))),
  );
  t.equal(server.broadcast(payload), 1000, "written to 1,000 connections");
  const got = await withTimeout(Promise.all(received), 30_000, "every client's message");
  t.ok(got.every((data) => data.length === 1024 && Buffer.compare(data, Buffer.from(payload)) === 0), "every client got the same 1 KiB");
  t.equal(server.broadcast("text", { except: [...server.connections][0]! }), 999, "except leaves one out");
});

t.test("broadcast: mixed compression parameters all decode the same message; compress: false clears RSV1 (broadcast and session.send)", async (t) => {
  const { server, url, port } = await serve(t);
  const plain = await wsOpen(url, { perMessageDeflate: false });
  const takeover = await wsOpen(url); // ws offers permessage-deflate with context takeover
  const noTakeover1 = await wsOpen(url, { perMessageDeflate: { serverNoContextTakeover: true } });
  const noTakeover2 = await wsOpen(url, { perMessageDeflate: { serverNoContextTakeover: true } });
  const clients = [plain, takeover, noTakeover1, noTakeover2];
  t.teardown(() => clients.forEach((c) => c.terminate()));
  await until("4 connections", () => server.connections.size === 4);
  const text = "broadcast ".repeat(300); // 3,000 bytes: over the 1 KiB threshold
  for (let round = 0; round < 3; round++) {
    const got = clients.map((ws) => new Promise<string>((resolve) => ws.once("message", (d: Buffer) => resolve(d.toString()))));
    t.equal(server.broadcast(text + round), 4);
    t.same(await withTimeout(Promise.all(got), 10_000, "round"), [0, 1, 2, 3].map(() => text + round), `round ${round}: all decoded`);
  }
  // The first byte of the frames a raw permessage-deflate client receives.
  const raw = await rawClient(port, "/", "permessage-deflate");
  t.teardown(() => raw.socket.destroy());
  t.match(raw.response, /Sec-WebSocket-Extensions: permessage-deflate/i);
  await until("5 connections", () => server.connections.size === 5);
  const firstBytes: number[] = [];
  let buffered = raw.rest;
  raw.socket.on("data", (c: Buffer) => {
    buffered = Buffer.concat([buffered, c]);
  });
  raw.socket.resume();
  server.broadcast(text);
  server.broadcast(text, { compress: false });
  const rawSession = [...server.connections].at(-1)!;
  await rawSession.send(text);
  await rawSession.send(text, { compress: false });
  await until("four frames", () => {
    firstBytes.length = 0;
    let at = 0;
    while (at + 2 <= buffered.length) {
      firstBytes.push(buffered[at]!);
      const len = buffered[at + 1]! & 0x7f;
      const header = len === 126 ? 4 : len === 127 ? 10 : 2;
      const size = len === 126 ? buffered.readUInt16BE(at + 2) : len === 127 ? Number(buffered.readBigUInt64BE(at + 2)) : len;
      if (at + header + size > buffered.length) {
        firstBytes.pop();
        break;
      }
      at += header + size;
    }
    return firstBytes.length >= 4;
  });
  t.equal(firstBytes[0]! & 0x40, 0x40, "broadcast, default: compressed (RSV1)");
  t.equal(firstBytes[1]! & 0x40, 0, "broadcast, compress: false: RSV1 clear");
  t.equal(firstBytes[2]! & 0x40, 0x40, "session.send, default: compressed");
  t.equal(firstBytes[3]! & 0x40, 0, "session.send, compress: false: RSV1 clear");
});

t.test("a client that never reads: skipped at backpressureLimit, the server holds at most the limit plus one message", async (t) => {
  const limit = 256 * 1024;
  const { server, port, url } = await serve(t, { backpressureLimit: limit });
  const good = await wsOpen(url, { perMessageDeflate: false });
  t.teardown(() => good.terminate());
  let goodCount = 0;
  good.on("message", () => goodCount++);
  const stuck = await rawClient(port); // paused: never reads
  t.teardown(() => stuck.socket.destroy());
  await until("2 connections", () => server.connections.size === 2);
  const message = new Uint8Array(64 * 1024);
  let skipped = 0;
  let maxBuffered = 0;
  let sent = 0;
  for (let i = 0; i < 2000 && skipped < 50; i++) {
    const delivered = server.broadcast(message);
    sent++;
    if (delivered < 2) skipped++;
    for (const session of server.connections) maxBuffered = Math.max(maxBuffered, session.bufferedAmount);
    // Let the good client's socket drain.
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.ok(skipped >= 50, `the stuck connection was skipped (${skipped} times of ${sent})`);
  t.ok(maxBuffered <= limit + message.byteLength + 64, `at most limit + one message held (max ${maxBuffered})`);
  t.equal(server.connections.size, 2, "skipping keeps the connection");
  await until("the good client got everything", () => goodCount === sent, 30_000);
  t.equal(goodCount, sent, "the reading client missed nothing");
});

t.test("closeOnBackpressureLimit: the client that never reads is closed, the others stay", async (t) => {
  const { server, port, url } = await serve(t, { backpressureLimit: 64 * 1024, closeOnBackpressureLimit: true, closeTimeout: 300 });
  const good = await wsOpen(url, { perMessageDeflate: false });
  t.teardown(() => good.terminate());
  const stuck = await rawClient(port);
  t.teardown(() => stuck.socket.destroy());
  await until("2 connections", () => server.connections.size === 2);
  const message = new Uint8Array(64 * 1024);
  for (let i = 0; i < 2000 && server.connections.size === 2; i++) {
    server.broadcast(message);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await until("the stuck one gone", () => server.connections.size === 1);
  t.equal(server.connections.size, 1, "only the reading client is left");
  t.equal(good.readyState, WebSocket.OPEN);
});

t.test("close(): every connection ends with 1001 within the timeout, a peer that does not answer is dropped, and it resolves", async (t) => {
  const { server, url, port } = await serve(t);
  const clients = await Promise.all(Array.from({ length: 20 }, () => wsOpen(url)));
  const codes = clients.map((ws) => new Promise<number>((resolve) => ws.once("close", (code: number) => resolve(code))));
  const silent = await rawClient(port); // never reads, never answers the close
  t.teardown(() => silent.socket.destroy());
  const silentGone = new Promise<void>((resolve) => silent.socket.once("close", () => resolve()));
  await until("21 connections", () => server.connections.size === 21);
  const started = Date.now();
  await withTimeout(server.close({ timeout: 1000 }), 10_000, "server.close");
  t.ok(Date.now() - started < 8000, "resolved within the timeout (plus slack)");
  t.same(await Promise.all(codes), clients.map(() => 1001), "every ws client saw 1001");
  silent.socket.resume(); // it never answered; now it reads, and finds the connection gone
  await withTimeout(silentGone, 5000, "the silent peer's socket closed");
  t.equal(server.connections.size, 0, "no connection left");
  t.equal(server.server?.listening, false, "the owned HTTP server is closed");
  t.equal(server.close(), server.close(), "close() again: the same promise");
  await t.rejects(new WebSocketServer({ noServer: true }).close({ closeCode: 1005 }), { code: "WS_ERR_INVALID_CLOSE_CODE" });
});

t.test("noServer + handleUpgrade, onSession with the request", async (t) => {
  const wss = new WebSocketServer({
    noServer: true,
    ...FAST,
    onSession: async (session, request) => {
      const { readable, writable } = await session.opened;
      const writer = writable.getWriter();
      await writer.write(`hello ${request.target}`);
      writer.releaseLock();
      await readable.pipeTo(writable);
    },
  });
  await t.rejects(wss.listening, { code: "WS_ERR_INVALID_STATE" }, "noServer does not listen");
  const http = createHttpServer();
  http.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head));
  const port = await listen(http);
  t.teardown(() => {
    void wss.close({ timeout: 500 });
    http.close();
  });
  const ws = new WebSocket(`ws://127.0.0.1:${port}/room?x=1`);
  const messages: string[] = [];
  ws.on("message", (d: Buffer) => messages.push(d.toString())); // before 'open': the greeting may come with the 101
  await withTimeout(new Promise((resolve) => ws.once("open", resolve)), 10_000, "open");
  ws.send("echo me");
  await until("two messages", () => messages.length === 2);
  t.same(messages, ["hello /room?x=1", "echo me"]);
  t.equal(wss.connections.size, 1);
  ws.close(1000);
  await until("gone", () => wss.connections.size === 0);
});

t.test("server: mode with handleHttp beside; path -> 404; origins -> 403", async (t) => {
  const http = createHttpServer();
  const wss = new WebSocketServer({
    server: http,
    path: "/ws",
    origins: ["https://good.example"],
    ...FAST,
    handleHttp: (request) => new Response(`ok ${new URL(request.url).pathname} ${request.method}`, { headers: { "x-served": "yes" } }),
  });
  const port = await listen(http);
  t.teardown(() => {
    void wss.close({ timeout: 500 });
    http.close();
  });
  t.equal((await wss.listening).port, port, "listening: the attached server's address");
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  t.equal(response.status, 200);
  t.equal(response.headers.get("x-served"), "yes");
  t.equal(await response.text(), "ok /health GET");
  const post = await fetch(`http://127.0.0.1:${port}/echo`, { method: "POST", body: "x" });
  t.equal(await post.text(), "ok /echo POST");
  const ws = await wsOpen(`ws://127.0.0.1:${port}/ws`, { origin: "https://good.example" });
  ws.terminate();
  const wrongPath = await wsRejection(`ws://127.0.0.1:${port}/other`, { origin: "https://good.example" });
  t.equal(wrongPath.status, 404);
  t.match(wrongPath.body, /No WebSocket at this path/);
  const wrongOrigin = await wsRejection(`ws://127.0.0.1:${port}/ws`, { origin: "https://evil.example" });
  t.equal(wrongOrigin.status, 403);
  const noOrigin = await wsRejection(`ws://127.0.0.1:${port}/ws`);
  t.equal(noOrigin.status, 403, "no Origin: refused unless \"\" is listed");
  const raw = await rawExchange(port, `GET /other HTTP/1.1\r\nHost: h\r\nOrigin: https://good.example\r\n${UPGRADE}\r\n`);
  t.match(raw, /^HTTP\/1\.1 404 Not Found\r\n/, "reason phrase on a handleRequest-style refusal");
});

t.test("an owned port without handleHttp answers plain HTTP with 426 and a short body", async (t) => {
  const { port } = await serve(t);
  const response = await fetch(`http://127.0.0.1:${port}/`);
  t.equal(response.status, 426);
  t.equal(response.statusText, "Upgrade Required");
  t.equal(response.headers.get("upgrade"), "websocket");
  t.match(await response.text(), /WebSocket only/);
});

t.test("handleHttp that throws: the client gets a 500, the application gets the exception through onError", async (t) => {
  const errors: unknown[] = [];
  const { port } = await serve(t, {
    handleHttp: () => {
      throw new Error("page broke");
    },
    onError: (error) => errors.push(error),
  });
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  t.equal(response.status, 500);
  t.equal(response.statusText, "Internal Server Error");
  t.equal(await response.text(), "The request handler failed.\n");
  t.equal(errors.length, 1);
  t.match((errors[0] as Error).message, "page broke");
});

t.test("a bare TCP server (acceptWebSocket): plain HTTP reaches handleHttp, else 426", async (t) => {
  const withHandler = createServer((socket) => {
    acceptWebSocket(fromNodeSocket(socket), { ...FAST, handleHttp: (req) => new Response(`hi ${new URL(req.url).pathname}`, { status: 200 }) });
  });
  const without = createServer((socket) => {
    acceptWebSocket(fromNodeSocket(socket), FAST);
  });
  const p1 = await listen(withHandler);
  const p2 = await listen(without);
  t.teardown(() => {
    withHandler.close();
    without.close();
  });
  const ok = await rawExchange(p1, "GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
  t.match(ok, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(ok, /\r\n\r\nhi \/health$/);
  const head = await rawExchange(p1, "HEAD /health HTTP/1.1\r\nHost: h\r\n\r\n");
  t.match(head, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n$/, "HEAD: no body");
  const h2c = await rawExchange(p2, "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n");
  t.match(h2c, /^HTTP\/1\.1 426 Upgrade Required\r\n/);
  t.match(h2c, /\r\nUpgrade: websocket\r\n/);
  t.match(h2c, /WebSocket only/);
  // The same over fetch, which reads the body.
  const response = await fetch(`http://127.0.0.1:${p1}/page`);
  t.equal(await response.text(), "hi /page");
});

// Issue 12's table: every bad upgrade gets a 4xx with a reason phrase and a body, on every path.
const BAD_REQUESTS: Array<[string, string]> = [
  ["POST with upgrade headers", `POST / HTTP/1.1\r\nHost: h\r\n${UPGRADE}\r\n`],
  ["no Host", `GET / HTTP/1.1\r\n${UPGRADE}\r\n`],
  ["HTTP/1.0 request line", `GET / HTTP/1.0\r\nHost: h\r\n${UPGRADE}\r\n`],
  ["Content-Length body, then a frame", `GET / HTTP/1.1\r\nHost: h\r\n${UPGRADE}Content-Length: 5\r\n\r\nhello\x81\x85\x37\xfa\x21\x3d\x52\x9b\x53\x51\x4e`],
];

t.test("strict upgrades: every row of the table gets a 4xx with a reason phrase and a body on every path", async (t) => {
  const node = createHttpServer();
  node.on("upgrade", (req, socket, head) => {
    const session = acceptNodeUpgrade(req, socket, head, FAST);
    session.opened.then(async ({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  });
  const bare = createServer((socket) => {
    const session = acceptWebSocket(fromNodeSocket(socket), FAST);
    session.opened.then(async ({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  });
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", ...FAST });
  const paths: Array<[string, number]> = [
    ["acceptNodeUpgrade", await listen(node)],
    ["bare TCP acceptWebSocket", await listen(bare)],
    ["WebSocketServer", (await wss.listening).port],
  ];
  t.teardown(() => {
    node.close();
    bare.close();
    void wss.close({ timeout: 500 });
  });
  for (const [row, request] of BAD_REQUESTS) {
    const answers: string[] = [];
    for (const [path, port] of paths) {
      const response = await rawExchange(port, request);
      answers.push(response);
      const statusLine = response.slice(0, response.indexOf("\r\n"));
      t.match(statusLine, /^HTTP\/1\.1 4\d\d [A-Za-z]/, `${row} on ${path}: 4xx with a reason phrase (${statusLine})`);
      const body = response.slice(response.indexOf("\r\n\r\n") + 4);
      t.ok(body.length > 0 && !body.includes("\x81"), `${row} on ${path}: a short body, no frame echoed`);
    }
    t.ok(answers.every((a) => a === answers[0]), `${row}: the same answer on every path`);
  }
});

t.test("broadcast compresses once for connections without context takeover, once per connection with it", async (t) => {
  let compressions = 0;
  const counting: DeflateCodec = {
    name: "counting",
    createDeflater: (options) => {
      const inner = nodeZlibCodec.createDeflater(options);
      return {
        compress: (data, fin) => {
          compressions++;
          return inner.compress(data, fin);
        },
        reset: () => inner.reset(),
      };
    },
    createInflater: (options) => nodeZlibCodec.createInflater(options),
  };
  for (const [serverNoContextTakeover, expected] of [[true, 1], [false, 3]] as const) {
    const { server, url } = await serve(t, { extensions: [new PerMessageDeflate({ codec: counting, serverNoContextTakeover, threshold: 1024 })] });
    const clients = await Promise.all([0, 1, 2].map(() => wsOpen(url)));
    await until("3 connections", () => server.connections.size === 3);
    const text = "shared ".repeat(500);
    const got = clients.map((ws) => new Promise<string>((resolve) => ws.once("message", (d: Buffer) => resolve(d.toString()))));
    compressions = 0;
    t.equal(server.broadcast(text), 3);
    t.equal(compressions, expected, `server_no_context_takeover ${serverNoContextTakeover}: ${expected} compression(s) for 3 connections`);
    t.same(await withTimeout(Promise.all(got), 10_000, "messages"), [text, text, text], "every client inflated it");
    clients.forEach((c) => c.terminate());
    await server.close({ timeout: 500 });
  }
});
