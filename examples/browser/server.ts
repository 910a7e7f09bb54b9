/**
 * A web page and its WebSocket server, both served by Node with this
 * project:
 *
 *   npx tsx examples/browser/server.ts --port 8080
 *   # then open http://127.0.0.1:8080/ in a browser
 *
 * `GET /` serves index.html; an upgrade request for `/ws` becomes a
 * WebSocket through the HTTP server's `'upgrade'` event, with
 * permessage-deflate (every browser offers it) and the `echo.v1`
 * subprotocol. The browser's own `WebSocket` talks to our engine: text
 * messages come back as `echo: <text>`, binary messages unchanged.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { PerMessageDeflate } from "../../src/index.ts";
import { acceptNodeUpgrade } from "../../src/node/index.ts";

const { values } = parseArgs({ options: { port: { type: "string", default: "8080" }, host: { type: "string", default: "127.0.0.1" } } });
const page = readFileSync(new URL("./index.html", import.meta.url));

const server = createServer((req, res) => {
  if (req.method === "GET" && (req.url === "/" || req.url === "/index.html")) {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(page);
    return;
  }
  res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
});

server.on("upgrade", (req, socket, head) => {
  const ws = acceptNodeUpgrade(req, socket, head, {
    protocols: ["echo.v1"],
    extensions: [new PerMessageDeflate()],
    handleRequest: (request) => (request.target === "/ws" ? undefined : { status: 404, body: "WebSockets live at /ws\n" }),
  });
  ws.opened
    .then(async ({ readable, writable, extensions }) => {
      process.stderr.write(`browser connected (extensions: ${extensions || "none"})\n`);
      const reader = readable.getReader();
      const writer = writable.getWriter();
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        await writer.write(typeof r.value === "string" ? `echo: ${r.value}` : r.value);
      }
      const { closeCode } = await ws.closed;
      process.stderr.write(`browser closed (${closeCode})\n`);
    })
    .catch((e: unknown) => process.stderr.write(`websocket failed: ${e instanceof Error ? e.message : String(e)}\n`));
});

server.listen(Number(values.port), values.host, () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening on http://${values.host}:${port}/\n`);
});

process.once("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
