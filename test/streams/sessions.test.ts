// connectWebSocket / acceptWebSocket over in-memory transports: the
// WebSocketStream shape, closing rules, timeouts, keepalive, rejection,
// fragments, limits. (Real TCP is in node.test.ts and flood.test.ts.)
import t from "tap";
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
import { LocalProtocolError } from "../../src/protocol/errors.ts";
import { ConnectionType } from "../../src/protocol/types.ts";
import {
  acceptWebSocket,
  connectWebSocket,
  WebSocketError,
  type MessageChunk,
} from "../../src/streams/sessions.ts";
import { hex, memoryPair, RawPeer, sleep, rejection } from "./_helpers.ts";

const FAST = { closeTimeout: 2000, handshakeTimeout: 2000 } as const;

function opened<T>(ws: { opened: Promise<T> }): Promise<T> {
  return ws.opened;
}

async function readAll<T>(readable: ReadableStream<T>): Promise<T[]> {
  const reader = readable.getReader();
  const out: T[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

t.test("echo: text, binary, empty and BufferSource messages; protocol and extensions", async (t) => {
  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, { ...FAST, protocols: ["b", "a"] });
  const client = connectWebSocket(pair.client, { ...FAST, url: "ws://example.com/room?x=1", protocols: ["a", "b"] });
  const [s, c] = await Promise.all([opened(server), opened(client)]);
  // The client's order of preference decides among those the server speaks.
  t.equal(c.protocol, "a");
  t.equal(s.protocol, "a");
  t.match(c.extensions, /^permessage-deflate/);
  t.equal(s.extensions, c.extensions, "both ends report the same negotiated extensions");
  const echo = s.readable.pipeTo(s.writable);
  const w = c.writable.getWriter();
  const r = c.readable.getReader();
  const inputs: unknown[] = [
    "hello",
    "",
    "ünïcödé ✓ 🎉",
    new Uint8Array([1, 2, 3]),
    new Uint8Array(0),
    new Uint16Array([0x0102]).buffer,
    new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2),
  ];
  for (const input of inputs) void w.write(input as string);
  const got: unknown[] = [];
  for (let i = 0; i < inputs.length; i++) got.push((await r.read()).value);
  t.same(got.slice(0, 3), ["hello", "", "ünïcödé ✓ 🎉"]);
  t.same(got[3], new Uint8Array([1, 2, 3]));
  t.same(got[4], new Uint8Array(0));
  t.same(got[5], new Uint8Array(new Uint16Array([0x0102]).buffer));
  t.same(got[6], new Uint8Array([8, 7]));
  client.close({ closeCode: 1000, reason: "done" });
  t.same(await client.closed, { closeCode: 1000, reason: "done" });
  t.same(await server.closed, { closeCode: 1000, reason: "done" });
  await echo; // a clean close ends an echo's pipe without an error
  t.same(await r.read(), { done: true, value: undefined });
});

t.test("fragmented writes arrive whole; fragments mode delivers the pieces", async (t) => {
  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, { ...FAST, fragments: true, extensions: [] });
  const client = connectWebSocket(pair.client, { ...FAST, host: "example.com", extensions: [] });
  const [s, c] = await Promise.all([opened(server), opened(client)]);
  t.equal(c.extensions, "");
  const w = c.writable.getWriter();
  await w.write(new TextMessage({ data: "ab", messageFinished: false }));
  await w.write(new TextMessage({ data: "cd", messageFinished: false }));
  await w.write(new TextMessage({ data: "ef" }));
  const sr = s.readable.getReader();
  const pieces: MessageChunk[] = [];
  for (;;) {
    const { value } = await sr.read();
    pieces.push(value!);
    if (value!.messageFinished) break;
  }
  t.equal(pieces.map((p) => p.data).join(""), "abcdef");
  t.ok(pieces.length >= 3, "delivered as pieces");
  t.ok(pieces.every((p) => p instanceof TextMessage));
  // The other direction: the server sends fragments, the client sees one message.
  const sw = s.writable.getWriter();
  await sw.write(new BytesMessage({ data: new Uint8Array([1]), messageFinished: false }));
  await sw.write(new BytesMessage({ data: new Uint8Array([2, 3]) }));
  const cr = c.readable.getReader();
  t.same((await cr.read()).value, new Uint8Array([1, 2, 3]));
  server.close();
  await Promise.all([client.closed, server.closed]);
});

