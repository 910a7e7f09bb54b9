/**
 * Server-side memory per open echo connection, the server in a process of
 * its own and the clients (`ws`) in another: 2,000 connections, RSS and JS
 * heap of the server process per connection (after garbage collection), ours
 * (the compiled package: `acceptNodeUpgrade` + `readable.pipeTo(writable)`,
 * or the `onMessage` option) against `ws`'s `WebSocketServer` (with
 * bufferutil) echoing.
 *
 * Three modes: plain (nothing negotiated) with ours echoing through
 * `pipeTo`, plain with ours echoing through `onMessage` (no WHATWG stream is
 * made), and with permessage-deflate used (each client sends one 2 KiB text
 * message, compressed, and waits for its compressed echo), each library with
 * its current defaults.
 *
 * Each round starts a fresh server, warms it up with 100 connections (closed
 * again), takes the baseline, opens the connections and measures again; the
 * rounds alternate ours and ws, and the medians are reported.
 *
 * Run: `npm run bench -- memory`. BENCH_CONNECTIONS (default 2000),
 * BENCH_MEMORY_ROUNDS (default 3), BENCH_MEMORY_MODES (default
 * `plain,callback,deflate`). BENCH_STREAMS=polyfill gives our server
 * web-streams-polyfill's streams instead of Node's (the `streams` option).
 * BENCH_DEBUG=1 prints each server's external memory and committed heap per
 * connection and its V8 heap spaces (the young generation's growth shows there).
 * BENCH_HEAP_SNAPSHOT=dir writes a heap snapshot of each server (ours and
 * ws, plain) before and after connecting.
 */
import { mkdirSync } from "node:fs";
import { compiledPackage } from "./compiled.ts";
import { median } from "./util.ts";
import { Peer, type ServerStats } from "./peers/protocol.ts";

const COUNT = Number(process.env["BENCH_CONNECTIONS"] ?? 2000);
const ROUNDS = Number(process.env["BENCH_MEMORY_ROUNDS"] ?? 3);
const SNAPSHOTS = process.env["BENCH_HEAP_SNAPSHOT"];
const ECHO_BYTES = 2048;
const nodeModule = `${compiledPackage()}/node/index.js`;

interface PerConnection {
  rss: number;
  heap: number;
}

// The clients stay for every round; each round has a fresh server.
const clients = new Peer("./clients.ts", []);
await clients.ready;

async function measure(impl: "ours" | "ws", deflate: boolean, round: number, app: "pipe" | "callback"): Promise<PerConnection> {
  const server = new Peer("./echo-server.ts", [impl, deflate ? "deflate" : "plain", nodeModule, app]);
  try {
    const { port } = await server.ready;
    const open = { port: port!, deflate, echoBytes: deflate ? ECHO_BYTES : 0 };
    // Warm up (code compiled, lazily loaded modules in), then the baseline.
    await clients.request({ cmd: "open", count: 100, ...open });
    await clients.request({ cmd: "close" });
    const snapshot = SNAPSHOTS !== undefined && round === 0 && !deflate;
    const name = impl === "ours" ? `ours-${app}` : impl;
    if (snapshot) {
      mkdirSync(SNAPSHOTS, { recursive: true });
      await server.request({ cmd: "snapshot", path: `${SNAPSHOTS}/${name}-before.heapsnapshot` });
    }
    const before = (await server.request({ cmd: "stats" })).stats!;
    await clients.request({ cmd: "open", count: COUNT, ...open });
    await new Promise((r) => setTimeout(r, 200));
    const after: ServerStats = (await server.request({ cmd: "stats" })).stats!;
    if (snapshot) await server.request({ cmd: "snapshot", path: `${SNAPSHOTS}/${name}-after.heapsnapshot` });
    await clients.request({ cmd: "close" });
    if (process.env["BENCH_DEBUG"]) console.error(impl, app, "external/conn", (after.external - before.external) / COUNT, "heapTotal/conn", (after.heapTotal - before.heapTotal) / COUNT);
    return { rss: (after.rss - before.rss) / COUNT, heap: (after.heapUsed - before.heapUsed) / COUNT };
  } finally {
    await server.stop();
  }
}

const kib = (n: number): string => (n / 1024).toFixed(1) + " KiB";

const polyfill = process.env["BENCH_STREAMS"] === "polyfill" ? ", ours on web-streams-polyfill" : "";
console.log(`\n### Server memory per open echo connection (${COUNT} connections, server in its own process${polyfill})\n`);
console.log("| mode | RSS ours | RSS ws | ratio | heap ours | heap ws | ratio | target (RSS) |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
const MODES = {
  plain: { deflate: false, app: "pipe", label: "plain, `readable.pipeTo(writable)`" },
  callback: { deflate: false, app: "callback", label: "plain, `onMessage` echo" },
  deflate: { deflate: true, app: "pipe", label: "permessage-deflate used (one 2 KiB message each), `pipeTo`" },
} as const;
const modes = (process.env["BENCH_MEMORY_MODES"] ?? "plain,callback,deflate").split(",");
for (const [mode, { deflate, app, label }] of Object.entries(MODES)) {
  if (!modes.includes(mode)) continue;
  const ours: PerConnection[] = [];
  const ws: PerConnection[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    ours.push(await measure("ours", deflate, i, app));
    ws.push(await measure("ws", deflate, i, app));
  }
  const o = { rss: median(ours.map((m) => m.rss)), heap: median(ours.map((m) => m.heap)) };
  const w = { rss: median(ws.map((m) => m.rss)), heap: median(ws.map((m) => m.heap)) };
  const target = deflate ? 0.5 : 1.5;
  const ratio = o.rss / w.rss;
  console.log(
    `| ${label} | ${kib(o.rss)} | ${kib(w.rss)} | ${ratio.toFixed(2)}× | ` +
      `${kib(o.heap)} | ${kib(w.heap)} | ${(o.heap / w.heap).toFixed(2)}× | ≤ ${target}× ${ratio <= target ? "met" : "MISSED"} |`,
  );
}
console.log("(ratio = ours / ws: below 1 means ours uses less)");
await clients.stop();
process.exit(0);
