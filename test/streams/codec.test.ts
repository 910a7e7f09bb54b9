// WebSocketCodec: a connection as two TransformStreams, with automatic pongs
// and close replies through the encoder's output, batch mode, back-pressure,
// and the end of the byte stream.
import t, { type Test } from "tap";
import { Connection } from "../../src/protocol/frames/connection.ts";
import { RemoteProtocolError } from "../../src/protocol/errors.ts";
import {
  AcceptConnection,
  BytesMessage,
  CloseConnection,
  Ping,
  Pong,
  Request,
  TextMessage,
  type Event,
} from "../../src/protocol/events.ts";
import { ConnectionType } from "../../src/protocol/types.ts";
import { WSConnection } from "../../src/protocol/ws-connection.ts";
import { WebSocketCodec } from "../../src/streams/codec.ts";
import { hex, memoryPair, sleep } from "./_helpers.ts";
import type { ByteTransport } from "../../src/streams/transport.ts";

function wire<B extends boolean>(codec: WebSocketCodec<B>, transport: ByteTransport): void {
  transport.readable.pipeTo(codec.decoder.writable).catch(() => {});
  codec.encoder.readable.pipeTo(transport.writable).catch(() => {});
}

async function next<T>(reader: ReadableStreamDefaultReader<T>): Promise<T> {
  const { value, done } = await reader.read();
  if (done) throw new Error("stream ended");
  return value;
}

/** Two Connections (post-handshake) joined by codecs over an in-memory pair. */
function connectedPair(options: ConstructorParameters<typeof WebSocketCodec>[1] = {}) {
  const pair = memoryPair();
  const client = new WebSocketCodec(new Connection(ConnectionType.CLIENT), options);
  const server = new WebSocketCodec(new Connection(ConnectionType.SERVER), options);
  wire(client, pair.client);
  wire(server, pair.server);
  return { pair, client, server };
}

t.test("a handshake and messages through two WSConnection codecs", async (t) => {
  const pair = memoryPair();
  const client = new WebSocketCodec(new WSConnection(ConnectionType.CLIENT));
  const server = new WebSocketCodec(new WSConnection(ConnectionType.SERVER));
  wire(client, pair.client);
  wire(server, pair.server);
  const cw = client.encoder.writable.getWriter();
  const sw = server.encoder.writable.getWriter();
  const cr = client.decoder.readable.getReader();
  const sr = server.decoder.readable.getReader();
  await cw.write(new Request({ host: "example.com", target: "/chat", subprotocols: ["chat"] }));
  const request = (await next(sr)) as Request;
  t.equal(request.type, "Request");
  t.equal(request.target, "/chat");
  await sw.write(new AcceptConnection({ subprotocol: "chat" }));
  const accept = (await next(cr)) as AcceptConnection;
  t.equal(accept.subprotocol, "chat");
  await cw.write(new TextMessage({ data: "hello" }));
  await cw.write(new BytesMessage({ data: new Uint8Array([1, 2]) }));
  t.same(((await next(sr)) as TextMessage).data, "hello");
  t.same(((await next(sr)) as BytesMessage).data, new Uint8Array([1, 2]));
  await sw.write(new TextMessage({ data: "back" }));
  t.equal(((await next(cr)) as TextMessage).data, "back");
});

t.test("pings are answered through the encoder's output unless autoPong is off", async (t) => {
  const { client, server } = connectedPair();
  const cw = client.encoder.writable.getWriter();
  const cr = client.decoder.readable.getReader();
  const sr = server.decoder.readable.getReader();
  await cw.write(new Ping({ payload: new Uint8Array([5]) }));
  const ping = (await next(sr)) as Event;
  t.equal(ping.type, "Ping");
  const pong = (await next(cr)) as Event;
  t.equal(pong.type, "Pong");
  t.same((pong as Ping).payload, new Uint8Array([5]));

  const off = connectedPair({ autoPong: false });
  const w = off.client.encoder.writable.getWriter();
  const r = off.client.decoder.readable.getReader();
  const sr2 = off.server.decoder.readable.getReader();
  await w.write(new Ping());
  t.equal(((await next(sr2)) as Event).type, "Ping");
  const race = await Promise.race([r.read().then(() => "event"), sleep(50).then(() => "nothing")]);
  t.equal(race, "nothing", "no automatic pong");
});

