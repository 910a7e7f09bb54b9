/**
 * The client under test for the conformance corpus: our streams client over
 * a Node socket, echoing every message back with its type, as Autobahn's
 * client harness does. It offers permessage-deflate (our defaults), so the
 * raw server decides per case whether compression is used.
 *
 * Run alone: `npx tsx test/conformance/echo-client.ts ws://127.0.0.1:9001/runCase?case=1.1.1`
 * @module
 */
import { connect } from "node:net";
import { connectWebSocket, WebSocketError } from "../../src/streams/index.ts";
import { fromNodeSocket } from "../../src/node/index.ts";
import { PerMessageDeflate } from "../../src/protocol/index.ts";

/** How an echo session ended. */
export interface EchoClientResult {
  closeCode: number | null;
  reason: string;
  messages: number;
  /** The WebSocketError code when the session did not close cleanly. */
  error: string | null;
}

/** Options of {@link runEchoClient}. */
export interface EchoClientOptions {
  /** Offer permessage-deflate. @default true */
  deflate?: boolean;
}

/**
 * Connect to `url`, echo every message until the connection closes, and
 * report how it closed. A `WebSocketError` (a failed or unclean close) is an
 * outcome, not an exception; anything else thrown is a bug and propagates.
 * @example
 * ```ts
 * const result = await runEchoClient("ws://127.0.0.1:9001/runCase?case=1.1.1");
 * console.log(result.closeCode);
 * ```
 */
export async function runEchoClient(url: string, options: EchoClientOptions = {}): Promise<EchoClientResult> {
  const target = new URL(url);
  const socket = connect({ host: target.hostname, port: Number(target.port) });
  socket.setNoDelay(true);
  const ws = connectWebSocket(fromNodeSocket(socket), {
    url,
    extensions: options.deflate === false ? [] : [new PerMessageDeflate()],
    // Autobahn section 9 sends messages of up to 16 MiB.
    maxMessageSize: 64 * 1024 * 1024,
    pingInterval: null,
    closeTimeout: 5000,
  });
  let messages = 0;
  let error: string | null = null;
  try {
    const { readable, writable } = await ws.opened;
    const reader = readable.getReader();
    const writer = writable.getWriter();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        messages++;
        await writer.write(value);
      }
    } finally {
      reader.releaseLock();
      writer.releaseLock();
    }
  } catch (err) {
    if (!(err instanceof WebSocketError)) throw err;
    error = err.code;
  }
  try {
    const info = await ws.closed;
    return { closeCode: info.closeCode, reason: info.reason, messages, error };
  } catch (err) {
    if (!(err instanceof WebSocketError)) throw err;
    return { closeCode: err.closeCode, reason: err.reason, messages, error: error ?? err.code };
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.argv[2];
  if (!url) {
    console.error("usage: echo-client.ts ws://host:port/path");
    process.exit(2);
  }
  const result = await runEchoClient(url);
  console.log(JSON.stringify(result));
}
