/**
 * WebSockets over HTTP/2 (RFC 8441, extended CONNECT):
 *
 *   npx tsx examples/http2.ts
 *
 * A `node:http2` server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL
 * (`HTTP2_WEBSOCKET_SETTINGS`) and hands each extended CONNECT stream to
 * `acceptHttp2WebSocket`; the client opens one with `connectHttp2WebSocket`
 * on an HTTP/2 connection it may share with other requests. HTTP/2 does the
 * opening handshake (no Sec-WebSocket-Key, no 101: a 200 response), the
 * subprotocol and permessage-deflate are negotiated in its headers, and both
 * sides get the same `WebSocketSession` as over HTTP/1.1; HTTP/2 flow control
 * is the back-pressure. Server and client run in this one process; the
 * program exits 0 when the exchange and the close handshake are done.
 */
import * as http2 from "node:http2";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import {
  HTTP2_WEBSOCKET_SETTINGS,
  acceptHttp2WebSocket,
  connectHttp2WebSocket,
  isHttp2WebSocketRequest,
} from "../src/node/index.ts";

const say = (line: string) => process.stdout.write(line + "\n");
const timer = setTimeout(() => {
  process.stderr.write("http2 example: timed out\n");
  process.exit(1);
}, 10000);

// ── server ──────────────────────────────────────────────────────────────────
const server = http2.createServer({ settings: HTTP2_WEBSOCKET_SETTINGS });
let answered: unknown = null;
server.on("stream", (stream, headers) => {
  // RFC 8441 §4: a WebSocket is a CONNECT request with :protocol websocket.
  if (!isHttp2WebSocketRequest(headers)) {
    stream.respond({ ":status": 404 }, { endStream: true });
    return;
  }
  const ws = acceptHttp2WebSocket(stream, headers, { protocols: ["chat"] });
  ws.opened
    .then(async ({ readable, writable, protocol, extensions }) => {
      answered = stream.sentHeaders[":status"];
      say(`server: ${headers[":path"]} accepted (subprotocol ${protocol}, extensions ${extensions})`);
      const writer = writable.getWriter();
      const reader = readable.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        const size = typeof r.value === "string" ? `${r.value.length} chars` : `${r.value.byteLength} bytes`;
        say(`server: echoing ${typeof r.value === "string" ? "text" : "binary"} (${size})`);
        await writer.write(r.value);
      }
      const { closeCode, reason } = await ws.closed;
      say(`server: closed with ${closeCode} ${JSON.stringify(reason)}`);
    })
    .catch((e: unknown) => say(`server: ${String(e)}`));
});
server.listen(0, "127.0.0.1");
await once(server, "listening");
const { port } = server.address() as AddressInfo;
say(`listening on http://127.0.0.1:${port}/ (HTTP/2 cleartext, extended CONNECT enabled)`);

// ── client ──────────────────────────────────────────────────────────────────
// One HTTP/2 connection; connectHttp2WebSocket would open one by itself, but
// a shared one can carry several WebSockets and ordinary requests.
const session = http2.connect(`http://127.0.0.1:${port}`);
const [settings] = (await once(session, "remoteSettings")) as [http2.Settings];
// RFC 8441 §3: the client may use :protocol only once the server sent this.
say(`client: the server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = ${settings.enableConnectProtocol ? 1 : 0}`);

const ws = connectHttp2WebSocket(`ws://127.0.0.1:${port}/chat`, { session, protocols: ["chat", "superchat"] });
const { readable, writable, protocol, extensions } = await ws.opened;
say(`client: ${String(answered)}, subprotocol ${protocol}, extensions [${extensions.split(";")[0]}]`);
const writer = writable.getWriter();
const reader = readable.getReader();

await writer.write("hello over HTTP/2 ✓");
const text = (await reader.read()).value;
say(`client: received ${JSON.stringify(text)}`);
await writer.write(new Uint8Array([1, 2, 3, 4, 5]));
const bytes = (await reader.read()).value as Uint8Array;
say(`client: received ${bytes.byteLength} bytes`);
await writer.write("compressible ".repeat(10000));
const long = (await reader.read()).value as string;
say(`client: received ${long.length} chars`);
const rtt = await ws.ping("ping over h2");
say(`client: received Pong (${rtt.toFixed(1)} ms)`);

ws.close({ closeCode: 1000, reason: "done" });
const closed = await ws.closed;
say(`client: closed with ${closed.closeCode}`);
clearTimeout(timer);
session.close();
server.close();

const ok = text === "hello over HTTP/2 ✓" && bytes.byteLength === 5 && long.length === 130000 && closed.closeCode === 1000;
if (!ok) {
  process.stderr.write("http2 example: the exchange did not go as expected\n");
  process.exit(1);
}
say("ok: a WebSocket over an HTTP/2 stream, permessage-deflate included");
