/**
 * Which close codes may travel in a close frame, and how long a close
 * reason may be (RFC 6455 §5.5, §7.4): the one definition every layer uses
 * (the frame protocol, the sessions' `close()`, the Node server's).
 *
 * Invariants: pure; `checkCloseReason` throws only `LocalProtocolError`
 * (`WS_ERR_INVALID_CLOSE_REASON`) and encodes nothing for reasons short
 * enough to fit whatever their characters.
 * @module
 */
import { isWellFormed } from "./bytes/utf8.ts";
import { LocalProtocolError } from "./errors.ts";
import { LOCAL_ONLY_CLOSE_CODES, isKnownCloseReason } from "./types.ts";

/** RFC 6455 §7.4: the smallest close code a peer may send. */
export const MIN_CLOSE_CODE = 1000;
/** RFC 6455 §7.4: the largest close code a peer may send. */
export const MAX_CLOSE_CODE = 4999;
/** Codes 1000-2999 are reserved for the protocol; only the assigned ones are valid. */
export const MAX_PROTOCOL_CLOSE_CODE = 2999;
/** RFC 6455 §5.5: a control frame payload is at most 125 bytes, 2 of them the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * `true` when `code` may travel in a close frame (RFC 6455 §7.4): 1000-4999,
 * not one of the local-only codes 1005/1006/1015, and in 1000-2999 only the
 * assigned ones (1004, 1014 and 1016-2999 are reserved).
 * @example
 * ```ts
 * isSendableCloseCode(1000); // true
 * isSendableCloseCode(1006); // false
 * ```
 */
export function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code) || code < MIN_CLOSE_CODE || code > MAX_CLOSE_CODE) return false;
  if (LOCAL_ONLY_CLOSE_CODES.has(code)) return false;
  return code > MAX_PROTOCOL_CLOSE_CODE || isKnownCloseReason(code);
}

/**
 * Refuse a close reason that cannot be sent as it is: one with a lone
 * surrogate (RFC 6455 §5.5.1: the reason is UTF-8) or over
 * {@link MAX_CLOSE_REASON_BYTES} UTF-8 bytes. (The frame protocol itself
 * cuts a long reason at a character boundary, as wsproto does; the layers
 * above refuse it instead, before anything is sent.)
 * @throws LocalProtocolError (`WS_ERR_INVALID_CLOSE_REASON`).
 * @example
 * ```ts
 * checkCloseReason("bye");          // ok
 * checkCloseReason("é".repeat(62)); // throws: 124 bytes
 * ```
 */
export function checkCloseReason(reason: string): void {
  if (!isWellFormed(reason)) {
    throw new LocalProtocolError("A close reason must be valid Unicode (it has a lone surrogate)", "WS_ERR_INVALID_CLOSE_REASON");
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short reasons fit without counting.
  if (reason.length > MAX_CLOSE_REASON_BYTES / 3 && utf8Length(reason) > MAX_CLOSE_REASON_BYTES) {
    throw new LocalProtocolError(`A close reason is at most ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes`, "WS_ERR_INVALID_CLOSE_REASON");
  }
}

/** The UTF-8 length of well-formed `text`, without encoding it. */
function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4; // a surrogate pair (well-formed: the low half follows)
      i++;
    } else n += 3;
  }
  return n;
}
