// Interop with the Node implementations, in process: `ws` (client and
// server, with and without permessage-deflate) and undici 7's
// WebSocketStream (client). 16 MiB once per peer.
import t from "tap";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import { WebSocketStream } from "undici";
import {
  BIG,
  expectedSteps,
  recordMatrix,
  runOurClient,
  startOurServer,
  type ClientSummary,
} from "./harness.ts";
import type { Teardown } from "../helpers/process.ts";

const MAX = 64 * 1024 * 1024;

function check(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(what);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

type Received = { data: string | Uint8Array } | { close: { code: number; reason: string } };

/** A ws client's messages and close as a queue. */
function wsQueue(ws: WebSocket) {
  const items: Received[] = [];
  const waiters: Array<(r: Received) => void> = [];
  const push = (r: Received) => (waiters.length ? waiters.shift()!(r) : items.push(r));
  ws.on("message", (data: Buffer, isBinary: boolean) => push({ data: isBinary ? new Uint8Array(data) : data.toString("utf8") }));
  ws.on("close", (code: number, reason: Buffer) => push({ close: { code, reason: reason.toString() } }));
  return (): Promise<Received> =>
    items.length
      ? Promise.resolve(items.shift()!)
      : new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("ws client: timed out waiting")), 30000);
          waiters.push((r) => {
            clearTimeout(timer);
            resolve(r);
          });
        });
}

/** The client scenario of peers/README.md on `ws`. */
async function wsClient(url: string, deflate: boolean, big: number): Promise<ClientSummary> {
  const steps: string[] = [];
  const open = async () => {
    const ws = new WebSocket(url, ["chat", "superchat"], { perMessageDeflate: deflate, maxPayload: MAX });
    const next = wsQueue(ws);
    await once(ws, "open");
    return { ws, next };
  };
  const { ws, next } = await open();
  const summary: ClientSummary = { protocol: ws.protocol, extensions: ws.extensions, steps };
  steps.push("open");
  const expectEcho = async (data: string | Uint8Array, what: string) => {
    const got = await next();
    check("data" in got, `${what}: connection closed`);
    if (typeof data === "string") check(got.data === data, `${what}: got ${JSON.stringify(got.data)}`);
    else check(got.data instanceof Uint8Array && sameBytes(got.data, data), `${what}: bytes differ`);
    steps.push(what);
  };
  const echo = (data: string | Uint8Array, what: string) => {
    ws.send(data);
    return expectEcho(data, what);
  };
  await echo("héllo wörld ✓ 🚀", "text");
  await echo(Uint8Array.from({ length: 1024 }, (_, i) => i & 255), "binary");
  await echo("", "empty-text");
  await echo(new Uint8Array(0), "empty-binary");
  ws.send("frag", { fin: false, binary: false });
  ws.send("ment", { fin: false, binary: false });
  ws.send("ed ✓", { fin: true, binary: false });
  await expectEcho("fragmented ✓", "fragmented");
  await echo("frag:" + "abcdefghij".repeat(300), "server-fragmented");
  const pong = once(ws, "pong");
  ws.ping("ping-payload");
  const [payload] = (await pong) as [Buffer];
  check(payload.toString() === "ping-payload", "ping: pong payload");
  steps.push("ping");
  ws.send("ping:xyz");
  await expectEcho("pong:xyz", "server-ping");
  if (big) await echo(new Uint8Array(randomBytes(big)), "big");
  ws.close(4000, "bye");
  const c = await next();
  check("close" in c && c.close.code === 4000 && c.close.reason === "bye", `close: ${JSON.stringify(c)}`);
  steps.push("close");
  const second = await open();
  second.ws.send("close:4001:server-bye");
  const c2 = await second.next();
  check("close" in c2 && c2.close.code === 4001 && c2.close.reason === "server-bye", `server-close: ${JSON.stringify(c2)}`);
  steps.push("server-close");
  return summary;
}

