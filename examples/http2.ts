/**
 * WebSockets over HTTP/2 (RFC 8441, extended CONNECT):
 *
 *   npx tsx examples/http2.ts
 *
 * A `node:http2` server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL; a
 * `node:http2` client opens a stream with `:method CONNECT` and
 * `:protocol websocket`. HTTP/2 does the opening handshake (no
 * Sec-WebSocket-Key, no 101: a 200 response), so the engine starts after it:
 * each side negotiates permessage-deflate with the extension handshake
 * helpers (`clientExtensionsHandshake`, `serverExtensionsHandshake`) and then
 * runs a post-handshake `Connection` over the stream's bytes.
 * Server and client run in this one process; the program exits 0 when the
 * exchange and the close handshake are done.
 */
import * as http2 from "node:http2";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import {
  BytesMessage,
  CloseConnection,
  CloseReason,
  Connection,
  ConnectionState,
  ConnectionType,
  PerMessageDeflate,
  Ping,
  TextMessage,
  clientExtensionsHandshake,
  serverExtensionsHandshake,
  type Event,
} from "../src/index.ts";

const say = (line: string) => process.stdout.write(line + "\n");

/** A header that Node may give as a string, a list of strings or nothing, as a list. */
function headerList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Run a post-handshake `Connection` over an HTTP/2 stream: bytes in go to
 * `receiveData`, each event goes to `onEvent`, and `send` writes an event.
 */
function bind(conn: Connection, stream: http2.ClientHttp2Stream | http2.ServerHttp2Stream, onEvent: (e: Event) => void) {
  const send = (event: Event) => {
    const bytes = conn.send(event);
    if (bytes.length) stream.write(bytes);
  };
  const drain = () => {
    for (const event of conn.events()) onEvent(event);
  };
  stream.on("data", (chunk: Buffer) => {
    conn.receiveData(chunk);
    drain();
  });
  stream.on("end", () => {
    // The end of the stream after a completed close handshake is expected;
    // before it, it is an abnormal closure (the engine reports 1006).
    if (conn.state === ConnectionState.CLOSED) return;
    conn.receiveData(null);
    drain();
  });
  return send;
}

// ── server ──────────────────────────────────────────────────────────────────
const server = http2.createServer({ settings: { enableConnectProtocol: true } });
server.on("stream", (stream, headers) => {
  // RFC 8441 §4: a WebSocket is a CONNECT request with :protocol websocket.
  if (headers[":method"] !== "CONNECT" || headers[":protocol"] !== "websocket") {
    stream.respond({ ":status": 400 });
    stream.end("websocket only\n");
    return;
  }
  // RFC 6455 §4.2.1 (kept by RFC 8441 §5): version 13 only.
  if (headers["sec-websocket-version"] !== "13") {
    stream.respond({ ":status": 400, "sec-websocket-version": "13" });
    stream.end();
    return;
  }
  const offered = headerList(headers["sec-websocket-protocol"]).flatMap((v) => v.split(",").map((s) => s.trim()));
  const subprotocol = offered.includes("chat") ? "chat" : null;
  // One fork per connection: accepting enables it, the Connection uses it.
  const extensions = [new PerMessageDeflate().fork()];
  const agreed = serverExtensionsHandshake(headerList(headers["sec-websocket-extensions"]), extensions);
  stream.respond({
    ":status": 200,
    ...(subprotocol ? { "sec-websocket-protocol": subprotocol } : {}),
    ...(agreed ? { "sec-websocket-extensions": agreed } : {}),
  });
  say(`server: ${headers[":path"]} accepted (subprotocol ${subprotocol}, extensions ${agreed})`);

  const conn = new Connection(ConnectionType.SERVER, { extensions });
  const send = bind(conn, stream, (event) => {
    switch (event.type) {
      case "TextMessage":
      case "BytesMessage":
        say(`server: echoing ${event.type} (${event.data.length} ${typeof event.data === "string" ? "chars" : "bytes"})`);
        send(event.type === "TextMessage" ? new TextMessage({ data: event.data }) : new BytesMessage({ data: event.data }));
        break;
      case "Ping":
        send(event.response());
        break;
      case "CloseConnection":
        say(`server: close ${event.code} ${JSON.stringify(event.reason)}; answering and ending the stream`);
        send(event.response());
        // RFC 8441 §6: closing the stream (END_STREAM) is the TCP close of RFC 6455.
        stream.end();
        break;
      default:
        break;
    }
  });
});

