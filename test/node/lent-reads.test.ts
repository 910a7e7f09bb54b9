// Lent reads (node/lent-reads.ts): a client connection connectNodeWebSocket
// opens itself over plain TCP reads into one buffer the process shares, and
// the engine copies what it keeps (borrowedInput). Nothing the application
// gets may ever change afterwards: messages of every size, whole or spanning
// reads, text and binary, fragmented, interleaved with pings; with the
// application not reading for a while (reading paused, bytes left in the
// engine); over several connections at once.
import t from "tap";
import { createServer, type Socket } from "node:net";
import { connectNodeWebSocket, fromNodeSocket } from "../../src/node/index.ts";
import { connectLendingReads } from "../../src/node/lent-reads.ts";
import type { WebSocketSession } from "../../src/streams/sessions.ts";
import { TRANSPORT_PORT, type PortProvider } from "../../src/streams/transport.ts";
import { sleep } from "../streams/_helpers.ts";
import { FAST, listen, serve } from "./_tcp.ts";


/** Message `i` of `size` bytes: every byte depends on `i` and its position. */
function message(i: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let p = 0; p < size; p++) out[p] = (p * 31 + i * 7 + (p >>> 8)) & 0xff;
  return out;
}

function intact(got: unknown, i: number, size: number): boolean {
  if (!(got instanceof Uint8Array) || got.byteLength !== size) return false;
  const want = message(i, size);
  for (let p = 0; p < size; p++) if (got[p] !== want[p]) return false;
  return true;
}


// Sizes around every boundary: header lengths (125/126, 65535/65536), a read (64 KiB), the assembly cap (4 MiB);
// small ones after large ones, so that they sit in the middle of a read.
const SIZES = [1000, 0, 65537, 1, 200_000, 20, 1 << 20, 125, 65535, 126, 4 * 1024 * 1024 + 100, 7, 65536, 3];

t.test("the client's reads land in one shared buffer, and the port says they are lent", async (t) => {
  const server = createServer((socket: Socket) => {
    socket.write(new Uint8Array(100).fill(1));
    setTimeout(() => socket.end(new Uint8Array(100).fill(2)), 30);
  });
  const port = await listen(server);
  t.teardown(() => server.close());
  // Two connections: their reads share one buffer.
  const seen: Array<{ buffer: ArrayBufferLike; first: number }> = [];
  const ended: Array<Promise<void>> = [];
  for (let c = 0; c < 2; c++) {
    const transport = fromNodeSocket(connectLendingReads("127.0.0.1", port)) as unknown as PortProvider;
    const p = transport[TRANSPORT_PORT]()!;
    t.equal(p.lendsReads, true, "the port lends its reads");
    ended.push(
      new Promise<void>((resolve) =>
        p.start({ data: (chunk) => seen.push({ buffer: chunk.buffer, first: chunk[0]! }), end: resolve, error: () => resolve() }),
      ).then(() => p.abort()),
    );
  }
  await Promise.all(ended);
  t.ok(seen.length >= 4, "both connections read both writes");
  t.ok(seen.every((s) => s.buffer === seen[0]!.buffer), "every read is a view of one buffer");
  t.same([...new Set(seen.map((s) => s.first))].sort(), [1, 2]);
});

t.test("a server that speaks before the port started: its first bytes wait (copied), reading waits, nothing is lost", async (t) => {
  const server = createServer((socket: Socket) => {
    socket.write(new Uint8Array(300).fill(7));
    setTimeout(() => socket.end(new Uint8Array(300).fill(8)), 50);
  });
  const port = await listen(server);
  t.teardown(() => server.close());
  const socket = connectLendingReads("127.0.0.1", port);
  await sleep(40); // the first write was read before anyone listened
  const transport = fromNodeSocket(socket) as unknown as PortProvider;
  const p = transport[TRANSPORT_PORT]()!;
  const got: number[] = [];
  await new Promise<void>((resolve) => p.start({ data: (chunk) => got.push(...chunk), end: resolve, error: () => resolve() }));
  p.abort();
  t.equal(got.length, 600);
  t.ok(got.slice(0, 300).every((b) => b === 7) && got.slice(300).every((b) => b === 8), "in order, intact");
});

