/**
 * An echo server in the spirit of `websocat -s` / `wscat -l` (the package's
 * `wsproto serve`; the program is src/node/cli/echo-server.ts):
 *
 *   npx tsx examples/echo-server.ts --port 8080 [--host 127.0.0.1] [--quiet]
 *   npx tsx examples/echo-server.ts --help
 *
 * `--port 0` picks a free port. Prints `listening on ws://HOST:PORT/` once
 * ready, accepts a WebSocket on any path (permessage-deflate when the client
 * offers it, the first subprotocol it offers), echoes every message with its
 * type, answers pings, completes the close handshake, and exits on SIGTERM
 * or SIGINT after closing every connection with 1001 (going away).
 */
import { runEchoServer } from "../src/node/cli/echo-server.ts";

runEchoServer(process.argv.slice(2), { prefix: "echo-server", usage: "echo-server.ts" });
