/**
 * The handshake's keys (RFC 6455 §4.1, §4.2.2): how a client draws its
 * `Sec-WebSocket-Key`, how a server checks it, and the `Sec-WebSocket-Accept`
 * token that proves the server read it. Also the one protocol version spoken.
 *
 * Invariants: pure functions; randomness only through the `RandomSource`
 * passed in; `generateAcceptToken` hashes from module scratch buffers
 * (synchronous, never re-entered), so it allocates only its result.
 * @module
 */
import { base64DecodedLength, base64Encode } from "../bytes/encoding.ts";
import { sha1Into } from "../bytes/sha1.ts";
import type { RandomSource } from "../types.ts";

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
export const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** RFC 6455 §4.1: the only protocol version this engine speaks. */
export const WEBSOCKET_VERSION = "13";

/**
 * RFC 6455 §4.2.2: the `Sec-WebSocket-Accept` value for a key,
 * `base64(SHA-1(key ‖ GUID))`. The key is used as sent (its latin-1 bytes),
 * without trimming or decoding.
 * @example
 * ```ts
 * generateAcceptToken("dGhlIHNhbXBsZSBub25jZQ=="); // "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
 * ```
 */
export function generateAcceptToken(key: string): string {
  // Hashed from a reused buffer (key bytes, then the GUID's): no intermediate string or array.
  const length = key.length + ACCEPT_GUID.length;
  const input = length <= ACCEPT_INPUT.length ? ACCEPT_INPUT : new Uint8Array(length);
  for (let i = 0; i < key.length; i++) input[i] = key.charCodeAt(i); // latin-1: one byte per code unit
  input.set(GUID_BYTES, key.length);
  return base64Encode(sha1Into(input, length, ACCEPT_DIGEST));
}

const GUID_BYTES = Uint8Array.from(ACCEPT_GUID, (c) => c.charCodeAt(0));
// Scratch for generateAcceptToken (synchronous, never re-entered): room for a 24-character key.
const ACCEPT_INPUT = new Uint8Array(64);
const ACCEPT_DIGEST = new Uint8Array(20);

/**
 * RFC 6455 §4.1: a `Sec-WebSocket-Key`, the base64 of 16 bytes drawn from `random`.
 * @example
 * ```ts
 * generateNonce(sequentialRandom()); // "AAECAwQFBgcICQoLDA0ODw=="
 * ```
 */
export function generateNonce(random: RandomSource): string {
  const bytes = new Uint8Array(16);
  random(bytes);
  return base64Encode(bytes);
}

/**
 * RFC 6455 §4.2.1: `true` when `key` is base64 that decodes to exactly 16 bytes.
 * @example
 * ```ts
 * isValidNonce("dGhlIHNhbXBsZSBub25jZQ=="); // true
 * isValidNonce("short");                    // false
 * ```
 */
export function isValidNonce(key: string): boolean {
  return key.length === 24 && base64DecodedLength(key) === 16;
}