t.test("10,000 messages written before close() all arrive, in order", async (t) => {
  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, FAST);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
  const [s, c] = await Promise.all([opened(server), opened(client)]);
  const w = c.writable.getWriter();
  const N = 10_000;
  for (let i = 0; i < N; i++) void w.write(`m${i}`);
  client.close({ closeCode: 3001, reason: "all sent" });
  const got = await readAll(s.readable);
  t.equal(got.length, N);
  t.equal(got[0], "m0");
  t.equal(got[N - 1], `m${N - 1}`);
  t.ok(got.every((m, i) => m === `m${i}`), "in order");
  t.same(await server.closed, { closeCode: 3001, reason: "all sent" });
  t.same(await client.closed, { closeCode: 3001, reason: "all sent" });
  // Writes after close() are refused.
  await t.rejects(w.write("late"));
});

t.test("close rules: no code sends 1005, a reason alone means 1000, bad codes throw", async (t) => {
  for (const [info, expected] of [
    [undefined, { closeCode: 1005, reason: "" }],
    [{}, { closeCode: 1005, reason: "" }],
    [{ reason: "why" }, { closeCode: 1000, reason: "why" }],
    [{ closeCode: 4999 }, { closeCode: 4999, reason: "" }],
    [{ closeCode: 1001, reason: "going" }, { closeCode: 1001, reason: "going" }],
  ] as const) {
    const pair = memoryPair();
    const server = acceptWebSocket(pair.server, FAST);
    const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
    await Promise.all([opened(server), opened(client)]);
    client.close(info);
    t.same(await server.closed, expected, `server sees ${JSON.stringify(info)}`);
    t.same(await client.closed, expected, "the echoed close resolves the client");
  }
  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, FAST);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
  await Promise.all([opened(server), opened(client)]);
  for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000, 1.5]) {
    t.throws(() => client.close({ closeCode: code }), LocalProtocolError, `code ${code}`);
  }
  t.throws(() => client.close({ reason: "x".repeat(124) }), { code: "WS_ERR_INVALID_CLOSE_REASON" });
  client.close({ closeCode: 1000, reason: "é".repeat(61) }); // 122 bytes is fine
  t.same(await server.closed, { closeCode: 1000, reason: "é".repeat(61) });
  await client.closed;
});

t.test("readable.cancel and writable.abort close with a WebSocketError's code, else without one", async (t) => {
  const cases: Array<[string, (o: { readable: ReadableStream; writable: WritableStream }) => unknown, unknown]> = [
    ["cancel with code", (o) => o.readable.cancel(new WebSocketError("", { closeCode: 4001, reason: "r" })), { closeCode: 4001, reason: "r" }],
    ["cancel with a plain reason", (o) => o.readable.cancel(new Error("x")), { closeCode: 1005, reason: "" }],
    ["cancel with an invalid code", (o) => o.readable.cancel(new WebSocketError("", { closeCode: 1006 })), { closeCode: 1005, reason: "" }],
    ["abort with code", (o) => o.writable.abort(new WebSocketError("", { closeCode: 3000, reason: "a" })), { closeCode: 3000, reason: "a" }],
    ["abort without", (o) => o.writable.abort("nope"), { closeCode: 1005, reason: "" }],
    ["writable.close()", (o) => o.writable.close(), { closeCode: 1005, reason: "" }],
  ];
  for (const [name, act, expected] of cases) {
    const pair = memoryPair();
    const server = acceptWebSocket(pair.server, FAST);
    const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
    const [, c] = await Promise.all([opened(server), opened(client)]);
    let settled = false;
    const acted = Promise.resolve(act(c)).then(() => (settled = true));
    t.same(await server.closed, expected, name);
    await client.closed;
    await acted;
    t.ok(settled, `${name}: the stream operation settles`);
  }
});

t.test("writer.close() resolves only once the closing handshake is done", async (t) => {
  const pair = memoryPair();
  const peer = new RawPeer(ConnectionType.SERVER, pair.server);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
  await peer.accept();
  const { writable } = await client.opened;
  let done = false;
  const closing = writable.getWriter().close().then(() => (done = true));
  await peer.until((evs) => evs.some((e) => e.type === "CloseConnection"));
  await sleep(20);
  t.notOk(done, "still waiting for the peer's close");
  await peer.send(new CloseConnection({ code: 1005 }));
  await peer.close();
  await closing;
  t.same(await client.closed, { closeCode: 1005, reason: "" });
});