t.test("every message a client keeps stays intact: all sizes, text and binary, pings between", async (t) => {
  // The server sends the whole sequence at once when asked: the client's reads then carry several frames, frames spanning reads, and tails.
  const port = await serve(t, {
    // Asked for by the client once open, so that no message rides with the handshake's answer (whose tail the engine copies anyway).
    onMessage: (_: unknown, ws: WebSocketSession) => {
      for (const [i, size] of SIZES.entries()) {
        void ws.send(message(i, size));
        if (i % 3 === 0) void ws.ping(new Uint8Array([i]));
        void ws.send(`text ${i} ${"é".repeat(size % 700)}`);
      }
    },
  }, () => {});
  const received: unknown[] = [];
  let all!: () => void;
  const done = new Promise<void>((resolve) => (all = resolve));
  const ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, {
    ...FAST,
    extensions: [],
    onMessage: (m) => {
      received.push(m);
      if (received.length === SIZES.length * 2) all();
    },
  });
  await ws.opened;
  await ws.send("go");
  await done;
  // Read only now, after every later read went through the shared buffer.
  const binaries = received.filter((m) => m instanceof Uint8Array);
  const texts = received.filter((m) => typeof m === "string");
  t.same(
    binaries.map((m, i) => intact(m, i, SIZES[i]!)),
    SIZES.map(() => true),
    "every binary message intact",
  );
  t.same(texts, SIZES.map((size, i) => `text ${i} ${"é".repeat(size % 700)}`), "every text message intact");
  ws.close();
  await ws.closed;
});

t.test("a client that does not read for a while (reading paused, bytes left in the engine) loses nothing", async (t) => {
  const COUNT = 60;
  const size = (i: number): number => [10, 3000, 70_000, 300_000][i % 4]!;
  const port = await serve(t, {}, (ws) => {
    void ws.opened.then(() => {
      for (let i = 0; i < COUNT; i++) void ws.send(message(i, size(i)));
    });
  });
  // Two connections at once: both read into the one buffer.
  const runs = [0, 1].map(async () => {
    const ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { ...FAST, extensions: [], readableHighWaterMark: 16 * 1024 });
    const { readable } = await ws.opened;
    await sleep(150); // the readable fills, reading pauses, the rest waits in the socket and the engine
    const kept: unknown[] = [];
    for await (const m of readable) {
      kept.push(m);
      if (kept.length === COUNT) break;
      if (kept.length % 10 === 0) await sleep(10);
    }
    ws.close();
    await ws.closed.catch(() => {});
    return kept;
  });
  for (const kept of await Promise.all(runs)) {
    const bad = kept.map((m, i) => (intact(m, i, size(i)) ? -1 : i)).filter((i) => i !== -1);
    t.same(bad, [], "no message changed after it was read");
  }
});

t.test("with permessage-deflate, text and binary messages read into the shared buffer stay intact", async (t) => {
  const port = await serve(t, { extensions: undefined }, (ws) => {
    void ws.opened.then(() => {
      for (let i = 0; i < 40; i++) void ws.send(i % 2 === 0 ? message(i, 5000 + i * 997) : `msg ${i} `.repeat(200 + i));
    });
  });
  const received: unknown[] = [];
  let all!: () => void;
  const done = new Promise<void>((resolve) => (all = resolve));
  const ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, {
    ...FAST,
    onMessage: (m) => {
      received.push(m);
      if (received.length === 40) all();
    },
  });
  const { extensions } = await ws.opened;
  t.match(extensions, /permessage-deflate/);
  await done;
  t.same(
    received.map((m, i) => (i % 2 === 0 ? intact(m, i, 5000 + i * 997) : m === `msg ${i} `.repeat(200 + i))),
    received.map(() => true),
  );
  ws.close();
  await ws.closed;
});
