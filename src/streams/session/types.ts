/**
 * The public types of a WebSocket session: options of both roles, the
 * handshake decision, what `opened` and `closed` give, and
 * {@link WebSocketError}.
 *
 * Invariants:
 * - Types only (and the error class): this module holds no state and no bytes.
 * @module
 */
import type { BytesMessage, Message, Request, TextMessage } from "../../protocol/events.ts";
import type { WebSocketSession } from "./session.ts";
import type { Extension } from "../../protocol/extensions/extension.ts";
import type { ConnectionOptions } from "../../protocol/options.ts";
import type { Headers } from "../../protocol/types.ts";
import type { StreamsImplementation } from "../streams-implementation.ts";
import type { HttpHandler } from "../plain-http.ts";

/** A piece of a message, delivered when `fragments: true`; `messageFinished` marks the last piece. */
export type MessageChunk = TextMessage | BytesMessage;

/**
 * What the writable takes: a string (a TEXT message), bytes in any
 * `BufferSource` form (a BINARY message), or a `Message` event, whose
 * `messageFinished: false` sends a fragment of a longer message.
 */
export type WebSocketWritable = string | ArrayBuffer | ArrayBufferView | AnyMessage;

/** A message event of any of the three classes. */
export type AnyMessage = Message | TextMessage | BytesMessage;

/** What `opened` resolves with (the WHATWG `WebSocketOpenInfo`). */
export interface WebSocketOpenInfo<R = string | Uint8Array> {
  /** Received messages: whole (`string` / `Uint8Array`) or, with `fragments: true`, {@link MessageChunk}s. */
  readonly readable: ReadableStream<R>;
  /** Messages to send. Closing it closes the WebSocket (without a status code). */
  readonly writable: WritableStream<WebSocketWritable>;
  /** The negotiated subprotocol, `""` if none. */
  readonly protocol: string;
  /** The negotiated `Sec-WebSocket-Extensions` value, `""` if none. */
  readonly extensions: string;
}

/** The peer's network address (`ws`'s `req.socket.remoteAddress` / `remotePort`). */
export interface PeerInfo {
  /** The peer's IP address, such as `"127.0.0.1"` or `"::1"`. */
  readonly address: string;
  readonly port: number;
  /** `"IPv4"` or `"IPv6"`. */
  readonly family: string;
}

/** Which application callback failed: `onError`'s second argument. */
export interface HandlerContext {
  /** `"onMessage"`, `"onPing"`, `"onPong"`, `"handleRequest"`, `"handleHttp"` (servers add their own, such as `"onSession"`). */
  readonly handler: string;
  /** The peer's address, when known. */
  readonly peer?: PeerInfo;
}

/** A close code and reason (the WHATWG `WebSocketCloseInfo`). */
export interface WebSocketCloseInfo {
  closeCode: number;
  reason: string;
}

/** Options of {@link WebSocketError}. */
export interface WebSocketErrorInit {
  /** The close code (1006 when no close frame came). @default 1000 when `reason` is given, else `null` */
  closeCode?: number | null;
  /** @default "" */
  reason?: string;
  /** A stable identifier such as `"WS_ERR_ABNORMAL_CLOSURE"`. @default "WS_ERR_WEBSOCKET" */
  code?: string;
  /** HTTP status of a rejected opening handshake. */
  status?: number;
  /** Headers of a rejected opening handshake. */
  headers?: Headers;
  /** Body of a rejected opening handshake (at most `maxRejectionBodySize` bytes). */
  body?: Uint8Array;
  cause?: unknown;
}

/**
 * The base of {@link WebSocketError}: the runtime's `DOMException` (every
 * supported runtime has one), else `Error`. Typed as an `Error` constructor
 * because `DOMException`'s numeric `code` is shadowed by the string one.
 */
const ErrorBase: new (message: string, name: string) => Error =
  typeof DOMException === "function"
    ? (DOMException as unknown as new (message: string, name: string) => Error)
    : class extends Error {
        constructor(message: string, name: string) {
          super(message);
          Object.defineProperty(this, "name", { value: name, writable: true, configurable: true });
        }
      };

