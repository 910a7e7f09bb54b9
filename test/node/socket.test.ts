// The Node adapter over real loopback TCP: byte-counted back-pressure, head
// first, half-open sockets, close = end, abort = destroy; the HTTP 'upgrade'
// hand-off and the URL client against `ws`; 10,000 messages and a clean close
// over TCP; a socket killed mid-stream.
import t from "tap";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { readFileSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import WebSocket, { WebSocketServer } from "ws";
import {
  acceptNodeUpgrade,
  connectNodeWebSocket,
  fromNodeSocket,
  rawHeadersToHeaders,
} from "../../src/node/index.ts";
import { acceptWebSocket, connectWebSocket, WebSocketError } from "../../src/streams/sessions.ts";
import { liveBytes, sleep, rejection } from "../streams/_helpers.ts";

async function listen(server: Server | HttpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

/** A connected pair of loopback sockets: [ours (accepted), theirs (client)]. */
async function socketPair(t: { teardown(fn: () => unknown): void }): Promise<[Socket, Socket]> {
  const server = createServer();
  const port = await listen(server);
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const theirs = createConnection(port, "127.0.0.1");
  const ours = await accepted;
  server.close();
  t.teardown(() => {
    ours.destroy();
    theirs.destroy();
  });
  return [ours, theirs];
}

async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const reader = readable.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
    total += value.byteLength;
  }
  return Buffer.concat(parts, total);
}

t.test("fromNodeSocket: head first, then the bytes, then end of stream", async (t) => {
  const [ours, theirs] = await socketPair(t);
  const transport = fromNodeSocket(ours, { head: new Uint8Array([104, 101, 97, 100, 58]) }); // "head:"
  theirs.end("payload");
  t.equal(Buffer.from(await readAll(transport.readable)).toString(), "head:payload");
});

t.test("fromNodeSocket: reading is paused once readableHighWaterMark bytes are queued", async (t) => {
  const [ours, theirs] = await socketPair(t);
  const transport = fromNodeSocket(ours, { readableHighWaterMark: 64 * 1024 });
  const chunk = Buffer.alloc(64 * 1024, 1);
  const total = 8 * 1024 * 1024;
  let sent = 0;
  const writing = (async () => {
    while (sent < total) {
      sent += chunk.length;
      if (!theirs.write(chunk)) await new Promise((r) => theirs.once("drain", r));
    }
    theirs.end();
  })();
  await sleep(200);
  // Node reads ahead at most its own buffer (16-64 KiB) beyond our queue.
  t.ok(ours.bytesRead <= 512 * 1024, `only ${ours.bytesRead} bytes were read from the kernel while nobody read`);
  t.ok(sent < total, "the peer is blocked");
  const all = await readAll(transport.readable);
  await writing;
  t.equal(all.byteLength, total, "nothing lost");
});

t.test("fromNodeSocket: a half-open socket ends the readable and can still be written; close() is end()", async (t) => {
  const [ours, theirs] = await socketPair(t);
  const transport = fromNodeSocket(ours);
  theirs.end("bye"); // the peer's FIN
  t.equal(Buffer.from(await readAll(transport.readable)).toString(), "bye");
  const received: Buffer[] = [];
  theirs.on("data", (d: Buffer) => received.push(d));
  const ended = new Promise((r) => theirs.once("end", r));
  const writer = transport.writable.getWriter();
  await writer.write(new TextEncoder().encode("still here"));
  await writer.close();
  await ended;
  t.equal(Buffer.concat(received).toString(), "still here");
  await new Promise((r) => setImmediate(r));
  t.ok(ours.destroyed, "the socket goes once both sides are done");
});

t.test("fromNodeSocket: abort() destroys the socket; a peer reset errors the readable", async (t) => {
  const [ours, theirs] = await socketPair(t);
  const transport = fromNodeSocket(ours);
  const closed = new Promise((r) => theirs.once("close", r));
  theirs.on("error", () => {});
  await transport.writable.abort(new Error("enough"));
  t.ok(ours.destroyed);
  await closed;
  await t.rejects(transport.readable.getReader().read(), "the readable errors after abort");

  const [ours2, theirs2] = await socketPair(t);
  const transport2 = fromNodeSocket(ours2);
  ours2.on("error", () => {});
  theirs2.resetAndDestroy();
  await t.rejects(readAll(transport2.readable));
  await t.rejects(transport2.writable.getWriter().write(new Uint8Array(1)));
});

