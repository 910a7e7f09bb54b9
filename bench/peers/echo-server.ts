/**
 * A WebSocket echo server in a process of its own, for the memory and load
 * benchmarks: `ours` is the compiled package (`acceptNodeUpgrade` on a Node
 * HTTP server's `'upgrade'` event, then `readable.pipeTo(writable)`), `ws` is
 * `ws`'s `WebSocketServer` (with bufferutil) echoing each message.
 *
 * Run by the benchmarks (never by hand): `node --expose-gc --import tsx
 * bench/peers/echo-server.ts ours|ws plain|deflate <node module> [pipe|callback]`,
 * where the module is the compiled package's `node/index.js` (or, in tests,
 * the sources' `src/node/index.ts`), and the last argument says how ours
 * echoes: `readable.pipeTo(writable)` (default) or the `onMessage` option. It reports its
 * port over IPC, then answers `{ cmd: "stats" }` with its memory (after two
 * garbage collections) and CPU time so far, and exits on `{ cmd: "exit" }`.
 * With `{ cmd: "snapshot", path }` it writes a heap snapshot.
 */
import { createServer } from "node:http";
import { writeHeapSnapshot } from "node:v8";
import { WebSocketServer } from "ws";
import { pathToFileURL } from "node:url";
import type { PeerReply, PeerRequest, ServerStats } from "./protocol.ts";

type NodeModule = typeof import("../../src/node/index.ts");
type StreamsImplementation = import("../../src/streams/streams-implementation.ts").StreamsImplementation;

const [impl, mode, nodeModule, app = "pipe"] = process.argv.slice(2);
const deflate = mode === "deflate";
const noop = (): void => {};

async function listen(): Promise<number> {
  if (impl === "ws") {
    // ws's server negotiates nothing by default; with deflate, its defaults (threshold 1024).
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: deflate });
    server.on("connection", (socket) => {
      socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    await new Promise((r) => server.once("listening", r));
    return (server.address() as { port: number }).port;
  }
  const { acceptNodeUpgrade } = (await import(pathToFileURL(nodeModule!).href)) as NodeModule;
  const server = createServer();
  // Plain: nothing negotiated. Deflate: the Node helpers' defaults (native zlib, threshold 1024).
  const options: { extensions?: []; streams?: StreamsImplementation } = deflate ? {} : { extensions: [] };
  // BENCH_STREAMS=polyfill: the application's streams from web-streams-polyfill instead of Node's own.
  if (process.env["BENCH_STREAMS"] === "polyfill") options.streams = (await import("web-streams-polyfill")) as unknown as StreamsImplementation;
  // app "pipe": the WebSocketStream way, readable.pipeTo(writable); "callback": the onMessage option.
  const callbackOptions = { ...options, onMessage: (message: string | Uint8Array, ws: { send(m: string | Uint8Array): Promise<void> }) => ws.send(message) };
  server.on("upgrade", (req, socket, head) => {
    if (app === "callback") {
      acceptNodeUpgrade(req, socket, head, callbackOptions).closed.catch(noop);
      return;
    }
    const ws = acceptNodeUpgrade(req, socket, head, options);
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(noop);
    ws.closed.catch(noop);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}

async function stats(): Promise<ServerStats> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await new Promise((r) => setTimeout(r, 50));
  gc?.();
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  if (process.env["BENCH_DEBUG"]) {
    const { getHeapSpaceStatistics } = await import("node:v8");
    console.error(impl, getHeapSpaceStatistics().map((x) => `${x.space_name}=${(x.space_size / 1048576).toFixed(1)}/${(x.space_used_size / 1048576).toFixed(1)}`).join(" "));
  }
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, cpuMicros: cpu.user + cpu.system };
}

const port = await listen();
process.on("message", (request: PeerRequest) => {
  const reply = (r: PeerReply): void => void process.send!(r);
  if (request.cmd === "stats") void stats().then((s) => reply({ id: request.id, stats: s }));
  else if (request.cmd === "cpu") {
    const cpu = process.cpuUsage();
    reply({ id: request.id, stats: { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, cpuMicros: cpu.user + cpu.system } });
  } else if (request.cmd === "snapshot") reply({ id: request.id, path: writeHeapSnapshot(request.path) });
  else if (request.cmd === "exit") process.exit(0);
});
process.send!({ id: 0, port } satisfies PeerReply);
