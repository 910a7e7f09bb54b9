/**
 * Chat rooms on every core, through Redis: `node:cluster` runs one worker
 * per core on one port, each a `WebSocketServer` with the Redis backplane,
 * so a message published on one worker reaches the room's members on all.
 *
 *   redis-server --port 6390 --daemonize yes
 *   npx tsx examples/cluster.ts
 *
 * Environment: `PORT` (8080; 0 picks a free one), `HOST` (127.0.0.1),
 * `WORKERS` (one per core), `REDIS_URL` (redis://127.0.0.1:6390) or
 * `REDIS_SOCKET` (a unix socket path). Prints
 * `listening on ws://HOST:PORT/` once every worker listens.
 *
 * Connect to `ws://HOST:PORT/?room=NAME` (the room `lobby` without one):
 * the worker greets with `{"type":"welcome","worker":PID,"room":NAME}`, and
 * each text message is published to the room as is, to every member on
 * every worker (the sender included), once. `GET /health` answers
 * `{"status":"ok","worker":PID,"connections":N,"redis":true}` (503 and
 * `"status":"degraded"` while the worker is cut off from Redis: it still
 * serves its own members).
 *
 * Rolling restart on SIGHUP: one worker at a time, a fresh worker is
 * started and listening before the old one closes its connections with
 * 1012 (Service Restart: clients reconnect, and land on a live worker),
 * draining for at most 10 seconds. SIGTERM or SIGINT: every worker closes
 * with 1001 and the primary exits 0 once all have exited.
 */
import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import { createClient } from "redis";
import { WebSocketServer } from "../src/node/index.ts";
import { redisBackplane } from "../src/redis/index.ts";

const PORT = Number(process.env["PORT"] ?? 8080);
const HOST = process.env["HOST"] ?? "127.0.0.1";
const WORKERS = Number(process.env["WORKERS"] ?? availableParallelism());
const DRAIN_MS = 10_000;

if (cluster.isPrimary) await primary();
else await worker();

async function primary(): Promise<void> {
  let stopping = false;
  let restarting = false;
  const start = (): Promise<Worker> => {
    const child = cluster.fork();
    child.on("exit", (code, signal) => {
      // A worker that dies on its own is replaced; one we retired is not.
      if (!stopping && !retired.has(child)) {
        console.error(`worker ${child.process.pid} exited (${signal ?? code}); starting another`);
        void start();
      }
    });
    return new Promise((resolve) => child.once("listening", () => resolve(child)));
  };
  const retired = new WeakSet<Worker>();
  const retire = (child: Worker, reason: "restart" | "stop"): Promise<void> => {
    retired.add(child);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.send({ type: reason });
    return exited;
  };

  const first = await Promise.all(Array.from({ length: WORKERS }, start));
  const address = await new Promise<{ port: number }>((resolve) => {
    // Every worker listens on the same port; ask one which it is.
    first[0]!.once("message", (m: { type?: string; port?: number }) => m.type === "port" && resolve({ port: m.port! }));
    first[0]!.send({ type: "port?" });
  });
  console.log(`cluster: ${WORKERS} workers, health on http://${HOST}:${address.port}/health, SIGHUP restarts them one by one`);
  console.log(`listening on ws://${HOST}:${address.port}/`);

  process.on("SIGHUP", () => {
    if (restarting || stopping) return;
    restarting = true;
    void (async () => {
      for (const old of Object.values(cluster.workers ?? {})) {
        if (old === undefined || retired.has(old)) continue;
        await start(); // the new one takes connections before the old one leaves
        await retire(old, "restart");
      }
      restarting = false;
      console.log("rolling restart done");
    })();
  });
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    void Promise.all(workers.map((w) => retire(w, "stop"))).then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

async function worker(): Promise<void> {
  const socketPath = process.env["REDIS_SOCKET"];
  const client = createClient(
    socketPath !== undefined ? { socket: { path: socketPath, tls: false } } : { url: process.env["REDIS_URL"] ?? "redis://127.0.0.1:6390" },
  );
  client.on("error", () => {}); // the backplane reports outages (below); this covers the first connect
  await client.connect();
  const backplane = await redisBackplane(client);

  const server: WebSocketServer = new WebSocketServer({
    port: PORT,
    host: HOST,
    backplane,
    maxMessageSize: 64 * 1024,
    // Redis outages (the worker keeps serving its own members) and failing handlers.
    onError: (error, { handler }) => console.error(`worker ${process.pid}: ${handler}: ${error instanceof Error ? error.message : String(error)}`),
    handleHttp: (request) => {
      if (new URL(request.url).pathname !== "/health") return new Response("not found\n", { status: 404 });
      const redis = backplane.connected;
      const health = { status: redis ? "ok" : "degraded", worker: process.pid, connections: server.connections.size, redis };
      return Response.json(health, { status: redis ? 200 : 503 });
    },
    onSession: (session, request) => {
      const room = new URL(request.target, "http://localhost").searchParams.get("room") ?? "lobby";
      server.subscribe(session, room);
      void session.send(JSON.stringify({ type: "welcome", worker: process.pid, room })).catch(() => {});
    },
    onMessage: (message, session) => {
      if (typeof message !== "string") return;
      for (const room of server.topicsOf(session)) server.publish(room, message);
    },
  });
  const { port } = await server.listening;

  process.on("message", (m: { type?: string }) => {
    if (m.type === "port?") process.send?.({ type: "port", port });
    if (m.type === "restart" || m.type === "stop") {
      // 1012: come back in a moment (another worker is listening); 1001: the service goes away.
      const closeCode = m.type === "restart" ? 1012 : 1001;
      void server.close({ closeCode, reason: m.type === "restart" ? "service restart" : "going away", timeout: DRAIN_MS }).then(async () => {
        await client.close().catch(() => client.destroy());
        process.exit(0);
      });
    }
  });
  // The primary handles the signals; a worker outlives a Ctrl-C meant for the whole group until it is told.
  process.on("SIGINT", () => {});
}
