// Hostile peers over real loopback TCP, one test per attack of issue 14's
// table, in both roles where it applies: each asserts that the process's live
// memory (JS heap + array buffers after a full GC) grows less than the
// documented bound (README "Memory bounds"), or that the connection fails
// with the documented close code. The attacker writes respecting 'drain', so
// it buffers at most one batch itself; "stalled" means the victim stopped
// reading (the kernel's buffers are full and 'drain' does not come).
import t from "tap";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { AcceptConnection, BytesMessage, CloseConnection, Ping, Request, TextMessage, type Event } from "../../src/protocol/events.ts";
import { LocalProtocolError } from "../../src/protocol/errors.ts";
import { PerMessageDeflate } from "../../src/protocol/extensions/index.ts";
import { ConnectionType } from "../../src/protocol/types.ts";
import { WSConnection } from "../../src/protocol/ws-connection.ts";
import { WebSocketCodec } from "../../src/streams/codec.ts";
import { connectNodeWebSocket, fromNodeSocket } from "../../src/node/index.ts";
import { acceptWebSocket, WebSocketError, type AcceptWebSocketOptions, type WebSocketSession } from "../../src/streams/sessions.ts";
import type { Teardown } from "../helpers/process.ts";
import { liveBytes, sleep } from "./_helpers.ts";

const MiB = 1024 * 1024;
const QUIET = { pingInterval: null, closeTimeout: 2000 } as const;

async function listen(server: Server, t: Teardown): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => server.close());
  return (server.address() as { port: number }).port;
}

/** The victim as a server: acceptWebSocket over fromNodeSocket; resolves with the session. */
async function victimServer(t: Teardown, options: AcceptWebSocketOptions = {}): Promise<{ port: number; session: Promise<WebSocketSession> }> {
  let resolve!: (s: WebSocketSession) => void;
  const session = new Promise<WebSocketSession>((r) => (resolve = r));
  const server = createServer((socket) => {
    socket.on("error", () => {});
    t.teardown(() => socket.destroy());
    resolve(acceptWebSocket(fromNodeSocket(socket), { ...QUIET, ...options }));
  });
  return { port: await listen(server, t), session };
}

/** An attacking client: a bare WSConnection for the handshake, then raw bytes. */
async function attackerClient(t: Teardown, port: number, extensions: PerMessageDeflate[] = []): Promise<{ socket: Socket; conn: WSConnection; events: Event[] }> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  t.teardown(() => socket.destroy());
  await once(socket, "connect");
  const conn = new WSConnection(ConnectionType.CLIENT);
  const events: Event[] = [];
  socket.write(conn.send(new Request({ host: "victim", target: "/", extensions })));
  await new Promise<void>((resolve) => {
    socket.on("data", (chunk: Buffer) => {
      if (conn.state === 4 /* CLOSED */) return;
      conn.receiveData(new Uint8Array(chunk));
      for (const event of conn.events()) {
        events.push(event);
        if (event.type === "AcceptConnection") resolve();
      }
    });
  });
  return { socket, conn, events };
}

/** An attacking server: accepts the handshake with a bare WSConnection, then hands over the socket. */
async function attackerServer(t: Teardown, extensions: PerMessageDeflate[] = []): Promise<{ port: number; attacker: Promise<{ socket: Socket; conn: WSConnection; events: Event[] }> }> {
  let resolve!: (a: { socket: Socket; conn: WSConnection; events: Event[] }) => void;
  const attacker = new Promise<{ socket: Socket; conn: WSConnection; events: Event[] }>((r) => (resolve = r));
  const server = createServer((socket) => {
    socket.on("error", () => {});
    t.teardown(() => socket.destroy());
    const conn = new WSConnection(ConnectionType.SERVER);
    const events: Event[] = [];
    let accepted = false;
    socket.on("data", (chunk: Buffer) => {
      if (conn.state === 4 /* CLOSED */) return;
      conn.receiveData(new Uint8Array(chunk));
      for (const event of conn.events()) {
        events.push(event);
        if (event.type === "Request" && !accepted) {
          accepted = true;
          socket.write(conn.send(new AcceptConnection({ extensions })));
          resolve({ socket, conn, events });
        }
      }
    });
  });
  return { port: await listen(server, t), attacker };
}