t.test("a close is answered automatically; both sides end and the transports close", async (t) => {
  const { pair, client, server } = connectedPair();
  const cw = client.encoder.writable.getWriter();
  const cr = client.decoder.readable.getReader();
  const sr = server.decoder.readable.getReader();
  await cw.write(new CloseConnection({ code: 1001, reason: "bye" }));
  const atServer = (await next(sr)) as CloseConnection;
  t.equal(atServer.code, 1001);
  t.equal(atServer.origin, "remote");
  const atClient = (await next(cr)) as CloseConnection;
  t.equal(atClient.code, 1001, "the reply echoes the code");
  // Each decoder ends when its transport's byte stream does (the other side's encoder ended it).
  t.same(await sr.read(), { done: true, value: undefined }, "the server's decoder ends after the close");
  t.same(await cr.read(), { done: true, value: undefined });
  t.equal(server.connection.state, 4);
  t.equal(client.connection.state, 4);
  t.equal(await pair.toClient.ended, "closed", "the server's encoder closed its transport");
  // The link to the server is closed by the client's encoder or cancelled by the server's decoder, whichever comes first.
  t.ok(["closed", "cancelled"].includes(await pair.toServer.ended), "the client-to-server link is done");
});

t.test("autoCloseReply off leaves the reply to the application", async (t) => {
  const { client, server } = connectedPair({ autoCloseReply: false });
  const cw = client.encoder.writable.getWriter();
  const sw = server.encoder.writable.getWriter();
  const sr = server.decoder.readable.getReader();
  const cr = client.decoder.readable.getReader();
  await cw.write(new CloseConnection({ code: 1000 }));
  const close = (await next(sr)) as CloseConnection;
  t.equal(server.connection.state, 2, "REMOTE_CLOSING: nothing sent yet");
  await sw.write(close.response());
  t.equal(((await next(cr)) as CloseConnection).code, 1000);
});

t.test("a protocol violation: the close code is sent and both sides end", async (t) => {
  const pair = memoryPair();
  const server = new WebSocketCodec(new Connection(ConnectionType.SERVER));
  wire(server, pair.server);
  const writer = pair.client.writable.getWriter();
  const reader = pair.client.readable.getReader();
  await writer.write(hex("81 05 68 65 6c 6c 6f")); // an unmasked frame from a client: RFC 6455 §5.1 -> 1002
  const sr = server.decoder.readable.getReader();
  const event = (await next(sr)) as CloseConnection;
  t.equal(event.origin, "protocol-error");
  t.equal(event.code, 1002);
  const reply = await next(reader);
  t.same([...reply.subarray(0, 4)], [0x88, reply[1]!, 0x03, 0xea], "a close frame with 1002");
  t.same(await reader.read(), { done: true, value: undefined }, "then the server's end of stream");
  await writer.close(); // the peer ends its byte stream: the decoder's readable ends
  t.same(await sr.read(), { done: true, value: undefined });
});

t.test("the end of the byte stream yields CloseConnection(1006)", async (t) => {
  const pair = memoryPair();
  const server = new WebSocketCodec(new Connection(ConnectionType.SERVER));
  wire(server, pair.server);
  const sr = server.decoder.readable.getReader();
  await pair.client.writable.close();
  const event = (await next(sr)) as CloseConnection;
  t.equal(event.code, 1006);
  t.equal(event.origin, "abnormal");
  t.same(await sr.read(), { done: true, value: undefined });
});

t.test("batch mode emits one array of events per chunk of bytes; the encoder takes arrays", async (t) => {
  const pair = memoryPair();
  const client = new WebSocketCodec(new Connection(ConnectionType.CLIENT), { batch: true });
  const server = new WebSocketCodec(new Connection(ConnectionType.SERVER), { batch: true });
  wire(client, pair.client);
  wire(server, pair.server);
  const cw = client.encoder.writable.getWriter();
  await cw.write([new TextMessage({ data: "a" }), new TextMessage({ data: "b" }), new TextMessage({ data: "c" })]);
  const sr = server.decoder.readable.getReader();
  const batch = await next(sr);
  t.ok(Array.isArray(batch));
  t.same(
    batch.map((e: Event) => (e as TextMessage).data),
    ["a", "b", "c"],
    "one write of three events arrived as one chunk and one batch",
  );
});

