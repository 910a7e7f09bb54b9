/**
 * An echo server in the spirit of `websocat -s` / `wscat -l`:
 *
 *   npx tsx examples/echo-server.ts --port 8080 [--host 127.0.0.1]
 *
 * `--port 0` picks a free port. Prints `listening on ws://HOST:PORT/` once
 * ready, accepts a WebSocket on any path (permessage-deflate when the client
 * offers it, the first subprotocol it offers), echoes every message with its
 * type (text as text, binary as binary), answers pings, completes the close
 * handshake, and exits on SIGTERM or SIGINT after closing every connection
 * with 1001 (going away).
 *
 * Network glue: `node:net` sockets, wrapped by `fromNodeSocket`. Engine and
 * streams: `acceptWebSocket`.
 */
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { CloseReason, PerMessageDeflate } from "../src/index.ts";
import { acceptWebSocket, type WebSocketSession } from "../src/streams/index.ts";
import { fromNodeSocket } from "../src/streams/node.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    quiet: { type: "boolean", default: false },
  },
});
if (values.port === undefined || !/^\d+$/.test(values.port)) {
  process.stderr.write("usage: echo-server.ts --port N [--host H]\n");
  process.exit(2);
}

const log = (line: string) => {
  if (!values.quiet) process.stderr.write(`${new Date().toISOString()} ${line}\n`);
};
const sessions = new Set<WebSocketSession>();
const sockets = new Set<Socket>();

async function serve(socket: Socket): Promise<void> {
  const peer = `${socket.remoteAddress}:${socket.remotePort}`;
  const ws = acceptWebSocket(fromNodeSocket(socket), {
    // Accept any path and the first subprotocol the client offers.
    handleRequest: (request) => ({ subprotocol: request.subprotocols[0] ?? null }),
    extensions: [new PerMessageDeflate()],
  });
  sessions.add(ws);
  try {
    const { readable, writable, protocol, extensions } = await ws.opened;
    log(`${peer} open (subprotocol ${JSON.stringify(protocol)}, extensions ${JSON.stringify(extensions)})`);
    // Strings go back as text, Uint8Arrays as binary: an echo is a pipe.
    // The peer's close ends it; `closed` says how the connection ended.
    await readable.pipeTo(writable).catch(() => {});
    const { closeCode, reason } = await ws.closed;
    log(`${peer} closed ${closeCode} ${JSON.stringify(reason)}`);
  } catch (e) {
    log(`${peer} failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    sessions.delete(ws);
  }
}

const server = createServer({ allowHalfOpen: true }, (socket) => {
  sockets.add(socket);
  socket.once("close", () => sockets.delete(socket));
  socket.setNoDelay(true);
  void serve(socket);
});

server.on("error", (e) => {
  process.stderr.write(`echo-server: ${e.message}\n`);
  process.exit(1);
});

server.listen(Number(values.port), values.host, () => {
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  process.stdout.write(`listening on ws://${host}:${port}/\n`);
});

async function shutdown(signal: string): Promise<void> {
  log(`${signal}: closing ${sessions.size} connection(s)`);
  server.close();
  for (const ws of sessions) ws.close({ closeCode: CloseReason.GOING_AWAY, reason: "server shutting down" });
  // Give the close handshakes a moment, then drop whatever is left.
  const deadline = setTimeout(() => {
    for (const s of sockets) s.destroy();
  }, 2000);
  await Promise.allSettled([...sessions].map((ws) => ws.closed));
  clearTimeout(deadline);
  process.exit(0);
}
process.once("SIGTERM", () => void shutdown("SIGTERM"));
process.once("SIGINT", () => void shutdown("SIGINT"));
