/**
 * Broadcast: one 1 KiB binary message to 1,000 open connections, over
 * loopback TCP, messages delivered per second (a message counts once per
 * connection that received it whole). Ours: `WebSocketServer.broadcast`
 * (framed once, the same bytes written to every connection). Baseline: a
 * `ws` `WebSocketServer` and the loop users write with it
 * (`for (const c of wss.clients) c.send(data)`). The receiving side is the
 * same for both: 1,000 raw TCP clients in this process that do the opening
 * handshake (no extensions, so nothing is compressed) and count bytes.
 * A round broadcasts a batch and waits until every client has every byte;
 * rounds alternate between the two servers and the medians are compared.
 *
 * Run: `npm run bench -- broadcast` (or `node --import tsx bench/broadcast.bench.ts`);
 * BENCH_QUICK=1 for 200 connections and fewer rounds; BENCH_SOURCE=1 to
 * measure the .ts sources instead of the compiled package.
 */
import { createConnection, type Socket } from "node:net";
import { WebSocketServer as WsServer } from "ws";
import { compiledPackage, importCompiled } from "./compiled.ts";
import { compare, printTable } from "./util.ts";

type NodeModule = typeof import("../src/node/index.ts");
async function loadOurs(): Promise<NodeModule> {
  if (process.env["BENCH_SOURCE"] === "1") return import("../src/node/index.ts");
  // What users run is the compiled package (see bench/compiled.ts).
  return importCompiled<NodeModule>(compiledPackage(), "node/index.js");
}
const { WebSocketServer } = await loadOurs();

const quick = process.env["BENCH_QUICK"] === "1";
const CONNECTIONS = quick ? 200 : 1000;
const BATCH = 20; // messages per round
const PAYLOAD = new Uint8Array(1024).map((_, i) => i & 0xff);
const FRAME_BYTES = 1024 + 4; // FIN|BINARY, 126, 16-bit length, payload

/** Raw clients that complete the handshake and count the bytes after it. */
class Receivers {
  readonly sockets: Socket[] = [];
  total = 0;
  #waiter: { target: number; resolve: () => void } | null = null;

  static async open(port: number, count: number): Promise<Receivers> {
    const receivers = new Receivers();
    for (let start = 0; start < count; start += 100) {
      const batch = Array.from({ length: Math.min(100, count - start) }, () => receivers.#connect(port));
      await Promise.all(batch);
    }
    return receivers;
  }

  #connect(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(port, "127.0.0.1");
      socket.setNoDelay(true);
      this.sockets.push(socket);
      socket.write(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      let head = "";
      const onHead = (chunk: Buffer): void => {
        head += chunk.toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!head.startsWith("HTTP/1.1 101")) {
          reject(new Error(`handshake failed: ${head.slice(0, 40)}`));
          return;
        }
        socket.off("data", onHead);
        socket.on("data", (c: Buffer) => this.#count(c.byteLength));
        this.#count(head.length - end - 4);
        resolve();
      };
      socket.on("data", onHead);
      socket.on("error", reject);
    });
  }

  #count(bytes: number): void {
    this.total += bytes;
    const waiter = this.#waiter;
    if (waiter !== null && this.total >= waiter.target) {
      this.#waiter = null;
      waiter.resolve();
    }
  }

  until(target: number): Promise<void> {
    if (this.total >= target) return Promise.resolve();
    return new Promise((resolve) => (this.#waiter = { target, resolve }));
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

// Ours.
const ours = new WebSocketServer({ port: 0, host: "127.0.0.1", pingInterval: null });
const oursPort = (await ours.listening).port;
const oursClients = await Receivers.open(oursPort, CONNECTIONS);
await until(() => ours.connections.size === CONNECTIONS);

// ws.
const wss = new WsServer({ port: 0, host: "127.0.0.1" });
await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
const wsPort = (wss.address() as { port: number }).port;
const wsClients = await Receivers.open(wsPort, CONNECTIONS);
await until(() => wss.clients.size === CONNECTIONS);
const wsPayload = Buffer.from(PAYLOAD);

async function round(receivers: Receivers, broadcastOnce: () => void): Promise<number> {
  const target = receivers.total + BATCH * CONNECTIONS * FRAME_BYTES;
  const start = performance.now();
  for (let i = 0; i < BATCH; i++) broadcastOnce();
  await receivers.until(target);
  return (BATCH * CONNECTIONS * 1000) / (performance.now() - start);
}

const measureOurs = (): Promise<number> => round(oursClients, () => void ours.broadcast(PAYLOAD));
const measureWs = (): Promise<number> =>
  round(wsClients, () => {
    for (const client of wss.clients) client.send(wsPayload);
  });

// Warm-up rounds for both, then the alternating comparison.
for (let i = 0; i < 3; i++) {
  await measureOurs();
  await measureWs();
}
const row = await compare(`broadcast 1 KiB to ${CONNECTIONS} connections`, "msg/s", measureOurs, measureWs, {
  rounds: quick ? 3 : Number(process.env["BENCH_ROUNDS"] ?? 9),
  target: 2,
});
printTable("Broadcast (messages delivered per second, loopback TCP, raw clients)", [row]);

oursClients.close();
wsClients.close();
await ours.close({ timeout: 500 });
await new Promise<void>((resolve) => wss.close(() => resolve()));
process.exit(0);
