/**
 * Enums and shared value types, with wsproto's member names and numbers.
 *
 * Enums are `as const` objects (erasable TypeScript) plus a type of the same
 * name for their values.
 *
 * Invariants: member names and numbers are wsproto's and never change.
 * @module
 */

/**
 * Which end of the connection this object plays.
 * @example
 * ```ts
 * import { ConnectionType, WSConnection } from "wsproto";
 * const ws = new WSConnection(ConnectionType.CLIENT);
 * ```
 */
export const ConnectionType = { CLIENT: 1, SERVER: 2 } as const;
/** A value of {@link ConnectionType}. */
export type ConnectionType = (typeof ConnectionType)[keyof typeof ConnectionType];

/**
 * The state of a connection, as wsproto numbers them.
 * @example
 * ```ts
 * import { ConnectionState } from "wsproto";
 * if (ws.state === ConnectionState.OPEN) ws.send(new TextMessage({ data: "hi" }));
 * ```
 */
export const ConnectionState = {
  CONNECTING: 0,
  OPEN: 1,
  REMOTE_CLOSING: 2,
  LOCAL_CLOSING: 3,
  CLOSED: 4,
  REJECTING: 5,
} as const;
/** A value of {@link ConnectionState}. */
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** The name of a {@link ConnectionState} value, e.g. `"OPEN"` (for messages). */
export function connectionStateName(state: ConnectionState): string {
  for (const [name, value] of Object.entries(ConnectionState)) if (value === state) return name;
  return String(state);
}

/**
 * RFC 6455 §5.2 frame opcodes.
 * @example
 * ```ts
 * import { Opcode, isControlOpcode } from "wsproto";
 * isControlOpcode(Opcode.PING); // true
 * ```
 */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;
/** A value of {@link Opcode}. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** RFC 6455 §5.5: control frames have the high bit of the opcode set. */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/**
 * RFC 6455 §7.4.1 close status codes (the members wsproto knows; 1004 and
 * 1014 are deliberately absent).
 * @example
 * ```ts
 * import { CloseReason, CloseConnection } from "wsproto";
 * ws.send(new CloseConnection({ code: CloseReason.GOING_AWAY, reason: "bye" }));
 * ```
 */
export const CloseReason = {
  NORMAL_CLOSURE: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS_RCVD: 1005,
  ABNORMAL_CLOSURE: 1006,
  INVALID_FRAME_PAYLOAD_DATA: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXT: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  TLS_HANDSHAKE_FAILED: 1015,
} as const;
/** A value of {@link CloseReason}. */
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

/** Codes that only describe local conditions and must never be sent in a close frame (RFC 6455 §7.4.1). */
export const LOCAL_ONLY_CLOSE_CODES: ReadonlySet<number> = new Set([1005, 1006, 1015]);

/** `true` when `code` is one of the {@link CloseReason} members. */
export function isKnownCloseReason(code: number): boolean {
  return KNOWN_CODES.has(code);
}
const KNOWN_CODES: ReadonlySet<number> = new Set(Object.values(CloseReason));

/**
 * HTTP header list: `[name, value]` pairs in wire order. Received names are
 * lower-cased; values are kept as sent.
 */
export type Headers = Array<[string, string]>;

/**
 * A source of random bytes: fills `target` in place, like
 * `crypto.getRandomValues`. Injected so tests can be deterministic.
 */
export type RandomSource = (target: Uint8Array) => void;