t.test("a close from the peer is answered and resolves closed with its code", async (t) => {
  const pair = memoryPair();
  const peer = new RawPeer(ConnectionType.SERVER, pair.server);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
  await peer.accept();
  const { readable } = await client.opened;
  await peer.send(new TextMessage({ data: "last words" }));
  await peer.send(new CloseConnection({ code: 4321, reason: "server says bye" }));
  await peer.until((evs) => evs.some((e) => e.type === "CloseConnection"));
  const reply = peer.events.find((e) => e.type === "CloseConnection") as CloseConnection;
  t.equal(reply.code, 4321, "the reply echoes the code (RFC 6455 §5.5.1)");
  await peer.untilEof(); // the client ends its side after the close handshake
  await peer.close();
  t.same(await client.closed, { closeCode: 4321, reason: "server says bye" });
  t.same(await readAll(readable), ["last words"], "messages before the close are still delivered");
});

t.test("a transport that dies mid-stream rejects closed with 1006 and errors the streams", async (t) => {
  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, FAST);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
  const [, c] = await Promise.all([opened(server), opened(client)]);
  pair.toClient.kill();
  const error = (await rejection(client.closed)) as WebSocketError;
  t.type(error, WebSocketError);
  t.equal(error.closeCode, 1006);
  await t.rejects(c.readable.getReader().read(), WebSocketError);
  // The server sees its transport end without a close frame: 1006 as well.
  pair.toServer.kill();
  t.equal(((await rejection(server.closed)) as WebSocketError).closeCode, 1006);
});

t.test("EOF without a close frame is 1006", async (t) => {
  const pair = memoryPair();
  const peer = new RawPeer(ConnectionType.SERVER, pair.server);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
  await peer.accept();
  await client.opened;
  await peer.close();
  const error = (await rejection(client.closed)) as WebSocketError;
  t.equal(error.closeCode, 1006);
  t.equal(error.code, "WS_ERR_ABNORMAL_CLOSURE");
});

t.test("a protocol violation by the peer fails the connection with its code", async (t) => {
  const pair = memoryPair();
  const peer = new RawPeer(ConnectionType.SERVER, pair.server);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
  await peer.accept();
  const { readable } = await client.opened;
  await peer.write(hex("83 00")); // reserved opcode 3: RFC 6455 §5.2 -> 1002
  await peer.until((evs) => evs.some((e) => e.type === "CloseConnection"));
  t.equal((peer.events.find((e) => e.type === "CloseConnection") as CloseConnection).code, 1002);
  await peer.close();
  const error = (await rejection(client.closed)) as WebSocketError;
  t.equal(error.closeCode, 1002);
  t.equal(error.code, "WS_ERR_PROTOCOL");
  t.equal(((await rejection(readable.getReader().read())) as WebSocketError).closeCode, 1002);
});

t.test("maxMessageSize is enforced with 1009", async (t) => {
  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, { ...FAST, maxMessageSize: 1000, extensions: [] });
  const client = connectWebSocket(pair.client, { ...FAST, host: "h", extensions: [] });
  const [, c] = await Promise.all([opened(server), opened(client)]);
  const w = c.writable.getWriter();
  await w.write(new Uint8Array(1000)); // at the limit: fine
  await w.write(new Uint8Array(1001));
  t.equal(((await rejection(server.closed)) as WebSocketError).closeCode, 1009);
  t.same(await client.closed, { closeCode: 1009, reason: (await rejection(server.closed) as WebSocketError).reason });
});

