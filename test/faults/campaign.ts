// The fault campaign's worker (run by test/faults/*.test.ts in a child
// process, with --expose-gc so that heap growth means something):
//
//   node --expose-gc --import tsx test/faults/campaign.ts PATH ROUNDS
//
// PATH is the code under test: `server` (WebSocketServer), `upgrade`
// (acceptNodeUpgrade on an http.Server), `tcp` (acceptWebSocket over
// fromNodeSocket on a net.Server) or `client` (connectNodeWebSocket against a
// raw server). The peer (a raw socket on loopback) is destroyed at each of
// the POINTS below, ROUNDS times each, alternating a plain destroy (FIN) and
// a reset (RST). Every session sends three messages as soon as it is open
// (text, a 20 KiB binary on the zero-copy path, a 2 KiB text) and echoes
// what it reads, so sends are in flight when the peer goes.
//
// Prints one JSON line: connections made, sessions whose `closed` never
// settled, sends that never settled or resolved after `closed` settled, and
// open file descriptors, active resources and heap before and after. Any
// uncaught exception or unhandled rejection ends the process non-zero (no
// handler is installed): that is a crash the test reports.
import { createHash } from "node:crypto";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { deflateRawSync } from "node:zlib";
import { acceptNodeUpgrade, connectNodeWebSocket, fromNodeSocket, WebSocketServer } from "../../src/node/index.ts";
import { acceptWebSocket, type WebSocketSession } from "../../src/streams/sessions.ts";

export const POINTS = ["handshake", "after-101", "frame-header", "payload", "fragmented", "compressed", "closing"] as const;
type Point = (typeof POINTS)[number];
type Path = "server" | "upgrade" | "tcp" | "client";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const SESSION = { pingInterval: null, handshakeTimeout: 3000, closeTimeout: 1000 } as const;
const CONCURRENCY = 8;
const COMPRESSED = deflateRawSync(Buffer.from("compressible text ".repeat(400)));

/** A frame: masked (from a client) or not; RSV1 for a compressed message. */
function frame(first: number, payload: Uint8Array, masked: boolean): Buffer {
  const len = payload.byteLength;
  const head: number[] = [first];
  const maskBit = masked ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 65536) head.push(maskBit | 126, len >> 8, len & 0xff);
  else head.push(maskBit | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff);
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = [0x12, 0x34, 0x56, 0x78];
  const body = Buffer.from(payload.map((b, i) => b ^ key[i & 3]!));
  return Buffer.concat([Buffer.from([...head, ...key]), body]);
}

/** What a peer destroyed at `point` writes before it goes (after the handshake). */
function bytesBeforeGoing(point: Point, masked: boolean): Buffer {
  switch (point) {
    case "frame-header":
      return frame(0x81, Buffer.alloc(5, 0x61), masked).subarray(0, masked ? 3 : 1);
    case "payload": {
      const f = frame(0x82, Buffer.alloc(1000, 7), masked);
      return f.subarray(0, f.byteLength - 500);
    }
    case "fragmented": {
      const next = frame(0x00, Buffer.alloc(300, 0x62), masked);
      return Buffer.concat([frame(0x01, Buffer.from("abc"), masked), next.subarray(0, next.byteLength - 100)]);
    }
    case "compressed": {
      const f = frame(0xc1, COMPRESSED, masked);
      return f.subarray(0, f.byteLength >> 1);
    }
    case "closing":
      return frame(0x88, Buffer.from([0x03, 0xe8]), masked);
    default:
      return Buffer.alloc(0);
  }
}

function go(socket: Socket, reset: boolean): void {
  if (reset) socket.resetAndDestroy();
  else socket.destroy();
}

