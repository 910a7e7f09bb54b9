/**
 * Echo over loopback TCP, this project (Node adapter + connectWebSocket /
 * acceptWebSocket) against `ws` (with bufferutil), both ends in this process,
 * same payloads: 16 B, 1 KiB, 64 KiB and 1 MiB, compression off and on (each with
 * its default threshold of 1024 bytes). A round sends a window of messages
 * and waits for all their echoes; messages/s counts round trips.
 * Then memory per idle open connection (both ends), 1,000 connections: each
 * server echoes (ours pipes its readable into its writable, ws listens for
 * messages), each client only waits for `opened` (ours makes its streams on
 * first use, so an untouched client holds none); and the bare TCP socket
 * pairs alone, for reference.
 *
 * Then one message at a time (each waits for its echo), in both of our
 * styles (streams; onMessage + send) against ws: ECHO_ONE=only runs just
 * these, ECHO_ONE=0 skips them.
 *
 * Run: `npm run bench -- echo` (or `node --import tsx --expose-gc bench/echo.bench.ts`);
 * BENCH_QUICK=1 for fewer rounds and 200 connections.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import type { WebSocketSession } from "../src/streams/sessions.ts";
import { compiledPackage, importCompiled } from "./compiled.ts";
import { compare, median, printTable, type Row } from "./util.ts";

// What users run is the compiled package (dist/, plain JS), so that is what
// is measured: the sources are compiled with the package's build config into
// .test-tmp/bench-dist first. (Run through tsx's loader instead, every arrow
// function held in a field would carry tsx's keepNames `__name` property,
// which puts functions in dictionary mode: about +10 KB per connection.)
// BENCH_SOURCE=1 measures the .ts sources instead.
type NodeModule = typeof import("../src/node/index.ts");
type StreamsModule = typeof import("../src/streams/sessions.ts");
type ExtensionsModule = typeof import("../src/protocol/extensions/index.ts");
async function loadOurs(): Promise<[NodeModule, StreamsModule, ExtensionsModule]> {
  if (process.env["BENCH_SOURCE"] === "1") {
    return Promise.all([
      import("../src/node/index.ts"),
      import("../src/streams/sessions.ts"),
      import("../src/protocol/extensions/index.ts"),
    ]);
  }
  // BENCH_DIST=dir measures a package compiled elsewhere (another commit, for before/after).
  const dist = process.env["BENCH_DIST"] ?? compiledPackage();
  const load = (path: string) => importCompiled<never>(dist, path);
  return Promise.all([load("node/index.js"), load("streams/sessions.js"), load("protocol/extensions/index.js")]);
}
const [{ connectNodeWebSocket, fromNodeSocket, nodeZlibCodec, nodeMasker }, { acceptWebSocket }, { PerMessageDeflate }] = await loadOurs();
// BENCH_CODEC=pako measures the portable engine; the default is what the Node
// helpers (connectNodeWebSocket, acceptNodeUpgrade) use: native zlib.
const codec = process.env["BENCH_CODEC"] === "pako" ? undefined : nodeZlibCodec;

const ROUND_MS = Number(process.env["BENCH_ROUND_MS"] ?? 300);
// ECHO_SIZES="64 KiB,1 MiB" runs only those rows; ECHO_DEFLATE=0 or 1 only that half; ECHO_MEMORY=0 skips the memory part.
const sizesOnly = process.env["ECHO_SIZES"]?.split(",").map((s) => s.trim()) ?? null;
const deflateOnly = process.env["ECHO_DEFLATE"] === undefined ? null : process.env["ECHO_DEFLATE"] === "1";
const quick = process.env["BENCH_QUICK"] === "1";

interface EchoClient {
  /** Send `count` copies of `payload` and wait for all echoes. */
  roundTrip(payload: Uint8Array, count: number): Promise<void>;
  close(): Promise<void>;
}

async function listen(server: Server | WebSocketServer): Promise<number> {
  if (server instanceof WebSocketServer) {
    await new Promise((r) => server.once("listening", r));
    return (server.address() as { port: number }).port;
  }
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}

/**
 * Round trips counted in units (messages, or bytes for the bare echo):
 * `start(units)` before sending, `received(units)` as echoes arrive; the
 * promise `start` returns resolves once all of them came back.
 */
