/**
 * `npm run demo`: a WebSocket server and client in one process, talking over
 * real loopback TCP through the sans-I/O engine, with a transcript of what
 * happens: the handshake headers, every event each side sees, bytes on the
 * wire against bytes of payload, and the close codes.
 *
 * This is the "wsproto sandwich" written out by hand: the network glue (a
 * `node:net` socket) feeds bytes to `receiveData()`, the engine turns them
 * into events, and the application glue answers with `send(event)`, whose
 * bytes go back to the socket. The streams layer (`connectWebSocket`,
 * `acceptWebSocket`) does the same for you; see the other examples.
 */
import { createServer, connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import {
  AcceptConnection,
  BytesMessage,
  CloseConnection,
  CloseReason,
  ConnectionState,
  ConnectionType,
  PerMessageDeflate,
  Ping,
  Request,
  TextMessage,
  WSConnection,
  connectionStateName,
  type Event,
} from "../src/index.ts";

const started = performance.now();
const latin1 = new TextDecoder("latin1");
const utf8 = new TextEncoder();

function say(line = ""): void {
  process.stdout.write(line + "\n");
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

function preview(data: string | Uint8Array): string {
  if (typeof data === "string") return JSON.stringify(data.length > 40 ? data.slice(0, 37) + "..." : data);
  const hex = Array.from(data.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return `<${hex}${data.length > 8 ? " ..." : ""}>`;
}

function payloadSize(event: Event): number {
  switch (event.type) {
    case "Message":
    case "TextMessage":
    case "BytesMessage":
      return typeof event.data === "string" ? utf8.encode(event.data).length : event.data.length;
    case "Ping":
    case "Pong":
      return event.payload.length;
    default:
      return 0;
  }
}

function describe(event: Event): string {
  switch (event.type) {
    case "Request":
      return `Request target=${event.target} subprotocols=[${event.subprotocols.join(", ")}] extensions=[${event.extensions.map(String).join(", ")}]`;
    case "AcceptConnection":
      return `AcceptConnection subprotocol=${event.subprotocol} extensions=[${event.extensions.map((e) => e.name).join(", ")}]`;
    case "RejectConnection":
      return `RejectConnection status=${event.statusCode}`;
    case "RejectData":
      return `RejectData ${size(event.data.length)}`;
    case "CloseConnection":
      return `CloseConnection code=${event.code} reason=${JSON.stringify(event.reason)}`;
    case "Message":
    case "TextMessage":
    case "BytesMessage": {
      const flags = `${event.frameFinished ? "frame finished" : "frame continues"}, ${event.messageFinished ? "message finished" : "message continues"}`;
      return `${event.type} ${preview(event.data)} (${size(payloadSize(event))}; ${flags})`;
    }
    case "Ping":
    case "Pong":
      return `${event.type} payload=${JSON.stringify(new TextDecoder().decode(event.payload))}`;
  }
}

/** Print an HTTP head, indented, one header per line. */
function showHead(bytes: Uint8Array): void {
  const text = latin1.decode(bytes);
  const head = text.slice(0, text.indexOf("\r\n\r\n"));
  for (const line of head.split("\r\n")) say(`      ${line}`);
}

/**
 * One side of the conversation: a socket, a WSConnection, byte counters and
 * a queue of received events to await.
 */
class Side {
  readonly ws: WSConnection;
  wireOut = 0;
  wireIn = 0;
  payloadOut = 0;
  payloadIn = 0;
  readonly #queue: Event[] = [];
  #waiting: ((e: Event) => void) | null = null;
  #failed: ((e: Error) => void) | null = null;

  constructor(
    readonly name: "client" | "server",
    readonly socket: Socket,
    readonly quiet = false,
  ) {
    this.ws = new WSConnection(name === "client" ? ConnectionType.CLIENT : ConnectionType.SERVER);
    socket.on("data", (chunk: Buffer) => {
      this.wireIn += chunk.length;
      this.ws.receiveData(chunk);
      this.#drain();
    });
    socket.on("end", () => {
      this.ws.receiveData(null);
      this.#drain();
    });
    socket.on("error", (e) => this.#failed?.(e));
  }

  #drain(): void {
    for (const event of this.ws.events()) {
      this.payloadIn += payloadSize(event);
      this.#queue.push(event);
    }
    while (this.#waiting && this.#queue.length) {
      const resolve = this.#waiting;
      this.#waiting = null;
      resolve(this.#queue.shift()!);
    }
  }

  /** Send an event; returns the number of bytes written to the socket. */
  send(event: Event, note = ""): number {
    const bytes = this.ws.send(event);
    this.wireOut += bytes.length;
    this.payloadOut += payloadSize(event);
    if (bytes.length) this.socket.write(bytes);
    if (!this.quiet) say(`  ${this.name} → ${describe(event)}  [${size(bytes.length)} on the wire]${note}`);
    return bytes.length;
  }

  /** The next event this side receives (printed as it arrives). */
  next(): Promise<Event> {
    const event = this.#queue.shift();
    const got = event
      ? Promise.resolve(event)
      : new Promise<Event>((resolve, reject) => {
          this.#waiting = resolve;
          this.#failed = reject;
        });
    return got.then((e) => {
      if (!this.quiet) say(`  ${this.name} ← ${describe(e)}`);
      return e;
    });
  }

  /** Receive events until one whole message is assembled; returns it. */
  async message(): Promise<{ data: string | Uint8Array; events: number }> {
    const parts: Array<string | Uint8Array> = [];
    let events = 0;
    for (;;) {
      const e = await this.next();
      if (e.type !== "TextMessage" && e.type !== "BytesMessage") throw new Error(`${this.name}: expected a message, got ${e.type}`);
      parts.push(e.data);
      events++;
      if (e.messageFinished) break;
    }
    if (typeof parts[0] === "string") return { data: parts.join(""), events };
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts as Uint8Array[]) {
      out.set(p, at);
      at += p.length;
    }
    return { data: out, events };
  }
}

function expect(cond: boolean, what: string): void {
  if (!cond) throw new Error(`demo check failed: ${what}`);
}

async function main(): Promise<void> {
  say("wsproto demo: a WebSocket server and client in one process, over loopback TCP");
  say("");

  // ── network glue: a TCP server and a TCP client ──
  let onServerSocket!: (s: Socket) => void;
  const serverSocket = new Promise<Socket>((resolve) => (onServerSocket = resolve));
  const listener = createServer({ allowHalfOpen: true }, (s) => onServerSocket(s));
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const { port } = listener.address() as AddressInfo;
  say(`server: listening on ws://127.0.0.1:${port}/`);
  const clientSocket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => clientSocket.once("connect", resolve).once("error", reject));
  const client = new Side("client", clientSocket);
  const server = new Side("server", await serverSocket);
  client.socket.setNoDelay(true);
  server.socket.setNoDelay(true);
  say(`client: connected from 127.0.0.1:${clientSocket.localPort}`);

  // ── opening handshake ──
  say("");
  say("── opening handshake (RFC 6455 §4) ──");
  const requestBytes = client.ws.send(
    new Request({
      host: `127.0.0.1:${port}`,
      target: "/demo?room=lobby",
      subprotocols: ["chat.v2", "chat.v1"],
      extensions: [new PerMessageDeflate()],
    }),
  );
  client.wireOut += requestBytes.length;
  client.socket.write(requestBytes);
  say(`  client → HTTP request [${size(requestBytes.length)}]`);
  showHead(requestBytes);

  const request = await server.next();
  expect(request.type === "Request", "the server receives a Request");
  const offered = request.type === "Request" ? request.subprotocols : [];
  const supported = ["chat.v1"];
  const subprotocol = offered.find((p) => supported.includes(p)) ?? null;
  const acceptBytes = server.ws.send(new AcceptConnection({ subprotocol, extensions: [new PerMessageDeflate()] }));
  server.wireOut += acceptBytes.length;
  server.socket.write(acceptBytes);
  say(`  server → HTTP response [${size(acceptBytes.length)}]`);
  showHead(acceptBytes);
  const accepted = await client.next();
  expect(accepted.type === "AcceptConnection", "the client receives AcceptConnection");
  expect(accepted.type === "AcceptConnection" && accepted.subprotocol === "chat.v1", "subprotocol chat.v1 agreed");
  expect(
    accepted.type === "AcceptConnection" && accepted.extensions.some((e) => e.name === "permessage-deflate"),
    "permessage-deflate agreed",
  );
  say(`  states: client ${connectionStateName(client.ws.state)}, server ${connectionStateName(server.ws.state)}`);

  // ── messages ──
  say("");
  say("── a text message, echoed ──");
  client.send(new TextMessage({ data: "Hello, wsproto! ✓" }));
  const text = await server.message();
  server.send(new TextMessage({ data: text.data as string }));
  const textEcho = await client.message();
  expect(textEcho.data === "Hello, wsproto! ✓", "text echo");

  say("");
  say("── a binary message (random bytes: deflate cannot shrink them), echoed ──");
  const random = new Uint8Array(4096);
  crypto.getRandomValues(random);
  client.send(new BytesMessage({ data: random }));
  const bin = await server.message();
  server.send(new BytesMessage({ data: bin.data as Uint8Array }));
  const binEcho = await client.message();
  expect(binEcho.data instanceof Uint8Array && Buffer.compare(binEcho.data, random) === 0, "binary echo");

  say("");
  say("── a large text message sent in 4 fragments (RFC 6455 §5.4), echoed whole ──");
  const sentence = "The quick brown fox jumps over the lazy dog. ";
  const large = sentence.repeat(Math.ceil((1024 * 1024) / sentence.length)).slice(0, 1024 * 1024);
  const quarter = large.length / 4;
  let fragmentWire = 0;
  for (let i = 0; i < 4; i++) {
    fragmentWire += client.send(
      new TextMessage({ data: large.slice(i * quarter, (i + 1) * quarter), messageFinished: i === 3 }),
      `  (fragment ${i + 1} of 4)`,
    );
  }
  const big = await server.message();
  expect(big.data === large, "the server reassembled the large message");
  say(`  server: reassembled ${size(large.length)} from ${big.events} event(s); it crossed the wire as ${size(fragmentWire)}`);
  const echoWire = server.send(new TextMessage({ data: big.data as string }));
  const bigEcho = await client.message();
  expect(bigEcho.data === large, "large echo");
  say(`  compression: ${size(large.length)} of payload took ${size(echoWire)} on the wire (${((100 * echoWire) / large.length).toFixed(2)} %)`);

  say("");
  say("── ping and pong (RFC 6455 §5.5.2, §5.5.3) ──");
  client.send(new Ping({ payload: utf8.encode("are you there?") }));
  const ping = await server.next();
  expect(ping.type === "Ping", "the server receives the ping");
  if (ping.type === "Ping") server.send(ping.response());
  const pong = await client.next();
  expect(pong.type === "Pong", "the client receives the pong");

  // ── closing handshake ──
  say("");
  say("── closing handshake (RFC 6455 §7) ──");
  client.send(new CloseConnection({ code: CloseReason.NORMAL_CLOSURE, reason: "demo finished" }));
  say(`  states: client ${connectionStateName(client.ws.state)}`);
  const close = await server.next();
  expect(close.type === "CloseConnection" && close.code === 1000, "the server receives close 1000");
  if (close.type === "CloseConnection") server.send(close.response());
  server.socket.end();
  const closeReply = await client.next();
  expect(closeReply.type === "CloseConnection" && closeReply.code === 1000, "the client receives close 1000");
  client.socket.end();
  expect(client.ws.state === ConnectionState.CLOSED && server.ws.state === ConnectionState.CLOSED, "both CLOSED");
  say(`  states: client ${connectionStateName(client.ws.state)}, server ${connectionStateName(server.ws.state)}`);
  await Promise.all([
    new Promise((resolve) => client.socket.once("close", resolve)),
    new Promise((resolve) => server.socket.once("close", resolve)),
  ]);
  await new Promise<void>((resolve) => listener.close(() => resolve()));

  // ── summary ──
  say("");
  say("── summary ──");
  const row = (a: string, b: string, c: string, d: string) => say(`  ${a.padEnd(18)}${b.padStart(12)}${c.padStart(14)}${d.padStart(10)}`);
  row("direction", "payload", "on the wire", "ratio");
  for (const [label, s] of [
    ["client → server", client],
    ["server → client", server],
  ] as const) {
    row(label, size(s.payloadOut), size(s.wireOut), `${((100 * s.wireOut) / s.payloadOut).toFixed(1)} %`);
  }
  say(`  (wire bytes include the HTTP handshake, frame headers and masks; payload is after decompression)`);
  say(`  close: client sent 1000 "demo finished", server answered ${close.type === "CloseConnection" ? close.code : "?"}`);
  say(`  done in ${(performance.now() - started).toFixed(0)} ms`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
