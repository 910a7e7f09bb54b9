/**
 * The engine's errors and the one vocabulary of error codes. Every error this
 * library raises or rejects with (`LocalProtocolError`, `RemoteProtocolError`,
 * the streams layer's `WebSocketError`) carries a stable string `code` from
 * {@link WS_ERROR_CODES}, so programs need not match message texts.
 *
 * Invariants: `WS_ERROR_CODES` lists every `"WS_ERR_*"` literal in `src/`
 * (a test scans for them); a code, once published, keeps its meaning.
 * @module
 */
import type { Event } from "./events.ts";

/**
 * Every error code, with when it is raised. `WsErrorCode` is their union.
 * @example
 * ```ts
 * WS_ERROR_CODES.includes(error.code); // true for every error of this library
 * ```
 */
export const WS_ERROR_CODES = [
  // --- Misuse by the caller (LocalProtocolError) ---------------------------
  /** A `LocalProtocolError` created without a code. */
  "WS_ERR_LOCAL_PROTOCOL",
  /** An event or call the connection's state forbids (e.g. sending a message while CONNECTING). */
  "WS_ERR_INVALID_STATE",
  /** `ConnectionType` is neither CLIENT nor SERVER. */
  "WS_ERR_INVALID_CONNECTION_TYPE",
  /** An option out of range or of the wrong type, or options that cannot be combined. */
  "WS_ERR_INVALID_OPTION",
  /** A value of the wrong type: `receiveData` without a Uint8Array, a message that is neither text nor bytes. */
  "WS_ERR_INVALID_DATA_TYPE",
  /** A zlib input (Node codec) that is not a byte view. */
  "WS_ERR_INVALID_ARGUMENT",
  /** Text with a lone surrogate, which UTF-8 cannot encode. */
  "WS_ERR_INVALID_UTF16",
  /** A header name or value we would send that is not valid HTTP (CR/LF injection, a non-token name). */
  "WS_ERR_INVALID_HEADER",
  /** A `Request.host` that is not a valid host name. */
  "WS_ERR_INVALID_HOST",
  /** A request target that is not printable ASCII without spaces. */
  "WS_ERR_INVALID_TARGET",
  /** A subprotocol that is not a token, or one the client did not offer. */
  "WS_ERR_INVALID_SUBPROTOCOL",
  /** An extension object, offer or answer that is invalid, or an extension hook that threw. */
  "WS_ERR_INVALID_EXTENSION",
  /** A rejection or response status outside what may be sent (or a body on 204/304). */
  "WS_ERR_INVALID_STATUS",
  /** A rejection body longer or shorter than its declared Content-Length. */
  "WS_ERR_BODY_LENGTH",
  /** A close code that may not be sent (RFC 6455 §7.4). */
  "WS_ERR_INVALID_CLOSE_CODE",
  /** A close reason over 123 UTF-8 bytes (RFC 6455 §5.5). */
  "WS_ERR_INVALID_CLOSE_REASON",
  /** A close reason given without a close code (RFC 6455 §5.5.1). */
  "WS_ERR_CLOSE_REASON_WITHOUT_CODE",
  /** A ping, pong or close payload over 125 bytes (RFC 6455 §5.5). */
  "WS_ERR_CONTROL_PAYLOAD_TOO_LONG",
  /** A continuation frame of another type than the message it continues. */
  "WS_ERR_DATA_TYPE_MISMATCH",
  /** Sending on a `Connection` that is already CLOSED. */
  "WS_ERR_CONNECTION_CLOSED",
  /** An event of a type this library does not know. */
  "WS_ERR_UNKNOWN_EVENT",
  /** A message of the wrong type written to a session (closes it with 1011). */
  "WS_ERR_INVALID_MESSAGE",
  /** A socket or transport already driven by another WebSocket session. */
  "WS_ERR_TRANSPORT_IN_USE",
  /** A `ws:`/`wss:` URL that cannot be parsed. */
  "WS_ERR_INVALID_URL",
  /** No WHATWG streams on this platform and no implementation installed. */
  "WS_ERR_NO_STREAMS",
  // --- permessage-deflate ----------------------------------------------------
  /** Reconfiguring a `PerMessageDeflate` after it was negotiated. */
  "WS_ERR_PMD_NEGOTIATED",
  /** Compressing or inflating with a `PerMessageDeflate` that was never negotiated. */
  "WS_ERR_PMD_NOT_NEGOTIATED",
  /** A client configured to offer `clientMaxWindowBits: 8` (zlib cannot deflate with it). */
  "WS_ERR_PMD_WINDOW_BITS",
  /** The server's permessage-deflate response is one RFC 7692 §7 says to fail. */
  "WS_ERR_PMD_NEGOTIATION",
  /** A deflate codec refused its parameters (window bits, level, memory level). */
  "WS_ERR_DEFLATE_OPTIONS",
  /** The deflate codec failed while compressing or resetting. */
  "WS_ERR_DEFLATE_FAILED",
  // --- The peer's handshake (RemoteProtocolError) ----------------------------
  /** A `RemoteProtocolError` created without a code. */
  "WS_ERR_REMOTE_PROTOCOL",
  /** Malformed HTTP from the peer, or the stream ended before a response. */
  "WS_ERR_BAD_HTTP",
  /** A handshake head, or the bytes before the handshake completed, over `maxHandshakeSize`/`maxHeaders`. */
  "WS_ERR_HANDSHAKE_TOO_LARGE",
  /** An upgrade request whose method is not GET. */
  "WS_ERR_HANDSHAKE_METHOD",
  /** A missing or invalid `Connection`, `Upgrade` or `Host`, or bad header syntax. */
  "WS_ERR_HANDSHAKE_HEADER",
  /** A missing or unsupported `Sec-WebSocket-Version` (answered 426). */
  "WS_ERR_HANDSHAKE_VERSION",
  /** An upgrade request below HTTP/1.1. */
  "WS_ERR_HANDSHAKE_HTTP_VERSION",
  /** An upgrade request with a body. */
  "WS_ERR_HANDSHAKE_BODY",
  /** A missing or invalid `Sec-WebSocket-Key`. */
  "WS_ERR_HANDSHAKE_KEY",
  /** A `Sec-WebSocket-Accept` that does not match the key sent. */
  "WS_ERR_HANDSHAKE_ACCEPT",
  /** A `Sec-WebSocket-Protocol` that is invalid or was not offered. */
  "WS_ERR_HANDSHAKE_SUBPROTOCOL",
  /** A `Sec-WebSocket-Extensions` that is invalid, not offered, repeated or refused. */
  "WS_ERR_HANDSHAKE_EXTENSION",
  // --- Sessions (WebSocketError) ---------------------------------------------
  /** A `WebSocketError` created without a code. */
  "WS_ERR_WEBSOCKET",
  /** The opening handshake failed (a code-less cause). */
  "WS_ERR_HANDSHAKE",
  /** The server answered the upgrade with an HTTP rejection (status, headers and body on the error). */
  "WS_ERR_HANDSHAKE_REJECTED",
  /** The opening handshake did not complete within `handshakeTimeout`. */
  "WS_ERR_HANDSHAKE_TIMEOUT",
  /** The session was closed or aborted before its opening handshake completed. */
  "WS_ERR_HANDSHAKE_ABORTED",
  /** A plain HTTP request reached a WebSocket endpoint (answered by `handleHttp` or refused). */
  "WS_ERR_PLAIN_HTTP",
  /** The transport ended without a closing handshake (close code 1006). */
  "WS_ERR_ABNORMAL_CLOSURE",
  /** The closing handshake did not complete within `closeTimeout`. */
  "WS_ERR_CLOSE_TIMEOUT",
  /** A keepalive ping got no pong within `pingTimeout` (closed with 1011). */
  "WS_ERR_KEEPALIVE_TIMEOUT",
  /** The peer violated the protocol; the close code says how (1002, 1007, 1009 ...). */
  "WS_ERR_PROTOCOL",
  /** A message came in more than `maxFragments` frames (closed with 1008). */
  "WS_ERR_TOO_MANY_FRAGMENTS",
  /** Sending after the session was closed. */
  "WS_ERR_CLOSED",
  /** Sending while the session is closing. */
  "WS_ERR_CLOSING",
  /** The transport's stream failed. */
  "WS_ERR_TRANSPORT",
  /** An unexpected internal failure (closed with 1011). */
  "WS_ERR_INTERNAL",
  /** The application's `onMessage` handler threw or rejected (closed with 1011). */
  "WS_ERR_MESSAGE_HANDLER",
  /** The application's `onPing` or `onPong` callback threw (closed with 1011). */
  "WS_ERR_HANDLER",
  // --- Topics across processes (wsproto/redis) ------------------------------
  /** The Redis backplane lost a connection (it reconnects by itself; local subscribers are still served). */
  "WS_ERR_BACKPLANE_DOWN",
  /** The Redis backplane's buffer for an outage was full: messages were dropped for the other processes. */
  "WS_ERR_BACKPLANE_DROPPED",
  /** The Redis backplane could not subscribe. */
  "WS_ERR_BACKPLANE_SUBSCRIBE",
  // --- Node adapters ---------------------------------------------------------
  /** The HTTP/2 extended CONNECT (RFC 8441) failed. */
  "WS_ERR_HTTP2",
  /** The HTTP proxy could not be reached or refused the CONNECT. */
  "WS_ERR_PROXY",
  /** A redirect that may not be followed (an invalid URL, wss: to ws:, a loop, too many). */
  "WS_ERR_REDIRECT",
] as const;