/** `count` copies of the frame for `event`, in one buffer (the same masked bytes repeat, which is valid). */
function batchOf(conn: WSConnection, event: Event, count: number): Buffer {
  const one = conn.send(event);
  const out = Buffer.allocUnsafe(one.byteLength * count);
  for (let i = 0; i < count; i++) out.set(one, i * one.byteLength);
  return out;
}

/** Write `batch` until `total` bytes went out or the victim stops reading (no 'drain' within `stallMs`). */
async function flood(socket: Socket, batch: Uint8Array, total: number, stallMs = 1500): Promise<{ sent: number; stalled: boolean }> {
  let sent = 0;
  while (sent < total) {
    const ok = socket.write(batch);
    sent += batch.byteLength;
    if (!ok) {
      const drained = await Promise.race([once(socket, "drain").then(() => true), sleep(stallMs).then(() => false)]);
      if (!drained) return { sent, stalled: true };
    }
  }
  return { sent, stalled: false };
}

function closeCodeSeen(events: Event[]): number | null {
  const close = events.find((e): e is CloseConnection => e.type === "CloseConnection");
  return close === undefined ? null : close.code;
}

async function until(predicate: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// ---- 1. ping flood, the attacker never reads our pongs ----------------------

t.test("ping flood, pongs never read: the server stops reading and stays bounded", async (t) => {
  const { port, session } = await victimServer(t);
  const { socket, conn } = await attackerClient(t, port);
  socket.pause(); // never read our pongs
  await (await session).opened;
  const before = await liveBytes();
  const batch = batchOf(conn, new Ping({ payload: new Uint8Array(125) }), 512);
  const { sent, stalled } = await flood(socket, batch, 256 * MiB);
  const growth = (await liveBytes()) - before;
  t.ok(stalled, `the victim stopped reading (after ${(sent / MiB).toFixed(1)} MiB of pings)`);
  t.ok(growth < 8 * MiB, `live memory grew ${(growth / MiB).toFixed(2)} MiB (< 8 MiB: the bound plus code compiled on the way)`);
});

t.test("ping flood from a malicious server: the client stops reading and stays bounded", async (t) => {
  const { port, attacker } = await attackerServer(t);
  const ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { ...QUIET, extensions: [] });
  ws.closed.catch(() => {});
  const { socket, conn } = await attacker;
  socket.pause();
  await ws.opened;
  const before = await liveBytes();
  const { sent, stalled } = await flood(socket, batchOf(conn, new Ping({ payload: new Uint8Array(125) }), 512), 256 * MiB);
  const growth = (await liveBytes()) - before;
  t.ok(stalled, `the victim stopped reading (after ${(sent / MiB).toFixed(1)} MiB of pings)`);
  t.ok(growth < 8 * MiB, `live memory grew ${(growth / MiB).toFixed(2)} MiB (< 8 MiB: the bound plus code compiled on the way)`);
  ws.close();
});

