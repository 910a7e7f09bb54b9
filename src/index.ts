/**
 * wsproto for TypeScript: a sans-I/O WebSocket engine (RFC 6455, RFC 7692)
 * and WHATWG streams around it. The Node socket adapter has its own entry
 * point, `wsproto/node`, so this one loads no `node:*` module.
 * @module
 */
export * from "./protocol/index.ts";
export * from "./streams/index.ts";
