/**
 * WebSockets on an existing Node HTTP server, through its `'upgrade'` event:
 *
 *   npx tsx examples/node-http-upgrade.ts --port 8080
 *
 * Plain HTTP requests get an ordinary response; an upgrade request for
 * `/echo` becomes a WebSocket (permessage-deflate when offered) that echoes
 * messages; upgrades for any other path are rejected with 404 and a body.
 * Node has already parsed the request head, so `acceptNodeUpgrade` hands it
 * to the engine (`initiateUpgradeConnection`) together with the `head` bytes
 * that came after it.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { PerMessageDeflate } from "../src/index.ts";
import { acceptNodeUpgrade } from "../src/node/index.ts";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" } } });

const server = createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
  res.end(`plain HTTP still works here (${req.method} ${req.url}); WebSockets live at /echo\n`);
});

server.on("upgrade", (req, socket, head) => {
  const ws = acceptNodeUpgrade(req, socket, head, {
    extensions: [new PerMessageDeflate()],
    // Decide per request: accept /echo, reject anything else with a status and a body.
    handleRequest: (request) =>
      new URL(request.target, "http://x").pathname === "/echo" ? undefined : { status: 404, body: "no WebSocket here\n" },
  });
  ws.opened.then(
    async ({ readable, writable }) => {
      await readable.pipeTo(writable).catch(() => {});
    },
    () => {}, // rejected or failed handshakes end here; nothing else to do
  );
});

server.listen(Number(values.port), values.host, () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening on ws://${values.host}:${port}/echo\n`);
});

process.once("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
