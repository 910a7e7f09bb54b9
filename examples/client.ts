/**
 * A command-line client in the spirit of `wscat -c` / `websocat` (the
 * package's `wsproto connect`; the program is src/node/cli/client.ts):
 *
 *   npx tsx examples/client.ts URL [--deflate] [--subprotocol P]...
 *   npx tsx examples/client.ts --help
 *
 * Sends each line of standard input as a text message and prints each
 * message received as one line (binary ones as `<binary N bytes: hex>`). At
 * the end of standard input it closes with 1000 and exits 0; any failure
 * exits 1 with the reason on standard error.
 */
import { runClient } from "../src/node/cli/client.ts";

runClient(process.argv.slice(2), { prefix: "client", usage: "client.ts" });