t.test("nobody reading events stops the pulling of bytes", async (t) => {
  const { pair, client } = connectedPair();
  const cw = client.encoder.writable.getWriter();
  const big = new Uint8Array(64 * 1024);
  let written = 0;
  void (async () => {
    for (let i = 0; i < 100; i++) {
      await cw.write(new BytesMessage({ data: big }));
      written++;
    }
  })();
  await sleep(100);
  t.ok(pair.toServer.pulled() <= 8 * 70 * 1024, `the server's decoder pulled ${pair.toServer.pulled()} bytes`);
  t.ok(written < 20, `the client's writes stalled after ${written}`);
});

t.test("a bad handshake errors the decoder with the RemoteProtocolError, and a server answers it", async (t) => {
  const pair = memoryPair();
  const server = new WebSocketCodec(new WSConnection(ConnectionType.SERVER));
  wire(server, pair.server);
  const writer = pair.client.writable.getWriter();
  await writer.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  await t.rejects(server.decoder.readable.getReader().read(), RemoteProtocolError);
  const reader = pair.client.readable.getReader();
  const response = new TextDecoder().decode(await next(reader));
  t.match(response, /^HTTP\/1\.1 400 /);
});

t.test("invalid options are refused", async (t) => {
  t.throws(() => new WebSocketCodec(new Connection(ConnectionType.CLIENT), { readableHighWaterMark: -1 }), {
    code: "WS_ERR_INVALID_OPTION",
  });
});

t.test("a batch with a refused event still sends the events before it", async (t) => {
  const { client, server } = connectedPair();
  const cw = client.encoder.writable.getWriter();
  const sr = server.decoder.readable.getReader();
  const bad = new Ping({ payload: new Uint8Array(126) }); // RFC 6455 §5.5: control payloads are at most 125 bytes
  const refused = await cw.write([new TextMessage({ data: "kept" }), bad]).then(
    () => null,
    (e: { code?: string }) => e,
  );
  t.equal(refused?.code, "WS_ERR_CONTROL_PAYLOAD_TOO_LONG");
  t.equal(((await next(sr)) as TextMessage).data, "kept");
});

t.test("automatic pongs honour the encoder's back-pressure: 16 chunks queued, then one pending pong (the latest ping's), and the decoder waits", async (t) => {
  const codec = new WebSocketCodec(new Connection(ConnectionType.SERVER));
  const peer = new Connection(ConnectionType.CLIENT);
  const events = codec.decoder.readable.getReader();
  void (async () => {
    for (;;) if ((await events.read()).done) break;
  })();
  const frames = Array.from({ length: 100 }, (_, i) => peer.send(new Ping({ payload: new Uint8Array([i]) })));
  const chunk = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0));
  frames.reduce((offset, f) => (chunk.set(f, offset), offset + f.byteLength), 0);
  const writer = codec.decoder.writable.getWriter();
  let taken = false;
  const written = writer.write(chunk).then(() => (taken = true));
  await sleep(50);
  t.notOk(taken, "the decoder takes no more bytes while the encoder's output is not taken");
  const output = codec.encoder.readable.getReader();
  const payloads: number[] = [];
  while (payloads.length < 17) {
    peer.receiveData((await output.read()).value!);
    for (const event of peer.events()) if (event instanceof Pong) payloads.push(event.payload[0]!);
  }
  await written;
  t.same(payloads, [...Array.from({ length: 16 }, (_, i) => i), 99], "16 pongs, then only the latest ping's (RFC 6455 §5.5.3)");
});

// Issue 19: streams end cleanly. Real loopback TCP through fromNodeSocket,
// the README's echo shape on the server, a codec client: after a clean close
// (whichever side starts it) all four pipes between the transports and the
// codecs resolve and both readers end; a peer that vanishes ends the
// server's pipes without an unhandled rejection.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { fromNodeSocket } from "../../src/node/index.ts";

type Settled = "resolved" | `rejected: ${string}`;
const settle = (p: Promise<unknown>): Promise<Settled> =>
  p.then(
    () => "resolved" as const,
    (e: unknown) => `rejected: ${e instanceof Error ? `${e.name} ${(e as { code?: string }).code ?? ""} ${e.message}` : String(e)}` as const,
  );

