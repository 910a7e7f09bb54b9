/**
 * `connectWebSocket` / `acceptWebSocket`: a WebSocket over any pair of byte
 * streams, shaped like the WHATWG `WebSocketStream` (`opened`, `closed`,
 * `close()`, whole messages as `string` / `Uint8Array`), plus what users of
 * `ws` and python-websockets expect: limits, keepalive pings with a timeout,
 * handshake and close-handshake timeouts, handshake rejection with a status
 * and a body, and optional streaming of message fragments.
 *
 * Invariants:
 * - The transport is driven through a {@link TransportPort} (transport.ts):
 *   bytes it delivers are fed to the connection at once; reading is paused
 *   while the application's readable is full (bytes counted) and resumed by
 *   its `pull`, so a peer that floods cannot make us buffer more than about
 *   `readableHighWaterMark` plus one message. While closing, reading goes on
 *   regardless (to see the peer's close) and what nobody will read is dropped.
 * - Everything written to the transport goes through `#send`, in order: the
 *   application's messages, automatic pongs, pings and the close frames.
 * - `close()` sends its close frame only after every message written before
 *   the call has been handed to the transport (writes are counted by the
 *   writable's size function, which runs synchronously in `write()`).
 * - The session ends in `#finish` exactly once: the application's streams are
 *   settled, the transport is released (gracefully: our FIN, then the peer's
 *   EOF, both bounded by `closeTimeout`; or aborted), and only then does
 *   `closed` settle.
 * - Timers live here (and in timers.ts), never in src/protocol.
 * @module
 */
import {
  AcceptConnection,
  BytesMessage,
  CloseConnection,
  Message,
  Ping,
  RejectConnection,
  RejectData,
  Request,
  TextMessage,
  type Event,
  type Pong,
} from "../protocol/events.ts";
import { LocalProtocolError, RemoteProtocolError } from "../protocol/errors.ts";
import type { Extension } from "../protocol/extensions/extension.ts";
import { PerMessageDeflate } from "../protocol/extensions/index.ts";
import type { ConnectionOptions } from "../protocol/options.ts";
import { ConnectionState, ConnectionType, type Headers } from "../protocol/types.ts";
import { WSConnection } from "../protocol/ws-connection.ts";
import { streamsImplementation, type StreamsImplementation } from "./polyfill.ts";
import { duration, Timer } from "./timers.ts";
import { transportPort, type ByteTransport, type TransportHandler, type TransportPort } from "./transport.ts";

export type { ByteTransport, PortProvider, TransportHandler, TransportPort } from "./transport.ts";
export { StreamsPort, TRANSPORT_PORT, transportPort } from "./transport.ts";
export { streamsImplementation, useStreamsImplementation, hasNativeStreams, type StreamsImplementation } from "./polyfill.ts";

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
 * Why a WebSocket failed or closed uncleanly: `closed` rejects with it (and
 * `opened`, when the handshake failed). Like the WHATWG `WebSocketError` it
 * carries `closeCode` and `reason`; unlike it, it is a plain `Error` with a
 * stable string `code`, and a rejected handshake's `status`, `headers` and
 * `body`. Pass one to `readable.cancel()` or `writable.abort()` to close with
 * its code and reason.
 * @example
 * ```ts
 * try { await ws.opened; }
 * catch (e) { if (e instanceof WebSocketError && e.status === 401) login(); }
 * reader.cancel(new WebSocketError("done", { closeCode: 4000, reason: "bye" }));
 * ```
 */
