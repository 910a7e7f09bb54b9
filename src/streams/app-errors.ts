/**
 * How the adapters describe errors in one line: a cause inside a
 * `WebSocketError` message (`describeError`), and the default report of a
 * failed application handler, naming the handler and the peer
 * (`reportToStderr`). What the adapters need from the session's vocabulary,
 * without reaching into its internals.
 *
 * Invariants: no state, no platform API beyond `console.error` (portable);
 * nothing here throws.
 * @module
 */
import type { HandlerContext } from "./session/types.ts";

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