function echoCounter(): { start(units: number): Promise<void>; received(units: number): void } {
  let remaining = 0;
  let done: (() => void) | null = null;
  return {
    start(units) {
      remaining = units;
      return new Promise<void>((r) => (done = r));
    },
    received(units) {
      remaining -= units;
      if (remaining <= 0) done?.();
    },
  };
}

// ---- ours ------------------------------------------------------------------

function oursExtensions(deflate: boolean) {
  if (!deflate) return [];
  return [codec === undefined ? new PerMessageDeflate({ threshold: 1024 }) : new PerMessageDeflate({ threshold: 1024, codec })];
}

async function oursServer(deflate: boolean): Promise<{ port: number; close: () => void; sessions: WebSocketSession[] }> {
  const sessions: WebSocketSession[] = [];
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    // The masker acceptNodeUpgrade passes (bufferutil when installed), as ws uses it.
    const ws = acceptWebSocket(fromNodeSocket(socket), { extensions: oursExtensions(deflate), mask: nodeMasker() });
    sessions.push(ws);
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
    ws.closed.catch(() => {});
  });
  const port = await listen(server);
  return { port, close: () => server.close(), sessions };
}

async function oursClient(port: number, deflate: boolean): Promise<EchoClient> {
  const ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { extensions: oursExtensions(deflate) });
  const { readable, writable } = await ws.opened;
  const reader = readable.getReader();
  const writer = writable.getWriter();
  return {
    async roundTrip(payload, count) {
      for (let i = 0; i < count; i++) void writer.write(payload);
      for (let i = 0; i < count; i++) await reader.read();
    },
    async close() {
      ws.close({ closeCode: 1000 });
      await ws.closed;
    },
  };
}

/** The callback style at both ends: the server echoes in `onMessage` with `session.send`, the client sends and takes echoes in `onMessage`. */
async function oursCallbackServer(): Promise<{ port: number; close: () => void }> {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    const ws = acceptWebSocket(fromNodeSocket(socket), {
      extensions: [],
      mask: nodeMasker(),
      onMessage: (message, session) => session.send(message),
    });
    ws.closed.catch(() => {});
  });
  const port = await listen(server);
  return { port, close: () => server.close() };
}

async function oursCallbackClient(port: number): Promise<EchoClient> {
  const echoes = echoCounter();
  const ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { extensions: [], onMessage: () => echoes.received(1) });
  await ws.opened;
  return {
    roundTrip(payload, count) {
      const finished = echoes.start(count);
      for (let i = 0; i < count; i++) void ws.send(payload);
      return finished;
    },
    async close() {
      ws.close({ closeCode: 1000 });
      await ws.closed;
    },
  };
}

/**
 * The floor under every WebSocket library on Node: a bare TCP echo of the
 * same bytes (a frame's worth, client header included), the server writing
 * back each chunk as it arrives, the client counting them as they land in
 * one reused buffer (Node's `onread`, as our client's reads do) and waiting
 * for all of them.
 */
async function bareTcp(): Promise<{ client: EchoClient; close: () => void }> {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("data", (chunk) => socket.write(chunk));
  });
  const port = await listen(server);
  const echoes = echoCounter();
  const socket = connect({
    port,
    host: "127.0.0.1",
    onread: {
      buffer: new Uint8Array(64 * 1024),
      callback: (n: number) => {
        echoes.received(n);
        return true;
      },
    },
  });
  socket.setNoDelay(true);
  await new Promise((r) => socket.once("connect", r));
  const frames = new Map<number, Buffer>();
  return {
    client: {
      roundTrip(payload, count) {
        const length = payload.byteLength + (payload.byteLength < 126 ? 6 : payload.byteLength < 65536 ? 8 : 14);
        let frame = frames.get(length);
        if (frame === undefined) frames.set(length, (frame = Buffer.alloc(length, 0x61)));
        const finished = echoes.start(length * count);
        for (let i = 0; i < count; i++) socket.write(frame);
        return finished;
      },
      async close() {
        socket.destroy();
      },
    },
    close: () => server.close(),
  };
}

// ---- ws --------------------------------------------------------------------

function wsDeflate(deflate: boolean): false | { threshold: number } {
  return deflate ? { threshold: 1024 } : false;
}

async function wsServer(deflate: boolean): Promise<{ port: number; close: () => void }> {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: wsDeflate(deflate) });
  server.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  const port = await listen(server);
  return { port, close: () => server.close() };
}