/** The server contract of peers/README.md on `ws`. */
async function startWsServer(t: Teardown, deflate: boolean): Promise<string> {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: deflate,
    maxPayload: MAX,
    handleProtocols: (protocols) => [...protocols][0] ?? false,
  });
  await once(wss, "listening");
  t.teardown(() => {
    for (const c of wss.clients) c.terminate();
    return new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  wss.on("connection", (ws) => {
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        const text = data.toString("utf8");
        if (text === "info") return void ws.send(JSON.stringify({ protocol: ws.protocol, extensions: ws.extensions }));
        if (text.startsWith("frag:")) {
          const n = text.length;
          const cuts = [0, Math.floor(n / 3), Math.floor((2 * n) / 3), n];
          for (let i = 0; i < 3; i++) ws.send(text.slice(cuts[i], cuts[i + 1]), { fin: i === 2, binary: false });
          return;
        }
        if (text.startsWith("ping:")) {
          const payload = text.slice(5);
          ws.once("pong", () => ws.send("pong:" + payload));
          return void ws.ping(payload);
        }
        if (text.startsWith("close:")) {
          const [, code, ...reason] = text.split(":");
          return void ws.close(Number(code), reason.join(":"));
        }
        return void ws.send(text);
      }
      ws.send(data, { binary: true });
    });
  });
  const { port } = wss.address() as AddressInfo;
  return `ws://127.0.0.1:${port}/`;
}

/** The client scenario on undici's WebSocketStream (no fragments or pings to send). */
async function undiciClient(url: string, big: number): Promise<ClientSummary> {
  const steps: string[] = [];
  const wss = new WebSocketStream(url, { protocols: ["chat", "superchat"] });
  const { readable, writable, protocol, extensions } = await wss.opened;
  steps.push("open");
  const reader = (readable as ReadableStream<string | Uint8Array>).getReader();
  const writer = (writable as WritableStream<string | Uint8Array>).getWriter();
  const echo = async (data: string | Uint8Array, what: string) => {
    await writer.write(data);
    const r = await reader.read();
    check(!r.done, `${what}: ended`);
    if (typeof data === "string") check(r.value === data, `${what}: got ${JSON.stringify(r.value)}`);
    else check(r.value instanceof Uint8Array && sameBytes(r.value, data), `${what}: bytes differ`);
    steps.push(what);
  };
  await echo("héllo wörld ✓ 🚀", "text");
  await echo(Uint8Array.from({ length: 1024 }, (_, i) => i & 255), "binary");
  await echo("", "empty-text");
  await echo(new Uint8Array(0), "empty-binary");
  await echo("frag:" + "abcdefghij".repeat(300), "server-fragmented");
  await writer.write("ping:xyz");
  const pong = await reader.read();
  check(pong.value === "pong:xyz", `server-ping: ${JSON.stringify(pong.value)}`);
  steps.push("server-ping");
  if (big) await echo(new Uint8Array(randomBytes(big)), "big");
  wss.close({ closeCode: 4000, reason: "bye" });
  const closed = await wss.closed;
  check(closed.closeCode === 4000 && closed.reason === "bye", `close: ${JSON.stringify(closed)}`);
  steps.push("close");
  const second = new WebSocketStream(url, { protocols: ["chat"] });
  const s = await second.opened;
  const w2 = (s.writable as WritableStream<string>).getWriter();
  await w2.write("close:4001:server-bye");
  const closed2 = await second.closed;
  check(closed2.closeCode === 4001 && closed2.reason === "server-bye", `server-close: ${JSON.stringify(closed2)}`);
  steps.push("server-close");
  return { protocol, extensions, steps };
}

async function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

t.test("ws client -> our server", async (t) => {
  const server = await startOurServer(t);
  for (const deflate of [true, false]) {
    const summary = await within(wsClient(server.url, deflate, deflate ? BIG : 0), 60000);
    t.same(summary.steps, expectedSteps({ big: deflate }), `every step ran (deflate ${deflate})`);
    t.equal(summary.protocol, "chat");
    if (deflate) t.match(summary.extensions, /permessage-deflate/, "permessage-deflate agreed");
    else t.equal(summary.extensions, "", "no extension");
    recordMatrix({ peer: "ws", direction: "our server", deflate: String(deflate), steps: summary.steps, ok: true });
  }
  const records = await server.settled(4);
  for (const r of records) t.notOk("error" in r.closed, `our session ended cleanly: ${JSON.stringify(r.closed)}`);
});

