/**
 * Automatic replies in the streams layer, shared by the session
 * (`connectWebSocket` / `acceptWebSocket`) and {@link WebSocketCodec}. The
 * policy (which received events an endpoint answers by itself) is the
 * protocol's (`src/protocol/auto-reply.ts`, also used by `WSConnection`'s
 * 0.x calls), re-exported here for the streams' importers.
 *
 * Invariant of the streams layer: at most ONE automatic pong waits while the
 * outbound side is above its high-water mark: a newer ping replaces the
 * waiting pong's payload (RFC 6455 §5.5.3 lets an endpoint answer only the
 * latest ping), and the transport is not read until the outbound side
 * drains. So a peer that floods pings and never reads costs at most 127
 * bytes (one pong frame) beyond the high-water mark.
 * @module
 */
export { autoReply, type AutoReplyPolicy } from "../protocol/auto-reply.ts";
