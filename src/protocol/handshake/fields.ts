/**
 * What both ends of the HTTP/1.1 handshake read the same way: a header's
 * values joined (RFC 7230 §3.2.2), the `Upgrade: websocket` check, and how
 * a bad peer handshake becomes a `RemoteProtocolError` (a plain 400, or the
 * answer an `HttpError` calls for).
 *
 * Invariants: pure; nothing here throws: errors are returned for the caller to raise.
 * @module
 */
import { RemoteProtocolError, type WsErrorCode } from "../errors.ts";
import { RejectConnection } from "../events.ts";
import { HttpError } from "../http/message.ts";
import { equalsLowerAscii, isToken, parseTokenList } from "../http/headers.ts";
import type { Headers } from "../types.ts";

/**
 * All values of header `name` (lower-case) joined with `", "`, or `null` if
 * absent (RFC 7230 §3.2.2).
 * @example
 * ```ts
 * joined([["connection", "keep-alive"], ["connection", "Upgrade"]], "connection"); // "keep-alive, Upgrade"
 * ```
 */
export function joined(headers: Headers, name: string): string | null {
  let out: string | null = null;
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!; // indexed, not destructured: no iterator in baseline code
    const n = field[0];
    const v = field[1];
    if (n === name) out = join(out, v);
  }
  return out;
}

/**
 * One more value of a repeated header, as {@link joined} joins them.
 * @example
 * ```ts
 * join(join(null, "a"), "b"); // "a, b"
 * ```
 */
export function join(out: string | null, value: string): string {
  return out === null ? value : `${out}, ${value}`;
}

/**
 * RFC 6455 §4.2.1 item 3 / §4.1 item 2: `Upgrade` is exactly `websocket`, case-insensitively.
 * @example
 * ```ts
 * isWebSocketUpgrade("WebSocket"); // true
 * isWebSocketUpgrade("h2c");       // false
 * ```
 */
export function isWebSocketUpgrade(value: string | null): boolean {
  if (value === null) return false;
  if (isToken(value)) return equalsLowerAscii(value, "websocket"); // the usual one-token value, nothing parsed
  try {
    const tokens = parseTokenList(value);
    return tokens.length === 1 && equalsLowerAscii(tokens[0]!, "websocket");
  } catch {
    return false;
  }
}

/**
 * The error for a bad peer handshake answered with a plain 400.
 * @example
 * ```ts
 * throw reject400("Missing header, 'Host'", "WS_ERR_HANDSHAKE_HEADER");
 * ```
 */
export function reject400(message: string, code: WsErrorCode): RemoteProtocolError {
  return new RemoteProtocolError(message, new RejectConnection(), code);
}

/**
 * The peer's fault an {@link HttpError} stands for, as the handshake raises
 * it: too much before the handshake completed, a head over the limits
 * (431 for a request, 400 for a response), or a malformed message (400).
 * @example
 * ```ts
 * fromHttpError(new HttpError("Header too large", 431), false, 16384).eventHint; // RejectConnection 431
 * ```
 */
export function fromHttpError(error: HttpError, client: boolean, maxHandshakeSize: number): RemoteProtocolError {
  if (error.tooMuchData) {
    // RFC 6455 §4.1: a client MUST wait for the 101 before sending frames.
    const message = `More than ${maxHandshakeSize} bytes received before the handshake completed`;
    return new RemoteProtocolError(message, new RejectConnection(), "WS_ERR_HANDSHAKE_TOO_LARGE");
  }
  if (error.status === 431) {
    const message = client ? "Response head too large" : "Request header fields too large";
    const hint = new RejectConnection({ statusCode: client ? 400 : 431 });
    return new RemoteProtocolError(message, hint, "WS_ERR_HANDSHAKE_TOO_LARGE");
  }
  return reject400("Bad HTTP message", "WS_ERR_BAD_HTTP");
}