export class WebSocketError extends Error {
  readonly closeCode: number | null;
  readonly reason: string;
  readonly code: string;
  readonly status: number | null;
  readonly headers: Headers;
  readonly body: Uint8Array | null;
  constructor(message = "", init: WebSocketErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "WebSocketError";
    this.reason = init.reason ?? "";
    this.closeCode = init.closeCode !== undefined ? init.closeCode : this.reason !== "" ? 1000 : null;
    this.code = init.code ?? "WS_ERR_WEBSOCKET";
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
  /** Called with each ping's payload. */
  onPing?: (payload: Uint8Array) => void;
  /** Called with each pong's payload (solicited or not). */
  onPong?: (payload: Uint8Array) => void;
  /** Deliver messages as {@link MessageChunk} pieces as they arrive instead of whole. @default false */
  fragments?: F;
  /** Bytes of received messages queued for the application before reading pauses. @default 1048576 */
  readableHighWaterMark?: number;
  /** Bytes of messages queued for sending before `writer.ready` waits. @default 65536 */
  writableHighWaterMark?: number;
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
   * rejects with 500.
   */
  handleRequest?: (request: Request) => AcceptDecision | RejectDecision | void | Promise<AcceptDecision | RejectDecision | void>;
  /**
   * The request, when an HTTP server already parsed it (Node's `'upgrade'`
   * event): it is fed through `initiateUpgradeConnection` instead of being
   * read from the transport.
   */
  upgradeRequest?: { headers: Headers; path: string };
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
const DEFAULT_CLOSE_TIMEOUT = 10_000;
const DEFAULT_PING_INTERVAL = 20_000;
const DEFAULT_PING_TIMEOUT = 20_000;
const DEFAULT_READABLE_HWM = 1024 * 1024;
const DEFAULT_WRITABLE_HWM = 64 * 1024;
const DEFAULT_MAX_REJECTION_BODY = 64 * 1024;
const MAX_CLOSE_REASON_BYTES = 123;
const HANDSHAKE_COPY_LIMIT = 256 * 1024;
/** Connection.sendParts leaves a server's binary payload uncopied from this size on (smaller ones are cheaper copied). */
const BORROW_MIN = 16 * 1024;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const noop = (): void => {};

type Phase = "handshake" | "open" | "closing" | "done";
type Outcome = { ok: WebSocketCloseInfo } | { error: unknown };

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers may never look at a promise (say `closed` after `opened`
  // rejected): mark it handled so Node does not crash the process on it.
  promise.catch(noop);
  return { promise, resolve, reject };
}

interface PendingPing {
  key: string;
  sentAt: number;
  resolve: (rtt: number) => void;
  reject: (error: unknown) => void;
}

const now: () => number =
  typeof performance !== "undefined" && typeof performance.now === "function" ? () => performance.now() : () => Date.now();

/**
 * Call an application callback without letting its exception unwind through
 * the session (which would leave events half-handled): it is rethrown on its
 * own, as an uncaught error, like a throwing event listener's.
 */
function callBack(callback: ((payload: Uint8Array) => void) | undefined, payload: Uint8Array): void {
  if (callback === undefined) return;
  try {
    callback(payload);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

function payloadKey(payload: Uint8Array): string {
  let key = "";
  for (let i = 0; i < payload.length; i++) key += String.fromCharCode(payload[i]!);
  return key;
}

/** Size of a queued message for the high-water marks (UTF-16 units for strings: cheap, and close enough). */
function messageSize(chunk: unknown): number {
  // At least 1, so that an empty queue is exactly `desiredSize === highWaterMark`.
  if (typeof chunk === "string") return Math.max(1, chunk.length);
  if (chunk instanceof Message) return messageSize(chunk.data);
  if (ArrayBuffer.isView(chunk) || chunk instanceof ArrayBuffer) return Math.max(1, chunk.byteLength);
  return 1;
}

/** RFC 6455 §7.4: the codes an endpoint may put in a close frame (and that wsproto peers accept). */
function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1013 && code !== 1004 && code !== 1005 && code !== 1006;
}

function toMessage(chunk: unknown): AnyMessage {
  if (typeof chunk === "string") return new TextMessage({ data: chunk });
  if (chunk instanceof Uint8Array) return new BytesMessage({ data: chunk });
  if (chunk instanceof Message) return chunk;
  if (ArrayBuffer.isView(chunk)) {
    return new BytesMessage({ data: new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) });
  }
  if (chunk instanceof ArrayBuffer) return new BytesMessage({ data: new Uint8Array(chunk) });
  throw new LocalProtocolError(
    `A WebSocket message must be a string, bytes or a Message, got ${chunk === null ? "null" : typeof chunk}`,
    "WS_ERR_INVALID_MESSAGE",
  );
}

/**
 * An uninitialised byte array where the platform has one (Node, Bun and Deno
 * have `Buffer.allocUnsafeSlow`, found at run time, never imported): a
 * message assembled from pieces is written over in full, so zero-filling it
 * first would only cost a second pass over its bytes.
 */
const allocUninitialised: (size: number) => Uint8Array = (() => {
  const buffer = (globalThis as { Buffer?: { allocUnsafeSlow?: (size: number) => Uint8Array } }).Buffer;
  const allocUnsafeSlow = buffer?.allocUnsafeSlow;
  if (typeof allocUnsafeSlow !== "function") return (size: number) => new Uint8Array(size);
  return (size: number) => {
    // Hand out a plain Uint8Array view: a Buffer's slice() shares memory, which users of Uint8Array do not expect.
    const b = allocUnsafeSlow.call(buffer, size);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  };
})();

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = allocUninitialised(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** The value of header `name` in an HTTP head we produced (for the server's negotiated extensions). */
function headerOfHead(parts: readonly Uint8Array[], name: string): string {
  const decoder = new TextDecoder("latin1");
  let text = "";
  for (const part of parts) text += decoder.decode(part, { stream: true });
  const values: string[] = [];
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "") break; // the end of the head
    const colon = trimmed.indexOf(":");
    if (colon > 0 && trimmed.slice(0, colon).trim().toLowerCase() === name) values.push(trimmed.slice(colon + 1).trim());
  }
  return values.join(", ");
}

function positiveOption(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value >= 0)) {
    throw new LocalProtocolError(`${name} must be a non-negative number, got ${String(value)}`, "WS_ERR_INVALID_OPTION");
  }
  return value;
}

function timeoutOption(value: number | null | undefined, fallback: number, name: string): number {
  if (typeof value === "number" && !(value >= 0)) {
    throw new LocalProtocolError(`${name} must be a non-negative number or null, got ${String(value)}`, "WS_ERR_INVALID_OPTION");
  }
  return duration(value, fallback);
}

/** What both roles offer or accept when `extensions` is not given: permessage-deflate, compressing messages of 1 KiB and more (as `ws` does). */
function defaultExtensions(): Extension[] {
  return [new PerMessageDeflate({ threshold: 1024 })];
}

function connectionOptions(options: ConnectionOptions): ConnectionOptions {
  const picked: ConnectionOptions = {};
  if (options.maxMessageSize !== undefined) picked.maxMessageSize = options.maxMessageSize;
  if (options.maxFrameSize !== undefined) picked.maxFrameSize = options.maxFrameSize;
  if (options.maxHandshakeSize !== undefined) picked.maxHandshakeSize = options.maxHandshakeSize;
  if (options.maxHeaders !== undefined) picked.maxHeaders = options.maxHeaders;
  if (options.random !== undefined) picked.random = options.random;
  return picked;
}

/**
 * One WebSocket over a byte transport, shaped like the WHATWG
 * `WebSocketStream`. Made by {@link connectWebSocket} and
 * {@link acceptWebSocket}.
 * @example
 * ```ts
 * const ws = connectWebSocket(transport, { url: "ws://example.com/chat" });
 * const { readable, writable } = await ws.opened;
 * const writer = writable.getWriter();
 * await writer.write("hello");
 * for await (const message of readable) console.log(message);
 * const { closeCode, reason } = await ws.closed;
 * ```
 */
export class WebSocketSession<R = string | Uint8Array> {
  /** Resolves once the opening handshake succeeded; rejects (with a {@link WebSocketError}, or the signal's reason) if it failed. */
  readonly opened: Promise<WebSocketOpenInfo<R>>;
  /** Resolves after a clean close with the peer's close code and reason; rejects with a {@link WebSocketError} otherwise. */
  readonly closed: Promise<WebSocketCloseInfo>;
  /** The sans-I/O engine underneath (for inspection; do not feed it). */
  readonly connection: WSConnection;

