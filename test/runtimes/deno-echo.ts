// Run by Deno (see runtimes.test.ts): our server and our client over Deno's
// own TCP streams (Deno.listen / Deno.connect: a Deno.Conn is a
// { readable, writable } pair of byte streams), with and without
// permessage-deflate. Prints one JSON line with what happened.
import { maskSelfCheck } from "../protocol/bytes/mask-check.ts";
import { acceptWebSocket, connectWebSocket } from "../../src/streams/sessions.ts";
import { PerMessageDeflate } from "../../src/protocol/extensions/index.ts";

declare const Deno: {
  listen(options: { hostname: string; port: number }): AsyncIterable<DenoConn> & { addr: { port: number }; close(): void };
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
  exit(code: number): never;
};
interface DenoConn {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

const result: Record<string, unknown> = { runtime: "deno" };
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const port = listener.addr.port;
void (async () => {
  for await (const conn of listener) {
    const ws = acceptWebSocket(conn, { extensions: [new PerMessageDeflate()] });
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
    ws.closed.catch(() => {});
  }
})();

for (const deflate of [false, true]) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const ws = connectWebSocket(conn, {
    url: `ws://127.0.0.1:${port}/echo`,
    extensions: deflate ? [new PerMessageDeflate()] : [],
  });
  const { readable, writable, extensions } = await ws.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  const big = new Uint8Array(1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  const sent: Array<string | Uint8Array> = ["hello from deno", "ünïcode ✓", big, new Uint8Array(0)];
  for (const m of sent) void writer.write(m);
  let same = true;
  for (const m of sent) {
    const got = (await reader.read()).value;
    if (typeof m === "string") same &&= got === m;
    else same &&= got instanceof Uint8Array && got.length === m.length && got.every((b, i) => b === m[i]);
  }
  const rtt = await ws.ping();
  ws.close({ closeCode: 1000, reason: "deno done" });
  const closed = await ws.closed;
  result[deflate ? "deflate" : "plain"] = { extensions, same, pinged: rtt >= 0, closed };
}
listener.close();
// Masking on this runtime, both paths, against the scalar reference.
result["mask"] = maskSelfCheck({ lengths: [...Array.from({ length: 301 }, (_, i) => i), 1024, 4099, 65536 + 13, 200_001] });
console.log(JSON.stringify(result));
Deno.exit(0);
