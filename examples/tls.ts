/**
 * WebSockets over TLS (`wss:`) with Node's `node:tls`:
 *
 *   npx tsx examples/tls.ts --cert cert.pem --key key.pem
 *
 * Starts a TLS server on 127.0.0.1 with the given certificate (for
 * `localhost`), accepts a WebSocket on it, then connects to
 * `wss://127.0.0.1:PORT/` trusting that certificate, exchanges a few
 * messages and closes. The engine does not know or care that the bytes are
 * encrypted: `fromNodeSocket` takes a `tls.TLSSocket` as it takes a
 * `net.Socket`. Make a certificate with:
 *
 *   openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
 *     -addext subjectAltName=DNS:localhost -keyout key.pem -out cert.pem
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:tls";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { PerMessageDeflate } from "../src/index.ts";
import { acceptWebSocket } from "../src/streams/index.ts";
import { connectNodeWebSocket, fromNodeSocket } from "../src/node/index.ts";

const { values } = parseArgs({ options: { cert: { type: "string" }, key: { type: "string" } } });
if (!values.cert || !values.key) {
  process.stderr.write("usage: tls.ts --cert cert.pem --key key.pem\n");
  process.exit(2);
}
const cert = readFileSync(values.cert);
const key = readFileSync(values.key);

// ── server: TLS sockets, each one a WebSocket that echoes ──
const server = createServer({ cert, key }, (socket) => {
  const ws = acceptWebSocket(fromNodeSocket(socket), { extensions: [new PerMessageDeflate()] });
  ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;
process.stdout.write(`listening on wss://127.0.0.1:${port}/\n`);

// ── client: wss:// with the server's certificate as the only trusted CA,
// checked against the name "localhost" (the address is loopback) ──
const ws = connectNodeWebSocket(`wss://127.0.0.1:${port}/secure`, {
  tls: { ca: cert, servername: "localhost" },
  extensions: [new PerMessageDeflate()],
});
const { readable, writable, extensions } = await ws.opened;
process.stdout.write(`client: TLS + WebSocket open (extensions ${extensions || "none"})\n`);
const writer = writable.getWriter();
const reader = readable.getReader();
for (const message of ["secret ✓", new Uint8Array([0xde, 0xad, 0xbe, 0xef])]) {
  await writer.write(message);
  const { value } = await reader.read();
  process.stdout.write(`client: echo ${typeof value === "string" ? JSON.stringify(value) : `<${value?.length} bytes>`}\n`);
}
ws.close({ closeCode: 1000, reason: "done" });
const { closeCode } = await ws.closed;
process.stdout.write(`client: closed ${closeCode}\n`);
server.close();
process.exit(closeCode === 1000 ? 0 : 1);