/**
 * Why a WebSocket failed or closed uncleanly: `closed` rejects with it (and
 * `opened`, when the handshake failed). Like the WHATWG `WebSocketError` it
 * is a `DOMException` named `"WebSocketError"` (so `instanceof DOMException`
 * and `instanceof Error` both hold) with `closeCode` and `reason`; unlike
 * it, its `code` is this project's stable string (an own property that
 * shadows `DOMException`'s legacy numeric `code`, always 0 for this name),
 * and it carries a rejected handshake's `status`, `headers` and `body`.
 * Pass one to `readable.cancel()` or `writable.abort()` to close with its
 * code and reason.
 * @example
 * ```ts
 * try { await ws.opened; }
 * catch (e) { if (e instanceof WebSocketError && e.status === 401) login(); }
 * reader.cancel(new WebSocketError("done", { closeCode: 4000, reason: "bye" }));
 * ```
 */
export class WebSocketError extends ErrorBase {
  readonly closeCode: number | null;
  readonly reason: string;
  /** A stable identifier such as `"WS_ERR_ABNORMAL_CLOSURE"` (not `DOMException`'s numeric code). */
  declare readonly code: string;
  readonly status: number | null;
  readonly headers: Headers;
  readonly body: Uint8Array | null;
  constructor(message = "", init: WebSocketErrorInit = {}) {
    super(message, "WebSocketError");
    // Some Node lines construct a DOMException subclass with the wrong prototype (nodejs/node#59677).
    if (Object.getPrototypeOf(this) !== new.target.prototype) Object.setPrototypeOf(this, new.target.prototype);
    // Defined, not assigned: `code` is a getter-only accessor on DOMException.prototype.
    Object.defineProperty(this, "code", { value: init.code ?? "WS_ERR_WEBSOCKET", enumerable: true, configurable: true });
    // Bun's DOMException has no stack of its own.
    // (`hasOwn`, not reading `stack`: reading it makes V8 format the trace, the costliest part of an error.)
    if (!Object.hasOwn(this, "stack")) (Error as { captureStackTrace?: (target: object) => void }).captureStackTrace?.(this);
    if (init.cause !== undefined) Object.defineProperty(this, "cause", { value: init.cause, writable: true, configurable: true });
    this.reason = init.reason ?? "";
    this.closeCode = init.closeCode !== undefined ? init.closeCode : this.reason !== "" ? 1000 : null;
    this.status = init.status ?? null;
    this.headers = init.headers ?? [];
    this.body = init.body ?? null;
  }
}

/** Options shared by both roles. Durations are in milliseconds; `null` (or 0) disables a timer. */
export interface WebSocketSessionOptions<F extends boolean = false> extends ConnectionOptions {
  /** Aborting it before the handshake completes fails the connection; afterwards it has no effect. */
  signal?: AbortSignal;
  /** Time allowed for the opening handshake. @default 10000 */
  handshakeTimeout?: number | null;
  /** Time allowed for the closing handshake and the peer's end of stream, after which the transport is aborted. @default 10000 */
  closeTimeout?: number | null;
  /** Send a keepalive ping this often. @default 20000 */
  pingInterval?: number | null;
  /**
   * Close with 1011 when a keepalive ping gets no pong within this time.
   * Time spent with reading paused because the application does not read is
   * not counted (the pong may be waiting behind unread messages).
   * @default 20000
   */
  pingTimeout?: number | null;
  /** Answer pings with pongs. @default true */
  autoPong?: boolean;
  /** Called with each ping's payload. A throw fails the connection with 1011 and goes to `onError`. */
  onPing?: (payload: Uint8Array) => void;
  /** Called with each pong's payload (solicited or not). A throw fails the connection with 1011 and goes to `onError`. */
  onPong?: (payload: Uint8Array) => void;
  /**
   * Called with an exception from the application's code the session calls:
   * `onMessage`, `onPing`, `onPong`, `handleRequest` (the client got a 500),
   * `handleHttp` (500); `context.handler` names which. The connection is
   * closed with 1011 (or answered with 500); the process lives. Errors that
   * only say the connection ended (`WS_ERR_ABNORMAL_CLOSURE`,
   * `WS_ERR_CLOSED`...) are not reported. A throwing `onError` is reported
   * on stderr.
   * @default one line on stderr: `wsproto: <handler> failed: <error>`
   */
  onError?: (error: unknown, context: HandlerContext) => void;
  /** The peer's address, when the transport knows it (adapters set it): `session.peer`. */
  peer?: PeerInfo | null;
  /** Deliver messages as {@link MessageChunk} pieces as they arrive instead of whole. @default false */
  fragments?: F;
  /**
   * Take received messages (pieces, with `fragments: true`) here, in order,
   * instead of through `readable` (which then delivers nothing, and ends as
   * the session does). While a promise it returns is pending, no further
   * message is delivered and the transport is not read (back-pressure, as a
   * full readable gives). A throw or a rejection fails the connection with
   * 1011, `closed` rejecting with a `WebSocketError` (`WS_ERR_MESSAGE_HANDLER`)
   * whose `cause` is the error. A session used this way makes no WHATWG
   * stream until `readable` or `writable` is read: the leanest server.
   * @example
   * ```ts
   * // An echo: each send resolves once the transport took the message.
   * acceptNodeUpgrade(req, socket, head, { onMessage: (message, ws) => ws.send(message) });
   * ```
   */
  onMessage?(
    message: F extends true ? MessageChunk : string | Uint8Array,
    session: WebSocketSession<F extends true ? MessageChunk : string | Uint8Array>,
  ): void | PromiseLike<void>;
  /**
   * How much received data is queued for the application before reading
   * pauses: each message (or piece, with `fragments: true`) counts its
   * payload (UTF-16 units for a string) plus 64 for the message itself, so
   * the queue holds at most this many bytes and `readableHighWaterMark / 64`
   * messages, plus the one message that crossed the mark (see the README's
   * "Memory bounds").
   * @default 1048576
   */
  readableHighWaterMark?: number;
  /** Bytes of messages queued for sending before `writer.ready` waits (each message counts 64 more). @default 65536 */
  writableHighWaterMark?: number;
  /**
   * Frames one received message may come in (empty frames count); past it
   * the connection fails with 1008 (policy violation), as in `ws`. `0` means
   * no limit. (Higher than `ws`'s 16384: a piece costs no memory of its own
   * here, and Autobahn's 9.3.1/9.4.1 send 65,536 frames.)
   * @default 131072
   */
  maxFragments?: number;
  /** Extensions to offer (client) or accept (server). @default [new PerMessageDeflate()] */
  extensions?: Extension[];
  /** The streams implementation to build the application's streams with. @default streamsImplementation() */
  streams?: StreamsImplementation;
}

