/**
 * Many `ws` clients in a process of their own, for the memory and load
 * benchmarks (the same clients against either server).
 *
 * Run by the benchmarks: `node --expose-gc --import tsx bench/peers/clients.ts`.
 * Requests (IPC): `open` connects `count` clients (100 handshakes at a
 * time), each optionally sending one message of `echoBytes` text bytes and
 * waiting for its echo; `load` makes every client send a `size`-byte message
 * every `interval` ms for `ms` ms (start times spread over one interval) and
 * reports round-trip p50/p99; `close` closes them all.
 */
import WebSocket from "ws";
import type { LoadResult, PeerReply, PeerRequest } from "./protocol.ts";

let clients: WebSocket[] = [];

function once(ws: WebSocket, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once(event, () => resolve());
    if (event !== "error") ws.once("error", reject);
  });
}

async function open(port: number, count: number, deflate: boolean, echoBytes: number): Promise<void> {
  const text = "abcdefghijklmnopqrstuvwxyz".repeat(Math.ceil(echoBytes / 26)).slice(0, echoBytes);
  const one = async (): Promise<WebSocket> => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: deflate });
    await once(ws, "open");
    if (echoBytes > 0) {
      const echoed = once(ws, "message");
      ws.send(text);
      await echoed;
    }
    return ws;
  };
  for (let i = 0; i < count; i += 100) {
    clients.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, one))));
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function load(ms: number, interval: number, size: number): Promise<LoadResult> {
  const payload = Buffer.alloc(size, 0x61);
  const rtts: number[] = [];
  let sent = 0;
  let received = 0;
  let running = true;
  const timers: NodeJS.Timeout[] = [];
  const cleanups: Array<() => void> = [];
  clients.forEach((ws, i) => {
    const sentAt: number[] = [];
    const onMessage = (): void => {
      const t = sentAt.shift();
      if (t === undefined) return;
      received++;
      if (running) rtts.push(performance.now() - t);
    };
    ws.on("message", onMessage);
    cleanups.push(() => ws.off("message", onMessage));
    const tick = (): void => {
      if (!running) return;
      sentAt.push(performance.now());
      sent++;
      ws.send(payload, { binary: true });
    };
    const start = setTimeout(() => {
      tick();
      timers.push(setInterval(tick, interval));
    }, (interval * i) / clients.length);
    timers.push(start);
  });
  await new Promise((r) => setTimeout(r, ms));
  running = false;
  for (const t of timers) clearTimeout(t);
  // Let the last echoes come back before reporting.
  await new Promise((r) => setTimeout(r, 500));
  for (const c of cleanups) c();
  const sorted = Float64Array.from(rtts).sort();
  return { sent, received, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

async function close(): Promise<void> {
  const all = clients;
  clients = [];
  await Promise.all(
    all.map((ws) => {
      if (ws.readyState === WebSocket.CLOSED) return undefined;
      const closed = once(ws, "close");
      ws.close(1000);
      return closed;
    }),
  );
}

process.on("message", (request: PeerRequest) => {
  const reply = (r: Omit<PeerReply, "id">): void => void process.send!({ ...r, id: request.id });
  const fail = (error: unknown): void => reply({ error: String(error) });
  if (request.cmd === "open") open(request.port, request.count, request.deflate, request.echoBytes).then(() => reply({}), fail);
  else if (request.cmd === "load") load(request.ms, request.interval, request.size).then((r) => reply({ load: r }), fail);
  else if (request.cmd === "close") close().then(() => reply({}), fail);
  else if (request.cmd === "exit") process.exit(0);
});
process.send!({ id: 0 } satisfies PeerReply);
