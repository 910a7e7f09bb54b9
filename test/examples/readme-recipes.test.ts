// The README's recipes, extracted from README.md (never copied: see
// test/helpers/readme.ts) and RUN, each server in its own process, against
// the README's own clients, clients that vanish (during the handshake, right
// after the 101, in the middle of a message: socket.destroy() without a
// close frame, and a TCP reset), hostile bytes, and handlers that throw. A
// recipe that crashes (its process exits) or stops answering fails.
// The FAQ's marked blocks run in readme-faq.test.ts.
//
// The engine block, the Deno block's talk(conn) and untilStop(ws) run in
// this process (last tests). Not run here: the HTTP/2 blocks (certificates;
// examples/http2.ts runs in its own test), the `ws` client (it refuses a
// server that picks no subprotocol), the proxy, redirect and
// fetchTransport blocks (they reach the network), and the CommonJS block
// (package.test.ts requires every entry). The onMessage block makes an
// http.Server it never listens with: the harness listens with it (LISTEN=1).
import t, { type Test } from "tap";
import { createConnection, createServer, type Socket } from "node:net";
import { once } from "node:events";
import WebSocket from "ws";
import { Connection } from "../../src/protocol/frames/connection.ts";
import { CloseConnection, TextMessage } from "../../src/protocol/events.ts";
import { ConnectionState, ConnectionType } from "../../src/protocol/types.ts";
import { BIN, ROOT, runPeer, says, startPeer, tsx, type Peer } from "../helpers/process.ts";
import { readmeBlock, writeRunnable } from "../helpers/readme.ts";

const HARNESS = `${ROOT}test/examples/readme-harness.ts`;
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** A port nobody uses right now (the recipes listen on a fixed one). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startRecipe(t: Test, mode: "module" | "codec", file: string, port: number, env: Record<string, string> = {}): Promise<Peer> {
  return startPeer(t, BIN.node, tsx(HARNESS, mode, file, String(port)), { env, timeoutMs: 30_000 });
}

function alive(t: Test, peer: Peer, what: string): void {
  t.ok(peer.child.exitCode === null && peer.child.signalCode === null, says(peer.child.exitCode === null, `${what}: the recipe's process is still running`, peer));
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Fault = "handshake" | "after-101" | "mid-header" | "mid-payload" | "reset";
const FAULTS: Fault[] = ["handshake", "after-101", "mid-header", "mid-payload", "reset"];

/** A raw client that vanishes at `fault` (destroyed without a close frame; `reset` sends an RST). */
async function vanish(port: number, fault: Fault, path = "/", headers = ""): Promise<void> {
  const socket: Socket = createConnection(port, "127.0.0.1");
  socket.on("error", () => {});
  await once(socket, "connect");
  const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`;
  if (fault === "handshake") {
    socket.write(request.slice(0, 40));
    await wait(5);
    socket.destroy();
    return;
  }
  socket.write(request);
  let head = "";
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5000);
    socket.on("data", (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (head.includes("\r\n\r\n")) {
        clearTimeout(timer);
        resolve();
      }
    });
    socket.once("close", () => resolve());
  });
  if (fault === "mid-header") socket.write(Buffer.from([0x81]));
  if (fault === "mid-payload" || fault === "reset") socket.write(Buffer.from([0x81, 0x80 | 50, 1, 2, 3, 4, 0x41, 0x42]));
  await wait(5);
  if (fault === "reset") socket.resetAndDestroy();
  else socket.destroy();
}

async function vanishAll(port: number, rounds: number, path = "/", headers = ""): Promise<void> {
  for (let i = 0; i < rounds; i++) for (const fault of FAULTS) await vanish(port, fault, path, headers);
}

/** A ws client: opens, sends `text`, returns the first message and the close code after closing with 1000. */
async function wsRoundTrip(url: string, text: string, options: WebSocket.ClientOptions = {}): Promise<{ reply: string; code: number }> {
  const ws = new WebSocket(url, options);
  ws.on("error", () => {});
  await once(ws, "open");
  ws.send(text);
  const [data] = (await once(ws, "message")) as [Buffer];
  ws.close(1000);
  const [code] = (await once(ws, "close")) as [number];
  return { reply: data.toString(), code };
}

t.test("Node: server on an HTTP server ('upgrade'), with the README's client, under faults", async (t) => {
  const port = await freePort();
  const server = await startRecipe(t, "module", writeRunnable(readmeBlock("upgrade-server", "plain HTTP still works", "acceptNodeUpgrade(req, socket, head, {"), "upgrade-server", { port }), port);
  const client = writeRunnable(readmeBlock("node-client", 'connectNodeWebSocket("ws://127.0.0.1:8080/chat"'), "node-client", { port });
  const run = () => runPeer(t, BIN.node, tsx(client), { timeoutMs: 30_000 });
  let r = await run();
  t.equal(r.code, 0, says(r.code === 0, "the README's client runs against it", r));
  t.match(r.stdout, /open chat permessage-deflate/);
  t.match(r.stdout, /received hello/);
  t.match(r.stdout, /closed 1000 done/);
  await vanishAll(port, 10, "/chat");
  alive(t, server, "50 clients vanished");
  t.same(await wsRoundTrip(`ws://127.0.0.1:${port}/nope`, "x").catch((e: Error) => e.message), "Unexpected server response: 404", "other paths: 404");
  r = await run();
  t.equal(r.code, 0, says(r.code === 0, "the client still runs after the faults", r));
  alive(t, server, "at the end");
});

