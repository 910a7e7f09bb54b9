/**
 * Many connections under a steady load: 1,000 `ws` clients (in a process of
 * their own) each send a 64 B message every 100 ms for 8 s to an echo server
 * in another process: ours (the compiled package, `acceptNodeUpgrade` +
 * `readable.pipeTo(writable)`, and again with the `onMessage` option) against
 * `ws`'s `WebSocketServer` (with bufferutil). Reported: the server's CPU time per echoed message
 * (`process.cpuUsage()` in the server, over the run) and the round-trip
 * p50/p99 the clients saw; medians of alternating rounds, each with a fresh
 * server.
 *
 * Run: `npm run bench -- load`. BENCH_CONNECTIONS (default 1000),
 * BENCH_LOAD_MS (default 8000), BENCH_LOAD_ROUNDS (default 3).
 * BENCH_CPU_PROF=dir runs each server under `--cpu-prof` into that directory.
 */
import { compiledPackage } from "./compiled.ts";
import { median } from "./util.ts";
import { Peer } from "./peers/protocol.ts";

const COUNT = Number(process.env["BENCH_CONNECTIONS"] ?? 1000);
const MS = Number(process.env["BENCH_LOAD_MS"] ?? 8000);
const ROUNDS = Number(process.env["BENCH_LOAD_ROUNDS"] ?? 3);
const PROFILE = process.env["BENCH_CPU_PROF"];
const INTERVAL = 100;
const SIZE = 64;
const nodeModule = `${compiledPackage()}/node/index.js`;

interface Load {
  /** Server CPU microseconds per echoed message. */
  cpu: number;
  p50: number;
  p99: number;
  messages: number;
}

const clients = new Peer("./clients.ts", []);
await clients.ready;

async function run(impl: "ours" | "ws", app: "pipe" | "callback" = "pipe"): Promise<Load> {
  // One profile per thread (tsx's loader has one of its own): the server's is the largest.
  const name = impl === "ours" ? `ours-${app}` : impl;
  const nodeArgs = PROFILE === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", `${PROFILE}/${name}`];
  const server = new Peer("./echo-server.ts", [impl, "plain", nodeModule, app], nodeArgs);
  try {
    const { port } = await server.ready;
    await clients.request({ cmd: "open", port: port!, count: COUNT, deflate: false, echoBytes: 0 });
    const before = (await server.request({ cmd: "cpu" })).stats!.cpuMicros;
    const { load } = await clients.request({ cmd: "load", ms: MS, interval: INTERVAL, size: SIZE });
    const after = (await server.request({ cmd: "cpu" })).stats!.cpuMicros;
    await clients.request({ cmd: "close" });
    return { cpu: (after - before) / load!.received, p50: load!.p50, p99: load!.p99, messages: load!.received };
  } finally {
    await server.stop();
  }
}

const ours: Load[] = [];
const callback: Load[] = [];
const ws: Load[] = [];
for (let i = 0; i < ROUNDS; i++) {
  ours.push(await run("ours"));
  ws.push(await run("ws"));
  callback.push(await run("ours", "callback"));
}
const med = (rows: Load[], key: keyof Load): number => median(rows.map((r) => r[key]));
const line = (name: string, rows: Load[], key: keyof Load, unit: string, target: number, digits = 1): string => {
  const o = med(rows, key);
  const w = med(ws, key);
  const ratio = o / w;
  return `| ${name} | ${o.toFixed(digits)} ${unit} | ${w.toFixed(digits)} ${unit} | ${ratio.toFixed(2)}× | ≤ ${target}× ${ratio <= target ? "met" : "MISSED"} |`;
};
console.log(`\n### ${COUNT} connections, one ${SIZE} B message each every ${INTERVAL} ms for ${MS / 1000} s (server and clients in processes of their own)\n`);
console.log("| measure | ours | ws | ratio | target |");
console.log("| --- | ---: | ---: | ---: | --- |");
for (const [how, rows] of [
  ["`pipeTo`", ours],
  ["`onMessage`", callback],
] as const) {
  console.log(line(`server CPU per message, ${how}`, rows, "cpu", "µs", 1.0));
  console.log(line(`round trip p50, ${how}`, rows, "p50", "ms", 1.5, 2));
  console.log(line(`round trip p99, ${how}`, rows, "p99", "ms", 1.5, 2));
}
console.log(
  `(ratio = ours / ws: below 1 is better; messages echoed per round: ours ${Math.round(med(ours, "messages"))} (pipeTo), ` +
    `${Math.round(med(callback, "messages"))} (onMessage), ws ${Math.round(med(ws, "messages"))})`,
);
await clients.stop();
process.exit(0);
