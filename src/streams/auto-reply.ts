/**
 * The one policy for automatic replies, shared by the session
 * (`connectWebSocket` / `acceptWebSocket`) and {@link WebSocketCodec}: which
 * received events an endpoint answers by itself, and how many answers may
 * wait when the peer does not read them.
 *
 * Invariants:
 * - A ping is answered with a pong carrying its payload while the connection
 *   is OPEN (RFC 6455 §5.5.2); a remote close with the close reply (§5.5.1);
 *   a protocol violation with its close code (§7.1.7).
 * - At most ONE automatic pong waits while the outbound side is above its
 *   high-water mark: a newer ping replaces the waiting pong's payload
 *   (RFC 6455 §5.5.3 lets an endpoint answer only the latest ping), and the
 *   transport is not read until the outbound side drains. So a peer that
 *   floods pings and never reads costs at most 127 bytes (one pong frame)
 *   beyond the high-water mark.
 * @module
 */
import { ConnectionState } from "../protocol/types.ts";
import type { Event } from "../protocol/events.ts";

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
  // RFC 6455 §5.5.1: answer a close with a close.
  if (event.origin === "remote" && state === ConnectionState.REMOTE_CLOSING) return event.response();
  // RFC 6455 §7.1.7: fail the connection with the code; the parser is done for good.
  if (event.origin === "protocol-error" && state === ConnectionState.OPEN) return event.response();
  return null;
}
