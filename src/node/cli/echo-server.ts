/**
 * `wsproto serve` (and `examples/echo-server.ts`): an echo server in the
 * spirit of `websocat -s` / `wscat -l`:
 *
 *   npx wsproto serve --port 8080 [--host 127.0.0.1] [--quiet]
 *   npx wsproto serve --help
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
 * @module
 */
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { CloseReason } from "../../protocol/types.ts";
import { PerMessageDeflate } from "../../protocol/extensions/permessage-deflate.ts";
import { acceptWebSocket, type WebSocketSession } from "../../streams/sessions.ts";
import { fromNodeSocket } from "../socket.ts";
import { parseCommandLine, usageError as failUsage, type ProgramNames } from "./command-line.ts";

export type { ProgramNames } from "./command-line.ts";

/**
 * Run the echo server with these command-line arguments (it exits the
 * process on a usage error, on a listen error, and after SIGTERM/SIGINT).
 * @example
 * ```ts
 * runEchoServer(process.argv.slice(2), { prefix: "echo-server", usage: "echo-server.ts" });
 * ```
 */
export function runEchoServer(args: readonly string[], names: ProgramNames): void {
  const USAGE = `usage: ${names.usage} --port N [--host H] [--quiet]`;
  const HELP = `${USAGE}

A WebSocket echo server: every message comes back with its type, pings are
answered, close handshakes completed; SIGTERM or SIGINT closes every
connection with 1001 and exits 0.

options:
  --port N     the TCP port to listen on, 0 to pick a free one (required)
  --host H     the address to bind (default 127.0.0.1)
  --quiet      no log lines on standard error
  -h, --help   print this help and exit
`;

  const usageError: (message: string) => never = (message) => failUsage(names, USAGE, message);
  const { values } = parseCommandLine(
    args,
    names,
    USAGE,
    {
      port: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  if (values.port === undefined) usageError("--port is required");
  if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) {
    usageError(`--port must be a number from 0 to 65535, not ${JSON.stringify(values.port)}`);
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
    process.stderr.write(`${names.prefix}: ${e.message}\n`);
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
}