/** A raw client that completes (or not) the handshake, then vanishes at `point`. */
async function rawClient(port: number, point: Point, reset: boolean): Promise<void> {
  const socket = createConnection(port, "127.0.0.1");
  socket.on("error", () => {});
  await once(socket, "connect").catch(() => {});
  const ext = point === "compressed" ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "";
  const request = `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${ext}\r\n`;
  if (point === "handshake") {
    socket.write(request.slice(0, 50));
    await new Promise((resolve) => setImmediate(resolve));
    go(socket, reset);
    return;
  }
  socket.write(request);
  await new Promise<void>((resolve) => {
    let head = "";
    const timer = setTimeout(resolve, 3000);
    socket.on("data", (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (head.includes("\r\n\r\n")) {
        clearTimeout(timer);
        resolve();
      }
    });
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  socket.pause(); // read nothing more: the session's sends back up
  const bytes = bytesBeforeGoing(point, true);
  if (bytes.byteLength > 0) socket.write(bytes);
  await new Promise((resolve) => setImmediate(resolve));
  go(socket, reset);
}

/** What the campaign watches on every session. */
class Watch {
  peers = 0;
  openAtEnd = 0;
  connections = 0;
  readonly closed = new Set<Promise<unknown>>();
  unsettledSends = 0;
  sendsResolvedAfterClose = 0;
  sends = 0;
  sendsRejected = 0;

  /** A session under test: its `closed` must settle, its sends must settle, none after `closed` resolving. */
  track(session: WebSocketSession<unknown>): void {
    this.connections++;
    let closedAt = false;
    const closed = session.closed.then(
      () => {
        closedAt = true;
      },
      () => {
        closedAt = true;
      },
    );
    this.closed.add(closed);
    void closed.then(() => this.closed.delete(closed));
    session.opened.then(
      () => {
        for (const message of ["hello", new Uint8Array(20 * 1024), "x".repeat(2048)]) {
          this.sends++;
          this.unsettledSends++;
          session.send(message).then(
            () => {
              this.unsettledSends--;
              if (closedAt) this.sendsResolvedAfterClose++;
            },
            () => {
              this.unsettledSends--;
              this.sendsRejected++;
            },
          );
        }
      },
      () => {},
    );
  }
}

/** An echo as an application would write it without the server's help: every promise observed. */
function echo(session: WebSocketSession): void {
  session.opened
    .then(async ({ readable }) => {
      for await (const message of readable) await session.send(message);
    })
    .catch(() => {});
}

/** A raw server: answers the handshake (or not) and vanishes at `point`. */
function rawServer(point: () => { point: Point; reset: boolean }): Server {
  return createServer((socket) => {
    socket.on("error", () => {});
    const { point: at, reset } = point();
    let head = "";
    socket.on("data", (chunk: Buffer) => {
      if (head.includes("\r\n\r\n")) return;
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? "";
      const accept = createHash("sha1").update(key + GUID).digest("base64");
      const ext = at === "compressed" ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "";
      const response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${ext}\r\n`;
      if (at === "handshake") socket.write(response.slice(0, 40));
      else socket.write(Buffer.concat([Buffer.from(response, "latin1"), bytesBeforeGoing(at, false)]));
      setImmediate(() => go(socket, reset));
    });
  });
}

function measure(): { fds: number; resources: number; heap: number } {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  return {
    fds: readdirSync("/proc/self/fd").length,
    resources: process.getActiveResourcesInfo().length,
    heap: process.memoryUsage().heapUsed,
  };
}

async function settleAll(watch: Watch): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((watch.closed.size > 0 || watch.unsettledSends > 0) && Date.now() < deadline) {
    await Promise.race([Promise.all([...watch.closed]), new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  // Sockets close a few turns after the sessions settle.
  await new Promise((resolve) => setTimeout(resolve, 200));
}

async function main(): Promise<void> {
  const [pathArg, roundsArg] = process.argv.slice(2);
  const path = pathArg as Path;
  const rounds = Number(roundsArg);
  if (!["server", "upgrade", "tcp", "client"].includes(path) || !(rounds > 0)) {
    process.stderr.write("usage: campaign.ts server|upgrade|tcp|client ROUNDS\n");
    process.exit(2);
  }
  const watch = new Watch();
  let port = 0;
  let stop: () => Promise<void>;
  let next: { point: Point; reset: boolean } = { point: "handshake", reset: false };
  let oneConnection: (point: Point, reset: boolean) => Promise<void>;
  let openSessions = (): number => watch.closed.size;

  if (path === "client") {
    const server = rawServer(() => next);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
    stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
    // One at a time: the raw server needs to know which point this connection is for.
    oneConnection = async (point, reset) => {
      next = { point, reset };
      const ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, SESSION);
      watch.track(ws);
      ws.opened
        .then(async ({ readable }) => {
          for await (const _ of readable) {
            // read and drop
          }
        })
        .catch(() => {});
      await ws.closed.catch(() => {});
    };
  } else {
    if (path === "server") {
      // The server owns onSession: its read loop is left unguarded on purpose.
      const wss = new WebSocketServer({
        port: 0,
        host: "127.0.0.1",
        ...SESSION,
        onSession: async (session) => {
          watch.track(session);
          const { readable } = await session.opened;
          for await (const message of readable) await session.send(message);
        },
        onError: (error, context) => {
          process.stderr.write(`reported as an application failure: ${context.handler}: ${String(error)}\n`);
        },
      });
      port = (await wss.listening).port;
      stop = () => wss.close({ timeout: 1000 });
      openSessions = () => wss.connections.size;
    } else if (path === "upgrade") {
      const server = createHttpServer();
      server.on("upgrade", (req, socket, head) => {
        const session = acceptNodeUpgrade(req, socket, head, SESSION);
        watch.track(session);
        echo(session);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as { port: number }).port;
      stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
    } else {
      const server = createServer({ allowHalfOpen: true }, (socket) => {
        const session = acceptWebSocket(fromNodeSocket(socket), SESSION);
        watch.track(session);
        echo(session);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as { port: number }).port;
      stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
    }
    oneConnection = (point, reset) => rawClient(port, point, reset);
  }

  const concurrency = path === "client" ? 1 : CONCURRENCY;
  const runRounds = async (count: number): Promise<void> => {
    const jobs: Array<{ point: Point; reset: boolean }> = [];
    for (let i = 0; i < count; i++) for (const point of POINTS) jobs.push({ point, reset: i % 2 === 1 });
    let index = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (index < jobs.length) {
          const job = jobs[index++]!;
          watch.peers++;
          await oneConnection(job.point, job.reset);
        }
      }),
    );
    await settleAll(watch);
  };

  // Warm up (JIT, pools, the first allocations of every path), then measure around the campaign.
  await runRounds(Math.min(20, rounds));
  const before = measure();
  const warmUp = watch.peers;
  const started = Date.now();
  await runRounds(rounds);
  const after = measure();
  const result = {
    path,
    points: POINTS.length,
    rounds,
    peers: watch.peers - warmUp,
    sessions: watch.connections,
    openAtEnd: openSessions(),
    closedUnsettled: watch.closed.size,
    sends: watch.sends,
    sendsRejected: watch.sendsRejected,
    sendsUnsettled: watch.unsettledSends,
    sendsResolvedAfterClose: watch.sendsResolvedAfterClose,
    before,
    after,
    ms: Date.now() - started,
  };
  await stop();
  process.stdout.write(JSON.stringify(result) + "\n");
}

await main();