/**
 * A stable error code of this library (see {@link WS_ERROR_CODES} for when
 * each is raised).
 * @example
 * ```ts
 * function isTimeout(code: WsErrorCode): boolean {
 *   return code === "WS_ERR_HANDSHAKE_TIMEOUT" || code === "WS_ERR_CLOSE_TIMEOUT";
 * }
 * ```
 */
export type WsErrorCode = (typeof WS_ERROR_CODES)[number];

/** Base class of {@link LocalProtocolError} and {@link RemoteProtocolError}. */
export class ProtocolError extends Error {
  /** A stable identifier, e.g. `"WS_ERR_INVALID_STATE"`. */
  readonly code: WsErrorCode;
  constructor(message: string, code: WsErrorCode) {
    super(message);
    this.code = code;
  }
}

/**
 * The local side asked for something the state or the RFC forbids. Nothing
 * was written and the state did not change.
 * @example
 * ```ts
 * try { conn.send(new Ping({ payload: new Uint8Array(200) })); }
 * catch (e) { if (e instanceof LocalProtocolError) console.log(e.code); }
 * ```
 */
export class LocalProtocolError extends ProtocolError {
  constructor(message: string, code: WsErrorCode = "WS_ERR_LOCAL_PROTOCOL") {
    super(message, code);
    this.name = "LocalProtocolError";
  }
}

/**
 * The peer's handshake bytes were invalid. `eventHint` is the event to send
 * back (usually a `RejectConnection`), or `null`.
 * @example
 * ```ts
 * try { ws.receiveData(bytes); }
 * catch (e) {
 *   if (e instanceof RemoteProtocolError && e.eventHint) socket.write(ws.send(e.eventHint));
 * }
 * ```
 */
export class RemoteProtocolError extends ProtocolError {
  readonly eventHint: Event | null;
  constructor(message: string, eventHint: Event | null = null, code: WsErrorCode = "WS_ERR_REMOTE_PROTOCOL") {
    super(message, code);
    this.name = "RemoteProtocolError";
    this.eventHint = eventHint;
  }
}
