/**
 * `connectWebSocket` / `acceptWebSocket`: a WebSocket over any pair of byte
 * streams, shaped like the WHATWG `WebSocketStream`. The session itself lives
 * in `./session/` (a core and its parts: handshake, inbound, outbound,
 * keepalive, close, pipe); this module is the stable import path for it.
 * @module
 */
export type { ByteTransport, PortProvider, TransportHandler, TransportPort } from "./transport.ts";
export { StreamsPort, TRANSPORT_PORT, transportPort } from "./transport.ts";
export { streamsImplementation, useStreamsImplementation, hasNativeStreams, type StreamsImplementation } from "./streams-implementation.ts";
export * from "./session/types.ts";
export { WebSocketSession, acceptWebSocket, connectWebSocket } from "./session/session.ts";