t.test("ping() resolves with the round trip; onPing/onPong see payloads; autoPong can be off", async (t) => {
  const pair = memoryPair();
  const seen: string[] = [];
  const server = acceptWebSocket(pair.server, { ...FAST, onPing: (p) => seen.push(`ping:${p.length}`) });
  const client = connectWebSocket(pair.client, { ...FAST, host: "h", onPong: (p) => seen.push(`pong:${p.length}`) });
  const [s] = await Promise.all([opened(server), opened(client)]);
  void s.readable.pipeTo(s.writable).catch(() => {});
  const rtt = await client.ping("abc");
  t.ok(rtt >= 0);
  t.ok(await client.ping(), "default payload");
  t.same(seen, ["ping:3", "pong:3", "ping:4", "pong:4"]);
  client.close();
  await Promise.all([client.closed, server.closed]);
  await t.rejects(client.ping(), { name: "WebSocketError", code: "WS_ERR_CLOSED" }, "no ping once closed");

  const pair2 = memoryPair();
  const mute = acceptWebSocket(pair2.server, { ...FAST, autoPong: false });
  const client2 = connectWebSocket(pair2.client, { ...FAST, host: "h" });
  await Promise.all([opened(mute), opened(client2)]);
  const pending = client2.ping();
  let answered = false;
  void pending.then(() => (answered = true), () => {});
  await sleep(50);
  t.notOk(answered, "no automatic pong");
  mute.close();
  await t.rejects(pending, WebSocketError, "a ping left unanswered rejects when the connection closes");
});

t.test("keepalive: pings on an interval; a peer that stops answering gets 1011", async (t) => {
  const pair = memoryPair();
  const pongs: number[] = [];
  const server = acceptWebSocket(pair.server, FAST);
  const client = connectWebSocket(pair.client, {
    ...FAST,
    host: "h",
    pingInterval: 30,
    pingTimeout: 500,
    onPong: () => pongs.push(1),
  });
  const [s] = await Promise.all([opened(server), opened(client)]);
  void s.readable.pipeTo(s.writable).catch(() => {});
  await sleep(200);
  t.ok(pongs.length >= 2, `keepalive pings answered (${pongs.length})`);
  client.close();
  await client.closed;

  const pair2 = memoryPair();
  const peer = new RawPeer(ConnectionType.SERVER, pair2.server);
  const client2 = connectWebSocket(pair2.client, {
    host: "h",
    pingInterval: 20,
    pingTimeout: 60,
    closeTimeout: 100,
  });
  await peer.accept();
  await client2.opened;
  peer.reading = false; // stops answering (and reading)
  const error = (await rejection(client2.closed)) as WebSocketError;
  t.equal(error.closeCode, 1011);
  t.equal(error.code, "WS_ERR_KEEPALIVE_TIMEOUT");
  peer.reading = true;
  await peer.until((evs) => evs.some((e) => e.type === "CloseConnection" && e.code === 1011));
  t.pass("the peer receives close 1011");
});

t.test("keepalive: sessions sharing a pingInterval share one clock; each pings on its own period, and a closed one stops", async (t) => {
  const INTERVAL = 40;
  const sessions = [];
  for (let i = 0; i < 5; i++) {
    const pair = memoryPair();
    const pings: number[] = [];
    const server = acceptWebSocket(pair.server, { ...FAST, pingInterval: null, onPing: () => pings.push(performance.now()) });
    const client = connectWebSocket(pair.client, { ...FAST, host: "h", pingInterval: INTERVAL, pingTimeout: 1000 });
    await Promise.all([opened(server), opened(client)]);
    sessions.push({ client, server, pings, start: performance.now() });
    await sleep(7); // staggered: each has its own phase
  }
  sessions[0]!.client.close();
  await sessions[0]!.client.closed;
  const closedAt = sessions[0]!.pings.length;
  await sleep(8 * INTERVAL);
  t.equal(sessions[0]!.pings.length, closedAt, "a closed session pings no more");
  for (const [i, { pings, start }] of sessions.entries()) {
    if (i === 0) continue;
    t.ok(pings.length >= 3, `session ${i}: ${pings.length} pings in ${(performance.now() - start).toFixed(0)} ms`);
    // The first comes no sooner than one interval after the session opened.
    t.ok(pings[0]! - start >= INTERVAL - 2, `session ${i}: first ping after ${(pings[0]! - start).toFixed(0)} ms`);
    for (let k = 1; k < pings.length; k++) {
      if (pings[k]! - pings[k - 1]! < INTERVAL - 2) t.fail(`session ${i}: pings ${(pings[k]! - pings[k - 1]!).toFixed(0)} ms apart`);
    }
  }
  for (const { client } of sessions.slice(1)) client.close();
  await Promise.all(sessions.map(({ server }) => server.closed));
});

