#!/usr/bin/env node
/**
 * The `wsproto` command (the package's `bin`): `npx wsproto serve ...` runs
 * the echo server, `npx wsproto connect URL ...` the client (see
 * echo-server.ts and client.ts). `examples/echo-server.ts` and
 * `examples/client.ts` run the same programs from a clone.
 * @module
 */
import { readFileSync } from "node:fs";
import { runClient } from "./client.ts";
import { runEchoServer } from "./echo-server.ts";

const HELP = `usage: wsproto serve --port N [--host H] [--quiet]
       wsproto connect URL [--deflate] [--subprotocol P]...
       wsproto --version

commands:
  serve     a WebSocket echo server: every message comes back with its type;
            prints "listening on ws://HOST:PORT/"; SIGTERM closes with 1001
  connect   a client: sends each line of standard input as a text message,
            prints each message received as one line; closes with 1000 at
            the end of input

'wsproto COMMAND --help' says more about each.
`;

const [command, ...rest] = process.argv.slice(2);
if (command === "serve") runEchoServer(rest, { prefix: "wsproto serve", usage: "wsproto serve" });
else if (command === "connect") runClient(rest, { prefix: "wsproto connect", usage: "wsproto connect" });
else if (command === "--version" || command === "-v") {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  process.stdout.write(`${pkg.version}\n`);
} else if (command === undefined || command === "--help" || command === "-h" || command === "help") process.stdout.write(HELP);
else {
  process.stderr.write(`wsproto: unknown command ${JSON.stringify(command)}\n${HELP}`);
  process.exitCode = 2;
}