t.test("fromNodeSocket: writes wait for 'drain' when the peer stops reading", async (t) => {
  const [ours, theirs] = await socketPair(t);
  theirs.pause();
  const transport = fromNodeSocket(ours);
  const writer = transport.writable.getWriter();
  const chunk = new Uint8Array(64 * 1024);
  let accepted = 0;
  let stalled = false;
  for (let i = 0; i < 2048 && !stalled; i++) {
    const ready = writer.ready.then(() => true);
    stalled = !(await Promise.race([ready, sleep(200).then(() => false)]));
    if (!stalled) {
      void writer.write(chunk).catch(() => {});
      accepted += chunk.byteLength;
    }
  }
  t.ok(stalled, "writer.ready stalls");
  t.ok(accepted < 64 * 1024 * 1024, `stalled after ${accepted} bytes (kernel buffers plus the high-water marks)`);
  t.ok(ours.writableLength <= 256 * 1024, `Node buffers ${ours.writableLength} bytes, not everything`);
  let received = 0;
  theirs.on("data", (d: Buffer) => (received += d.length));
  theirs.resume();
  await writer.ready;
  await writer.close();
  await new Promise((r) => theirs.once("end", r));
  t.equal(received, accepted, "everything written arrives");
});

t.test("rawHeadersToHeaders lower-cases names and keeps order", async (t) => {
  t.same(rawHeadersToHeaders(["Host", "a", "X-Y", "1", "x-y", "2"]), [
    ["host", "a"],
    ["x-y", "1"],
    ["x-y", "2"],
  ]);
});

t.test("acceptNodeUpgrade: an HTTP server hands the upgrade over; a ws client talks to it; rejection too", async (t) => {
  const http = createHttpServer((_req, res) => res.end("plain http"));
  http.on("upgrade", (req, socket, head) => {
    const ws = acceptNodeUpgrade(req, socket, head, {
      protocols: ["echo"],
      handleRequest: (request) => (request.target === "/deny" ? { status: 401, body: "who are you" } : undefined),
    });
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  });
  const port = await listen(http);
  t.teardown(() => http.close());

  const client = new WebSocket(`ws://127.0.0.1:${port}/echo`, ["echo"], { perMessageDeflate: true });
  await new Promise((r) => client.once("open", r));
  t.equal(client.protocol, "echo");
  t.match(client.extensions, /permessage-deflate/);
  client.send("ping through upgrade");
  const data = await new Promise<Buffer>((r) => client.once("message", (d) => r(d as Buffer)));
  t.equal(data.toString(), "ping through upgrade");
  client.close(1000, "thanks");
  const [code, reason] = (await new Promise((r) => client.once("close", (...a) => r(a)))) as [number, Buffer];
  t.equal(code, 1000);
  t.equal(reason.toString(), "thanks");

  const denied = new WebSocket(`ws://127.0.0.1:${port}/deny`);
  const response = (await new Promise((resolve) =>
    denied.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }),
  )) as { status: number; body: string };
  t.same(response, { status: 401, body: "who are you" });
  denied.on("error", () => {});
  denied.terminate();
});

