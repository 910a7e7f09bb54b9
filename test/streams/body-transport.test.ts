// Fetch-style exchanges as transports (src/streams/body-transport.ts): the
// RFC 6455 handshake and messages run unchanged over a request body we write
// and a response body we read: an HTTP/2 POST stream seen as two bodies, and
// Node's own fetch (undici) with a streaming request body (duplex: "half")
// against an HTTP/1.1 server answering while the upload goes on; failures
// of the exchange reach the session.
import t, { type Test } from "tap";
import * as http2 from "node:http2";
import { createServer } from "node:http";
import { once } from "node:events";
import { Readable, Writable } from "node:stream";
import type { AddressInfo } from "node:net";
import { acceptWebSocket, bodyTransport, connectWebSocket, fetchTransport, type WebSocketSession } from "../../src/streams/index.ts";
import { rejection } from "./_helpers.ts";

const toReadable = (s: Readable): ReadableStream<Uint8Array> => Readable.toWeb(s) as unknown as ReadableStream<Uint8Array>;
const toWritable = (s: Writable): WritableStream<Uint8Array> => Writable.toWeb(s) as unknown as WritableStream<Uint8Array>;

function echo(ws: WebSocketSession): void {
  ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  ws.closed.catch(() => {});
}

async function exchange(ws: WebSocketSession, t: Test): Promise<void> {
  const { readable, writable, extensions } = await ws.opened;
  t.match(extensions, /^permessage-deflate/, "extensions negotiated inside the bodies");
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write("over two bodies");
  t.equal((await reader.read()).value, "over two bodies");
  const big = new Uint8Array(1_000_000).map((_, i) => i & 255);
  await writer.write(big);
  t.same((await reader.read()).value, big, "1 MB echoed intact");
  ws.close({ closeCode: 4000, reason: "done" });
  t.same(await ws.closed, { closeCode: 4000, reason: "done" });
}

t.test("an HTTP/2 POST stream as a request body and a response body", async (t) => {
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    if (headers[":path"] !== "/tunnel") {
      stream.respond({ ":status": 404 }, { endStream: true });
      return;
    }
    stream.respond({ ":status": 200 });
    echo(acceptWebSocket(bodyTransport({ requestBody: toWritable(stream), responseBody: toReadable(stream) }), { pingInterval: null }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => {
    session.destroy();
    server.close();
  });
  const stream = session.request({ ":method": "POST", ":path": "/tunnel" }, { endStream: false });
  const responseBody = once(stream, "response").then(() => toReadable(stream));
  const ws = connectWebSocket(bodyTransport({ requestBody: toWritable(stream), responseBody }), {
    url: `ws://127.0.0.1:${port}/tunnel`,
    pingInterval: null,
  });
  await exchange(ws, t);
});

t.test("fetch (undici) with a streaming request body, against an HTTP/1.1 server", async (t) => {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.flushHeaders();
    echo(acceptWebSocket(bodyTransport({ requestBody: toWritable(res), responseBody: toReadable(req) }), { pingInterval: null }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${port}/ws`;
  const transport = fetchTransport((body) => fetch(url, { method: "POST", body, duplex: "half" } as RequestInit));
  await exchange(connectWebSocket(transport, { url, pingInterval: null }), t);
});

t.test("a failed exchange fails the session with its error", async (t) => {
  const refused = fetchTransport(() => Promise.reject(new Error("502 from the tunnel")));
  const error = await rejection(connectWebSocket(refused, { url: "ws://example.invalid/", pingInterval: null }).opened);
  t.match(error.message, /502 from the tunnel/);
  const bodiless = fetchTransport(() => Promise.resolve({ body: null }));
  const error2 = await rejection(connectWebSocket(bodiless, { url: "ws://example.invalid/", pingInterval: null }).opened);
  t.match(error2.message, /no body/);
});
