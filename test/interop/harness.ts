/**
 * Our side of the interop tests: a server that follows the server contract
 * of peers/README.md, and the client scenario of that README, both built on
 * this project's streams layer over Node sockets. Peers run the other side.
 * @module
 */
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { PerMessageDeflate, TextMessage } from "../../src/index.ts";
import { acceptWebSocket, type WebSocketSession } from "../../src/streams/index.ts";
import * as http2 from "node:http2";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import {
  HTTP2_WEBSOCKET_SETTINGS,
  acceptHttp2WebSocket,
  acceptNodeUpgrade,
  connectNodeWebSocket,
  fromNodeSocket,
  isHttp2WebSocketRequest,
  nodeZlibCodec,
  WebSocketServer,
  type NodeConnectOptions,
} from "../../src/node/index.ts";
import { ROOT, type Teardown } from "../helpers/process.ts";
import { openPage, type Chromium } from "../helpers/browser.ts";

/** 16 MiB: the large-message case, run once per peer. */
export const BIG = 16 * 1024 * 1024;
/** Limits generous enough for the large-message case. */
const MAX = 64 * 1024 * 1024;

/** What a server-side session of ours saw. */
export interface ServerRecord {
  protocol: string;
  extensions: string;
  messages: number;
  closed: { closeCode: number; reason: string } | { error: string };
}

/** A running server of ours. */
export interface OurServer {
  url: string;
  port: number;
  /** One record per connection, filled in as sessions end. */
  records: ServerRecord[];
  /** Resolves once `n` sessions have ended. */
  settled(n: number, timeoutMs?: number): Promise<ServerRecord[]>;
}

/** The records of a server's sessions, and a wait for a number of them to end. */
class RecordBook {
  readonly records: ServerRecord[] = [];
  #waiters: Array<() => void> = [];