t.test("keepalive while the application is not reading: the deadline is extended once, then the session ends", async (t) => {
  async function run(pingTimeout: number, pauseMs: number) {
    const pair = memoryPair();
    const server = acceptWebSocket(pair.server, { ...FAST, extensions: [] });
    const client = connectWebSocket(pair.client, {
      ...FAST,
      host: "h",
      extensions: [],
      pingInterval: 20,
      pingTimeout,
      readableHighWaterMark: 10,
    });
    const [s, c] = await Promise.all([opened(server), opened(client)]);
    const w = s.writable.getWriter();
    for (let i = 0; i < 50; i++) void w.write("0123456789");
    await sleep(pauseMs); // the client reads nothing: its read loop is paused, the pong waits behind the messages
    return { client, server, reader: c.readable.getReader() };
  }
  // Paused for less than 2 × pingTimeout: the pong is read in time.
  const healthy = await run(400, 500);
  let count = 0;
  while (count < 50) {
    await healthy.reader.read();
    count++;
  }
  t.equal(count, 50, "every message arrives after the pause");
  healthy.client.close();
  t.same(await healthy.client.closed, { closeCode: 1005, reason: "" }, "the connection stayed healthy");
  await healthy.server.closed;
  // Paused for longer: the session ends (1011), whatever the application does.
  const stuck = await run(40, 400);
  const error = (await rejection(stuck.client.closed)) as WebSocketError;
  t.equal(error.code, "WS_ERR_KEEPALIVE_TIMEOUT", "a peer unheard for pingInterval + 2 × pingTimeout is dropped");
  t.equal(error.closeCode, 1011);
  await rejection(stuck.server.closed).catch(() => {});
});

t.test("an aborted signal rejects opened and closed with its reason and releases the transport", async (t) => {
  const pair = memoryPair();
  const reason = new Error("stop");
  const ws = connectWebSocket(pair.client, { host: "h", signal: AbortSignal.abort(reason) });
  t.equal(await rejection(ws.opened), reason);
  t.equal(await rejection(ws.closed), reason);
  t.equal(await pair.toServer.ended, "aborted", "the transport's writable is aborted");

  const pair2 = memoryPair();
  const controller = new AbortController();
  const ws2 = connectWebSocket(pair2.client, { host: "h", signal: controller.signal });
  await sleep(20); // the server never answers
  controller.abort();
  t.equal(((await rejection(ws2.opened)) as DOMException).name, "AbortError");
  await rejection(ws2.closed);
  t.equal(await pair2.toServer.ended, "aborted");
  t.equal(await pair2.toClient.ended, "cancelled", "the transport's readable is cancelled");

  // After the handshake, aborting has no effect.
  const pair3 = memoryPair();
  const controller3 = new AbortController();
  const server3 = acceptWebSocket(pair3.server, FAST);
  const client3 = connectWebSocket(pair3.client, { ...FAST, host: "h", signal: controller3.signal });
  await Promise.all([opened(server3), opened(client3)]);
  controller3.abort();
  await sleep(10);
  client3.close({ closeCode: 1000 });
  t.same(await client3.closed, { closeCode: 1000, reason: "" });
});

t.test("a handshake timeout rejects opened and releases the transport", async (t) => {
  const pair = memoryPair();
  const ws = connectWebSocket(pair.client, { host: "h", handshakeTimeout: 50 });
  const error = (await rejection(ws.opened)) as WebSocketError;
  t.equal(error.code, "WS_ERR_HANDSHAKE_TIMEOUT");
  t.equal(error.closeCode, 1006);
  t.equal(await rejection(ws.closed), error);
  t.equal(await pair.toServer.ended, "aborted");

  // Server side: a client that sends nothing.
  const pair2 = memoryPair();
  const server = acceptWebSocket(pair2.server, { handshakeTimeout: 50 });
  t.equal(((await rejection(server.opened)) as WebSocketError).code, "WS_ERR_HANDSHAKE_TIMEOUT");
  t.equal(await pair2.toClient.ended, "aborted");
});

t.test("close() during the handshake abandons it", async (t) => {
  const pair = memoryPair();
  const ws = connectWebSocket(pair.client, { host: "h" });
  ws.close();
  t.equal(((await rejection(ws.opened)) as WebSocketError).code, "WS_ERR_HANDSHAKE_ABORTED");
  await rejection(ws.closed);
});

