/**
 * Topics. One process: `publish` of one 1 KiB binary message to a topic with
 * 1,000 subscribers over loopback TCP, messages delivered per second, against
 * the loop users write with `ws` (a `Set` of sockets per topic and
 * `for (const ws of set) ws.send(data)`); the receivers are the raw clients
 * of the broadcast bench (bench/receivers.ts), rounds alternate, medians.
 *
 * Two processes through Redis: a `redis-server` started here on a unix
 * socket in a temporary folder (killed by pid at the end), this process
 * publishing through a `WebSocketServer` with `redisBackplane` (no local
 * subscriber), the other (bench/peers/topics-subscriber.ts) a server with the
 * backplane and 1,000 subscribers: deliveries per second on the other
 * process, and messages per second through Redis. Latency: messages published
 * one at a time (every 2 ms), each carrying its publish time, received by one
 * subscriber here (local delivery) and one on the other process; p50 and p99
 * of both, and the difference (what the backplane adds).
 *
 * Not measured: socket.io with its Redis adapter (its Engine.IO framing and
 * JSON packets would be measured as much as the backplane, and it needs
 * three more packages).
 *
 * Run: `npm run bench -- topics`; BENCH_QUICK=1 for 200 subscribers and fewer
 * rounds. Needs `redis-server` on the PATH for the Redis rows (skipped with a
 * note without it).
 */
import { spawn, fork, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { WebSocketServer as WsServer, type WebSocket as WsSocket } from "ws";
import { compiledPackage, importCompiled } from "./compiled.ts";
import { Receivers, quantile, recordLatency, until, wallClock } from "./receivers.ts";
import { compare, median, printTable } from "./util.ts";

type NodeModule = typeof import("../src/node/index.ts");
type RedisModule = typeof import("../src/redis/index.ts");
const dist = compiledPackage();
const { WebSocketServer } = await importCompiled<NodeModule>(dist, "node/index.js");
const { redisBackplane } = await importCompiled<RedisModule>(dist, "redis/index.js");

const quick = process.env["BENCH_QUICK"] === "1";
const SUBSCRIBERS = quick ? 200 : 1000;
const ROUNDS = quick ? 3 : Number(process.env["BENCH_ROUNDS"] ?? 7);
const BATCH = 20; // messages per round
const PAYLOAD = new Uint8Array(1024).map((_, i) => i & 0xff);
const FRAME_BYTES = 1024 + 4; // FIN|BINARY, 126, 16-bit length, payload

// One process: ours.
const ours = new WebSocketServer({ port: 0, host: "127.0.0.1", pingInterval: null });
const oursClients = await Receivers.open((await ours.listening).port, SUBSCRIBERS);
await until(() => ours.connections.size === SUBSCRIBERS);
for (const session of ours.connections) ours.subscribe(session, "news");

// One process: ws, with the topic map users keep beside it.
const wss = new WsServer({ port: 0, host: "127.0.0.1" });
await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
const wsClients = await Receivers.open((wss.address() as { port: number }).port, SUBSCRIBERS);
await until(() => wss.clients.size === SUBSCRIBERS);
const wsTopics = new Map<string, Set<WsSocket>>([["news", new Set(wss.clients)]]);
const wsPayload = Buffer.from(PAYLOAD);

async function round(receivers: Receivers, publishOnce: () => void): Promise<number> {
  const target = receivers.total + BATCH * SUBSCRIBERS * FRAME_BYTES;
  const start = performance.now();
  for (let i = 0; i < BATCH; i++) publishOnce();
  await receivers.until(target);
  return (BATCH * SUBSCRIBERS * 1000) / (performance.now() - start);
}
const measureOurs = (): Promise<number> => round(oursClients, () => void ours.publish("news", PAYLOAD));
const measureWs = (): Promise<number> =>
  round(wsClients, () => {
    for (const ws of wsTopics.get("news")!) ws.send(wsPayload);
  });
for (let i = 0; i < 3; i++) {
  await measureOurs();
  await measureWs();
}
const row = await compare(`publish 1 KiB to a topic of ${SUBSCRIBERS} subscribers`, "msg/s", measureOurs, measureWs, {
  rounds: ROUNDS,
  target: 2,
  baselineName: "ws, Set per topic + send loop",
});
printTable("Topics in one process (messages delivered per second, loopback TCP, raw clients)", [row]);
oursClients.close();
wsClients.close();
await ours.close({ timeout: 500 });
await new Promise<void>((resolve) => wss.close(() => resolve()));

// Two processes through Redis.
const redisServer = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
if (redisServer === "" || !existsSync(redisServer)) {
  console.log("\n(redis-server not found: the rows through Redis are skipped; `apt-get install redis-server`)");
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), "wsproto-bench-redis-"));
const socketPath = join(dir, "redis.sock");
const redis = spawn(redisServer, ["--port", "0", "--unixsocket", socketPath, "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", dir], {
  stdio: "ignore",
});
let other: ChildProcess | null = null;
const cleanUp = (): void => {
  if (other?.pid !== undefined && other.exitCode === null) process.kill(other.pid, "SIGKILL");
  if (redis.pid !== undefined && redis.exitCode === null) process.kill(redis.pid, "SIGTERM");
  rmSync(dir, { recursive: true, force: true });
};
process.once("exit", cleanUp);
await until(() => existsSync(socketPath));

