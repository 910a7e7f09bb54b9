/**
 * The sans-I/O core: pure computation over Uint8Arrays and strings.
 *
 * Invariant: a barrel, the public set of `wsproto/protocol`; it defines nothing.
 * @module
 */
export * from "./types.ts";
export * from "./errors.ts";
export { MAX_CLOSE_REASON_BYTES, checkCloseReason, isSendableCloseCode } from "./close-codes.ts";
export * from "./events.ts";
export { pooledRandom, sequentialRandom } from "./bytes/random.ts";
export type { ConnectionOptions } from "./options.ts";
export { builtinMask, type MaskFunction } from "./bytes/mask.ts";
export * from "./extensions/extension.ts";
// Each module below owns its own exports:
export * from "./frames/connection.ts";
export * from "./handshake/handshake.ts";
export type { ReceivedRequestLine } from "./handshake/server.ts";
export { clientExtensionsHandshake, serverExtensionsHandshake } from "./handshake/negotiation.ts";
export * from "./handshake/accept-key.ts";
export * from "./ws-connection.ts";
export * from "./http/headers.ts";
export * from "./extensions/index.ts";