t.test("handleRequest: reject with status, headers and body; the client sees all three", async (t) => {
  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, {
    ...FAST,
    handleRequest: (request) => {
      t.equal(request.target, "/private");
      t.same(
        request.extraHeaders.filter(([n]) => n === "authorization"),
        [["authorization", "Bearer nope"]],
      );
      return { status: 403, headers: [["x-why", "token"]], body: "forbidden here" };
    },
  });
  const client = connectWebSocket(pair.client, {
    ...FAST,
    url: "ws://example.com/private",
    headers: [["Authorization", "Bearer nope"]],
  });
  const error = (await rejection(client.opened)) as WebSocketError;
  t.type(error, WebSocketError);
  t.equal(error.code, "WS_ERR_HANDSHAKE_REJECTED");
  t.equal(error.status, 403);
  t.ok(error.headers.some(([n, v]) => n === "x-why" && v === "token"));
  t.equal(new TextDecoder().decode(error.body!), "forbidden here");
  t.equal(await rejection(client.closed), error);
  const serverError = (await rejection(server.opened)) as WebSocketError;
  t.equal(serverError.status, 403);
  await rejection(server.closed);
});

t.test("handleRequest: accept with a subprotocol and headers, asynchronously; a throw is a 500", async (t) => {
  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, {
    ...FAST,
    handleRequest: async (request) => {
      await sleep(10);
      return { subprotocol: request.subprotocols[1]!, headers: [["x-server", "ours"]] };
    },
  });
  const peer = new RawPeer(ConnectionType.CLIENT, pair.client);
  await peer.connect(new Request({ host: "h", target: "/", subprotocols: ["one", "two"] }));
  const accept = peer.events.find((e) => e.type === "AcceptConnection") as AcceptConnection;
  t.equal(accept.subprotocol, "two");
  t.ok(accept.extraHeaders.some(([n, v]) => n === "x-server" && v === "ours"));
  t.equal((await server.opened).protocol, "two");
  // Frames the client sent right behind its request still arrive.
  await peer.send(new TextMessage({ data: "after accept" }));
  const r = (await server.opened).readable.getReader();
  t.equal((await r.read()).value, "after accept");
  server.close();
  await peer.until((evs) => evs.some((e) => e.type === "CloseConnection"));

  const pair2 = memoryPair();
  const server2 = acceptWebSocket(pair2.server, {
    ...FAST,
    handleRequest: () => {
      throw new Error("boom");
    },
  });
  const client2 = connectWebSocket(pair2.client, { ...FAST, host: "h" });
  t.equal(((await rejection(client2.opened)) as WebSocketError).status, 500);
  const e2 = (await rejection(server2.opened)) as WebSocketError;
  t.equal(e2.status, 500);
  t.equal((e2.cause as Error).message, "boom");
});

t.test("a bad request is answered with the handshake's hint (400) and rejects opened", async (t) => {
  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, FAST);
  const peer = new RawPeer(ConnectionType.CLIENT, pair.client);
  await peer.write(new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n`)); // no Connection: Upgrade
  const error = (await rejection(server.opened)) as WebSocketError;
  t.equal(error.status, 400);
  await peer.untilEof();
  t.pass("the server ends the transport after the 400");
});

t.test("the application not reading stops the reading of the transport", async (t) => {
  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, { ...FAST, extensions: [] });
  const client = connectWebSocket(pair.client, { ...FAST, host: "h", extensions: [], readableHighWaterMark: 64 * 1024 });
  const [s, c] = await Promise.all([opened(server), opened(client)]);
  const w = s.writable.getWriter();
  const message = new Uint8Array(16 * 1024);
  let written = 0;
  const writing = (async () => {
    for (let i = 0; i < 200; i++) {
      await w.write(message);
      written++;
    }
  })();
  await sleep(100);
  const pulled = pair.toClient.pulled();
  t.ok(pulled < 256 * 1024, `the client pulled ${pulled} bytes while its application read nothing`);
  t.ok(written < 40, `the server's writes stalled (${written} done)`);
  let n = 0;
  const reader = c.readable.getReader();
  while (n < 200) {
    const { value } = await reader.read();
    t.equal((value as Uint8Array).byteLength, 16 * 1024);
    n++;
  }
  await writing;
  t.equal(n, 200);
  server.close();
  await server.closed;
});