async function wsClient(port: number, deflate: boolean): Promise<EchoClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: wsDeflate(deflate) });
  await new Promise((r) => ws.once("open", r));
  const echoes = echoCounter();
  ws.on("message", () => echoes.received(1));
  return {
    roundTrip(payload, count) {
      const finished = echoes.start(count);
      for (let i = 0; i < count; i++) ws.send(payload, { binary: true });
      return finished;
    },
    async close() {
      ws.close(1000);
      await new Promise((r) => ws.once("close", r));
    },
  };
}

// ---- throughput --------------------------------------------------------------

async function measure(client: EchoClient, payload: Uint8Array, window: number): Promise<number> {
  for (let i = 0; i < 3; i++) await client.roundTrip(payload, window); // warm up
  let messages = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ROUND_MS) {
    await client.roundTrip(payload, window);
    messages += window;
    now = performance.now();
  }
  return (messages * 1000) / (now - start);
}

async function throughput(): Promise<Row[]> {
  const rows: Row[] = [];
  const sizes: Array<[string, number, number, number]> = [
    // name, bytes, window, target ratio
    ["16 B", 16, 1000, 1.0],
    ["1 KiB", 1024, 500, 1.0],
    ["64 KiB", 64 * 1024, 20, 1.5],
    ["1 MiB", 1024 * 1024, 4, 1.5],
  ];
  const selected = sizes.filter(([name]) => sizesOnly === null || sizesOnly.includes(name));
  for (const deflate of [false, true]) {
    if (deflateOnly !== null && deflate !== deflateOnly) continue;
    const ourSrv = await oursServer(deflate);
    const wsSrv = await wsServer(deflate);
    const ours = await oursClient(ourSrv.port, deflate);
    const theirs = await wsClient(wsSrv.port, deflate);
    for (const [name, bytes, window, target] of selected) {
      // Text-like bytes, so compression has something to do.
      const payload = new Uint8Array(bytes);
      for (let i = 0; i < bytes; i++) payload[i] = 97 + ((i * 7) % 26);
      rows.push(
        await compare(
          `echo ${name}${deflate ? `, deflate${codec === undefined ? " (pako)" : " (native zlib)"}` : ""}`,
          " msg/s",
          () => measure(ours, payload, window),
          () => measure(theirs, payload, window),
          { target, rounds: quick ? 3 : 7 },
        ),
      );
    }
    await ours.close();
    await theirs.close();
    ourSrv.close();
    wsSrv.close();
  }
  return rows;
}

/**
 * One message at a time, no compression: each message waits for its echo
 * before the next is sent, so every layer's cost per message shows (and,
 * for large ones, every pass over the bytes). Ours in both styles (streams:
 * a reader and a writer against a server piping its readable into its
 * writable; callbacks: `onMessage` and `send` at both ends) against ws, in
 * alternating rounds; BENCH_ROUNDS (default 9) rounds, medians. Beside
 * them, a bare TCP echo of the same bytes: the limit no library can pass.
 */
async function oneAtATime(): Promise<Row[]> {
  const sizes: Array<[string, number, number]> = [
    ["16 B", 16, 1.05],
    ["64 KiB", 64 * 1024, 1.2],
    ["1 MiB", 1024 * 1024, 1.2],
  ];
  const streamsServer = await oursServer(false);
  const callbackServer = await oursCallbackServer();
  const wsSrv = await wsServer(false);
  const bare = await bareTcp();
  const clients = {
    streams: await oursClient(streamsServer.port, false),
    callbacks: await oursCallbackClient(callbackServer.port),
    ws: await wsClient(wsSrv.port, false),
    tcp: bare.client,
  };
  const rounds = quick ? 3 : Number(process.env["BENCH_ROUNDS"] ?? 9);
  const rows: Row[] = [];
  for (const [name, bytes, target] of sizes) {
    if (sizesOnly !== null && !sizesOnly.includes(name)) continue;
    const payload = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) payload[i] = 97 + ((i * 7) % 26);
    const runs: Record<keyof typeof clients, number[]> = { streams: [], callbacks: [], ws: [], tcp: [] };
    for (let r = 0; r < rounds; r++) {
      for (const key of ["streams", "callbacks", "ws", "tcp"] as const) runs[key].push(await measure(clients[key], payload, 1));
    }
    const ws = median(runs.ws);
    // The limit: no library can beat the bare echo, so its ratio to ws is the most any could reach.
    rows.push({ name: `echo ${name}, one at a time: bare TCP echo (the limit)`, unit: " msg/s", ours: median(runs.tcp), baseline: ws, baselineName: "ws" });
    rows.push({ name: `echo ${name}, one at a time (streams)`, unit: " msg/s", ours: median(runs.streams), baseline: ws, baselineName: "ws", target });
    rows.push({ name: `echo ${name}, one at a time (onMessage + send)`, unit: " msg/s", ours: median(runs.callbacks), baseline: ws, baselineName: "ws", target });
  }
  for (const client of Object.values(clients)) await client.close();
  streamsServer.close();
  callbackServer.close();
  bare.close();
  wsSrv.close();
  return rows;
}