  readonly #client: boolean;
  readonly #options: ConnectWebSocketOptions<boolean> & AcceptWebSocketOptions<boolean>;
  readonly #port: TransportPort;
  /** Settles `opened`; dropped once it has. */
  #openedDeferred: Deferred<WebSocketOpenInfo<R>> | null = deferred<WebSocketOpenInfo<R>>();
  readonly #closedDeferred = deferred<WebSocketCloseInfo>();
  readonly #fragments: boolean;
  readonly #autoPong: boolean;
  readonly #closeTimeout: number;
  readonly #pingInterval: number;
  readonly #pingTimeout: number;

  #phase: Phase = "handshake";
  /** How the session ended, once it has (for streams made afterwards). */
  #outcome: Outcome | null = null;
  #streams: StreamsImplementation | null = null;
  #readable: ReadableStream<R> | null = null;
  #writable: WritableStream<WebSocketWritable> | null = null;
  #readController: ReadableStreamDefaultController<R> | null = null;
  /** The readable's high-water mark (bytes): its queue is empty when desiredSize equals it. */
  #readableHwm = DEFAULT_READABLE_HWM;
  /**
   * A failure that came while whole messages were still queued for the
   * application: they are delivered first, then the readable errors (in `pull`
   * once the queue is empty), so nothing that arrived intact is lost.
   */
  #deferredReadError: { error: unknown } | null = null;
  /** Whether the events being handled now handed a message to the application. */
  #messagesInBatch = false;
  /** Fails the connection one turn after a protocol error (see `#onClose`). */
  #failTimer: Timer | null = null;
  /** Reads the rest of a batch one turn later (see `#drainEvents`). */
  #drainTimer: Timer | null = null;
  #writeController: WritableStreamDefaultController | null = null;
  #readableCancelled = false;
  #writableClosing = false;
  /** Reading is paused because the application's readable is full. */
  #readPaused = false;
  /** Events are not drained while the server's handleRequest decides. */
  #deciding = false;
  /** The transport reported its end (or failed, or was aborted). */
  #eof = false;
  #eofWaiter: (() => void) | null = null;
  #transportReleased = false;

  // Messages written vs handed to the connection (see close()).
  #writesQueued = 0;
  #writesSent = 0;
  #pendingClose: { code: number | null; reason: string; after: number } | null = null;

  // Whole-message assembly.
  #textParts = "";
  #binaryParts: Uint8Array[] | null = null; // made when a message comes in pieces
  #binarySize = 0;

  // Client: what was read during the handshake (for the raw extensions header).
  #handshakeBytes: Uint8Array[] | null = null;
  #handshakeSize = 0;

  // Client rejection being received.
  #rejection: { status: number; headers: Headers; body: Uint8Array[]; size: number } | null = null;

  // Timers (created lazily: an idle connection holds as little as it can).
  #handshakeTimer: Timer | null = null;
  #closeTimer: Timer | null = null;
  #pingTimer: Timer | null = null;
  #pongTimer: Timer | null = null;
  #keepalivePing: string | null = null;
  #pings: PendingPing[] | null = null;
  #pingCounter = 0;
  #abortListener: (() => void) | null = null;

