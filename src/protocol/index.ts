/**
 * The sans-I/O core: pure computation over Uint8Arrays and strings.
 * @module
 */
export * from "./types.ts";
export * from "./errors.ts";
export * from "./events.ts";
export { pooledRandom, sequentialRandom } from "./bytes/random.ts";
export type { ConnectionOptions } from "./options.ts";
export { builtinMask, type MaskFunction } from "./bytes/mask.ts";
export * from "./extensions/extension.ts";
// Each module below owns its own exports:
export * from "./frames/connection.ts";
export * from "./handshake/handshake.ts";
export * from "./ws-connection.ts";
export * from "./http/headers.ts";
export * from "./extensions/index.ts";
