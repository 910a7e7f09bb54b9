/**
 * Every way a session fails, one constructor each: the `WebSocketError`
 * that `opened`, `closed`, a write or a send rejects with, with its close
 * code and stable `code`.
 *
 * Answers: what does the application see when X goes wrong; which message
 * and code go with it (the README quotes these messages; a test checks it).
 *
 * Invariants:
 * - Every `WebSocketError` the session makes comes from here.
 * @module
 */
import type { WsErrorCode } from "../../protocol/errors.ts";
import { describeError } from "../app-errors.ts";
export { endsConnection } from "../app-errors.ts";
import { WebSocketError, type WebSocketErrorInit } from "./types.ts";


/** What `send()`, `writer.write()` and `ping()` reject with once the session has ended. */
export const CLOSED_MESSAGE = "Cannot send: the WebSocket is closed";
/** What they reject with after `close()` (the closing handshake has started) and before the session ended. */
export const CLOSING_MESSAGE = "Cannot send: the WebSocket is closing (the closing handshake has started)";

/** Using a session that has ended. */
export const closedError = (): WebSocketError => new WebSocketError(CLOSED_MESSAGE, { code: "WS_ERR_CLOSED" });
/** Using a session whose closing handshake has started. */
export const closingError = (): WebSocketError => new WebSocketError(CLOSING_MESSAGE, { code: "WS_ERR_CLOSING" });

/** The opening handshake took longer than `handshakeTimeout`. */
export const handshakeTimedOut = (): WebSocketError =>
  new WebSocketError("The opening handshake timed out", { closeCode: 1006, code: "WS_ERR_HANDSHAKE_TIMEOUT" });

/** `close()` during the opening handshake. */
export const handshakeAborted = (): WebSocketError =>
  new WebSocketError("The WebSocket was closed before the opening handshake completed", { closeCode: 1006, code: "WS_ERR_HANDSHAKE_ABORTED" });

/** The transport ended without a close frame (during the handshake: says which side left). */
export function abnormalClosure(during?: "client-handshake" | "server-handshake"): WebSocketError {
  const message =
    during === "client-handshake"
      ? "The server closed the connection before answering the opening handshake"
      : during === "server-handshake"
        ? "The client closed the connection during the opening handshake"
        : "The transport closed without a close frame";
  return new WebSocketError(message, { closeCode: 1006, code: "WS_ERR_ABNORMAL_CLOSURE" });
}

/** The transport reported an error (reset, TLS failure...). */
export const transportFailed = (cause: unknown): WebSocketError =>
  new WebSocketError(`The transport failed: ${describeError(cause)}`, { closeCode: 1006, code: "WS_ERR_TRANSPORT", cause });

/** The closing handshake took longer than `closeTimeout`. */
export const closeTimedOut = (): WebSocketError =>
  new WebSocketError("The closing handshake timed out", { closeCode: 1006, code: "WS_ERR_CLOSE_TIMEOUT" });

/** The peer broke the protocol; we closed with `closeCode`. */
export const protocolViolation = (closeCode: number, reason: string): WebSocketError =>
  new WebSocketError(reason || `The WebSocket failed with code ${closeCode}`, { closeCode, reason, code: "WS_ERR_PROTOCOL" });

/** We failed the connection with `closeCode` because of `cause` (an application error, a bad write...). */
export function failedWith(closeCode: number, reason: string, code: WsErrorCode, cause: unknown): WebSocketError {
  return new WebSocketError(cause instanceof Error ? cause.message : reason, { closeCode, reason, code, cause });
}

/** A bug surfaced as an exception from the engine after the handshake (we closed with 1011). */
export const internalError = (cause: unknown): WebSocketError =>
  new WebSocketError("Internal error", { closeCode: 1011, code: "WS_ERR_INTERNAL", cause });

/** A message came in more frames than `maxFragments` (we closed with 1008, as `ws` does). */
export const tooManyFragments = (maxFragments: number): WebSocketError =>
  new WebSocketError(`A message came in more than maxFragments (${maxFragments}) frames`, {
    closeCode: 1008,
    reason: "too many fragments",
    code: "WS_ERR_TOO_MANY_FRAGMENTS",
  });

/** No pong within `pingTimeout` (we closed with 1011). */
export const keepaliveTimedOut = (): WebSocketError =>
  new WebSocketError("No pong arrived within pingTimeout", { closeCode: 1011, reason: "keepalive ping timeout", code: "WS_ERR_KEEPALIVE_TIMEOUT" });

/** A ping whose pong never came because the session ended cleanly first. */
export const pongLost = (): WebSocketError => new WebSocketError("The WebSocket closed before the pong arrived", { code: "WS_ERR_CLOSED" });

/** The server refused the upgrade with HTTP `status` (the client's view), or we answered with it (the server's). */
export function handshakeRefused(message: string, code: WsErrorCode, init: Omit<WebSocketErrorInit, "closeCode" | "code">): WebSocketError {
  return new WebSocketError(message, { ...init, closeCode: 1006, code });
}
