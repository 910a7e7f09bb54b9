/**
 * The other process of the topics benchmark (bench/topics.bench.ts): a
 * `WebSocketServer` of the compiled package with the Redis backplane, and
 * raw receivers connected to it in this process: `count` subscribed to
 * "bench" (counting bytes), one to "one" (counting bytes), one to "probe"
 * (recording each message's latency from its publish on the other
 * process). Talks over IPC: `{ cmd: "until", target, group }` answers once
 * the receivers of `group` ("bench" or "one") have `target` bytes;
 * `{ cmd: "latency" }` answers with the samples so far (and forgets them);
 * `{ cmd: "exit" }` closes everything and exits.
 *
 * Arguments: the compiled package's directory, the Redis unix socket,
 * the number of subscribers.
 */
import { pathToFileURL } from "node:url";
import { createClient } from "redis";
import { Receivers, recordLatency, until } from "../receivers.ts";

type NodeModule = typeof import("../../src/node/index.ts");
type RedisModule = typeof import("../../src/redis/index.ts");
const [dist, socketPath, countArg] = process.argv.slice(2) as [string, string, string];
const { WebSocketServer } = (await import(pathToFileURL(`${dist}/node/index.js`).href)) as NodeModule;
const { redisBackplane } = (await import(pathToFileURL(`${dist}/redis/index.js`).href)) as RedisModule;
const FRAME_BYTES = 1024 + 4;

const client = await createClient({ socket: { path: socketPath, tls: false } }).connect();
const backplane = await redisBackplane(client);
const server = new WebSocketServer({ port: 0, host: "127.0.0.1", pingInterval: null, backplane });
const { port } = await server.listening;
const count = Number(countArg);
const receivers = await Receivers.open(port, count);
await until(() => server.connections.size === count);
for (const session of server.connections) server.subscribe(session, "bench");
const one = await Receivers.open(port, 1);
await until(() => server.connections.size === count + 1);
for (const session of server.connections) if (server.topicsOf(session).size === 0) server.subscribe(session, "one");
const probe = await Receivers.open(port, 1);
await until(() => server.connections.size === count + 2);
for (const session of server.connections) if (server.topicsOf(session).size === 0) server.subscribe(session, "probe");
const samples: number[] = [];
recordLatency(probe.sockets[0]!, FRAME_BYTES, 4, samples);

process.on("message", async (m: { cmd: string; target?: number; group?: string }) => {
  if (m.cmd === "until") {
    const group = m.group === "one" ? one : receivers;
    await group.until(m.target!);
    process.send!({ cmd: "until", total: group.total });
  } else if (m.cmd === "latency") {
    process.send!({ cmd: "latency", samples: samples.splice(0) });
  } else if (m.cmd === "exit") {
    receivers.close();
    one.close();
    probe.close();
    await server.close({ timeout: 500 });
    await client.close();
    process.exit(0);
  }
});
process.send!({ cmd: "ready", total: receivers.total, one: one.total });