t.test("our client -> ws server", async (t) => {
  for (const deflate of [true, false]) {
    const url = await startWsServer(t, deflate);
    // Our client offers permessage-deflate to the server without it too: it declines.
    const summary = await runOurClient(url, { deflate: true, big: deflate ? BIG : 0 });
    t.same(summary.steps, expectedSteps({ big: deflate }), `every step ran (server deflate ${deflate})`);
    t.equal(summary.protocol, "chat");
    if (deflate) t.match(summary.extensions, /permessage-deflate/, "permessage-deflate agreed");
    else t.equal(summary.extensions, "", "the server declined the offer");
    recordMatrix({ peer: "ws", direction: "our client", deflate: String(deflate), steps: summary.steps, ok: true });
  }
});

t.test("undici WebSocketStream -> our server", async (t) => {
  for (const deflate of [true, false]) {
    const server = await startOurServer(t, { deflate });
    const summary = await within(undiciClient(server.url, deflate ? BIG : 0), 60000);
    t.same(summary.steps, expectedSteps({ clientFragments: false, clientPing: false, big: deflate }), `every step ran (server deflate ${deflate})`);
    t.equal(summary.protocol, "chat");
    const records = await server.settled(2);
    for (const r of records) t.notOk("error" in r.closed, `our session ended cleanly: ${JSON.stringify(r.closed)}`);
    // undici's WebSocketStream reports `extensions` as an object, not the
    // header string, so ask our side what was agreed.
    if (deflate) t.match(records[0]!.extensions, /permessage-deflate/, "undici offered permessage-deflate and we accepted");
    else t.equal(records[0]!.extensions, "", "no extension when our server declines");
    recordMatrix({ peer: "undici 7 WebSocketStream", direction: "our server", deflate: String(deflate), steps: summary.steps, ok: true });
  }
});

t.test("limits across implementations: 1009 both ways with ws", async (t) => {
  // Our server with a 1 KiB limit; ws sends 2 KiB and hears 1009.
  const { createServer } = await import("node:net");
  const { acceptWebSocket } = await import("../../src/streams/index.ts");
  const { fromNodeSocket, connectNodeWebSocket } = await import("../../src/node/index.ts");
  const serverClosed: Array<Promise<unknown>> = [];
  const ours = createServer({ allowHalfOpen: true }, (socket) => {
    const ws = acceptWebSocket(fromNodeSocket(socket), { maxMessageSize: 1024, pingInterval: null });
    serverClosed.push(ws.closed.then((c) => c, (e: unknown) => e));
    void ws.opened.then(({ readable }) => readable.getReader().read()).catch(() => {});
  });
  await new Promise<void>((resolve) => ours.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => ours.close(() => resolve())));
  const client = new WebSocket(`ws://127.0.0.1:${(ours.address() as AddressInfo).port}/`);
  await once(client, "open");
  client.send(new Uint8Array(2048));
  const [code] = (await within(once(client, "close"), 10000)) as [number];
  t.equal(code, 1009, "ws hears 1009 (message too big) from our server");
  const outcome = (await serverClosed[0]) as { closeCode?: number };
  t.equal(outcome.closeCode, 1009, "our server's session reports 1009 too");

  // ws with a 1 KiB limit; our client sends 2 KiB and hears 1009.
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 1024 });
  wss.on("connection", (peer) => peer.on("error", () => {})); // ws reports the violation as an 'error' too
  await once(wss, "listening");
  t.teardown(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  const ws = connectNodeWebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, { pingInterval: null });
  const { writable } = await ws.opened;
  await writable.getWriter().write(new Uint8Array(2048));
  const closed = await within(
    ws.closed.then((c) => c, (e: unknown) => e as { closeCode: number }),
    10000,
  );
  t.equal(closed.closeCode, 1009, "our client hears 1009 from ws");
});
