/**
 * Latency: one 16 B message at a time (send, wait for the echo, repeat) over
 * loopback TCP, both ends in this process through the Node helpers, round
 * trips per second: ours (the compiled package: `connectNodeWebSocket` with a
 * reader and a writer, against `acceptNodeUpgrade` + `readable.pipeTo(writable)`,
 * both with their default options) against `ws` (client and
 * `WebSocketServer`, with bufferutil, defaults). A bare TCP echo (Node
 * sockets, no WebSocket) is printed for reference. Medians of BENCH_ROUNDS
 * (default 7) alternating rounds of BENCH_ROUND_MS (default 500) ms.
 *
 * Run: `npm run bench -- latency`.
 */
import { createServer as createHttpServer } from "node:http";
import { connect, createServer, type Socket } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import { compiledPackage, importCompiled } from "./compiled.ts";
import { compare, printTable } from "./util.ts";

type NodeModule = typeof import("../src/node/index.ts");
const { acceptNodeUpgrade, connectNodeWebSocket } = await importCompiled<NodeModule>(compiledPackage(), "node/index.js");

const ROUND_MS = Number(process.env["BENCH_ROUND_MS"] ?? 500);
const payload = new Uint8Array(16).fill(0x61);
const noop = (): void => {};

/** Round trips per second of `once` (one round trip) over ROUND_MS. */
async function rate(once: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 200; i++) await once();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ROUND_MS) {
    for (let i = 0; i < 50; i++) await once();
    n += 50;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

async function ours(): Promise<{ once: () => Promise<unknown>; close: () => Promise<void> }> {
  const server = createHttpServer();
  server.on("upgrade", (req, socket, head) => {
    const ws = acceptNodeUpgrade(req, socket, head);
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(noop);
    ws.closed.catch(noop);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const ws = connectNodeWebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`);
  const { readable, writable } = await ws.opened;
  const reader = readable.getReader();
  const writer = writable.getWriter();
  return {
    once: () => {
      void writer.write(payload);
      return reader.read();
    },
    close: async () => {
      ws.close({ closeCode: 1000 });
      await ws.closed.catch(noop);
      server.close();
    },
  };
}

async function theirs(): Promise<{ once: () => Promise<unknown>; close: () => Promise<void> }> {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  server.on("connection", (socket) => socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary })));
  await new Promise((r) => server.once("listening", r));
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`);
  await new Promise((r) => ws.once("open", r));
  let wake: (() => void) | null = null;
  ws.on("message", () => wake?.());
  return {
    once: () =>
      new Promise<void>((resolve) => {
        wake = resolve;
        ws.send(payload, { binary: true });
      }),
    close: async () => {
      const closed = new Promise((r) => ws.once("close", r));
      ws.close(1000);
      await closed;
      server.close();
    },
  };
}

/** A bare TCP echo of 16 B chunks, for reference. */
async function tcp(): Promise<{ once: () => Promise<unknown>; close: () => Promise<void> }> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    accepted.push(socket);
    socket.on("data", (chunk) => socket.write(chunk));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const socket = connect((server.address() as { port: number }).port, "127.0.0.1");
  socket.setNoDelay(true);
  await new Promise((r) => socket.once("connect", r));
  let wake: (() => void) | null = null;
  socket.on("data", () => wake?.());
  return {
    once: () =>
      new Promise<void>((resolve) => {
        wake = resolve;
        socket.write(payload);
      }),
    close: async () => {
      socket.destroy();
      for (const s of accepted) s.destroy();
      server.close();
    },
  };
}

const a = await ours();
const b = await theirs();
const c = await tcp();
const row = await compare("one 16 B message at a time, Node helpers on both ends", " round trips/s", () => rate(a.once), () => rate(b.once), {
  target: 1.1,
});
const bare = await compare("bare TCP echo (reference)", " round trips/s", () => rate(c.once), () => rate(b.once), { rounds: 3 });
printTable("Latency over loopback TCP (both ends in one process)", [row, bare]);
await Promise.all([a.close(), b.close(), c.close()]);
process.exit(0);
