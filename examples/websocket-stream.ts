/**
 * The WHATWG `WebSocketStream`, written as for Chrome, run on Node, Bun and
 * Deno: only the import line says where the class comes from (in Chrome it
 * is a global, and Deno has its own). Everything in `talk()` is the code a
 * page would run.
 *
 * Usage (against any echo server, e.g. `npx tsx examples/echo-server.ts`):
 *   npx tsx examples/websocket-stream.ts ws://127.0.0.1:8080/
 *   bun examples/websocket-stream.ts ws://127.0.0.1:8080/
 *   deno run --allow-net --allow-env --import-map=test/examples/fixtures/import-map.json examples/websocket-stream.ts ws://127.0.0.1:8080/
 * (Node and Bun resolve `wsproto/node` inside this repository through
 * tsconfig.json's `paths`, Deno through the import map; an application
 * that installed the package needs neither.)
 * @module
 */
import { WebSocketStream } from "wsproto/node";

async function talk(url: string): Promise<void> {
  const wss = new WebSocketStream(url, { protocols: ["chat"] });
  const { readable, writable, protocol, extensions } = await wss.opened;
  console.log(`open (protocol "${protocol}", extensions "${extensions}")`);

  const reader = readable.getReader();
  const writer = writable.getWriter();
  for (const message of ["hello", new Uint8Array([1, 2, 3])]) {
    await writer.write(message);
    const { value } = await reader.read();
    const shown = typeof value === "string" ? JSON.stringify(value) : `binary [${[...value!].join(", ")}]`;
    console.log(`echo ${shown}`);
  }

  wss.close({ closeCode: 1000, reason: "bye" });
  const { closeCode, reason } = await wss.closed;
  console.log(`closed ${closeCode} "${reason}"`);
}

const url = process.argv[2] ?? "ws://127.0.0.1:8080/";
try {
  await talk(url);
} catch (error) {
  // A failed connection or an unclean close: a WebSocketError (a DOMException) with closeCode and reason.
  const { name, message, closeCode } = error as { name: string; message: string; closeCode?: number };
  console.error(`${name}: ${message}${closeCode === undefined ? "" : ` (closeCode ${closeCode})`}`);
  process.exitCode = 1;
}
