/**
 * WHATWG streams around the core: `WebSocketCodec`, `connectWebSocket`,
 * `acceptWebSocket`, and fetch-style body pairs as transports
 * (`bodyTransport`, `fetchTransport`). Portable: no `node:*` imports.
 * @module
 */
export * from "./codec.ts";
export * from "./sessions.ts";
export * from "./body-transport.ts";
export * from "./broadcast.ts";
export type { Backplane, BackplaneHandler, DeliverFunction, PublishOptions, TopicsOptions } from "./topics.ts";
