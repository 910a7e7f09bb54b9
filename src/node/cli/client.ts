/**
 * `wsproto connect` (and `examples/client.ts`): a command-line client in the
 * spirit of `wscat -c` / `websocat`:
 *
 *   npx wsproto connect URL [--deflate] [--subprotocol P]...
 *   npx wsproto connect --help
 *
 * Sends each line of standard input as a text message and prints each
 * message received as one line on standard output (binary messages as
 * `<binary N bytes: hex>`). At the end of standard input it closes with 1000,
 * waits for the close handshake and exits 0. Any failure (refused
 * connection, rejected handshake, abnormal close) exits 1 with the reason on
 * standard error. `ws://` and `wss://` URLs both work.
 *
 * Network glue: `connectNodeWebSocket` (a `node:net` or `node:tls` socket
 * through `fromNodeSocket`). Engine and streams: `connectWebSocket`.
 * @module
 */
import { createInterface } from "node:readline";
import { CloseReason } from "../../protocol/types.ts";
import { PerMessageDeflate } from "../../protocol/extensions/permessage-deflate.ts";
import { WebSocketError } from "../../streams/session/types.ts";
import { connectNodeWebSocket } from "../connect.ts";
import { parseCommandLine, usageError as failUsage, type ProgramNames } from "./command-line.ts";

/**
 * Run the client with these command-line arguments (it exits the process
 * when done: 0 after a clean close, 1 on a failure, 2 on a usage error).
 * @example
 * ```ts
 * runClient(process.argv.slice(2), { prefix: "client", usage: "client.ts" });
 * ```
 */
export function runClient(args: readonly string[], names: ProgramNames): void {
  function fail(message: string): never {
    process.stderr.write(`${names.prefix}: ${message}\n`);
    process.exit(1);
  }

  const USAGE = `usage: ${names.usage} URL [--deflate] [--subprotocol P]...`;
  const HELP = `${USAGE}

Connects to URL (ws:// or wss://), sends each line of standard input as a
text message and prints each message received as one line (binary ones as
<binary N bytes: hex>). At the end of input it closes with 1000 and exits 0;
any failure exits 1 with the reason on standard error.

options:
  --deflate         offer permessage-deflate
  --subprotocol P   offer subprotocol P (repeat for several, in order)
  -h, --help        print this help and exit
`;

  const usageError: (message: string) => never = (message) => failUsage(names, USAGE, message);
  const { values, positionals } = parseCommandLine(
    args,
    names,
    USAGE,
    {
      deflate: { type: "boolean", default: false },
      subprotocol: { type: "string", multiple: true, default: [] },
      help: { type: "boolean", short: "h", default: false },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  if (positionals.length === 0) usageError("a URL is required");
  if (positionals.length > 1) usageError(`one URL expected, got ${positionals.length}: ${positionals.join(" ")}`);
  const url = positionals[0];

  function describe(error: unknown): string {
    if (error instanceof WebSocketError) {
      if (error.status !== null) {
        const body = error.body ? new TextDecoder().decode(error.body).trim() : "";
        return `handshake rejected with HTTP ${error.status}${body ? `: ${body}` : ""}`;
      }
      return `${error.message} (close code ${error.closeCode ?? "none"}${error.reason ? `, ${JSON.stringify(error.reason)}` : ""})`;
    }
    if (error instanceof Error) {
      const code = (error as { code?: unknown }).code;
      return typeof code === "string" ? `${error.message} (${code})` : error.message;
    }
    return String(error);
  }

  function show(message: string | Uint8Array): string {
    if (typeof message === "string") return message;
    return `<binary ${message.length} bytes: ${Buffer.from(message).toString("hex")}>`;
  }

  async function main(): Promise<void> {
    let ws;
    try {
      ws = connectNodeWebSocket(url!, {
        protocols: values.subprotocol,
        extensions: values.deflate ? [new PerMessageDeflate()] : [],
      });
    } catch (e) {
      fail(describe(e));
    }
    const { readable, writable, protocol, extensions } = await ws.opened.catch((e: unknown) => fail(describe(e)));
    process.stderr.write(
      `${names.prefix}: connected to ${url}` +
        (protocol ? ` (subprotocol ${protocol})` : "") +
        (extensions ? ` (extensions ${extensions})` : "") +
        "\n",
    );

    // Print every message as it arrives, until the connection ends.
    const printing = (async () => {
      const reader = readable.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) process.stdout.write(show(r.value) + "\n");
    })().catch(() => {});

    // The server may close first (or the connection may fail) while standard
    // input is still open: report it and stop, whatever stdin is doing.
    let inputDone = false;
    const closed = ws.closed.then(
      async ({ closeCode, reason }) => {
        await printing;
        if (inputDone) return { closeCode, reason };
        if (closeCode === CloseReason.NORMAL_CLOSURE) process.exit(0);
        return fail(`the server closed the connection with ${closeCode} ${JSON.stringify(reason)}`);
      },
      (e: unknown) => fail(describe(e)),
    );

    const writer = writable.getWriter();
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
    for await (const line of lines) await writer.write(line);
    writer.releaseLock();
    inputDone = true;

    ws.close({ closeCode: CloseReason.NORMAL_CLOSURE });
    const { closeCode, reason } = await closed;
    if (closeCode !== CloseReason.NORMAL_CLOSURE) fail(`the server answered the close with ${closeCode} ${JSON.stringify(reason)}`);
  }

  main().then(
    () => process.exit(0),
    (e: unknown) => fail(describe(e)),
  );
}
