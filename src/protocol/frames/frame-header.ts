/**
 * RFC 6455 §5.2: the frame header's layout and length rules, and masking a
 * payload in place with a frame's key. What the builder (frame-builder.ts)
 * and the reader (frame-reader.ts) share.
 *
 * Invariants: constants and pure functions only.
 * @module
 */
import { LocalProtocolError } from "../errors.ts";
import { maskInPlace, packKey } from "../bytes/mask.ts";
import type { Opcode } from "../types.ts";

/** Byte 0: the FIN bit. */
export const FIN_BIT = 0x80;
/** Byte 0: the three reserved bits (RSV1 = 0x40, RSV2 = 0x20, RSV3 = 0x10). */
export const RSV_MASK = 0x70;
/** Byte 0: the opcode nibble. */
export const OPCODE_MASK = 0x0f;
/** Byte 1: the MASK bit. */
export const MASK_BIT = 0x80;
/** Byte 1: the 7-bit length. */
export const LEN7_MASK = 0x7f;
/** Largest payload a 7-bit length (and a control frame, RFC 6455 §5.5) carries. */
export const MAX_PAYLOAD_NORMAL = 125;
/** Largest payload a 16-bit extended length carries. */
export const MAX_PAYLOAD_TWO_BYTE = 65535;
/** The 7-bit length value announcing a 16-bit extended length. */
export const PAYLOAD_LENGTH_TWO_BYTE = 126;
/** The 7-bit length value announcing a 64-bit extended length. */
export const PAYLOAD_LENGTH_EIGHT_BYTE = 127;

/**
 * A violation of the framing rules by the peer. `closeCode` is the close code
 * to fail the connection with (1002 unless noted). Internal: the connection
 * turns it into a `CloseConnection` event, it never reaches the application.
 * @example
 * ```ts
 * throw new ParseFailed("Invalid opcode 0x3");
 * ```
 */
export class ParseFailed extends Error {
  readonly closeCode: number;
  constructor(message: string, closeCode = 1002) {
    super(message);
    this.name = "ParseFailed";
    this.closeCode = closeCode;
  }
}

/**
 * `true` for the six opcodes RFC 6455 §5.2 defines (the others are reserved).
 * @example
 * ```ts
 * isKnownOpcode(0x9); // true
 * isKnownOpcode(0x3); // false
 * ```
 */
export function isKnownOpcode(opcode: number): opcode is Opcode {
  return opcode <= 2 || (opcode >= 8 && opcode <= 10);
}

/**
 * Length of the header (with the masking key when `masked`) of a frame
 * carrying `payloadLength` bytes, using the minimal length encoding (§5.2).
 * @example
 * ```ts
 * frameHeaderLength(200, true); // 2 + 2 + 4
 * ```
 */
export function frameHeaderLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength <= MAX_PAYLOAD_NORMAL ? 2 : payloadLength <= MAX_PAYLOAD_TWO_BYTE ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * XOR `buf[start, end)` in place with the 4-byte `key`, the first byte using
 * `key[phase % 4]` (so a payload split across chunks keeps the key phase).
 * RFC 6455 §5.3: octet i of the payload is XORed with octet i mod 4 of the key.
 * WebAssembly SIMD for long ranges, JavaScript words for short ones (mask.ts).
 * @example
 * ```ts
 * const data = new Uint8Array([1, 2, 3]);
 * xorMask(data, 0, 3, new Uint8Array([1, 2, 3, 4]), 0); // data is now 0, 0, 0
 * ```
 */
export function xorMask(buf: Uint8Array, start: number, end: number, key: Uint8Array, phase: number): void {
  maskInPlace(buf, start, end, packKey(key), phase);
}

/** `size` bytes from a caller's allocator, checked (its misuse must not corrupt a frame or payload). */
export function allocated(allocate: (size: number) => Uint8Array, size: number): Uint8Array {
  const out: unknown = allocate(size);
  if (!(out instanceof Uint8Array) || out.length !== size) {
    throw new LocalProtocolError(`allocate(${size}) must return a Uint8Array of ${size} bytes`, "WS_ERR_INVALID_OPTION");
  }
  return out;
}