server.listen(0, "127.0.0.1");
await once(server, "listening");
const { port } = server.address() as AddressInfo;
say(`listening on http://127.0.0.1:${port}/ (HTTP/2 cleartext, extended CONNECT enabled)`);

// ── client ──────────────────────────────────────────────────────────────────
const session = http2.connect(`http://127.0.0.1:${port}`);
session.on("error", (e) => {
  process.stderr.write(`client session error: ${e.message}\n`);
  process.exit(1);
});
const [settings] = (await once(session, "remoteSettings")) as [http2.Settings];
// RFC 8441 §3: the client may use :protocol only once the server sent this.
if (!settings.enableConnectProtocol) throw new Error("the server does not support extended CONNECT");
say("client: the server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1");

const pmd = new PerMessageDeflate().fork();
const offer = pmd.offer();
const stream = session.request(
  {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": "http",
    ":path": "/chat",
    ":authority": `127.0.0.1:${port}`,
    "sec-websocket-version": "13",
    "sec-websocket-protocol": "chat, superchat",
    "sec-websocket-extensions": offer === "" ? pmd.name : `${pmd.name}; ${offer}`,
  },
  { endStream: false },
);
const [response] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
if (Number(response[":status"]) !== 200) throw new Error(`the server answered ${String(response[":status"])}`);
// Throws a RemoteProtocolError if the server agreed to something we did not offer.
const extensions = clientExtensionsHandshake(headerList(response["sec-websocket-extensions"]), [pmd]);
say(
  `client: 200, subprotocol ${response["sec-websocket-protocol"]}, extensions [${extensions.map((e) => e.name).join(", ")}]`,
);

const conn = new Connection(ConnectionType.CLIENT, { extensions });
const received: Event[] = [];
let closedWith: CloseConnection | null = null;
const done = new Promise<void>((resolve) => {
  stream.on("close", () => resolve());
});
const send = bind(conn, stream, (event) => {
  received.push(event);
  if (event.type === "CloseConnection") {
    // The close reply: the handshake is complete, end our half of the stream.
    if (closedWith === null) stream.end();
    closedWith ??= event;
  } else say(`client: received ${event.type}`);
});

send(new TextMessage({ data: "hello over HTTP/2 ✓" }));
send(new BytesMessage({ data: new Uint8Array([1, 2, 3, 4, 5]) }));
send(new TextMessage({ data: "compressible ".repeat(10000) }));
send(new Ping({ payload: new TextEncoder().encode("ping over h2") }));
send(new CloseConnection({ code: CloseReason.NORMAL_CLOSURE, reason: "done" }));
const timer = setTimeout(() => {
  process.stderr.write("http2 example: timed out\n");
  process.exit(1);
}, 10000);
await done;
clearTimeout(timer);

const kinds = received.map((e) => e.type).join(", ");
say(`client: events ${kinds}`);
const text = received.find((e): e is TextMessage => e.type === "TextMessage");
const ok =
  text?.data === "hello over HTTP/2 ✓" &&
  received.some((e) => e.type === "BytesMessage") &&
  received.some((e) => e.type === "Pong") &&
  (closedWith as CloseConnection | null)?.code === 1000;
say(`client: closed with ${(closedWith as CloseConnection | null)?.code ?? "nothing"}`);
session.close();
server.close();
if (!ok) {
  process.stderr.write("http2 example: the exchange did not go as expected\n");
  process.exit(1);
}
say("ok: a WebSocket over an HTTP/2 stream, permessage-deflate included");
