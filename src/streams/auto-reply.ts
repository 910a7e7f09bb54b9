/**
 * Automatic replies in the streams layer, shared by the session
 * (`connectWebSocket` / `acceptWebSocket`) and {@link WebSocketCodec}: the
 * policy (which received events an endpoint answers by itself) is
 * `src/protocol/auto-reply.ts`'s; here, how many answers may wait when the
 * peer does not read them.
 *
 * Invariants:
 * - A ping is answered with a pong carrying its payload while the connection
 *   is OPEN (RFC 6455 §5.5.2); a remote close with the close reply (§5.5.1);
 *   a protocol violation with its close code (§7.1.7).
 * - At most ONE automatic pong waits while the outbound side is above its
 *   high-water mark: a newer ping replaces the waiting pong's payload
 *   (RFC 6455 §5.5.3 lets an endpoint answer only the latest ping), and the
 *   transport is not read until the outbound side drains. So a peer that
 *   floods pings and never reads costs at most
 *   `MAX_PENDING_AUTO_PONGS × 127` bytes beyond the high-water mark.
 * @module
 */
// The policy itself is the protocol's (pure, also used by WSConnection's 0.x calls).
export { autoReply, type AutoReplyPolicy } from "../protocol/auto-reply.ts";

/** Automatic pongs that may wait for the outbound side to drain (the latest ping's). */
export const MAX_PENDING_AUTO_PONGS = 1;
