/**
 * Deno, with Deno's own sockets (`Deno.listen`, `Deno.connect`):
 *
 *   deno run --allow-net examples/deno.ts
 *
 * A `Deno.Conn` already is a `{ readable, writable }` pair of byte streams,
 * so it is a transport for `acceptWebSocket` / `connectWebSocket` as it is.
 * The server and the client run in this one process on 127.0.0.1; the
 * program exchanges a few messages (permessage-deflate on), closes, and
 * exits 0. Deno resolves the `.ts` imports directly and `pako` from the
 * project's `package.json` / `node_modules`.
 */
import { PerMessageDeflate } from "../src/index.ts";
import { acceptWebSocket, connectWebSocket, type ByteTransport } from "../src/streams/index.ts";

// The few Deno APIs used here, declared so the file also type-checks under
// Node's TypeScript settings (Deno has them built in).
interface DenoConn extends ByteTransport {
  close(): void;
}
interface DenoListener extends AsyncIterable<DenoConn> {
  readonly addr: { hostname: string; port: number };
  close(): void;
}
declare const Deno: {
  listen(options: { hostname: string; port: number }): DenoListener;
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
  exit(code: number): never;
};

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const { port } = listener.addr;
console.log(`listening on ws://127.0.0.1:${port}/`);

// ── server: every connection is a WebSocket that echoes ──
const serving = (async () => {
  for await (const conn of listener) {
    const ws = acceptWebSocket(conn, { extensions: [new PerMessageDeflate()], protocols: ["chat"] });
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  }
})().catch(() => {}); // the loop ends when the listener closes

// ── client ──
const conn = await Deno.connect({ hostname: "127.0.0.1", port });
const ws = connectWebSocket(conn, {
  url: `ws://127.0.0.1:${port}/deno`,
  protocols: ["chat"],
  extensions: [new PerMessageDeflate()],
});
const { readable, writable, protocol, extensions } = await ws.opened;
console.log(`client: open (subprotocol ${protocol}, extensions ${extensions})`);
const writer = writable.getWriter();
const reader = readable.getReader();
let ok = protocol === "chat" && extensions.startsWith("permessage-deflate");
for (const message of ["hello from Deno ✓", new Uint8Array([1, 2, 3]), "x".repeat(100_000)]) {
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
listener.close();
await serving;
Deno.exit(ok ? 0 : 1);
