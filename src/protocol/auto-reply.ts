/**
 * The one policy for automatic replies: which received events an endpoint
 * answers by itself. Used by `WSConnection.receiveBytes` (wsproto 0.x's
 * buffered style), the streams layer's sessions and `WebSocketCodec`.
 *
 * Invariants: pure (the caller sends the reply); a ping is answered with a
 * pong carrying its payload only while the connection is OPEN (RFC 6455
 * §5.5.2); a remote close with the close reply (§5.5.1) only in
 * REMOTE_CLOSING; a protocol violation with its close code (§7.1.7) only
 * while OPEN. Anything else gets no reply.
 * @module
 */
import type { Event } from "./events.ts";
import { ConnectionState } from "./types.ts";

/** Which automatic replies are switched on. */
export interface AutoReplyPolicy {
  /** Answer pings. */
  readonly autoPong: boolean;
  /** Answer a received close, and a protocol violation with its close code. */
  readonly autoCloseReply: boolean;
}

/**
 * The reply `event` calls for in `state` (the connection's state once the
 * event was read), or `null`.
 * @example
 * ```ts
 * const reply = autoReply(event, connection.state, { autoPong: true, autoCloseReply: true });
 * if (reply !== null) write(connection.send(reply));
 * ```
 */
export function autoReply(event: Event, state: ConnectionState, policy: AutoReplyPolicy): Event | null {
  if (event.type === "Ping") {
    // RFC 6455 §5.5.2: a ping is answered with a pong carrying the same payload.
    return policy.autoPong && state === ConnectionState.OPEN ? event.response() : null;
  }
  if (event.type !== "CloseConnection" || !policy.autoCloseReply) return null;
  // RFC 6455 §5.5.1: answer a close with a close (a received 1005, "no code", with an empty close frame).
  if (event.origin === "remote" && state === ConnectionState.REMOTE_CLOSING) return event.response();
  // RFC 6455 §7.1.7: fail the connection with the code; the parser is done for good.
  if (event.origin === "protocol-error" && state === ConnectionState.OPEN) return event.response();
  return null;
}
