/**
 * Bun:
 *
 *   bun examples/bun.ts
 *
 * Bun runs TypeScript directly and implements `node:net`, so the Node
 * adapter (`wsproto/node`: `fromNodeSocket`, `connectNodeWebSocket`) works
 * unchanged; Bun's own `Bun.listen` / `Bun.connect` sockets are callback
 * based, not streams, so they would need the same wrapping that adapter
 * already does. The server and the client run in this one process on
 * 127.0.0.1; the program exchanges a few messages (permessage-deflate on),
 * closes, and exits 0.
 */
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { PerMessageDeflate } from "../src/index.ts";
import { acceptWebSocket } from "../src/streams/index.ts";
import { connectNodeWebSocket, fromNodeSocket } from "../src/node/index.ts";

const runtime = "Bun" in globalThis ? `Bun ${(globalThis as { Bun?: { version: string } }).Bun!.version}` : `Node ${process.version}`;

// ── server: every connection is a WebSocket that echoes ──
const server = createServer({ allowHalfOpen: true }, (socket) => {
  const ws = acceptWebSocket(fromNodeSocket(socket), { extensions: [new PerMessageDeflate()], protocols: ["chat"] });
  ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;
console.log(`listening on ws://127.0.0.1:${port}/ (${runtime})`);

// ── client ──
const ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/bun`, {
  protocols: ["chat"],
  extensions: [new PerMessageDeflate()],
});
const { readable, writable, protocol, extensions } = await ws.opened;
console.log(`client: open (subprotocol ${protocol}, extensions ${extensions})`);
const writer = writable.getWriter();
const reader = readable.getReader();
let ok = protocol === "chat" && extensions.startsWith("permessage-deflate");
for (const message of ["hello from Bun ✓", new Uint8Array([1, 2, 3]), "x".repeat(100_000)]) {
  await writer.write(message);
  const { value } = await reader.read();
  const same =
    typeof message === "string" ? value === message : value instanceof Uint8Array && value.join() === message.join();
  ok &&= same;
  console.log(`client: echo of a ${typeof message === "string" ? `${message.length}-char text` : "binary"} message ${same ? "matches" : "DIFFERS"}`);
}
ws.close({ closeCode: 1000, reason: "bye" });
const closed = await ws.closed;
console.log(`client: closed ${closed.closeCode} ${JSON.stringify(closed.reason)}`);
ok &&= closed.closeCode === 1000;
server.close();
process.exit(ok ? 0 : 1);