t.test("connectNodeWebSocket against a ws server: messages, compression, clean close", async (t) => {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: true });
  await new Promise((r) => wss.once("listening", r));
  t.teardown(() => wss.close());
  const closes: Array<[number, string]> = [];
  wss.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
    socket.on("close", (code, reason) => closes.push([code, reason.toString()]));
  });
  const port = (wss.address() as { port: number }).port;
  const ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/x`);
  const { readable, writable, extensions } = await ws.opened;
  t.match(extensions, /^permessage-deflate/);
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write("text");
  await writer.write(new Uint8Array(200_000).fill(42));
  t.equal((await reader.read()).value, "text");
  const big = (await reader.read()).value as Uint8Array;
  t.equal(big.byteLength, 200_000);
  t.ok(big.every((b) => b === 42));
  ws.close({ closeCode: 4000, reason: "done" });
  t.same(await ws.closed, { closeCode: 4000, reason: "done" });
  await sleep(20);
  t.same(closes, [[4000, "done"]]);
});

t.test("over TCP: 10,000 messages written before close() all arrive; both sides close cleanly with the codes sent", async (t) => {
  const server = createServer();
  const port = await listen(server);
  t.teardown(() => server.close());
  const accepted = new Promise<ReturnType<typeof acceptWebSocket>>((resolve) =>
    server.once("connection", (socket) => resolve(acceptWebSocket(fromNodeSocket(socket)))),
  );
  const client = connectWebSocket(fromNodeSocket(createConnection(port, "127.0.0.1")), { host: `127.0.0.1:${port}` });
  const srv = await accepted;
  const [{ readable }, { writable }] = await Promise.all([srv.opened, client.opened]);
  const writer = writable.getWriter();
  const N = 10_000;
  for (let i = 0; i < N; i++) void writer.write(i % 2 ? `message ${i}` : new Uint8Array([i & 255, i >> 8]));
  client.close({ closeCode: 1001, reason: "going away" });
  const reader = readable.getReader();
  let n = 0;
  let inOrder = true;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const expected = n % 2 ? `message ${n}` : null;
    if (expected !== null ? value !== expected : (value as Uint8Array)[0] !== (n & 255)) inOrder = false;
    n++;
  }
  t.equal(n, N, "all 10,000 arrive");
  t.ok(inOrder, "in order");
  t.same(await srv.closed, { closeCode: 1001, reason: "going away" });
  t.same(await client.closed, { closeCode: 1001, reason: "going away" });
});

t.test("over TCP: a socket killed mid-stream rejects closed with 1006", async (t) => {
  const server = createServer();
  const port = await listen(server);
  t.teardown(() => server.close());
  const serverSocket = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const client = connectWebSocket(fromNodeSocket(createConnection(port, "127.0.0.1")), { host: "h" });
  const socket = await serverSocket;
  const srv = acceptWebSocket(fromNodeSocket(socket));
  const [{ writable }, { readable }] = await Promise.all([srv.opened, client.opened]);
  const writer = writable.getWriter();
  void writer.write("before the end").catch(() => {});
  const reader = readable.getReader();
  t.equal((await reader.read()).value, "before the end");
  socket.destroy();
  const error = (await rejection(client.closed)) as WebSocketError;
  t.type(error, WebSocketError);
  t.equal(error.closeCode, 1006);
  t.equal(((await rejection(reader.read())) as WebSocketError).closeCode, 1006);
  await rejection(srv.closed);
});

t.test("over TCP: a peer that stops reading stalls writer.ready; memory stays bounded; then all arrives", async (t) => {
  const server = createServer();
  const port = await listen(server);
  t.teardown(() => server.close());
  const serverSocket = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const client = connectWebSocket(fromNodeSocket(createConnection(port, "127.0.0.1")), { host: "h", extensions: [] });
  const socket = await serverSocket;
  const srv = acceptWebSocket(fromNodeSocket(socket), { extensions: [], pingInterval: null });
  const [{ readable }, { writable }] = await Promise.all([srv.opened, client.opened]);
  const reader = readable.getReader(); // ... but nobody reads yet
  const writer = writable.getWriter();
  const message = new Uint8Array(64 * 1024);
  const before = await liveBytes();
  let accepted = 0;
  let stalled = false;
  while (!stalled && accepted < 4096) {
    stalled = !(await Promise.race([writer.ready.then(() => true), sleep(300).then(() => false)]));
    if (!stalled) {
      new DataView(message.buffer).setUint32(0, accepted);
      void writer.write(message.slice()).catch(() => {});
      accepted++;
    }
  }
  t.ok(stalled, `writer.ready stalled after ${accepted} messages of 64 KiB`);
  const grown = (await liveBytes()) - before;
  t.ok(grown < 8 * 1024 * 1024, `live memory grew by ${(grown / 1048576).toFixed(2)} MiB for ${accepted * 64} KiB accepted`);
  let n = 0;
  let inOrder = true;
  while (n < accepted) {
    const { value } = await reader.read();
    if (new DataView((value as Uint8Array).buffer, (value as Uint8Array).byteOffset).getUint32(0) !== n) inOrder = false;
    n++;
  }
  t.equal(n, accepted);
  t.ok(inOrder, "in order");
  client.close();
  await Promise.all([client.closed, srv.closed]);
});

t.test("over TCP: a server's large binary writes go out uncopied; a write resolves only once the socket is done with the bytes", async (t) => {
  const server = createServer();
  const port = await listen(server);
  t.teardown(() => server.close());
  const serverSocket = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const client = connectWebSocket(fromNodeSocket(createConnection(port, "127.0.0.1")), { host: "h", extensions: [] });
  const socket = await serverSocket;
  const srv = acceptWebSocket(fromNodeSocket(socket), { extensions: [], pingInterval: null });
  const [{ writable }, { readable }] = await Promise.all([srv.opened, client.opened]);
  // One buffer, rewritten after each write resolves: if a write resolved while
  // the socket still held the bytes, a later message would overwrite an earlier one.
  const N = 64;
  const message = new Uint8Array(256 * 1024);
  const writer = writable.getWriter();
  const writing = (async () => {
    for (let i = 0; i < N; i++) {
      message.fill(i);
      await writer.write(message);
    }
  })();
  const reader = readable.getReader();
  let intact = 0;
  for (let i = 0; i < N; i++) {
    if (i % 8 === 0) await sleep(20); // a slow reader, so the socket's buffer fills
    const value = (await reader.read()).value as Uint8Array;
    if (value.byteLength === message.byteLength && value.every((b) => b === i)) intact++;
  }
  await writing;
  t.equal(intact, N, "every message arrives as it was when written");
  srv.close();
  await Promise.all([client.closed, srv.closed]);
});

t.test("TLS: a tls.TLSSocket through the adapter, wss: URLs with connectNodeWebSocket", async (t) => {
  // A self-signed certificate for localhost / 127.0.0.1, made for these tests (not a secret).
  const cert = readFileSync(new URL("fixtures/test-cert.pem", import.meta.url));
  const key = readFileSync(new URL("fixtures/test-key.pem", import.meta.url));
  const server = createTlsServer({ cert, key }, (socket) => {
    const ws = acceptWebSocket(fromNodeSocket(socket));
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
    ws.closed.catch(() => {});
  });
  const port = await listen(server as unknown as Server);
  t.teardown(() => server.close());
  const ws = connectNodeWebSocket(`wss://127.0.0.1:${port}/secure`, { tls: { ca: cert } });
  const { readable, writable, extensions } = await ws.opened;
  t.match(extensions, /^permessage-deflate/);
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write("over tls");
  await writer.write(new Uint8Array(100_000).fill(7));
  t.equal((await reader.read()).value, "over tls");
  t.equal(((await reader.read()).value as Uint8Array).byteLength, 100_000);
  ws.close({ closeCode: 1000, reason: "tls done" });
  t.same(await ws.closed, { closeCode: 1000, reason: "tls done" });

  // An untrusted certificate fails the handshake with the TLS error as the cause.
  const refused = connectNodeWebSocket(`wss://127.0.0.1:${port}/`);
  const error = (await rejection(refused.opened)) as WebSocketError;
  t.equal(error.closeCode, 1006);
  t.equal(error.code, "WS_ERR_TRANSPORT");
  t.match(String((error.cause as Error).message), /self.signed|certificate/i);
});

t.test("connectNodeWebSocket: bad URLs are LocalProtocolErrors", async (t) => {
  t.throws(() => connectNodeWebSocket("not a url"), { code: "WS_ERR_INVALID_URL" });
  t.throws(() => connectNodeWebSocket("ftp://127.0.0.1/"), { code: "WS_ERR_INVALID_URL" });
});
