// Runs one README recipe in its own process for test/examples/readme.test.ts:
//
//   node --import tsx readme-harness.ts module FILE PORT   the recipe starts its own server on PORT
//   node --import tsx readme-harness.ts codec FILE PORT    the recipe exports echo(transport): served on PORT (bare TCP)
//
// Prints `listening on ws://127.0.0.1:PORT/` once PORT accepts connections.
// A recipe that crashes ends this process (an unhandled rejection or an
// uncaught exception exits non-zero, as in any Node program): the test sees
// it. With INJECT=broadcast, `WebSocketServer.broadcast` throws for the
// message "throw" (a handler that throws, inside the recipe's own code).
// With LISTEN=1, the first `http.createServer()` the recipe makes (and never
// listens with) is made to listen on PORT.
import http, { type Server } from "node:http";
import { syncBuiltinESMExports } from "node:module";
import { createConnection, createServer } from "node:net";
import { pathToFileURL } from "node:url";
import { fromNodeSocket, WebSocketServer } from "../../src/node/index.ts";
import type { ByteTransport } from "../../src/streams/index.ts";

const [mode, file, portText] = process.argv.slice(2);
const port = Number(portText);
if ((mode !== "module" && mode !== "codec") || file === undefined || !(port > 0)) {
  process.stderr.write("usage: readme-harness.ts module|codec FILE PORT\n");
  process.exit(2);
}

if (process.env.INJECT === "broadcast") {
  const original = WebSocketServer.prototype.broadcast;
  WebSocketServer.prototype.broadcast = function (this: WebSocketServer, message, options) {
    if (message === "throw") throw new Error("injected failure in the handler");
    return original.call(this, message, options);
  };
}

const made: Server[] = [];
if (process.env.LISTEN === "1") {
  const original = http.createServer;
  http.createServer = ((...args: Parameters<typeof original>) => {
    const server = original(...args);
    made.push(server);
    return server;
  }) as typeof original;
  syncBuiltinESMExports(); // the recipe's `import { createServer } from "node:http"` sees it
}

const recipe = (await import(pathToFileURL(file).href)) as { echo?: (transport: ByteTransport) => Promise<void> };

if (process.env.LISTEN === "1") {
  if (made[0] === undefined) throw new Error(`${file} made no http.Server`);
  made[0].listen(port, "127.0.0.1");
}

if (mode === "codec") {
  const echo = recipe.echo;
  if (typeof echo !== "function") throw new Error(`${file} exports no echo()`);
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    echo(fromNodeSocket(socket)).then(
      () => process.stdout.write("echo resolved\n"),
      (error: unknown) => process.stdout.write(`echo rejected: ${String(error)}\n`),
    );
  });
  server.listen(port, "127.0.0.1");
  process.once("SIGTERM", () => {
    server.close();
    server.unref();
    process.exit(0);
  });
}

// Ready once the port accepts a connection.
for (let attempt = 0; ; attempt++) {
  const ok = await new Promise<boolean>((resolve) => {
    const probe = createConnection(port, "127.0.0.1");
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (ok) break;
  if (attempt > 200) throw new Error(`nothing listens on ${port}`);
  await new Promise((resolve) => setTimeout(resolve, 25));
}
process.stdout.write(`listening on ws://127.0.0.1:${port}/\n`);