  /** Serve `ws` by the contract and record it when it ends. */
  serve(ws: WebSocketSession): void {
    void serveContract(ws).then((record) => {
      this.records.push(record);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Resolves once `n` sessions have ended (rejects after `timeoutMs`). */
  readonly settled = async (n: number, timeoutMs = 15000): Promise<ServerRecord[]> => {
    const deadline = Date.now() + timeoutMs;
    while (this.records.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.records.length} of ${n} server sessions ended`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.records;
  };
}

/**
 * Start our server on 127.0.0.1 (closed in teardown). `deflate: false`
 * declines permessage-deflate.
 */
export async function startOurServer(t: Teardown, { deflate = true } = {}): Promise<OurServer> {
  const book = new RecordBook();
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.setNoDelay(true);
    const ws = acceptWebSocket(fromNodeSocket(socket), {
      protocols: ["chat", "superchat"],
      extensions: deflate ? [new PerMessageDeflate()] : [],
      maxMessageSize: MAX,
      pingInterval: null,
    });
    book.serve(ws);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    port,
    records: book.records,
    settled: book.settled,
  };
}

/** A running HTTP/2 server of ours. */
export interface OurHttp2Server extends OurServer {
  /** How each WebSocket arrived, in order: "h2" (RFC 8441) or "http/1.1" (an Upgrade on the same port). */
  via: string[];
  /** The https: base URL of the static files, with TLS. */
  base: string;
}

/**
 * Our server over HTTP/2 (RFC 8441) on 127.0.0.1, serving the same contract;
 * closed in teardown. Cleartext with prior knowledge, or with `tls` a secure
 * server that also takes HTTP/1.1 (allowHTTP1: WebSocket upgrades on the same
 * port) and serves `files` (names in `dir`) to HTTP/2 GETs.
 */
export async function startOurHttp2Server(
  t: Teardown,
  {
    deflate = true,
    tls,
    files,
  }: { deflate?: boolean; tls?: { cert: Buffer; key: Buffer }; files?: { dir: string; names: string[] } } = {},
): Promise<OurHttp2Server> {
  const book = new RecordBook();
  const via: string[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<Socket>();
  const server = tls
    ? http2.createSecureServer({ ...tls, allowHTTP1: true, settings: HTTP2_WEBSOCKET_SETTINGS })
    : http2.createServer({ settings: HTTP2_WEBSOCKET_SETTINGS });
  const options = {
    protocols: ["chat", "superchat"],
    extensions: deflate ? [new PerMessageDeflate()] : [],
    maxMessageSize: MAX,
    pingInterval: null,
  };
  server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    if (isHttp2WebSocketRequest(headers)) {
      via.push("h2");
      book.serve(acceptHttp2WebSocket(stream, headers, options));
      return;
    }
    const name = String(headers[":path"] ?? "/").split("?")[0]!.slice(1);
    if (files && files.names.includes(name)) {
      const type = name.endsWith(".html") ? "text/html; charset=utf-8" : "text/javascript; charset=utf-8";
      stream.respond({ ":status": 200, "content-type": type });
      stream.end(readFileSync(`${files.dir}/${name}`));
      return;
    }
    stream.respond({ ":status": 404 }, { endStream: true });
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    via.push("http/1.1");
    book.serve(acceptNodeUpgrade(req, socket, head, options));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(async () => {
    for (const s of sessions) s.destroy();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? "wss" : "ws"}://127.0.0.1:${port}/`,
    base: `https://127.0.0.1:${port}/`,
    port,
    records: book.records,
    via,
    settled: book.settled,
  };
}

/**
 * The same server contract on a `WebSocketServer` that owns its port (closed
 * in teardown), so independent clients meet the deployable server too.
 */
export async function startOurWebSocketServer(t: Teardown, { deflate = true } = {}): Promise<OurServer> {
  const book = new RecordBook();
  const server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    protocols: ["chat", "superchat"],
    extensions: deflate ? [new PerMessageDeflate({ codec: nodeZlibCodec })] : [],
    maxMessageSize: MAX,
    pingInterval: null,
    onSession: (session) => book.serve(session),
  });
  t.teardown(() => server.close({ timeout: 1000 }));
  const { port } = await server.listening;
  return {
    url: `ws://127.0.0.1:${port}/`,
    port,
    records: book.records,
    settled: book.settled,
  };
}

/** Serve one session by the server contract of peers/README.md. */
async function serveContract(ws: WebSocketSession): Promise<ServerRecord> {
  const record: ServerRecord = { protocol: "", extensions: "", messages: 0, closed: { error: "not closed" } };
  try {
    const { readable, writable, protocol, extensions } = await ws.opened;
    record.protocol = protocol;
    record.extensions = extensions;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      const message = r.value;
      record.messages++;
      if (typeof message === "string") {
        if (message === "info") {
          await writer.write(JSON.stringify({ protocol, extensions }));
          continue;
        }
        if (message.startsWith("frag:")) {
          // RFC 6455 §5.4: one message in three frames.
          const n = message.length;
          const cuts = [0, Math.floor(n / 3), Math.floor((2 * n) / 3), n];
          for (let i = 0; i < 3; i++) {
            await writer.write(new TextMessage({ data: message.slice(cuts[i], cuts[i + 1]), messageFinished: i === 2 }));
          }
          continue;
        }
        if (message.startsWith("ping:")) {
          const payload = message.slice(5);
          await ws.ping(payload);
          await writer.write("pong:" + payload);
          continue;
        }
        if (message.startsWith("close:")) {
          const [, code, ...reason] = message.split(":");
          ws.close({ closeCode: Number(code), reason: reason.join(":") });
          continue;
        }
      }
      await writer.write(message);
    }
    writer.releaseLock();
    reader.releaseLock();
    record.closed = await ws.closed;
  } catch (e) {
    record.closed = { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  return record;
}

/** The summary the client scenario produces (same shape as the peers' JSON line). */
export interface ClientSummary {
  protocol: string;
  extensions: string;
  steps: string[];
}

function check(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(what);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Our client running the scenario of peers/README.md against a server that
 * follows the server contract. `deflate` offers permessage-deflate; `big`
 * adds the large-message step.
 */
export async function runOurClient(
  url: string,
  { deflate = true, big = 0, connect = connectNodeWebSocket as ConnectFunction } = {},
): Promise<ClientSummary> {
  return withTimeout(scenario(url, deflate, big, connect), 60000, `client scenario against ${url}`);
}

/** How the client scenario opens its connections (HTTP/1.1 by default; `connectHttp2WebSocket` for RFC 8441). */
export type ConnectFunction = (url: string, options: NodeConnectOptions) => WebSocketSession;

async function scenario(url: string, deflate: boolean, big: number, connect: ConnectFunction): Promise<ClientSummary> {
  const options = {
    protocols: ["chat", "superchat"],
    extensions: deflate ? [new PerMessageDeflate()] : [],
    maxMessageSize: MAX,
    pingInterval: null,
  };
  const steps: string[] = [];
  const ws = connect(url, options);
  const { readable, writable, protocol, extensions } = await ws.opened;
  steps.push("open");
  const reader = readable.getReader();
  const writer = writable.getWriter();
  const next = async (what: string): Promise<string | Uint8Array> => {
    const r = await reader.read();
    check(!r.done, `${what}: the connection ended`);
    return r.value;
  };
  const echo = async (data: string | Uint8Array, what: string) => {
    await writer.write(data);
    const got = await next(what);
    if (typeof data === "string") check(got === data, `${what}: got ${JSON.stringify(String(got).slice(0, 60))}`);
    else check(got instanceof Uint8Array && sameBytes(got, data), `${what}: bytes differ`);
    steps.push(what);
  };

  await echo("héllo wörld ✓ 🚀", "text");
  await echo(Uint8Array.from({ length: 1024 }, (_, i) => i & 255), "binary");
  await echo("", "empty-text");
  await echo(new Uint8Array(0), "empty-binary");

  // RFC 6455 §5.4: one text message in three frames.
  for (const [i, part] of ["frag", "ment", "ed ✓"].entries()) {
    await writer.write(new TextMessage({ data: part, messageFinished: i === 2 }));
  }
  const whole = await next("fragmented");
  check(whole === "fragmented ✓", `fragmented: got ${JSON.stringify(whole)}`);
  steps.push("fragmented");

  await echo("frag:" + "abcdefghij".repeat(300), "server-fragmented");

  await withTimeout(ws.ping("ping-payload"), 10000, "pong");
  steps.push("ping");

  await writer.write("ping:xyz");
  const pong = await next("server-ping");
  check(pong === "pong:xyz" || pong === "pong:unsupported", `server-ping: ${JSON.stringify(pong)}`);
  if (pong === "pong:xyz") steps.push("server-ping");

  if (big) await echo(new Uint8Array(randomBytes(big)), "big");

  ws.close({ closeCode: 4000, reason: "bye" });
  const closed = await ws.closed;
  check(closed.closeCode === 4000 && closed.reason === "bye", `close: ${JSON.stringify(closed)}`);
  steps.push("close");

  const second = connect(url, options);
  const s = await second.opened;
  const w2 = s.writable.getWriter();
  await w2.write("close:4001:server-bye");
  const r2 = s.readable.getReader();
  const end = await r2.read();
  check(end.done === true, `server-close: expected the end, got a message`);
  const closed2 = await second.closed;
  check(closed2.closeCode === 4001 && closed2.reason === "server-bye", `server-close: ${JSON.stringify(closed2)}`);
  steps.push("server-close");

  return { protocol, extensions, steps };
}

/** The steps a scenario runs, given what each side can do. */
export function expectedSteps({
  clientFragments = true,
  clientPing = true,
  serverPing = true,
  big = false,
} = {}): string[] {
  return [
    "open",
    "text",
    "binary",
    "empty-text",
    "empty-binary",
    ...(clientFragments ? ["fragmented"] : []),
    "server-fragmented",
    ...(clientPing ? ["ping"] : []),
    ...(serverPing ? ["server-ping"] : []),
    ...(big ? ["big"] : []),
    "close",
    "server-close",
  ];
}

/** Parse the JSON line a peer client prints. */
export function parseSummary(stdout: string): ClientSummary | null {
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as ClientSummary;
  } catch {
    return null;
  }
}

/**
 * Record one cell of the interop matrix as
 * .test-tmp/interop-matrix/<peer>--<direction>--<deflate>.json (the latest
 * run wins; read by humans and the report, never by an assertion).
 */
export function recordMatrix(cell: {
  peer: string;
  direction: "our server" | "our client";
  deflate: string;
  steps: string[];
  ok: boolean;
}): void {
  const dir = `${ROOT}.test-tmp/interop-matrix/`;
  mkdirSync(dir, { recursive: true });
  const name = [cell.peer, cell.direction, cell.deflate].join("--").replace(/[^\w.-]+/g, "_");
  writeFileSync(`${dir}${name}.json`, JSON.stringify(cell) + "\n");
}

/**
 * Open the browser client page (browser-client.html) at `url` in Chromium,
 * wait until it reports, and return its summary or its error (one of them
 * is null).
 */
export async function runBrowserClient(chrome: Chromium, url: string): Promise<{ summary: ClientSummary | null; error: string | null }> {
  const page = await openPage(chrome, url);
  await page.waitForFunction(() => "__result" in window || "__error" in window, null, { timeout: 60000 });
  const [summary, error] = await page.evaluate(
    () => [(window as unknown as { __result?: ClientSummary }).__result ?? null, (window as unknown as { __error?: string }).__error ?? null] as const,
  );
  await page.close();
  return { summary, error };
}