const client = await createClient({ socket: { path: socketPath, tls: false } }).connect();
const publisher = new WebSocketServer({ port: 0, host: "127.0.0.1", pingInterval: null, backplane: await redisBackplane(client) });
const localProbe = await Receivers.open((await publisher.listening).port, 1);
await until(() => publisher.connections.size === 1);
for (const session of publisher.connections) publisher.subscribe(session, "probe");
const localSamples: number[] = [];
recordLatency(localProbe.sockets[0]!, FRAME_BYTES, 4, localSamples);

other = fork(new URL("./peers/topics-subscriber.ts", import.meta.url).pathname, [dist, socketPath, String(SUBSCRIBERS)], {
  execArgv: ["--import", "tsx"],
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
interface Reply {
  cmd: string;
  total?: number;
  one?: number;
  samples?: number[];
}
const replies: Array<(m: Reply) => void> = [];
other.on("message", (m: Reply) => replies.shift()?.(m));
const ask = (message: object | null): Promise<Reply> =>
  new Promise((resolve) => {
    replies.push(resolve);
    if (message !== null) other!.send(message);
  });
const ready = await ask(null); // its ready message
const totals = { bench: ready.total!, one: ready.one! };

/** Publish `messages` here to `topic` and wait until its `count` subscribers on the other process have them all: deliveries/s. */
async function remoteRound(topic: "bench" | "one", count: number, messages: number): Promise<number> {
  totals[topic] += messages * count * FRAME_BYTES;
  const start = performance.now();
  for (let i = 0; i < messages; i++) publisher.publish(topic, PAYLOAD);
  await ask({ cmd: "until", target: totals[topic], group: topic });
  return (messages * count * 1000) / (performance.now() - start);
}
for (let i = 0; i < 3; i++) await remoteRound("bench", SUBSCRIBERS, BATCH);
const deliveries: number[] = [];
for (let i = 0; i < ROUNDS; i++) deliveries.push(await remoteRound("bench", SUBSCRIBERS, BATCH));
// Messages through Redis: one subscriber on the other side, so Redis and the two backplanes are what is measured.
const RELAYED = Number(process.env["BENCH_RELAYED"] ?? 5000);
await remoteRound("one", 1, RELAYED);
const throughRedis: number[] = [];
for (let i = 0; i < ROUNDS; i++) throughRedis.push(await remoteRound("one", 1, RELAYED));

// Latency: one message every 2 ms, its publish time in its first 8 bytes.
const LATENCY_MESSAGES = quick ? 200 : 1000;
const stamped = new Uint8Array(1024);
const view = new DataView(stamped.buffer);
for (let i = 0; i < LATENCY_MESSAGES; i++) {
  view.setFloat64(0, wallClock(), true);
  publisher.publish("probe", stamped);
  await new Promise((resolve) => setTimeout(resolve, 2));
}
await until(() => localSamples.length === LATENCY_MESSAGES);
let remoteSamples: number[] = [];
for (let tries = 0; tries < 100 && remoteSamples.length < LATENCY_MESSAGES; tries++) {
  remoteSamples = remoteSamples.concat((await ask({ cmd: "latency" })).samples!);
  if (remoteSamples.length < LATENCY_MESSAGES) await new Promise((resolve) => setTimeout(resolve, 20));
}

const ms = (n: number): string => `${n.toFixed(3)} ms`;
const k = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`);
console.log(`\n### Topics across two processes through Redis (${SUBSCRIBERS} subscribers on the other process, 1 KiB, unix socket to redis-server)\n`);
console.log("| workload | ours |");
console.log("| --- | ---: |");
console.log(`| deliveries per second on the other process (publish here, ${SUBSCRIBERS} subscribers there) | ${k(median(deliveries))}msg/s |`);
console.log(`| messages per second through Redis (batches of ${RELAYED}, one subscriber there) | ${k(median(throughRedis))}msg/s |`);
console.log(`| latency, local subscriber (p50 / p99) | ${ms(quantile(localSamples, 0.5))} / ${ms(quantile(localSamples, 0.99))} |`);
console.log(`| latency, subscriber on the other process (p50 / p99) | ${ms(quantile(remoteSamples, 0.5))} / ${ms(quantile(remoteSamples, 0.99))} |`);
console.log(
  `| latency the backplane adds (p50 / p99) | ${ms(quantile(remoteSamples, 0.5) - quantile(localSamples, 0.5))} / ${ms(quantile(remoteSamples, 0.99) - quantile(localSamples, 0.99))} |`,
);
console.log(`\n(${remoteSamples.length} of ${LATENCY_MESSAGES} latency samples arrived on the other process)`);

const otherExited = new Promise((resolve) => other!.once("exit", resolve));
other.send({ cmd: "exit" });
await Promise.race([otherExited, new Promise((resolve) => setTimeout(resolve, 5000))]);
localProbe.close();
await publisher.close({ timeout: 500 });
await client.close();
cleanUp();
process.exit(0);