t.test("invalid writes and options are LocalProtocolErrors", async (t) => {
  t.throws(() => connectWebSocket(memoryPair().client, { host: "h", pingInterval: -1 }), LocalProtocolError);
  t.throws(() => connectWebSocket(memoryPair().client, { host: "h", readableHighWaterMark: -1 }), LocalProtocolError);
  const noHost = connectWebSocket(memoryPair().client, {});
  t.equal(((await rejection(noHost.opened)) as LocalProtocolError).code, "WS_ERR_INVALID_OPTION");
  const badUrl = connectWebSocket(memoryPair().client, { url: "not a url" });
  t.type(await rejection(badUrl.opened), LocalProtocolError);

  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, FAST);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
  const [, c] = await Promise.all([opened(server), opened(client)]);
  const w = c.writable.getWriter();
  await t.rejects(w.write(42 as unknown as string), LocalProtocolError);
  // A write of the wrong type fails the connection (1011), so that closed settles and the peer is told.
  const failure = (await rejection(client.closed)) as WebSocketError;
  t.type(failure, WebSocketError);
  t.equal(failure.closeCode, 1011);
  t.equal(failure.code, "WS_ERR_INVALID_MESSAGE");
  t.equal(failure.message, "A WebSocket message must be a string, bytes or a Message, got number");
  t.type(failure.cause, LocalProtocolError);
  await t.rejects(w.write("x"), WebSocketError, "the writable is errored");
  t.same(await server.closed, { closeCode: 1011, reason: "invalid message type written" }, "the peer got the close code");
});

t.test("pings, pongs and closes from the peer reach a raw peer in order with messages", async (t) => {
  const pair = memoryPair();
  const peer = new RawPeer(ConnectionType.SERVER, pair.server);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
  await peer.accept();
  const { writable } = await client.opened;
  const w = writable.getWriter();
  await w.write("one");
  await peer.send(new Ping({ payload: new Uint8Array([7]) }));
  await w.write("two");
  await peer.until((evs) => evs.filter((e) => e.type !== "Request").length >= 3);
  const kinds = peer.events.filter((e) => e.type !== "Request").map((e: Event) => e.type);
  t.same(kinds.sort(), ["Pong", "TextMessage", "TextMessage"].sort());
  t.same((peer.events.find((e) => e.type === "Pong") as Pong).payload, new Uint8Array([7]));
  client.close();
  await peer.until((evs) => evs.some((e) => e.type === "CloseConnection"));
  await peer.send(new CloseConnection({ code: 1000 }));
  await peer.close();
  t.same(await client.closed, { closeCode: 1000, reason: "" });
});

t.test("a close handshake the peer never finishes times out: 1006 and the transport is aborted", async (t) => {
  const pair = memoryPair();
  const peer = new RawPeer(ConnectionType.SERVER, pair.server);
  const client = connectWebSocket(pair.client, { host: "h", closeTimeout: 60 });
  await peer.accept();
  await client.opened;
  client.close({ closeCode: 1000 });
  const error = (await rejection(client.closed)) as WebSocketError;
  t.equal(error.code, "WS_ERR_CLOSE_TIMEOUT");
  t.equal(error.closeCode, 1006);
  t.equal(await pair.toServer.ended, "aborted");
});

