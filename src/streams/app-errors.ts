/**
 * How the adapters describe errors in one line: a cause inside a
 * `WebSocketError` message (`describeError`), and the default report of a
 * failed application handler, naming the handler and the peer
 * (`reportToStderr`), and which errors only say a connection ended
 * (`endsConnection`). What the adapters need from the session's vocabulary,
 * without reaching into its internals.
 *
 * Invariants: no state, no platform API beyond `console.error` (portable);
 * nothing here throws.
 * @module
 */
import { WebSocketError, type HandlerContext } from "./session/types.ts";

/**
 * An error's message, with its `code` (ECONNREFUSED...) when the message does not show it already.
 * @example
 * ```ts
 * describeError(Object.assign(new Error("connect failed"), { code: "ECONNREFUSED" })); // "connect failed (ECONNREFUSED)"
 * ```
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}

/**
 * The default report of a failed application handler: one line on stderr
 * naming the handler and, when known, the peer's address and port.
 * @example
 * ```ts
 * reportToStderr(new Error("boom"), { handler: "onMessage", peer: { address: "127.0.0.1", port: 50123, family: "IPv4" } });
 * // wsproto: onMessage failed (peer 127.0.0.1:50123): Error: boom
 * ```
 */
export function reportToStderr(error: unknown, context: HandlerContext): void {
  const peer = context.peer;
  const from = peer === undefined ? "" : peer.family === "IPv6" ? ` (peer [${peer.address}]:${peer.port})` : ` (peer ${peer.address}:${peer.port})`;
  try {
    // As the session's own default line, with the peer: the error's first stack line ("TypeError: ...").
    const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`).split("\n")[0] : String(error);
    console.error(`wsproto: ${context.handler} failed${from}: ${text}`);
  } catch {
    // stderr itself is gone: nothing more to do.
  }
}

/** Codes of the errors that only say the connection itself ended (the peer left, closed or broke the protocol; a timeout). */
const END_OF_CONNECTION_CODES: ReadonlySet<string> = new Set([
  "WS_ERR_ABNORMAL_CLOSURE",
  "WS_ERR_CLOSED",
  "WS_ERR_CLOSING",
  "WS_ERR_TRANSPORT",
  "WS_ERR_CLOSE_TIMEOUT",
  "WS_ERR_KEEPALIVE_TIMEOUT",
  "WS_ERR_PROTOCOL",
  "WS_ERR_TOO_MANY_FRAGMENTS",
  "WS_ERR_HANDSHAKE_TIMEOUT",
  "WS_ERR_HANDSHAKE_ABORTED",
]);

/**
 * Whether `error` only reports the connection's own end (abnormal closure,
 * the peer's close, a timeout): escaping an application handler, it is not
 * an application failure and is not reported as one.
 */
export function endsConnection(error: unknown): boolean {
  return error instanceof WebSocketError && END_OF_CONNECTION_CODES.has(error.code);
}