// ---- memory per idle connection ----------------------------------------------------

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function live(): Promise<number> {
  gc();
  await new Promise((r) => setTimeout(r, 50));
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function memory(count: number, deflate: boolean): Promise<{ ours: number; ws: number }> {
  // ours
  const ourSrv = await oursServer(deflate);
  const before = await live();
  const clients: WebSocketSession[] = [];
  for (let i = 0; i < count; i++) {
    clients.push(connectNodeWebSocket(`ws://127.0.0.1:${ourSrv.port}/`, { extensions: oursExtensions(deflate) }));
    if (i % 100 === 99) await Promise.all(clients.slice(-100).map((c) => c.opened));
  }
  await Promise.all(clients.map((c) => c.opened));
  await Promise.all(ourSrv.sessions.map((s) => s.opened));
  const ours = ((await live()) - before) / count;
  for (const c of clients) c.close();
  await Promise.allSettled(clients.map((c) => c.closed));
  ourSrv.close();

  // ws
  const wsSrv = await wsServer(deflate);
  const before2 = await live();
  const sockets: WebSocket[] = [];
  for (let i = 0; i < count; i++) {
    sockets.push(new WebSocket(`ws://127.0.0.1:${wsSrv.port}/`, { perMessageDeflate: wsDeflate(deflate) }));
    if (i % 100 === 99) await Promise.all(sockets.slice(-100).map((s) => new Promise((r) => s.once("open", r))));
  }
  await new Promise((r) => setTimeout(r, 100));
  const ws = ((await live()) - before2) / count;
  for (const s of sockets) s.close();
  await Promise.all(sockets.map((s) => new Promise((r) => s.once("close", r))));
  wsSrv.close();
  return { ours, ws };
}

/** Memory of `count` idle loopback TCP socket pairs alone (the floor under both libraries), per pair. */
async function socketsOnly(count: number): Promise<number> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("data", () => {});
    accepted.push(socket);
  });
  const port = await listen(server);
  const before = await live();
  const clients: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    socket.on("data", () => {});
    clients.push(socket);
  }
  await Promise.all(clients.map((s) => new Promise((r) => s.once("connect", r))));
  await new Promise((r) => setTimeout(r, 100));
  const perPair = ((await live()) - before) / count;
  for (const s of [...clients, ...accepted]) s.destroy();
  server.close();
  return perPair;
}

// ECHO_ONE=only runs just the one-at-a-time rows; ECHO_ONE=0 skips them.
const one = process.env["ECHO_ONE"];
if (one !== "only") {
  const rows = await throughput();
  printTable("Echo over loopback TCP (a window of messages per round trip, both ends in one process)", rows);
}
if (one !== "0") printTable("Echo over loopback TCP, one message at a time (no compression, both ends in one process)", await oneAtATime());

if (process.env["ECHO_MEMORY"] === "0") process.exit(0);
const N = quick ? 200 : 1000;
const memRows: Row[] = [];
for (const deflate of [false, true]) {
  const m = await memory(N, deflate);
  // For memory, less is better: report ws/ours so that >= 1.0 means "at most ws".
  memRows.push({
    name: `bytes per idle connection${deflate ? ", deflate negotiated" : ""} (${N}, both ends): ours ${Math.round(m.ours)} B, ws ${Math.round(m.ws)} B`,
    unit: " B",
    ours: m.ws,
    baseline: m.ours,
    baselineName: "ws/ours",
    target: 1.0,
  });
}
printTable("Memory per idle open connection (ratio = ws / ours; >= 1 means ours uses no more)", memRows);
console.log(`(of which the two TCP sockets themselves: ${Math.round(await socketsOnly(N))} B per pair)`);
process.exit(0);