/** One side over a Node socket: its codec, both pipes' outcomes, a writer and a reader. */
function side(socket: Socket, type: ConnectionType) {
  const transport = fromNodeSocket(socket);
  const codec = new WebSocketCodec(new Connection(type), { closeTimeout: 5000 });
  const inbound = settle(transport.readable.pipeTo(codec.decoder.writable));
  const outbound = settle(codec.encoder.readable.pipeTo(transport.writable));
  return { codec, inbound, outbound, writer: codec.encoder.writable.getWriter(), reader: codec.decoder.readable.getReader() };
}

async function tcpPair(t: Test): Promise<{ server: Socket; client: Socket }> {
  const listener: Server = createServer({ allowHalfOpen: true });
  t.teardown(() => listener.close());
  const accepted = new Promise<Socket>((resolve) => listener.once("connection", resolve));
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const client = createConnection({ port: (listener.address() as { port: number }).port, host: "127.0.0.1", allowHalfOpen: true });
  const server = await accepted;
  t.teardown(() => {
    client.destroy();
    server.destroy();
  });
  return { server, client };
}

/** The README's echo: answer each text message, until the decoder ends. */
async function echo(s: ReturnType<typeof side>): Promise<string[]> {
  const seen: string[] = [];
  for (let r = await s.reader.read(); !r.done; r = await s.reader.read()) {
    seen.push(r.value.type);
    if (r.value instanceof TextMessage) await s.writer.write(new TextMessage({ data: r.value.data }));
  }
  return seen;
}

for (const closer of ["client", "server"] as const) {
  t.test(`a clean close started by the ${closer}: all four pipes resolve, both readers end`, async (t) => {
    const { server: ss, client: cs } = await tcpPair(t);
    const server = side(ss, ConnectionType.SERVER);
    const client = side(cs, ConnectionType.CLIENT);
    const serverDone = echo(server);
    await client.writer.write(new TextMessage({ data: "hello" }));
    t.equal(((await next(client.reader)) as TextMessage).data, "hello", "echoed");
    if (closer === "client") await client.writer.write(new CloseConnection({ code: 1000, reason: "done" }));
    else await server.writer.write(new CloseConnection({ code: 1000, reason: "done" }));
    const close = (await next(client.reader)) as CloseConnection;
    t.equal(close.code, 1000);
    t.same(await client.reader.read(), { done: true, value: undefined }, "the client's reader ends");
    t.same(await serverDone, closer === "client" ? ["TextMessage", "CloseConnection"] : ["TextMessage", "CloseConnection"], "the server's loop ends");
    t.same(
      await Promise.all([server.inbound, server.outbound, client.inbound, client.outbound]),
      ["resolved", "resolved", "resolved", "resolved"],
      "every pipe between a transport and a codec resolved",
    );
    t.equal(server.codec.connection.state, 4);
    t.equal(client.codec.connection.state, 4);
  });
}

t.test("a peer that vanishes mid-frame (end of stream, no close): 1006 event, the server's pipes resolve", async (t) => {
  const { server: ss, client: cs } = await tcpPair(t);
  const server = side(ss, ConnectionType.SERVER);
  const serverDone = echo(server);
  cs.write(hex("81 85 01 02 03 04 69")); // a masked text frame of 5 bytes, 1 of them sent
  await new Promise((resolve) => setTimeout(resolve, 20));
  cs.destroy();
  const seen = await serverDone;
  t.equal(seen.at(-1), "CloseConnection", "the CloseConnection(1006) event (after the piece that arrived), then the end");
  t.same(await Promise.all([server.inbound, server.outbound]), ["resolved", "resolved"]);
});

t.test("a transport that fails (reset): both streams error once, with one WebSocketError", async (t) => {
  const { server: ss } = await tcpPair(t);
  const server = side(ss, ConnectionType.SERVER);
  const read = server.reader.read().then(
    () => null,
    (e: unknown) => e,
  );
  ss.destroy(new Error("reset by test"));
  const error = (await read) as { name: string; code: string; closeCode: number; cause: unknown };
  t.equal(error?.name, "WebSocketError", "the reader gets a WebSocketError");
  t.equal(error.code, "WS_ERR_TRANSPORT");
  t.equal(error.closeCode, 1006);
  const write = await settle(server.writer.write(new TextMessage({ data: "late" })));
  t.match(write, /^rejected: WebSocketError WS_ERR_TRANSPORT/, "the writer gets the same kind of error");
  t.match(await server.inbound, /^rejected/, "the pipe from the failed transport rejects (pipeTo reports its source's error)");
});
