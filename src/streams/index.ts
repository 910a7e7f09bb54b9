/**
 * WHATWG streams around the core: `WebSocketCodec`, `connectWebSocket`,
 * `acceptWebSocket`. Portable: no `node:*` imports.
 * @module
 */
export * from "./codec.ts";
export * from "./websocket-stream.ts";