t.test("opened's streams are made on first use: the same objects each time, ending as the session did", async (t) => {
  // Messages that arrive before anyone touched the streams are kept.
  const pair = memoryPair();
  const peer = new RawPeer(ConnectionType.SERVER, pair.server);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
  await peer.accept();
  const info = await client.opened;
  await peer.send(new TextMessage({ data: "early" }));
  await peer.send(new CloseConnection({ code: 1000, reason: "bye" }));
  await peer.untilEof();
  await peer.close();
  t.same(await client.closed, { closeCode: 1000, reason: "bye" });
  t.equal(info.readable, info.readable, "one readable");
  t.equal(info.writable, info.writable, "one writable");
  t.same(await readAll(info.readable), ["early"]);
  const writer = info.writable.getWriter();
  t.match(await rejection(writer.write("late")), { code: "WS_ERR_CLOSED" });

  // Streams first touched after a clean close that nothing arrived before: the readable is done.
  const pair2 = memoryPair();
  const server2 = acceptWebSocket(pair2.server, FAST);
  const client2 = connectWebSocket(pair2.client, { ...FAST, host: "h" });
  const [s2, c2] = await Promise.all([opened(server2), opened(client2)]);
  client2.close({ closeCode: 1000 });
  await Promise.all([client2.closed, server2.closed]);
  t.same(await c2.readable.getReader().read(), { done: true, value: undefined });
  t.same(await s2.readable.getReader().read(), { done: true, value: undefined });

  // ... and after a failure both streams are errored with the session's error.
  const pair3 = memoryPair();
  const server3 = acceptWebSocket(pair3.server, FAST);
  const client3 = connectWebSocket(pair3.client, { ...FAST, host: "h" });
  const [, c3] = await Promise.all([opened(server3), opened(client3)]);
  pair3.toClient.kill();
  const error = await rejection(client3.closed);
  t.equal(await rejection(c3.readable.getReader().read()), error);
  t.equal(await rejection(c3.writable.getWriter().write("x")), error);
  pair3.toServer.kill();
  await rejection(server3.closed);
});

t.test("messages that arrived whole before a protocol error are delivered, then the readable errors", async (t) => {
  const pair = memoryPair();
  const peer = new RawPeer(ConnectionType.SERVER, pair.server);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h", extensions: [] });
  await peer.accept();
  const { readable } = await client.opened;
  // A good text frame, then one with RSV2 set (no extension claims it): 1002.
  await peer.write(hex("810d 48656c6c6f2c20776f726c6421 a20d 48656c6c6f2c20776f726c6421"));
  const error = (await rejection(client.closed)) as WebSocketError;
  t.equal(error.closeCode, 1002, "the connection failed with 1002");
  await sleep(20); // nobody read until now
  const reader = readable.getReader();
  t.same(await reader.read(), { value: "Hello, world!", done: false }, "the message before the bad frame is delivered");
  await t.rejects(reader.read(), WebSocketError, "then the readable errors");
});

t.test("messages queued when the transport dies without a close frame are still read, then 1006", async (t) => {
  const pair = memoryPair();
  const peer = new RawPeer(ConnectionType.SERVER, pair.server);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h", extensions: [] });
  await peer.accept();
  const { readable } = await client.opened;
  await peer.send(new TextMessage({ data: "one" }));
  await peer.send(new TextMessage({ data: "" }));
  await peer.send(new BytesMessage({ data: new Uint8Array([2]) }));
  await peer.close();
  t.equal(((await rejection(client.closed)) as WebSocketError).closeCode, 1006);
  await sleep(50);
  const reader = readable.getReader();
  t.same(await reader.read(), { value: "one", done: false });
  t.same(await reader.read(), { value: "", done: false }, "an empty message counts as queued");
  t.same(await reader.read(), { value: new Uint8Array([2]), done: false });
  const failure = await reader.read().then(
    () => null,
    (e: unknown) => e,
  );
  t.type(failure, WebSocketError);
  t.equal((failure as WebSocketError).closeCode, 1006);
});

t.test("an echo of messages that arrive in the same chunk as the peer's close still goes out before the close reply", async (t) => {
  const pair = memoryPair();
  const peer = new RawPeer(ConnectionType.CLIENT, pair.client);
  const server = acceptWebSocket(pair.server, { ...FAST, extensions: [] });
  await peer.connect();
  const { readable, writable } = await server.opened;
  const echo = readable.pipeTo(writable).catch(() => undefined);
  const a = peer.conn.send(new TextMessage({ data: "one" }));
  const b = peer.conn.send(new TextMessage({ data: "last" }));
  const c = peer.conn.send(new CloseConnection({ code: 1000 }));
  const all = new Uint8Array(a.length + b.length + c.length);
  all.set(a);
  all.set(b, a.length);
  all.set(c, a.length + b.length);
  await peer.write(all);
  await peer.until((evs) => evs.some((e) => e.type === "CloseConnection"));
  t.same(
    peer.events.filter((e) => e.type !== "AcceptConnection").map((e) => (e.type === "TextMessage" ? e.data : e.type)),
    ["one", "last", "CloseConnection"],
    "both echoes, then the close reply",
  );
  t.same(await server.closed, { closeCode: 1000, reason: "" });
  await echo;
});