t.test("ping flood against WebSocketCodec: its pongs honour the encoder's back-pressure", async (t) => {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    t.teardown(() => socket.destroy());
    // Any WHATWG transport: Node's own Duplex.toWeb here.
    const transport = Duplex.toWeb(socket) as unknown as { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> };
    const codec = new WebSocketCodec(new WSConnection(ConnectionType.SERVER));
    transport.readable.pipeTo(codec.decoder.writable).catch(() => {});
    codec.encoder.readable.pipeTo(transport.writable).catch(() => {});
    const writer = codec.encoder.writable.getWriter();
    void (async () => {
      try {
        const reader = codec.decoder.readable.getReader();
        for (;;) {
          const { value: event, done } = await reader.read();
          if (done) break;
          if (event.type === "Request") await writer.write(new AcceptConnection());
        }
      } catch {
        // the attacker is torn down
      }
    })();
  });
  const port = await listen(server, t);
  const { socket, conn } = await attackerClient(t, port);
  socket.pause();
  const before = await liveBytes();
  // While the encoder's queue is full each read's pings get one pong between
  // them, so the codec may read on (slowly) rather than stall: the bound is the point.
  const { sent, stalled } = await flood(socket, batchOf(conn, new Ping({ payload: new Uint8Array(125) }), 512), 32 * MiB);
  const growth = (await liveBytes()) - before;
  t.comment(`${(sent / MiB).toFixed(1)} MiB of pings sent${stalled ? ", then the codec stopped reading" : ""}`);
  t.ok(growth < 8 * MiB, `live memory grew ${(growth / MiB).toFixed(2)} MiB (< 8 MiB: the bound plus code compiled on the way)`);
});

// ---- 2. one message in 1-byte fragments -------------------------------------

t.test("a message in more than maxFragments frames fails with 1008 (server; empty continuations count)", async (t) => {
  for (const piece of ["x", ""]) {
    const { port, session } = await victimServer(t);
    const { socket, conn, events } = await attackerClient(t, port);
    const ws = await session;
    await ws.opened;
    const first = conn.send(new TextMessage({ data: "x", messageFinished: false }));
    socket.write(first);
    // The default maxFragments (131072) and one batch more.
    await flood(socket, batchOf(conn, new TextMessage({ data: piece, messageFinished: false }), 1024), 129 * 1024 * (piece === "" ? 6 : 7));
    await until(() => closeCodeSeen(events) !== null, "the close");
    t.equal(closeCodeSeen(events), 1008, `pieces of ${JSON.stringify(piece)}: closed with 1008`);
    const error = (await ws.closed.catch((e: unknown) => e)) as WebSocketError;
    t.equal(error.closeCode, 1008);
    t.equal(error.code, "WS_ERR_TOO_MANY_FRAGMENTS");
  }
});

t.test("a message in more than maxFragments frames fails with 1008 (client)", async (t) => {
  const { port, attacker } = await attackerServer(t);
  const ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { ...QUIET, extensions: [], maxFragments: 100 });
  const { socket, conn, events } = await attacker;
  await ws.opened;
  socket.write(conn.send(new BytesMessage({ data: new Uint8Array(1), messageFinished: false })));
  await flood(socket, batchOf(conn, new BytesMessage({ data: new Uint8Array(0), messageFinished: false }), 200), 400 * 2);
  await until(() => closeCodeSeen(events) !== null, "the close");
  t.equal(closeCodeSeen(events), 1008);
  t.equal(((await ws.closed.catch((e: unknown) => e)) as WebSocketError).closeCode, 1008);
});

t.test("without a fragment limit, 1-byte fragments cost about their bytes, not ~120 B each", async (t) => {
  const FRAGMENTS = 400_000;
  const { port, session } = await victimServer(t, { maxFragments: 0 });
  const { socket, conn } = await attackerClient(t, port);
  const ws = await session;
  const { readable } = await ws.opened;
  const reader = readable.getReader();
  const before = await liveBytes();
  socket.write(conn.send(new BytesMessage({ data: new Uint8Array([1]), messageFinished: false })));
  await flood(socket, batchOf(conn, new BytesMessage({ data: new Uint8Array([1]), messageFinished: false }), 1000), FRAGMENTS * 7);
  await sleep(200);
  const growth = (await liveBytes()) - before;
  socket.write(conn.send(new BytesMessage({ data: new Uint8Array([1]), messageFinished: true })));
  const { value } = await reader.read();
  t.equal((value as Uint8Array).byteLength, FRAGMENTS + 2, "the message arrives whole (first, 400 batches of 1000, last)");
  t.ok(growth < 4 * MiB, `live memory while assembling grew ${(growth / MiB).toFixed(2)} MiB for ${FRAGMENTS} fragments (< 4 MiB)`);
});