/** Options of {@link connectWebSocket}. */
export interface ConnectWebSocketOptions<F extends boolean = false> extends WebSocketSessionOptions<F> {
  /** `ws://host:port/path?query`; gives `host` and `path` unless they are given. */
  url?: string | URL;
  /** The Host header. Required unless `url` is given. */
  host?: string;
  /** The request target. @default "/" (or the URL's path and query) */
  path?: string;
  /** Subprotocols to offer, in order of preference. @default [] */
  protocols?: string[];
  /** Extra request headers (Origin, Authorization, cookies...). @default [] */
  headers?: Headers;
  /** Largest rejection body kept for {@link WebSocketError.body}; the rest is dropped. @default 65536 */
  maxRejectionBodySize?: number;
}

/** Accept the request: which subprotocol and extensions, and extra response headers. */
export interface AcceptDecision {
  /** Must be one the client offered. @default the first client offer found in `options.protocols`, else none */
  subprotocol?: string | null;
  /** @default options.extensions */
  extensions?: Extension[];
  /** Added to `options.headers`. */
  headers?: Headers;
}

/** Reject the request with an HTTP response. */
export interface RejectDecision {
  status: number;
  headers?: Headers;
  body?: string | Uint8Array;
}

/** Options of {@link acceptWebSocket}. */
export interface AcceptWebSocketOptions<F extends boolean = false> extends WebSocketSessionOptions<F> {
  /** Subprotocols this server speaks; the first one the client offered is chosen. @default [] */
  protocols?: string[];
  /** Extra response headers on acceptance. @default [] */
  headers?: Headers;
  /**
   * Decide on the request: return (or resolve to) an {@link AcceptDecision}
   * (or nothing) to accept, a {@link RejectDecision} to reject. A throw
   * rejects with 500 (and the exception goes to `onError`, and is the
   * `cause` of the WebSocketError `opened` and `closed` reject with).
   */
  handleRequest?: (request: Request) => AcceptDecision | RejectDecision | void | Promise<AcceptDecision | RejectDecision | void>;
  /**
   * The request, when an HTTP server already parsed it (Node's `'upgrade'`
   * event): it is fed through `initiateUpgradeConnection` instead of being
   * read from the transport.
   */
  upgradeRequest?: { headers: Headers; path: string; method?: string; httpVersion?: string };
  /**
   * Answers requests that are not WebSocket upgrades (health checks, a page)
   * on a server that reads requests itself (bare TCP, `Deno.listen`): a
   * WHATWG `Request` (without body) in, a `Response` out. Without it they get
   * 426 Upgrade Required. `opened` rejects either way (`WS_ERR_PLAIN_HTTP`).
   */
  handleHttp?: HttpHandler;
}