  /** @internal Use {@link connectWebSocket} or {@link acceptWebSocket}. */
  constructor(
    type: ConnectionType,
    transport: ByteTransport,
    options: ConnectWebSocketOptions<boolean> & AcceptWebSocketOptions<boolean>,
  ) {
    this.#client = type === ConnectionType.CLIENT;
    this.#options = options;
    this.#fragments = options.fragments === true;
    this.#autoPong = options.autoPong ?? true;
    const handshakeTimeout = timeoutOption(options.handshakeTimeout, DEFAULT_HANDSHAKE_TIMEOUT, "handshakeTimeout");
    this.#closeTimeout = timeoutOption(options.closeTimeout, DEFAULT_CLOSE_TIMEOUT, "closeTimeout");
    this.#pingInterval = timeoutOption(options.pingInterval, DEFAULT_PING_INTERVAL, "pingInterval");
    this.#pingTimeout = timeoutOption(options.pingTimeout, DEFAULT_PING_TIMEOUT, "pingTimeout");
    positiveOption(options.readableHighWaterMark, DEFAULT_READABLE_HWM, "readableHighWaterMark");
    positiveOption(options.writableHighWaterMark, DEFAULT_WRITABLE_HWM, "writableHighWaterMark");
    this.connection = new WSConnection(type, connectionOptions(options));
    this.opened = this.#openedDeferred!.promise;
    this.closed = this.#closedDeferred.promise;
    this.#port = transportPort(transport);

    const signal = options.signal;
    if (signal?.aborted) {
      this.#finish({ error: signal.reason }, false);
      return;
    }
    if (signal) {
      this.#abortListener = () => {
        if (this.#phase === "handshake") this.#finish({ error: signal.reason }, false);
      };
      signal.addEventListener("abort", this.#abortListener, { once: true });
    }
    if (Number.isFinite(handshakeTimeout)) {
      this.#handshakeTimer = new Timer(() => {
        if (this.#phase === "handshake") {
          this.#finish(
            { error: new WebSocketError("The opening handshake timed out", { closeCode: 1006, code: "WS_ERR_HANDSHAKE_TIMEOUT" }) },
            false,
          );
        }
      });
      this.#handshakeTimer.start(handshakeTimeout);
    }
    this.#start();
  }

  /**
   * Start the closing handshake. Messages written before the call are sent
   * first. Before the handshake completed, this abandons it. Codes are those
   * RFC 6455 lets an endpoint send (1000-1003, 1007-1013, 3000-4999); no code
   * sends a close frame without status (the peer sees 1005), a reason without
   * a code means 1000.
   * @throws LocalProtocolError for a code that may not be sent or a reason over 123 UTF-8 bytes.
   */
  close(info: Partial<WebSocketCloseInfo> = {}): void {
    const reason = info.reason ?? "";
    let code = info.closeCode ?? null;
    if (code !== null && !isSendableCloseCode(code)) {
      throw new LocalProtocolError(`Close code ${String(code)} may not be sent`, "WS_ERR_INVALID_CLOSE_CODE");
    }
    if (encoder.encode(reason).byteLength > MAX_CLOSE_REASON_BYTES) {
      // RFC 6455 §5.5: a control frame payload is at most 125 bytes (2 of them the code).
      throw new LocalProtocolError("A close reason is at most 123 UTF-8 bytes", "WS_ERR_INVALID_CLOSE_REASON");
    }
    if (code === null && reason !== "") code = 1000;
    if (this.#phase === "handshake") {
      this.#finish(
        {
          error: new WebSocketError("The WebSocket was closed before the opening handshake completed", {
            closeCode: 1006,
            code: "WS_ERR_HANDSHAKE_ABORTED",
          }),
        },
        false,
      );
      return;
    }
    if (this.#phase !== "open" || this.#pendingClose !== null) return;
    this.#pendingClose = { code, reason, after: this.#writesQueued };
    this.#armCloseTimer();
    this.#maybeSendClose();
  }

  /**
   * Send a ping; resolves with the round-trip time in milliseconds when the
   * matching pong arrives (a pong also acknowledges every earlier ping).
   * @example
   * ```ts
   * const rtt = await ws.ping();
   * ```
   */
  ping(payload?: Uint8Array | string): Promise<number> {
    if (this.#phase !== "open" || this.#pendingClose !== null) {
      return Promise.reject(new LocalProtocolError("Cannot ping: the WebSocket is not open", "WS_ERR_INVALID_STATE"));
    }
    let bytes: Uint8Array;
    if (payload === undefined) {
      bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setUint32(0, ++this.#pingCounter >>> 0);
    } else {
      bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
    }
    try {
      this.#send(this.connection.send(new Ping({ payload: bytes })));
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<number>((resolve, reject) => {
      (this.#pings ??= []).push({ key: payloadKey(bytes), sentAt: now(), resolve, reject });
    });
  }

  // ---- handshake ------------------------------------------------------------

  #start(): void {
    if (this.#client) {
      try {
        this.#send(this.connection.send(this.#buildRequest()));
      } catch (error) {
        this.#finish({ error }, false);
        return;
      }
    } else if (this.#options.upgradeRequest) {
      const { headers, path } = this.#options.upgradeRequest;
      this.#receive(null, () => this.connection.initiateUpgradeConnection(headers, path));
      if (this.#phase === "done" && this.#transportReleased) return;
    }
    this.#port.start(this.#handler);
  }

  #buildRequest(): Request {
    const options = this.#options;
    let host = options.host;
    let target = options.path;
    if (options.url !== undefined) {
      let url: URL;
      try {
        url = new URL(String(options.url));
      } catch {
        throw new LocalProtocolError(`Invalid WebSocket URL: ${String(options.url)}`, "WS_ERR_INVALID_URL");
      }
      host ??= url.host;
      target ??= (url.pathname || "/") + url.search;
    }
    if (host === undefined) throw new LocalProtocolError("connectWebSocket needs `url` or `host`", "WS_ERR_INVALID_OPTION");
    return new Request({
      host,
      target: target ?? "/",
      subprotocols: options.protocols ?? [],
      extensions: options.extensions ?? defaultExtensions(),
      extraHeaders: options.headers ?? [],
    });
  }

  async #decide(request: Request): Promise<void> {
    const options = this.#options;
    let decision: AcceptDecision | RejectDecision | void;
    let failure: unknown = null;
    this.#deciding = true;
    this.#port.pause(); // nothing more to read until we answer
    try {
      decision = options.handleRequest ? await options.handleRequest(request) : undefined;
    } catch (error) {
      failure = error;
      decision = { status: 500 };
    }
    this.#deciding = false;
    if (this.#phase !== "handshake") return;
    if (decision && "status" in decision) {
      this.#reject(decision, failure);
      return;
    }
    const offered = request.subprotocols;
    const subprotocol =
      decision?.subprotocol !== undefined
        ? decision.subprotocol
        : (offered.find((p) => (options.protocols ?? []).includes(p)) ?? null);
    let head: Uint8Array;
    try {
      head = this.connection.send(
        new AcceptConnection({
          subprotocol,
          extensions: decision?.extensions ?? options.extensions ?? defaultExtensions(),
          extraHeaders: [...(options.headers ?? []), ...(decision?.headers ?? [])],
        }),
      );
    } catch (error) {
      this.#reject({ status: 500 }, error);
      return;
    }
    this.#send(head);
    this.#open(subprotocol ?? "", headerOfHead([head], "sec-websocket-extensions"));
    this.#port.resume();
    // Frames the client sent right behind its request are already buffered.
    this.#drainEvents();
    // ... and so may be its end of stream, which reached only the handshake.
    if (this.#eof && (this.#phase as Phase) === "open") this.#receive(null);
  }

  #reject(decision: RejectDecision, cause: unknown): void {
    const body = typeof decision.body === "string" ? encoder.encode(decision.body) : (decision.body ?? EMPTY);
    const headers = decision.headers ?? [];
    try {
      this.#send(
        this.connection.send(new RejectConnection({ statusCode: decision.status, headers, hasBody: body.byteLength > 0 })),
      );
      if (body.byteLength > 0) this.#send(this.connection.send(new RejectData({ data: body })));
    } catch (error) {
      cause ??= error;
    }
    const init: WebSocketErrorInit = { closeCode: 1006, code: "WS_ERR_HANDSHAKE_REJECTED", status: decision.status, headers, body };
    if (cause !== null) init.cause = cause;
    this.#port.resume();
    this.#finish({ error: new WebSocketError(`The opening handshake was rejected with HTTP ${decision.status}`, init) }, true);
  }

  #open(protocol: string, extensions: string): void {
    this.#phase = "open";
    this.#handshakeTimer?.stop();
    this.#handshakeTimer = null;
    this.#removeAbortListener();
    this.#streams = this.#options.streams ?? streamsImplementation();
    // The two streams are made when first used (the application reads
    // `readable` or `writable`, or a message arrives): an open connection
    // nobody has touched yet holds no stream machinery (several KB each).
    const session = this;
    const info: WebSocketOpenInfo<R> = {
      get readable() {
        return session.#makeReadable();
      },
      get writable() {
        return session.#makeWritable();
      },
      protocol,
      extensions,
    };
    this.#openedDeferred!.resolve(info);
    this.#openedDeferred = null;
    this.#scheduleKeepalive();
  }

  #makeReadable(): ReadableStream<R> {
    if (this.#readable !== null) return this.#readable;
    const options = this.#options;
    this.#readableHwm = options.readableHighWaterMark ?? DEFAULT_READABLE_HWM;
    this.#readable = new this.#streams!.ReadableStream<R>(
      {
        start: (controller) => {
          this.#readController = controller;
        },
        pull: (controller) => {
          const deferred = this.#deferredReadError;
          if (deferred !== null && controller.desiredSize === this.#readableHwm) {
            this.#deferredReadError = null;
            controller.error(deferred.error);
            return;
          }
          this.#resumeReading();
        },
        cancel: (reason) => {
          this.#readableCancelled = true;
          this.#textParts = "";
          this.#binaryParts = null;
          this.#resumeReading();
          this.#closeUsingReason(reason);
        },
      },
      { highWaterMark: this.#readableHwm, size: messageSize },
    );
    // Made after the end: it ends as it would have.
    const outcome = this.#outcome;
    if (outcome !== null) {
      if ("ok" in outcome) this.#readController!.close();
      else this.#readController!.error(outcome.error);
    }
    return this.#readable;
  }

  #makeWritable(): WritableStream<WebSocketWritable> {
    if (this.#writable !== null) return this.#writable;
    const options = this.#options;
    this.#writable = new this.#streams!.WritableStream<WebSocketWritable>(
      {
        start: (controller) => {
          this.#writeController = controller;
        },
        write: (chunk) => this.#write(chunk),
        close: () => {
          this.#writableClosing = true;
          this.close();
          return this.closed.then(noop);
        },
        abort: (reason) => {
          this.#writableClosing = true;
          this.#closeUsingReason(reason);
        },
      },
      {
        highWaterMark: options.writableHighWaterMark ?? DEFAULT_WRITABLE_HWM,
        size: (chunk) => {
          this.#writesQueued++;
          return messageSize(chunk);
        },
      },
    );
    const outcome = this.#outcome;
    if (outcome !== null && "error" in outcome) this.#writeController!.error(outcome.error);
    return this.#writable;
  }

  // ---- reading --------------------------------------------------------------

  /** What the transport port calls. */
  readonly #handler: TransportHandler = {
    data: (chunk) => {
      if (this.#phase === "done") return; // releasing: discard until the peer's EOF
      this.#receive(chunk);
      if (this.#mustWaitForDemand()) {
        this.#readPaused = true;
        this.#port.pause();
      }
    },
    end: () => {
      if (this.#phase !== "done") this.#receive(null);
      if (this.#phase === "handshake" && !this.#deciding) {
        this.#finish(
          { error: new WebSocketError("The transport closed during the opening handshake", { closeCode: 1006, code: "WS_ERR_ABNORMAL_CLOSURE" }) },
          false,
        );
      }
      this.#reachedEof();
    },
    error: (error) => {
      if (this.#phase !== "done") {
        this.#finish(
          { error: new WebSocketError("The transport failed", { closeCode: 1006, code: "WS_ERR_TRANSPORT", cause: error }) },
          false,
        );
      }
      this.#reachedEof();
    },
  };

  #reachedEof(): void {
    this.#eof = true;
    const waiter = this.#eofWaiter;
    this.#eofWaiter = null;
    waiter?.();
  }

  #mustWaitForDemand(): boolean {
    const controller = this.#readController;
    return (
      this.#phase === "open" &&
      this.#pendingClose === null &&
      !this.#readableCancelled &&
      controller !== null &&
      (controller.desiredSize ?? 1) <= 0
    );
  }

  #resumeReading(): void {
    if (this.#readPaused) {
      this.#readPaused = false;
      this.#port.resume();
    }
  }

  /** Feed bytes (or EOF, or a custom feed) to the connection and handle the events. */
  #receive(data: Uint8Array | null, feed?: () => void): void {
    const connection = this.connection;
    if (connection.state === ConnectionState.CLOSED) return; // after the close handshake or a rejection: discard
    if (this.#client && this.#phase === "handshake" && data !== null && this.#handshakeSize < HANDSHAKE_COPY_LIMIT) {
      (this.#handshakeBytes ??= []).push(data);
      this.#handshakeSize += data.byteLength;
    }
    try {
      if (feed) feed();
      else connection.receiveData(data);
    } catch (error) {
      this.#unexpected(error);
      return;
    }
    if (!this.#deciding) this.#drainEvents();
  }

  #drainEvents(): void {
    if (this.#drainTimer?.active) return; // a deferred drain (below) is due
    this.#messagesInBatch = false;
    try {
      for (const event of this.connection.events()) {
        this.#handle(event);
        if (this.#phase === "done" || this.#deciding) return;
        if (this.#messagesInBatch && this.connection.connection?.closeFrameBuffered) {
          // The peer's close is next. Once it is read only a close may be
          // sent, so give an application already waiting on the messages
          // just delivered one turn to answer them (an echo keeps every
          // message, as RFC 6455 §5.5.1 allows), then read the close.
          (this.#drainTimer ??= new Timer(() => this.#drainEvents())).start(0);
          return;
        }
      }
    } catch (error) {
      this.#unexpected(error);
    }
  }

  /** An exception from the connection: a bad handshake from the peer, or (after it) a bug. */
  #unexpected(error: unknown): void {
    if (this.#phase === "handshake") {
      this.#handshakeFailed(error);
      return;
    }
    // RFC 6455 §7.4.1: 1011, an unexpected condition prevented fulfilling the request.
    this.#sendClose(1011, "");
    this.#finish(
      { error: new WebSocketError("Internal error", { closeCode: 1011, code: "WS_ERR_INTERNAL", cause: error }) },
      true,
    );
  }

  #handshakeFailed(error: unknown): void {
    if (this.#phase === "done") return;
    let status: number | undefined;
    let graceful = false;
    if (error instanceof RemoteProtocolError && error.eventHint && !this.#client) {
      // Answer a bad request with the hint (400, 426 with the version...).
      try {
        this.#send(this.connection.send(error.eventHint));
        graceful = true;
        if (error.eventHint instanceof RejectConnection) status = error.eventHint.statusCode;
      } catch {
        // Nothing could be sent: just drop the transport.
      }
    }
    const code = (error as { code?: unknown } | null)?.code;
    const init: WebSocketErrorInit = { closeCode: 1006, code: code === undefined ? "WS_ERR_HANDSHAKE" : String(code), cause: error };
    if (status !== undefined) init.status = status;
    const message = error instanceof Error ? error.message : String(error);
    this.#finish({ error: new WebSocketError(`The opening handshake failed: ${message}`, init) }, graceful);
  }

  #handle(event: Event): void {
    switch (event.type) {
      case "Request":
        void this.#decide(event);
        return;
      case "AcceptConnection": {
        // The response head is in the bytes read so far (the 101 carries the negotiated extensions).
        const head = this.#handshakeBytes ?? [];
        this.#handshakeBytes = null;
        this.#open(event.subprotocol ?? "", headerOfHead(head, "sec-websocket-extensions"));
        return;
      }
      case "RejectConnection":
        this.#rejection = { status: event.statusCode, headers: event.headers, body: [], size: 0 };
        return;
      case "RejectData":
        this.#onRejectData(event);
        return;
      case "Message":
      case "TextMessage":
      case "BytesMessage":
        this.#onMessage(event);
        return;
      case "Ping":
        callBack(this.#options.onPing, event.payload);
        if (this.#autoPong && this.connection.state === ConnectionState.OPEN) this.#send(this.connection.send(event.response()));
        return;
      case "Pong":
        this.#onPong(event);
        return;
      case "CloseConnection":
        this.#onClose(event);
        return;
    }
  }

  #onRejectData(event: RejectData): void {
    const rejection = this.#rejection;
    if (!rejection) return;
    const limit = this.#options.maxRejectionBodySize ?? DEFAULT_MAX_REJECTION_BODY;
    if (rejection.size < limit && event.data.byteLength > 0) {
      const piece = event.data.subarray(0, limit - rejection.size);
      rejection.body.push(piece);
      rejection.size += piece.byteLength;
    }
    if (!event.bodyFinished) return;
    this.#finish(
      {
        error: new WebSocketError(`The server rejected the WebSocket with HTTP ${rejection.status}`, {
          closeCode: 1006,
          code: "WS_ERR_HANDSHAKE_REJECTED",
          status: rejection.status,
          headers: rejection.headers,
          body: concat(rejection.body.length ? rejection.body : [EMPTY], rejection.size),
        }),
      },
      true,
    );
  }

  #onMessage(event: AnyMessage): void {
    if (this.#readController === null) this.#makeReadable();
    const controller = this.#readController!;
    if (this.#readableCancelled) return;
    // While closing, nobody promised to read: drop what would overfill the queue.
    const closing = this.#phase !== "open" || this.#pendingClose !== null;
    if (this.#fragments) {
      if (!closing || (controller.desiredSize ?? 0) > 0) {
        controller.enqueue(event as unknown as R);
        this.#messagesInBatch = true;
      }
      return;
    }
    const data = event.data;
    let whole: string | Uint8Array;
    if (typeof data === "string") {
      if (!event.messageFinished) {
        this.#textParts += data;
        return;
      }
      whole = this.#textParts === "" ? data : this.#textParts + data;
      this.#textParts = "";
    } else {
      if (!event.messageFinished) {
        if (data.byteLength > 0) {
          (this.#binaryParts ??= []).push(data);
          this.#binarySize += data.byteLength;
        }
        return;
      }
      if (this.#binaryParts === null) {
        // A view of a Node Buffer is a Buffer, whose slice() shares memory: hand out a plain Uint8Array.
        whole = data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      } else {
        this.#binaryParts.push(data);
        whole = concat(this.#binaryParts, this.#binarySize + data.byteLength);
        this.#binaryParts = null;
        this.#binarySize = 0;
      }
    }
    if (!closing || (controller.desiredSize ?? 0) > 0) {
      controller.enqueue(whole as R);
      this.#messagesInBatch = true;
    }
  }

  #onPong(event: Pong): void {
    callBack(this.#options.onPong, event.payload);
    const pings = this.#pings;
    if (pings === null || pings.length === 0) return;
    const key = payloadKey(event.payload);
    const index = pings.findIndex((p) => p.key === key);
    if (index < 0) return; // unsolicited
    const acknowledged = pings.splice(0, index + 1);
    const at = now();
    for (const ping of acknowledged) ping.resolve(at - ping.sentAt);
  }

  #onClose(event: CloseConnection): void {
    switch (event.origin) {
      case "remote": {
        if (this.connection.state === ConnectionState.REMOTE_CLOSING) {
          // RFC 6455 §5.5.1: an endpoint that receives a close frame sends one in response (echoing the code).
          try {
            this.#send(this.connection.send(event.response()));
          } catch {
            // Already answered or impossible: the peer's close still completes ours.
          }
        }
        this.#finish({ ok: { closeCode: event.code, reason: event.reason ?? "" } }, true);
        return;
      }
      case "protocol-error": {
        // RFC 6455 §7.1.7: fail the connection, sending the close code first.
        const fail = (): void => {
          if (this.#phase === "done") return;
          this.#sendClose(event.code, event.reason ?? "");
          const error = new WebSocketError(event.reason || `The WebSocket failed with code ${event.code}`, {
            closeCode: event.code,
            reason: event.reason ?? "",
            code: "WS_ERR_PROTOCOL",
          });
          this.#finish({ error }, true);
        };
        if (this.#messagesInBatch) {
          // Messages that arrived whole before the bad frame went to the
          // application just now. An application already waiting on them
          // answers within this turn (an echo stays in arrival order, as
          // Autobahn's 3.2, 4.x and 5.15 expect); the failure follows one
          // macrotask later. The parser is dead meanwhile: nothing more is read.
          (this.#failTimer = new Timer(fail)).start(0);
          return;
        }
        fail();
        return;
      }
      case "abnormal":
      case "local":
        this.#finish(
          { error: new WebSocketError("The transport closed without a close frame", { closeCode: 1006, code: "WS_ERR_ABNORMAL_CLOSURE" }) },
          true,
        );
        return;
    }
  }

  // ---- writing --------------------------------------------------------------

  /** Hand bytes to the transport; `false` when above its high-water mark. */
  #send(bytes: Uint8Array): boolean {
    if (this.#transportReleased || bytes.byteLength === 0) return true;
    return this.#port.write(bytes);
  }

  #write(chunk: WebSocketWritable): Promise<void> | undefined {
    const index = ++this.#writesSent;
    const pendingClose = this.#pendingClose;
    if (this.#phase === "done") throw new WebSocketError("The WebSocket is closed", { code: "WS_ERR_CLOSED" });
    if (this.#phase !== "open" || (pendingClose !== null && index > pendingClose.after)) {
      throw new WebSocketError("The WebSocket is closing", { code: "WS_ERR_CLOSING" });
    }
    const message = toMessage(chunk);
    const port = this.#port;
    let below: boolean;
    const data = message.data;
    if (
      port.writeBorrowed !== undefined &&
      !this.#client &&
      data instanceof Uint8Array &&
      data.byteLength >= BORROW_MIN &&
      !this.#transportReleased
    ) {
      // A large binary message a server sends goes out without a copy: the
      // write resolves once the transport is done with the caller's bytes.
      const parts = this.connection.connection!.sendParts(message);
      if (parts.length === 2) {
        const written = port.writeBorrowed(parts[0]!, parts[1]!);
        if (pendingClose !== null) this.#maybeSendClose();
        return written;
      }
      below = this.#send(parts[0]!);
    } else {
      below = this.#send(this.connection.send(message));
    }
    if (pendingClose !== null) this.#maybeSendClose();
    // A write resolves as the transport takes the bytes.
    return below ? undefined : port.drain();
  }

  #maybeSendClose(): void {
    const pendingClose = this.#pendingClose;
    if (pendingClose === null || this.#phase !== "open") return;
    if (this.#writesSent < pendingClose.after && !this.#writableClosing) return;
    this.#sendClose(pendingClose.code, pendingClose.reason);
    this.#phase = "closing";
    this.#stopKeepalive();
    this.#resumeReading(); // read regardless of demand from now on, to see the peer's close
  }

  #sendClose(code: number | null, reason: string): void {
    if (this.connection.state !== ConnectionState.OPEN) return;
    try {
      // A close without a code is sent as 1005 (no status), which the frame layer sends as an empty payload.
      this.#send(this.connection.send(new CloseConnection({ code: code ?? 1005, reason: code === null ? null : reason })));
    } catch {
      // The code was validated in close(); nothing else can go wrong here.
    }
  }

  #closeUsingReason(reason: unknown): void {
    let code: number | null = null;
    let text = "";
    if (reason instanceof WebSocketError) {
      code = reason.closeCode;
      text = reason.reason;
    }
    try {
      this.close(code === null ? { reason: text } : { closeCode: code, reason: text });
    } catch {
      this.close();
    }
  }

  // ---- keepalive ------------------------------------------------------------

  #scheduleKeepalive(): void {
    if (!Number.isFinite(this.#pingInterval)) return;
    this.#pingTimer ??= new Timer(() => this.#keepalive());
    this.#pingTimer.start(this.#pingInterval);
  }

  #keepalive(): void {
    if (this.#phase !== "open" || this.#pendingClose !== null) return;
    if (this.#keepalivePing === null) {
      const payload = new Uint8Array(4);
      new DataView(payload.buffer).setUint32(0, ++this.#pingCounter >>> 0);
      const key = payloadKey(payload);
      this.#keepalivePing = key;
      this.ping(payload).then(() => {
        if (this.#keepalivePing === key) {
          this.#keepalivePing = null;
          this.#pongTimer?.stop();
        }
      }, noop);
      if (Number.isFinite(this.#pingTimeout)) {
        this.#pongTimer ??= new Timer(() => this.#keepaliveTimedOut());
        this.#pongTimer.start(this.#pingTimeout);
      }
    }
    this.#pingTimer?.start(this.#pingInterval);
  }

  #keepaliveTimedOut(): void {
    if (this.#phase !== "open") return;
    if (this.#readPaused) {
      // The pong may sit behind messages the application has not read yet.
      this.#pongTimer?.start(this.#pingTimeout);
      return;
    }
    this.#sendClose(1011, "keepalive ping timeout");
    this.#finish(
      {
        error: new WebSocketError("No pong arrived within pingTimeout", {
          closeCode: 1011,
          reason: "keepalive ping timeout",
          code: "WS_ERR_KEEPALIVE_TIMEOUT",
        }),
      },
      true,
    );
  }

  #stopKeepalive(): void {
    this.#pingTimer?.stop();
    this.#pongTimer?.stop();
  }

  // ---- the end --------------------------------------------------------------

  #armCloseTimer(): void {
    if (!Number.isFinite(this.#closeTimeout)) return;
    if (this.#closeTimer?.active) return;
    this.#closeTimer ??= new Timer(() => this.#closeTimedOut());
    this.#closeTimer.start(this.#closeTimeout);
  }

  #closeTimedOut(): void {
    if (this.#phase !== "done") {
      this.#finish(
        { error: new WebSocketError("The closing handshake timed out", { closeCode: 1006, code: "WS_ERR_CLOSE_TIMEOUT" }) },
        false,
      );
    } else {
      this.#abortTransport();
    }
  }

  #removeAbortListener(): void {
    if (this.#abortListener) {
      this.#options.signal?.removeEventListener("abort", this.#abortListener);
      this.#abortListener = null;
    }
  }

  /** Settle everything once; release the transport (gracefully or not); then settle `closed`. */
  #finish(outcome: Outcome, graceful: boolean): void {
    if (this.#phase === "done") return;
    const wasHandshake = this.#phase === "handshake";
    this.#phase = "done";
    this.#outcome = outcome;
    this.#handshakeTimer?.stop();
    this.#failTimer?.stop();
    this.#drainTimer?.stop();
    this.#stopKeepalive();
    this.#removeAbortListener();

    const error = "error" in outcome ? outcome.error : null;
    if (wasHandshake) {
      this.#openedDeferred!.reject(error);
      this.#openedDeferred = null;
    }
    const readController = this.#readController;
    const writeController = this.#writeController;
    if (error === null) {
      // Clean: the readable ends. The writable is left to fail each later
      // write (WS_ERR_CLOSED) rather than errored now, so that an echo's
      // `readable.pipeTo(writable)` resolves instead of rejecting.
      if (readController !== null && !this.#readableCancelled) readController.close();
    } else {
      if (readController !== null && !this.#readableCancelled) {
        // Messages that arrived whole before the failure are still delivered.
        const queued = readController.desiredSize !== null && readController.desiredSize < this.#readableHwm;
        if (queued) this.#deferredReadError = { error };
        else readController.error(error);
      }
      if (writeController !== null) writeController.error(error);
    }
    const pingError = error ?? new WebSocketError("The WebSocket closed before the pong arrived", { code: "WS_ERR_CLOSED" });
    for (const ping of this.#pings ?? []) ping.reject(pingError);
    this.#pings = null;
    this.#textParts = "";
    this.#binaryParts = null;
    this.#handshakeBytes = null;

    const settle = (): void => {
      this.#closeTimer?.stop();
      if ("ok" in outcome) this.#closedDeferred.resolve(outcome.ok);
      else this.#closedDeferred.reject(outcome.error);
    };
    if (!graceful) {
      this.#abortTransport();
      settle();
      return;
    }
    this.#armCloseTimer();
    this.#resumeReading();
    this.#releaseGracefully().then(settle, settle);
  }

  async #releaseGracefully(): Promise<void> {
    try {
      await this.#port.end(); // our FIN, once every queued frame is out
    } catch {
      // Aborted by the close timer or failed: nothing more to flush.
    }
    // Wait for the peer's EOF (incoming bytes are discarded until then).
    if (!this.#eof) await new Promise<void>((resolve) => (this.#eofWaiter = resolve));
    this.#abortTransport();
  }

  #abortTransport(): void {
    if (this.#transportReleased) return;
    this.#transportReleased = true;
    this.#port.abort();
    this.#reachedEof();
  }
}

/**
 * Run the client side of a WebSocket over `transport`: send the opening
 * handshake, then exchange messages as WHATWG streams.
 * @example
 * ```ts
 * import { connectWebSocket } from "wsproto/streams";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * const ws = connectWebSocket(conn, { url: "ws://127.0.0.1:8080/", protocols: ["chat"] });
 * const { readable, writable, protocol } = await ws.opened;
 * ```
 */
export function connectWebSocket(
  transport: ByteTransport,
  options: ConnectWebSocketOptions<true> & { fragments: true },
): WebSocketSession<MessageChunk>;
export function connectWebSocket(transport: ByteTransport, options: ConnectWebSocketOptions): WebSocketSession<string | Uint8Array>;
export function connectWebSocket(
  transport: ByteTransport,
  options: ConnectWebSocketOptions<boolean>,
): WebSocketSession<string | Uint8Array> | WebSocketSession<MessageChunk> {
  return options.fragments === true
    ? new WebSocketSession<MessageChunk>(ConnectionType.CLIENT, transport, options)
    : new WebSocketSession<string | Uint8Array>(ConnectionType.CLIENT, transport, options);
}

/**
 * Run the server side of a WebSocket over `transport`: read the opening
 * handshake (or take `options.upgradeRequest`), accept or reject it, then
 * exchange messages as WHATWG streams.
 * @example
 * ```ts
 * import { acceptWebSocket } from "wsproto/streams";
 * const ws = acceptWebSocket(transport, {
 *   protocols: ["chat"],
 *   handleRequest: (request) => (request.target === "/chat" ? undefined : { status: 404, body: "no such room" }),
 * });
 * const { readable, writable } = await ws.opened;
 * await readable.pipeTo(writable); // echo
 * ```
 */
export function acceptWebSocket(
  transport: ByteTransport,
  options: AcceptWebSocketOptions<true> & { fragments: true },
): WebSocketSession<MessageChunk>;
export function acceptWebSocket(transport: ByteTransport, options?: AcceptWebSocketOptions): WebSocketSession<string | Uint8Array>;
export function acceptWebSocket(
  transport: ByteTransport,
  options: AcceptWebSocketOptions<boolean> = {},
): WebSocketSession<string | Uint8Array> | WebSocketSession<MessageChunk> {
  return options.fragments === true
    ? new WebSocketSession<MessageChunk>(ConnectionType.SERVER, transport, options)
    : new WebSocketSession<string | Uint8Array>(ConnectionType.SERVER, transport, options);
}