// ---- 3. many tiny messages, the application not reading ---------------------

t.test("many empty messages, the application not reading: reading stops, memory bounded (both roles, and fragments: true)", async (t) => {
  for (const role of ["server", "client", "server, fragments: true"] as const) {
    let socket: Socket;
    let conn: WSConnection;
    let ws: WebSocketSession;
    if (role !== "client") {
      // With `fragments: true` each piece is queued as a Message event, counted the same way.
      const victim = await victimServer(t, role === "server" ? {} : ({ fragments: true } as unknown as AcceptWebSocketOptions));
      ({ socket, conn } = await attackerClient(t, victim.port));
      ws = await victim.session;
    } else {
      const { port, attacker } = await attackerServer(t);
      ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { ...QUIET, extensions: [] });
      ({ socket, conn } = await attacker);
    }
    ws.closed.catch(() => {});
    await ws.opened;
    const before = await liveBytes();
    const { sent, stalled } = await flood(socket, batchOf(conn, new TextMessage({ data: "" }), 8192), 256 * MiB);
    const growth = (await liveBytes()) - before;
    t.ok(stalled, `${role}: the victim stopped reading after ${(sent / MiB).toFixed(1)} MiB of empty messages`);
    // README: readableHighWaterMark (1 MiB, at 64 B per empty message) + one transport read + overheads.
    t.ok(growth < 6 * MiB, `${role}: live memory grew ${(growth / MiB).toFixed(2)} MiB (< 6 MiB)`);
  }
});

// Both ways a server echoes without WHATWG pipeTo machinery: the direct pipe and onMessage.
for (const how of ["readable.pipeTo(writable), the direct pipe", "onMessage: session.send"] as const) {
  t.test(`an echo (${how}) to a peer that never reads the echoes: reading stops, memory bounded`, async (t) => {
    const pipe = how.startsWith("readable");
    const { port, session } = await victimServer(t, pipe ? {} : { onMessage: (message, ws) => ws.send(message) });
    const { socket, conn } = await attackerClient(t, port);
    socket.pause(); // the attacker never reads what the victim echoes
    const ws = await session;
    ws.closed.catch(() => {});
    const { readable, writable } = await ws.opened;
    if (pipe) readable.pipeTo(writable).catch(() => {});
    const before = await liveBytes();
    const { sent, stalled } = await flood(socket, batchOf(conn, new BytesMessage({ data: new Uint8Array(1024).fill(7) }), 256), 256 * MiB);
    const growth = (await liveBytes()) - before;
    t.ok(stalled, `the victim stopped reading after ${(sent / MiB).toFixed(1)} MiB of messages whose echoes nobody read`);
    // The socket's kernel buffers hold the rest; the process holds the transport's mark (64 KiB) and one read.
    t.ok(growth < 6 * MiB, `live memory grew ${(growth / MiB).toFixed(2)} MiB (< 6 MiB)`);
  });
}

t.test("onMessage whose promise never settles: reading stops, memory bounded", async (t) => {
  let delivered = 0;
  const { port, session } = await victimServer(t, {
    onMessage: () => {
      delivered++;
      return new Promise<void>(() => {});
    },
  });
  const { socket, conn } = await attackerClient(t, port);
  const ws = await session;
  ws.closed.catch(() => {});
  await ws.opened;
  const before = await liveBytes();
  const { sent, stalled } = await flood(socket, batchOf(conn, new TextMessage({ data: "" }), 8192), 256 * MiB);
  const growth = (await liveBytes()) - before;
  t.ok(stalled, `the victim stopped reading after ${(sent / MiB).toFixed(1)} MiB of empty messages`);
  t.equal(delivered, 1, "one message was handed over; the rest wait unparsed");
  t.ok(growth < 6 * MiB, `live memory grew ${(growth / MiB).toFixed(2)} MiB (< 6 MiB)`);
});