t.test("Node: server on a bare TCP socket, with the README's WebSocketStream-shaped client, under faults", async (t) => {
  const port = await freePort();
  const server = await startRecipe(t, "module", writeRunnable(readmeBlock("tcp-server", "createServer({ allowHalfOpen: true }", "acceptWebSocket(fromNodeSocket(socket))"), "tcp-server", { port }), port);
  // (The README's `ws` client beside it offers "chat" and, being `ws`, refuses a server that picks none: not run.)
  const clients = [writeRunnable(readmeBlock("stream-client", "// wsproto (WebSocketStream-shaped)"), "stream-client", { port })];
  for (const client of clients) {
    const r = await runPeer(t, BIN.node, tsx(client), { timeoutMs: 30_000 });
    t.equal(r.code, 0, says(r.code === 0, `${client.slice(ROOT.length)} runs against it`, r));
    t.match(r.stdout, /hello/);
    t.match(r.stdout, /closed 1000 done/);
  }
  await vanishAll(port, 10);
  alive(t, server, "50 clients vanished");
  // Hostile bytes: an unmasked frame from a client (RFC 6455 §5.1): answered 1002.
  const socket = createConnection(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  await once(socket, "close");
  t.match(Buffer.concat(chunks).toString("latin1"), /\r\n\r\n\x88[\s\S]\x03\xea/, "a close frame with 1002");
  t.same(await wsRoundTrip(`ws://127.0.0.1:${port}/`, "still here"), { reply: "still here", code: 1000 });
  alive(t, server, "at the end");
});

t.test("WebSocketServer: the broadcast recipe survives vanishing clients and a handler that throws; SIGTERM closes with 1001", async (t) => {
  const port = await freePort();
  const file = writeRunnable(readmeBlock("websocketserver", "new WebSocketServer({", "wss.broadcast(r.value, { except: session })"), "websocketserver", { port });
  const server = await startRecipe(t, "module", file, port, { INJECT: "broadcast" });
  const url = `ws://127.0.0.1:${port}/chat`;
  const origin = { origin: "https://example.com" };
  await vanishAll(port, 20, "/chat", "Origin: https://example.com\r\n");
  alive(t, server, "100 clients vanished (the onSession read loop rejects with 1006 each time)");
  // Two clients: a message from one reaches the other.
  const a = new WebSocket(url, origin);
  const b = new WebSocket(url, origin);
  for (const ws of [a, b]) ws.on("error", () => {});
  await Promise.all([once(a, "open"), once(b, "open")]);
  await wait(50); // both sessions are open on the server
  const received = once(b, "message");
  a.send("hi all");
  t.equal(String(((await received) as [Buffer])[0]), "hi all", "broadcast reaches the other client");
  // A handler that throws (broadcast fails inside the recipe's onSession): 1011 for that client only.
  const thrower = new WebSocket(url, origin);
  thrower.on("error", () => {});
  await once(thrower, "open");
  thrower.send("throw");
  const [code] = (await once(thrower, "close")) as [number];
  t.equal(code, 1011, "the throwing session is closed with 1011");
  await wait(50);
  alive(t, server, "after the throw");
  t.match(server.stderr(), /wsproto: onSession failed for 127\.0\.0\.1:\d+: Error: injected failure in the handler/, "one line on stderr");
  t.notMatch(server.stderr(), /WS_ERR_ABNORMAL_CLOSURE|Unhandled|uncaught/i, "vanished clients were not reported");
  const response = await fetch(`http://127.0.0.1:${port}/`);
  t.equal(await response.text(), "ok\n", "handleHttp answers beside");
  // The recipe's SIGTERM handler: every connection gets 1001 and the process exits by itself.
  const closes = Promise.all([a, b].map(async (ws) => ((await once(ws, "close")) as [number])[0]));
  const status = await server.kill(10_000);
  t.same(await closes, [1001, 1001], "SIGTERM: 1001 to every client");
  t.same(status, { code: 0, signal: null }, says(status.code === 0, "the process exits 0 once close() resolved", server));
});

t.test("the onMessage echo (acceptNodeUpgrade without streams) under faults", async (t) => {
  const port = await freePort();
  const file = writeRunnable(readmeBlock("on-message", "onMessage: (message, session) => session.send(message)", "ws.closed.catch"), "on-message");
  const server = await startRecipe(t, "module", file, port, { LISTEN: "1" });
  t.same(await wsRoundTrip(`ws://127.0.0.1:${port}/`, "echo me"), { reply: "echo me", code: 1000 }, "it echoes");
  await vanishAll(port, 10);
  // A client that floods and vanishes while the echoes (session.send) are in flight.
  for (let i = 0; i < 10; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.on("error", () => {});
    await once(ws, "open");
    for (let j = 0; j < 50; j++) ws.send("y".repeat(10_000));
    ws.terminate();
  }
  await wait(200);
  alive(t, server, "60 clients vanished, some with echoes in flight");
  t.same(await wsRoundTrip(`ws://127.0.0.1:${port}/`, "still"), { reply: "still", code: 1000 }, "it still echoes");
  t.notMatch(server.stderr(), /failed/, "nothing reported as an application failure");
});

t.test("WebSocketCodec echo: clean closes resolve, vanishing and resetting clients do not crash it", async (t) => {
  const port = await freePort();
  const file = writeRunnable(readmeBlock("codec-echo", "new WebSocketCodec(new Connection(ConnectionType.SERVER))"), "codec-echo");
  const server = await startRecipe(t, "codec", file, port);
  const results = () => server.stdout().split("\n").filter((l) => l.startsWith("echo "));
  const before = results().length; // the harness's own probe
  const clean = async (closer: "client" | "server-echo") => {
    const socket = createConnection(port, "127.0.0.1");
    await once(socket, "connect");
    const conn = new Connection(ConnectionType.CLIENT);
    const events: string[] = [];
    socket.on("data", (chunk: Buffer) => {
      conn.receiveData(chunk);
      for (const e of conn.events()) {
        events.push(e instanceof TextMessage ? `text ${e.data}` : e.type);
        if (e instanceof CloseConnection && conn.state === ConnectionState.REMOTE_CLOSING) socket.write(conn.send(e.response()));
      }
    });
    socket.write(conn.send(new TextMessage({ data: "hello" })));
    // Close once the echo is back: a message the peer's close overtakes cannot be answered (wsproto's rule).
    for (let i = 0; i < 1000 && events.length === 0; i++) await wait(5);
    if (closer === "client") socket.write(conn.send(new CloseConnection({ code: 1000, reason: "done" })));
    await once(socket, "end");
    socket.end();
    return events;
  };
  t.same(await clean("client"), ["text hello", "CloseConnection"], "echoed, then the close reply");
  for (let i = 0; i < 10; i++) for (const fault of ["mid-payload", "reset"] as const) {
    // The codec runs over an established byte stream: no HTTP handshake; the fault happens inside a frame.
    const socket = createConnection(port, "127.0.0.1");
    socket.on("error", () => {});
    await once(socket, "connect");
    socket.write(Buffer.from([0x81, 0x85, 1, 2, 3, 4, 0x69, 0x67]));
    // For the reset: unread data on our side makes the close an RST, so also leave an echo unread.
    if (fault === "reset") socket.write(Buffer.from([0x81, 0x81, 0, 0, 0, 0, 0x41]));
    await wait(10);
    if (fault === "reset") socket.resetAndDestroy();
    else socket.destroy();
  }
  await wait(200);
  alive(t, server, "20 clients vanished or reset");
  t.same(await clean("client"), ["text hello", "CloseConnection"], "the echo still serves");
  for (let i = 0; i < 400 && results().length - before < 22; i++) await wait(5); // every echo() has settled
  const lines = results().slice(before);
  // A clean close or a peer gone (end of stream) resolves; a reset rejects with the one WebSocketError.
  const other = lines.filter((l) => l !== "echo resolved" && !/^echo rejected: WebSocketError: The byte stream failed: .*ECONNRESET/.test(l));
  t.same(other, [], `every echo() resolved, or rejected with a WebSocketError for a reset (${lines.length})`);
  t.equal(lines.length, 22, "every connection's echo() settled");
  t.ok(lines.filter((l) => l === "echo resolved").length >= 2, "the clean closes resolved");
});

t.test("the polyfill block runs", async (t) => {
  const file = writeRunnable(readmeBlock("polyfill", "useStreamsImplementation(polyfill"), "polyfill");
  const r = await runPeer(t, BIN.node, tsx(file), { timeoutMs: 30_000 });
  t.equal(r.code, 0, says(r.code === 0, "runs", r));
});

// The README's library-level blocks, run in this process: the engine by hand
// (its `write` glue is given here), the Deno `talk(conn)` over an in-memory
// byte stream pair, and `untilStop(ws)`.
import { pathToFileURL } from "node:url";
import { WSConnection } from "../../src/protocol/ws-connection.ts";
import { AcceptConnection, Request } from "../../src/protocol/events.ts";
import { acceptWebSocket, connectWebSocket, type ByteTransport, type WebSocketSession } from "../../src/streams/index.ts";

/** Run `body` with console.log captured. */
async function logged(body: () => Promise<void>): Promise<unknown[][]> {
  const lines: unknown[][] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void lines.push(args);
  try {
    await body();
  } finally {
    console.log = log;
  }
  return lines;
}

/** Two byte transports joined back to back. */
function bytePair(): { client: ByteTransport; server: ByteTransport } {
  const up = new TransformStream<Uint8Array, Uint8Array>();
  const down = new TransformStream<Uint8Array, Uint8Array>();
  return { client: { readable: down.readable, writable: up.writable }, server: { readable: up.readable, writable: down.writable } };
}

t.test("the engine block (wsproto's sandwich) talks to a server WSConnection through its own onBytes", async (t) => {
  const toServer: Uint8Array[] = [];
  (globalThis as { write?: (bytes: Uint8Array) => void }).write = (bytes) => void toServer.push(bytes);
  t.teardown(() => void delete (globalThis as { write?: unknown }).write);
  const server = new WSConnection(ConnectionType.SERVER);
  const lines = await logged(async () => {
    const block = (await import(pathToFileURL(writeRunnable(readmeBlock("engine", "declare function write(bytes: Uint8Array): void"), "engine")).href)) as {
      onBytes: (chunk: Uint8Array | null) => void;
    };
    // Play the server: answer whatever the block wrote, until it closed.
    for (let round = 0; round < 10 && toServer.length > 0; round++) {
      const chunks = toServer.splice(0);
      for (const chunk of chunks) server.receiveData(chunk);
      for (const event of server.events()) {
        if (event instanceof Request) block.onBytes(server.send(new AcceptConnection()));
        else if (event instanceof TextMessage) block.onBytes(server.send(new TextMessage({ data: `echo: ${event.data}` })));
        else if (event instanceof CloseConnection) block.onBytes(server.send(event.response()));
      }
    }
  });
  t.same(lines, [["received", "echo: hello"], ["closed", 1000, ""]], "it sent hello, printed the answer, closed with 1000");
});

t.test("the Deno block's talk(conn) runs over any byte stream pair", async (t) => {
  const { client, server } = bytePair();
  const ws = acceptWebSocket(server);
  ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  const lines = await logged(async () => {
    const block = (await import(pathToFileURL(writeRunnable(readmeBlock("deno-talk", "export async function talk(conn: ByteTransport)"), "deno-talk")).href)) as {
      talk: (conn: ByteTransport) => Promise<void>;
    };
    await block.talk(client);
  });
  t.same(lines, [[{ value: "hello from Deno", done: false }]], "it printed the echo");
  t.same(await ws.closed, { closeCode: 1005, reason: "" }, "and closed (no code: 1005)");
});

t.test("untilStop(ws) reads until \"stop\" and closes with 1000", async (t) => {
  const { client, server } = bytePair();
  const block = (await import(pathToFileURL(writeRunnable(readmeBlock("until-stop", "export async function untilStop(ws: WebSocketSession)"), "until-stop")).href)) as {
    untilStop: (ws: WebSocketSession) => Promise<void>;
  };
  const done = block.untilStop(acceptWebSocket(server));
  const ws = connectWebSocket(client, { url: "ws://example.com/" });
  const writer = (await ws.opened).writable.getWriter();
  await writer.write("go on");
  await writer.write("stop");
  await done;
  t.same(await ws.closed, { closeCode: 1000, reason: "stopped" });
});