// ---- 4. compressed messages that inflate a lot -------------------------------

t.test("compressed messages that inflate 700×, the application not reading: inflated only as far as the queue has room", async (t) => {
  const { port, session } = await victimServer(t);
  const { socket, conn } = await attackerClient(t, port, [new PerMessageDeflate({ clientNoContextTakeover: true })]);
  const ws = await session;
  const { extensions } = await ws.opened;
  t.match(extensions, /permessage-deflate/);
  const before = await liveBytes();
  const batch = batchOf(conn, new BytesMessage({ data: new Uint8Array(64 * 1024) }), 4096);
  t.ok(batch.byteLength < 1 * MiB, `4096 × 64 KiB of zeros are ${(batch.byteLength / 1024).toFixed(0)} KiB on the wire`);
  socket.write(batch);
  await sleep(500);
  const growth = (await liveBytes()) - before;
  t.ok(growth < 6 * MiB, `live memory grew ${(growth / MiB).toFixed(2)} MiB for 256 MiB inflated (< 6 MiB)`);
});

// ---- 5. close() with a reason that cannot be sent ---------------------------

t.test("close() checks the whole reason before returning; a valid close is then sent (both roles)", async (t) => {
  for (const role of ["server", "client"] as const) {
    const { port, session } = await victimServer(t);
    const client = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, QUIET);
    const server = await session;
    await Promise.all([client.opened, server.opened]);
    const [closer, peer] = role === "server" ? [server, client] : [client, server];
    t.throws(() => closer.close({ closeCode: 1000, reason: "\uD800" }), LocalProtocolError, "a lone surrogate");
    t.throws(() => closer.close({ closeCode: 1000, reason: 42 as unknown as string }), LocalProtocolError, "not a string");
    t.throws(() => closer.close({ closeCode: 1000, reason: "é".repeat(62) }), LocalProtocolError, "124 UTF-8 bytes");
    t.throws(() => closer.close({ closeCode: "1000" as unknown as number }), LocalProtocolError, "a code that is not a number");
    closer.close({ closeCode: 4000, reason: "😀 fine" });
    t.same(await peer.closed, { closeCode: 4000, reason: "😀 fine" }, `${role}: the peer got the close frame`);
    t.same(await closer.closed, { closeCode: 4000, reason: "😀 fine" });
  }
});

// ---- the honest slow reader ----------------------------------------------------

t.test("an honest slow reader gets every message in order, with pings answered, and a clean close", async (t) => {
  const COUNT = 3000;
  const { port, session } = await victimServer(t, { readableHighWaterMark: 16 * 1024 });
  const client = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { ...QUIET, readableHighWaterMark: 16 * 1024 });
  const server = await session;
  const [{ readable }, { writable }] = await Promise.all([client.opened, server.opened]);
  const sending = (async () => {
    const writer = writable.getWriter();
    for (let i = 0; i < COUNT; i++) {
      await writer.write(i % 2 === 0 ? `message ${i}` : new Uint8Array(1024).fill(i & 0xff));
      if (i % 500 === 0) await server.ping();
    }
    server.close({ closeCode: 1000, reason: "done" });
  })();
  let next = 0;
  let inOrder = true;
  const reader = readable.getReader();
  for (;;) {
    const { value: message, done } = await reader.read();
    if (done) break;
    const expected = next % 2 === 0 ? `message ${next}` : (next & 0xff);
    if (typeof message === "string" ? message !== expected : message[0] !== expected || message.byteLength !== 1024) inOrder = false;
    next++;
    if (next % 100 === 0) await sleep(5); // slow
  }
  await sending;
  t.equal(next, COUNT, "every message arrived");
  t.ok(inOrder, "in order");
  t.same(await client.closed, { closeCode: 1000, reason: "done" });
  t.same(await server.closed, { closeCode: 1000, reason: "done" });
});
