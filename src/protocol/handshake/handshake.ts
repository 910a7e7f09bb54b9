/**
 * `H11Handshake`: the HTTP/1.1 upgrade handshake of RFC 6455 §4 (wsproto's
 * `wsproto.handshake`), and the extension negotiation functions shared with
 * handshakes done elsewhere (HTTP/2, RFC 8441).
 *
 * Invariants:
 * - Every state change goes through `transition()` and HANDSHAKE_TRANSITIONS.
 * - `send()` validates everything before it changes anything: a
 *   `LocalProtocolError` means nothing was written and nothing changed.
 * - `receiveData()` parses eagerly; a bad peer handshake raises a
 *   `RemoteProtocolError` whose `eventHint` is the `RejectConnection` to
 *   answer with (400, 426 with `Sec-WebSocket-Version: 13`, or 431 for an
 *   oversized request head); the state does not change, and later bytes
 *   raise the same error again.
 * - Nothing received is lost: a client hands the bytes after the 101 to its
 *   `Connection`; a server keeps the bytes after the request head (up to
 *   `maxHandshakeSize`) and hands them to its `Connection` on accept.
 * - Extensions are negotiated on forks (`Extension.fork()`), one per
 *   connection; the configured objects are never mutated.
 *
 * Error codes: `WS_ERR_BAD_HTTP` (malformed HTTP), `WS_ERR_HANDSHAKE_TOO_LARGE`
 * (head or pre-accept data over the limits), `WS_ERR_HANDSHAKE_METHOD`,
 * `WS_ERR_HANDSHAKE_HEADER` (Connection, Upgrade, Host, a header's syntax),
 * `WS_ERR_HANDSHAKE_VERSION`, `WS_ERR_HANDSHAKE_HTTP_VERSION` (a request
 * below HTTP/1.1), `WS_ERR_HANDSHAKE_BODY` (a request with a body),
 * `WS_ERR_HANDSHAKE_KEY`, `WS_ERR_HANDSHAKE_ACCEPT`,
 * `WS_ERR_HANDSHAKE_SUBPROTOCOL`, `WS_ERR_HANDSHAKE_EXTENSION` (remote);
 * `WS_ERR_INVALID_STATE`, `WS_ERR_INVALID_HEADER`, `WS_ERR_INVALID_TARGET`,
 * `WS_ERR_INVALID_HOST`, `WS_ERR_INVALID_SUBPROTOCOL`, `WS_ERR_INVALID_STATUS`,
 * `WS_ERR_INVALID_EXTENSION`, `WS_ERR_BODY_LENGTH`, `WS_ERR_INVALID_DATA_TYPE` (local).
 * @module
 */
import { Connection, type ConnectionInit } from "../frames/connection.ts";
import { LocalProtocolError, ProtocolError, RemoteProtocolError } from "../errors.ts";
import {
  AcceptConnection,
  RejectConnection,
  RejectData,
  Request,
  type Event,
} from "../events.ts";
import { Extension } from "../extensions/extension.ts";
import {
  WEBSOCKET_VERSION,
  buildExtensionItem,
  equalsLowerAscii,
  generateAcceptToken,
  generateNonce,
  hasToken,
  isToken,
  isValidNonce,
  parseExtensionItem,
  parseExtensions,
  parseSubprotocols,
  parseTokenList,
  type ExtensionItem,
} from "../http/headers.ts";
import {
  HttpError,
  HttpReader,
  LAST_CHUNK,
  validateHeaders,
  validateRequestLine,
  writeChunk,
  writeRequestHead,
  writeResponseHead,
  type HttpEvent,
  type RequestHead,
  type ResponseHead,
} from "../http/http.ts";
import { IdnaError, hostToAscii, hostToUnicode } from "../http/idna.ts";
import { pickConnectionOptions, resolveOptions, type ConnectionOptions, type ResolvedConnectionOptions } from "../options.ts";
import { HANDSHAKE_TRANSITIONS, transition, type Trigger } from "../state.ts";
import { ConnectionState, ConnectionType, connectionStateName, type Headers } from "../types.ts";

const EMPTY = new Uint8Array(0);

/** How a server's rejection body is framed on the wire. */
type RejectFraming =
  | { readonly kind: "length"; remaining: number }
  | { readonly kind: "chunked" }
  | { readonly kind: "close" }; // HTTP/1.0 style: the body ends with the connection

/** The request line of a request another HTTP stack parsed (see `initiateUpgradeConnection`). */
export interface ReceivedRequestLine {
  /** @default "GET" */
  method?: string;
  /** The digits after `HTTP/`, as Node's `req.httpVersion`. @default "1.1" */
  httpVersion?: string;
}

/** What a server remembers of a valid request. */
interface ReceivedRequest {
  readonly event: Request;
  readonly offers: string[];
  readonly key: string;
}

function stateName(state: ConnectionState): string {
  return `ConnectionState.${connectionStateName(state)}`;
}

function typeOf(event: unknown): string {
  const type = (event as { type?: unknown } | null | undefined)?.type;
  return typeof type === "string" ? type : String(event);
}

/** All values of header `name` (lower-case) joined with `", "`, or `null` if absent (RFC 7230 §3.2.2). */
function joined(headers: Headers, name: string): string | null {
  let out: string | null = null;
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!; // indexed, not destructured: no iterator in baseline code
    const n = field[0];
    const v = field[1];
    if (n === name) out = join(out, v);
  }
  return out;
}

/** One more value of a repeated header, as {@link joined} joins them. */
function join(out: string | null, value: string): string {
  return out === null ? value : `${out}, ${value}`;
}

/** RFC 6455 §4.2.1 item 3 / §4.1 item 2: `Upgrade` is exactly `websocket`, case-insensitively. */
function isWebSocketUpgrade(value: string | null): boolean {
  if (value === null) return false;
  if (isToken(value)) return equalsLowerAscii(value, "websocket"); // the usual one-token value, nothing parsed
  try {
    const tokens = parseTokenList(value);
    return tokens.length === 1 && equalsLowerAscii(tokens[0]!, "websocket");
  } catch {
    return false;
  }
}

// The fixed fields of a 101, shared (only read: written out, never kept).
const UPGRADE_WEBSOCKET: [string, string] = ["Upgrade", "WebSocket"];
const CONNECTION_UPGRADE: [string, string] = ["Connection", "Upgrade"];

function isExtension(value: unknown): boolean {
  return value instanceof Extension;
}

function forkOf(extension: Extension): Extension {
  return extension.fork();
}

function reject400(message: string, code: string): RemoteProtocolError {
  return new RemoteProtocolError(message, new RejectConnection(), code);
}

/**
 * The HTTP/1.1 opening handshake alone (RFC 6455 §4), as wsproto's
 * `H11Handshake`: a client sends a `Request` and receives an
 * `AcceptConnection` or a `RejectConnection` + `RejectData`; a server
 * receives a `Request` and sends one of those. Once OPEN, `connection` is the
 * frame-level {@link Connection}.
 * @example
 * ```ts
 * import { H11Handshake, ConnectionType, Request } from "wsproto";
 * const hs = new H11Handshake(ConnectionType.CLIENT);
 * socket.write(hs.send(new Request({ host: "example.com", target: "/" })));
 * hs.receiveData(responseBytes);
 * for (const event of hs.events()) console.log(event.type); // "AcceptConnection"
 * const conn = hs.connection; // frames from here on
 * ```
 */
export class H11Handshake {
  /** `true` on the client side. */
  readonly client: boolean;
  readonly #options: ConnectionOptions;
  readonly #limits: ResolvedConnectionOptions;
  #state: ConnectionState = ConnectionState.CONNECTING;
  /** The HTTP reader; dropped once OPEN (frames go to the connection), so an open connection does not keep it. */
  #reader: HttpReader | null;
  #events: Event[] = [];
  #connection: Connection | null = null;
  /** The error a bad peer handshake raised; raised again for later bytes. */
  #failure: RemoteProtocolError | null = null;
  #eof = false;
  // Client.
  #request: Request | null = null;
  #nonce: string | null = null;
  #offered: Extension[] = [];
  // Server.
  #received: ReceivedRequest | null = null;
  #requestHead: RequestHead | null = null;
  #extensionsHeader = "";
  #framing: RejectFraming | null = null;
  // Negotiated.
  #subprotocol: string | null = null;
  #extensions: readonly Extension[] = [];

  constructor(type: ConnectionType, options: ConnectionOptions = {}) {
    if (type !== ConnectionType.CLIENT && type !== ConnectionType.SERVER) {
      throw new LocalProtocolError(`Invalid connection type: ${String(type)}`, "WS_ERR_INVALID_CONNECTION_TYPE");
    }
    this.client = type === ConnectionType.CLIENT;
    this.#options = pickConnectionOptions(options);
    this.#limits = resolveOptions(this.#options);
    const limits = { maxHeadSize: this.#limits.maxHandshakeSize, maxHeaders: this.#limits.maxHeaders };
    // A server keeps bytes that follow the request (a client MUST wait for the
    // 101 before sending frames, RFC 6455 §4.1, so a little is plenty).
    this.#reader = new HttpReader(
      this.client ? "response" : "request",
      limits,
      this.client ? Infinity : this.#limits.maxHandshakeSize,
    );
  }

  /** CONNECTING, then OPEN, REJECTING or CLOSED. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The frame-level connection once the handshake succeeded, else `null`. */
  get connection(): Connection | null {
    return this.#connection;
  }

  /** The subprotocol agreed once OPEN (`null` if none). */
  get subprotocol(): string | null {
    return this.#subprotocol;
  }

  /** The extension instances negotiated (enabled forks), once OPEN. */
  get extensions(): readonly Extension[] {
    return this.#extensions;
  }

  /**
   * The negotiated `Sec-WebSocket-Extensions` value once OPEN, as the server
   * sent it (`""` when none): what `WebSocketStream`'s `extensions` reports.
   */
  get extensionsHeader(): string {
    return this.#extensionsHeader;
  }

  /** wsproto's repr. */
  toString(): string {
    return `H11Handshake(client=${this.client ? "True" : "False"}, state=${stateName(this.#state)})`;
  }

  #move(trigger: Trigger): void {
    const next = transition(HANDSHAKE_TRANSITIONS, this.#state, trigger);
    if (next === undefined) {
      // Unreachable by construction: every caller checks the state first.
      throw new LocalProtocolError(`Cannot ${trigger} in state ${stateName(this.#state)}`, "WS_ERR_INVALID_STATE");
    }
    this.#state = next;
  }

  /**
   * Server only: start from a request that an HTTP server already parsed
   * (Node's `'upgrade'` event: `req.rawHeaders` as pairs and `req.url`). The
   * request is validated exactly as if its bytes had been received. Pass
   * `received` (the peer's method and HTTP version) to have those checked
   * too, and a missing Host answered with 400 instead of raising here.
   * @example
   * ```ts
   * httpServer.on("upgrade", (req, socket, head) => {
   *   const ws = new WSConnection(ConnectionType.SERVER);
   *   const pairs: Headers = [];
   *   for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
   *   ws.initiateUpgradeConnection(pairs, req.url ?? "/");
   *   ws.receiveData(head);
   * });
   * ```
   */
  initiateUpgradeConnection(headers: Headers, path: string, received?: ReceivedRequestLine): void {
    if (this.client) {
      throw new LocalProtocolError(
        "Cannot initiate an upgrade connection when acting as the client",
        "WS_ERR_INVALID_STATE",
      );
    }
    validateHeaders(headers);
    if (received === undefined) {
      // wsproto (through h11) refuses to build an HTTP/1.1 request without Host.
      if (!headers.some(([name]) => name.toLowerCase() === "host")) {
        throw new LocalProtocolError("Missing mandatory Host: header", "WS_ERR_INVALID_HEADER");
      }
    }
    // The peer's own request line: its method, version and a missing Host are
    // the peer's faults, answered (400) as on any other path.
    const method = received?.method ?? "GET";
    const httpVersion = received?.httpVersion ?? "1.1";
    validateRequestLine(method, path, httpVersion);
    const reader = this.#reader;
    if (
      reader === null ||
      !reader.idle ||
      this.#state !== ConnectionState.CONNECTING ||
      this.#failure !== null ||
      this.#eof
    ) {
      // Not a fresh server (called twice, after bytes or after the end):
      // exactly what receiving the request's bytes would do now.
      this.receiveData(writeRequestHead(method, path, headers, httpVersion));
      return;
    }
    // The request is handed to the reader as parsed fields: the same limits,
    // checks and events as its bytes, without writing and re-reading them.
    const events: HttpEvent[] = [];
    let error: unknown = null;
    try {
      reader.pushRequestHead(method, path, httpVersion, headers, events);
    } catch (e) {
      error = e;
    }
    this.#process(events);
    if (error !== null) this.#httpFailure(error);
  }

  /**
   * Server only: the request head received (method, target, HTTP version,
   * headers), valid or not, until the handshake is answered; `null` before.
   * An HTTP server beside the WebSocket uses it to answer a plain request.
   */
  get requestHead(): RequestHead | null {
    return this.#requestHead;
  }

  /**
   * The bytes that send `event`: a client's `Request`; a server's
   * `AcceptConnection`, `RejectConnection` or `RejectData`.
   * @throws LocalProtocolError when the event is not allowed now or is invalid; nothing changes.
   */
  send(event: Event): Uint8Array {
    switch ((event as Event | null | undefined)?.type) {
      case "Request":
        return this.#sendRequest(event as Request);
      case "AcceptConnection":
        return this.#sendAccept(event as AcceptConnection);
      case "RejectConnection":
        return this.#sendReject(event as RejectConnection);
      case "RejectData":
        return this.#sendRejectData(event as RejectData);
      default:
        throw new LocalProtocolError(
          this.#state === ConnectionState.OPEN
            ? `Event ${typeOf(event)} cannot be sent by the handshake once OPEN: use its connection`
            : `Event ${typeOf(event)} cannot be sent during the handshake`,
          "WS_ERR_INVALID_STATE",
        );
    }
  }

  /**
   * Feed bytes from the peer, or `null` when the transport closed. Events are
   * queued for {@link events}. An empty chunk does nothing. Once OPEN, bytes
   * go to the connection.
   * @throws RemoteProtocolError when the peer's handshake is invalid (send its `eventHint`).
   */
  receiveData(data: Uint8Array | null): void {
    if (data !== null && !(data instanceof Uint8Array)) {
      throw new LocalProtocolError("receiveData expects a Uint8Array or null", "WS_ERR_INVALID_DATA_TYPE");
    }
    if (this.#connection !== null) {
      this.#connection.receiveData(data);
      return;
    }
    if (data === null) {
      this.#receiveEof();
      return;
    }
    // Deviation from wsproto 1.2: only null means end of stream.
    if (data.length === 0) return;
    // A rejected handshake is over: wsproto ignores whatever follows.
    if (this.#state === ConnectionState.CLOSED) return;
    if (this.#failure !== null) throw this.#failure;
    if (this.#eof) {
      throw new LocalProtocolError("Data received after the end of the stream", "WS_ERR_INVALID_STATE");
    }
    if (!this.client && this.#state === ConnectionState.REJECTING) return; // we are answering; input is moot
    if (this.client && this.#request === null) {
      this.#fail(reject400("Bad HTTP message", "WS_ERR_BAD_HTTP"), new HttpError("data received before the request was sent"));
    }
    const events: HttpEvent[] = [];
    let error: unknown = null;
    try {
      this.#reader!.push(data, events);
    } catch (e) {
      error = e;
    }
    this.#process(events);
    if (error !== null) this.#httpFailure(error);
  }

  /** The events received so far (each yielded once; stopping early keeps the rest queued). */
  *events(): Generator<Event, void, undefined> {
    while (this.#events.length > 0) yield this.#events.shift()!;
  }

  // -------------------------------------------------------------------------
  // Receiving

  #receiveEof(): void {
    if (this.#state === ConnectionState.CLOSED || this.#eof) return;
    this.#eof = true;
    if (this.#failure !== null) return;
    if (this.client && this.#request === null) return;
    if (!this.client && this.#state === ConnectionState.REJECTING) return;
    let events: HttpEvent[];
    try {
      events = this.#reader!.end();
    } catch (e) {
      this.#httpFailure(e);
    }
    this.#process(events);
    // RFC 6455 §4.1: a client that gets no response fails the connection.
    if (this.client && this.#state === ConnectionState.CONNECTING) {
      this.#fail(reject400("Bad HTTP message", "WS_ERR_BAD_HTTP"), new HttpError("connection closed before a response"));
    }
  }

  #httpFailure(error: unknown): never {
    if (error instanceof HttpError) {
      if (error.tooMuchData) {
        // RFC 6455 §4.1: a client MUST wait for the 101 before sending frames.
        const message = `More than ${this.#limits.maxHandshakeSize} bytes received before the handshake completed`;
        this.#fail(new RemoteProtocolError(message, new RejectConnection(), "WS_ERR_HANDSHAKE_TOO_LARGE"), error);
      }
      if (error.status === 431) {
        const message = this.client ? "Response head too large" : "Request header fields too large";
        const hint = new RejectConnection({ statusCode: this.client ? 400 : 431 });
        this.#fail(new RemoteProtocolError(message, hint, "WS_ERR_HANDSHAKE_TOO_LARGE"), error);
      }
      this.#fail(reject400("Bad HTTP message", "WS_ERR_BAD_HTTP"), error);
    }
    throw error; // a bug, not bad input
  }

  #fail(error: RemoteProtocolError, cause?: unknown): never {
    if (cause !== undefined) (error as { cause?: unknown }).cause = cause;
    this.#failure = error;
    throw error;
  }

  #process(events: HttpEvent[]): void {
    for (let i = 0; i < events.length; i++) {
      if (this.client) this.#clientEvent(events[i]!);
      else this.#serverEvent(events[i]!);
    }
  }

  #serverEvent(ev: HttpEvent): void {
    // The request body (if any) is read and dropped; only the head matters.
    if (ev.type !== "head" || ev.head.kind !== "request") return;
    this.#requestHead = ev.head;
    let received: ReceivedRequest;
    try {
      received = this.#validateRequest(ev.head);
    } catch (e) {
      if (e instanceof RemoteProtocolError) this.#fail(e);
      throw e;
    }
    this.#received = received;
    this.#events.push(received.event);
  }

  /** RFC 6455 §4.2.1, checked in wsproto's order with wsproto's messages. */
  #validateRequest(head: RequestHead): ReceivedRequest {
    if (head.method !== "GET") {
      throw new RemoteProtocolError("Request method must be GET", new RejectConnection(), "WS_ERR_HANDSHAKE_METHOD");
    }
    // One pass over the fields (indexed: no iterators); the checks below keep wsproto's order.
    const headers = head.headers;
    const extraHeaders: Headers = new Array<[string, string]>(headers.length); // trimmed below
    let extra = 0;
    let key: string | null = null; // every Sec-WebSocket-Key, joined
    let host: string | null = null; // the last Host
    let connection: string | null = null;
    let version: string | null = null;
    let upgrade: string | null = null;
    let hasBody = false;
    let offered = false; // a Sec-WebSocket-Protocol or -Extensions field to parse
    for (let i = 0; i < headers.length; i++) {
      const field = headers[i]!;
      const name = field[0];
      const value = field[1];
      switch (name) {
        case "host":
          host = value;
          continue;
        case "sec-websocket-extensions":
        case "sec-websocket-protocol":
          offered = true;
          continue;
        case "sec-websocket-key":
          key = join(key, value);
          break;
        case "connection":
          connection = join(connection, value);
          break;
        case "sec-websocket-version":
          version = join(version, value);
          break;
        case "upgrade":
          upgrade = join(upgrade, value);
          break;
        case "transfer-encoding":
          hasBody = true;
          break;
        case "content-length":
          if (Number(value) !== 0) hasBody = true;
          break;
      }
      extraHeaders[extra++] = [name, value];
    }
    extraHeaders.length = extra;
    if (connection === null || !hasToken(connection, "upgrade")) {
      throw reject400("Missing header, 'Connection: Upgrade'", "WS_ERR_HANDSHAKE_HEADER");
    }
    if (version !== WEBSOCKET_VERSION) {
      // RFC 6455 §4.4: answer an unsupported version with 426 and the versions we speak.
      throw new RemoteProtocolError(
        "Missing header, 'Sec-WebSocket-Version'",
        new RejectConnection({
          statusCode: version === null ? 400 : 426,
          headers: [["Sec-WebSocket-Version", WEBSOCKET_VERSION]],
        }),
        "WS_ERR_HANDSHAKE_VERSION",
      );
    }
    if (key === null) throw reject400("Missing header, 'Sec-WebSocket-Key'", "WS_ERR_HANDSHAKE_KEY");
    if (!isWebSocketUpgrade(upgrade)) {
      throw reject400("Missing header, 'Upgrade: WebSocket'", "WS_ERR_HANDSHAKE_HEADER");
    }
    if (host === null) throw reject400("Missing header, 'Host'", "WS_ERR_HANDSHAKE_HEADER");
    // Checked after wsproto's own checks, so that its messages stay the same where both refuse.
    // RFC 6455 §4.1: "the HTTP version MUST be at least 1.1" (deviation: wsproto accepts 1.0).
    if (head.httpVersion < "1.1") {
      throw reject400(`HTTP version must be at least 1.1, got ${head.httpVersion}`, "WS_ERR_HANDSHAKE_HTTP_VERSION");
    }
    // An upgrade request has no body (as python websockets): bytes after the
    // head are frames, and a body would be taken for them or eat them.
    if (hasBody) throw reject400("An upgrade request must not have a body", "WS_ERR_HANDSHAKE_BODY");
    // RFC 6455 §4.2.1 item 4 (deviation: wsproto accepts any key): the key
    // must be the base64 of 16 bytes, and appear once.
    if (!isValidNonce(key)) {
      throw reject400(`Invalid Sec-WebSocket-Key ${JSON.stringify(key)}`, "WS_ERR_HANDSHAKE_KEY");
    }
    let unicodeHost: string;
    try {
      unicodeHost = hostToUnicode(host);
    } catch (e) {
      if (!(e instanceof IdnaError)) throw e;
      throw reject400(`Invalid Host header: ${e.message}`, "WS_ERR_HANDSHAKE_HEADER");
    }
    const subprotocols: string[] = [];
    const offers: string[] = [];
    for (let i = 0; offered && i < headers.length; i++) {
      const field = headers[i]!;
      const name = field[0];
      const value = field[1];
      try {
        if (name === "sec-websocket-protocol") subprotocols.push(...parseSubprotocols(value));
        else if (name === "sec-websocket-extensions") {
          for (const item of parseExtensions(value)) offers.push(buildExtensionItem(item));
        }
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        throw reject400(
          `Invalid ${name === "sec-websocket-protocol" ? "Sec-WebSocket-Protocol" : "Sec-WebSocket-Extensions"} header: ${e.message}`,
          name === "sec-websocket-protocol" ? "WS_ERR_HANDSHAKE_SUBPROTOCOL" : "WS_ERR_HANDSHAKE_EXTENSION",
        );
      }
    }
    const event = new Request({
      host: unicodeHost,
      target: head.target,
      extensions: offers.slice(),
      extraHeaders,
      subprotocols,
    });
    return { event, offers, key };
  }

  #clientEvent(ev: HttpEvent): void {
    if (ev.type === "head") {
      const head = ev.head as ResponseHead;
      if (head.statusCode === 101) {
        this.#establish(head);
      } else if (head.statusCode >= 200) {
        this.#move("client-receive-rejection");
        this.#events.push(
          new RejectConnection({ statusCode: head.statusCode, headers: head.headers, hasBody: true }),
        );
      }
      // Deviation from wsproto 1.2: other 1xx responses are interim (RFC 7231
      // §6.2) and ignored while waiting for the real one.
      return;
    }
    if (this.#state !== ConnectionState.REJECTING) return;
    if (ev.type === "data") {
      this.#events.push(new RejectData({ data: ev.data, bodyFinished: false }));
    } else {
      this.#move("client-rejection-body-end");
      this.#events.push(new RejectData({ data: EMPTY, bodyFinished: true }));
    }
  }

  /** RFC 6455 §4.1 (the client's checks of the 101), in wsproto's order. */
  #establish(head: ResponseHead): void {
    const headers = head.headers;
    const extraHeaders: Headers = [];
    for (const [name, value] of headers) {
      if (
        name !== "connection" &&
        name !== "upgrade" &&
        name !== "sec-websocket-accept" &&
        name !== "sec-websocket-protocol" &&
        name !== "sec-websocket-extensions"
      ) {
        extraHeaders.push([name, value]);
      }
    }
    const connection = joined(headers, "connection");
    if (connection === null || !hasToken(connection, "upgrade")) {
      this.#fail(reject400("Missing header, 'Connection: Upgrade'", "WS_ERR_HANDSHAKE_HEADER"));
    }
    if (!isWebSocketUpgrade(joined(headers, "upgrade"))) {
      this.#fail(reject400("Missing header, 'Upgrade: WebSocket'", "WS_ERR_HANDSHAKE_HEADER"));
    }
    if (joined(headers, "sec-websocket-accept") !== generateAcceptToken(this.#nonce!)) {
      this.#fail(reject400("Bad accept token", "WS_ERR_HANDSHAKE_ACCEPT"));
    }
    const subprotocol = joined(headers, "sec-websocket-protocol");
    // RFC 6455 §4.1 item 6: the server may only select one of the offered values.
    if (subprotocol !== null && !this.#request!.subprotocols.includes(subprotocol)) {
      this.#fail(reject400(`unrecognized subprotocol ${subprotocol}`, "WS_ERR_HANDSHAKE_SUBPROTOCOL"));
    }
    // Deviation from wsproto 1.2: every Sec-WebSocket-Extensions header counts.
    const accepted = headers.filter(([n]) => n === "sec-websocket-extensions").map(([, v]) => v);
    this.#extensionsHeader = accepted.join(", ");
    let extensions: Extension[];
    try {
      extensions = clientExtensionsHandshake(accepted, this.#offered);
    } catch (e) {
      if (!(e instanceof RemoteProtocolError)) throw e;
      const error = e.eventHint === null ? new RemoteProtocolError(e.message, new RejectConnection(), e.code) : e;
      this.#fail(error, e === error ? undefined : e);
    }
    const trailingData = this.#reader!.takeTrailing();
    this.#reader = null;
    this.#connection = new Connection(ConnectionType.CLIENT, {
      ...this.#options,
      extensions,
      ...(trailingData.length > 0 ? { trailingData } : {}),
    });
    this.#subprotocol = subprotocol;
    this.#extensions = this.#connection.extensions;
    this.#move("client-receive-101");
    this.#events.push(new AcceptConnection({ subprotocol, extensions, extraHeaders }));
  }

  // -------------------------------------------------------------------------
  // Sending

  #sendRequest(event: Request): Uint8Array {
    if (!this.client) {
      throw new LocalProtocolError("A server cannot send a Request", "WS_ERR_INVALID_STATE");
    }
    if (this.#state !== ConnectionState.CONNECTING || this.#request !== null) {
      throw new LocalProtocolError(
        this.#request !== null
          ? "A Request was already sent"
          : `Event Request cannot be sent in state ${stateName(this.#state)}.`,
        "WS_ERR_INVALID_STATE",
      );
    }
    const { host, target, subprotocols, extensions, extraHeaders } = event;
    if (typeof host !== "string") throw new LocalProtocolError("Request.host must be a string", "WS_ERR_INVALID_HOST");
    let asciiHost: string;
    try {
      asciiHost = hostToAscii(host);
    } catch (e) {
      if (!(e instanceof IdnaError)) throw e;
      throw new LocalProtocolError(`Invalid host ${JSON.stringify(host)}: ${e.message}`, "WS_ERR_INVALID_HOST");
    }
    if (!/^[\x21-\x7e]*$/.test(asciiHost)) {
      throw new LocalProtocolError(`Invalid host ${JSON.stringify(host)}`, "WS_ERR_INVALID_HOST");
    }
    if (typeof target !== "string" || !/^[\x21-\x7e]+$/.test(target)) {
      throw new LocalProtocolError(
        `Illegal request target ${JSON.stringify(target)}: printable ASCII without spaces required`,
        "WS_ERR_INVALID_TARGET",
      );
    }
    if (!Array.isArray(subprotocols) || !subprotocols.every((s) => typeof s === "string" && isToken(s))) {
      throw new LocalProtocolError(
        `Invalid subprotocols ${JSON.stringify(subprotocols)}: RFC 6455 §4.1 requires tokens`,
        "WS_ERR_INVALID_SUBPROTOCOL",
      );
    }
    validateHeaders(extraHeaders);
    if (extraHeaders.some(([name]) => name.toLowerCase() === "host")) {
      throw new LocalProtocolError("Host is set from Request.host; do not repeat it in extraHeaders", "WS_ERR_INVALID_HEADER");
    }
    if (!Array.isArray(extensions)) {
      throw new LocalProtocolError("Request.extensions must be an array of Extension objects", "WS_ERR_INVALID_EXTENSION");
    }
    // Offers: keyed by name, a repeated name keeps its first position and its last offer (wsproto).
    const offers = new Map<string, { fork: Extension; offer: boolean | string }>();
    for (const ext of extensions) {
      if (!(ext instanceof Extension)) {
        throw new LocalProtocolError(
          "A client Request's extensions must be Extension objects",
          "WS_ERR_INVALID_EXTENSION",
        );
      }
      const fork = ext.fork();
      const offer = callHook(() => fork.offer(), ext, "offer");
      if (typeof offer !== "boolean" && typeof offer !== "string") {
        throw new LocalProtocolError(`${ext.name}.offer() must return a boolean or a string`, "WS_ERR_INVALID_EXTENSION");
      }
      offers.set(ext.name, { fork, offer });
    }
    const items: string[] = [];
    const offered: Extension[] = [];
    for (const [name, { fork, offer }] of offers) {
      if (offer === false) continue;
      items.push(checkedItem(offer === true || offer === "" ? name : `${name}; ${offer}`));
      offered.push(fork);
    }

    const nonce = generateNonce(this.#limits.random);
    const headers: Headers = [
      ["Host", asciiHost],
      ["Upgrade", "WebSocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Key", nonce],
      ["Sec-WebSocket-Version", WEBSOCKET_VERSION],
    ];
    if (subprotocols.length > 0) headers.push(["Sec-WebSocket-Protocol", subprotocols.join(", ")]);
    if (items.length > 0) headers.push(["Sec-WebSocket-Extensions", items.join(", ")]);
    headers.push(...extraHeaders);
    const bytes = writeRequestHead("GET", target, headers);
    this.#request = event;
    this.#nonce = nonce;
    this.#offered = offered;
    return bytes;
  }

  #sendAccept(event: AcceptConnection): Uint8Array {
    if (this.client) {
      throw new LocalProtocolError("A client cannot send AcceptConnection", "WS_ERR_INVALID_STATE");
    }
    const received = this.#received;
    if (this.#state !== ConnectionState.CONNECTING || received === null) {
      throw new LocalProtocolError(
        this.#state === ConnectionState.CONNECTING
          ? "Cannot accept: no valid request was received"
          : `Event AcceptConnection cannot be sent in state ${stateName(this.#state)}.`,
        "WS_ERR_INVALID_STATE",
      );
    }
    const { subprotocol, extensions, extraHeaders } = event;
    if (subprotocol !== null && !received.event.subprotocols.includes(subprotocol)) {
      throw new LocalProtocolError(`unexpected subprotocol ${String(subprotocol)}`, "WS_ERR_INVALID_SUBPROTOCOL");
    }
    validateHeaders(extraHeaders);
    if (!Array.isArray(extensions) || !extensions.every(isExtension)) {
      throw new LocalProtocolError("AcceptConnection.extensions must be Extension objects", "WS_ERR_INVALID_EXTENSION");
    }
    const headers: Headers = [UPGRADE_WEBSOCKET, CONNECTION_UPGRADE, ["Sec-WebSocket-Accept", generateAcceptToken(received.key)]];
    if (subprotocol !== null) headers.push(["Sec-WebSocket-Protocol", subprotocol]);
    const forks = extensions.map(forkOf);
    if (forks.length > 0) {
      const accepts = serverExtensionsHandshake(received.offers, forks);
      if (accepts !== null) {
        headers.push(["Sec-WebSocket-Extensions", accepts]);
        this.#extensionsHeader = accepts;
      }
    }
    for (let i = 0; i < extraHeaders.length; i++) headers.push(extraHeaders[i]!);
    const bytes = writeResponseHead(101, headers);
    const trailingData = this.#reader!.takeTrailing();
    this.#reader = null;
    this.#received = null;
    this.#requestHead = null;
    const init: ConnectionInit = { ...this.#options, extensions: forks };
    if (trailingData.length > 0) init.trailingData = trailingData;
    this.#connection = new Connection(ConnectionType.SERVER, init);
    this.#subprotocol = subprotocol;
    this.#extensions = this.#connection.extensions;
    this.#move("server-send-accept");
    // The peer already hung up: the connection learns it at once (a 1006 close event).
    if (this.#eof) this.#connection.receiveData(null);
    return bytes;
  }

  #sendReject(event: RejectConnection): Uint8Array {
    if (this.client) {
      throw new LocalProtocolError("A client cannot send RejectConnection", "WS_ERR_INVALID_STATE");
    }
    if (this.#state !== ConnectionState.CONNECTING) {
      throw new LocalProtocolError(`Connection cannot be rejected in state ${stateName(this.#state)}`, "WS_ERR_INVALID_STATE");
    }
    const { statusCode, hasBody } = event;
    if (!Number.isInteger(statusCode) || statusCode < 200 || statusCode > 999) {
      throw new LocalProtocolError(
        `Invalid rejection status ${String(statusCode)}: must be 200-999 (use AcceptConnection for 101)`,
        "WS_ERR_INVALID_STATUS",
      );
    }
    validateHeaders(event.headers);
    const request = this.#requestHead;
    const headers: Headers = [...event.headers];
    let contentLength: number | null = null;
    let chunked = false;
    for (const [name, value] of headers) {
      const lower = name.toLowerCase();
      if (lower === "content-length") {
        if (contentLength !== null || !/^[0-9]{1,15}$/.test(value)) {
          throw new LocalProtocolError(`Invalid or repeated Content-Length ${JSON.stringify(value)}`, "WS_ERR_INVALID_HEADER");
        }
        contentLength = Number(value);
      } else if (lower === "transfer-encoding") {
        if (chunked || value.toLowerCase() !== "chunked") {
          throw new LocalProtocolError("Only one Transfer-Encoding: chunked is supported", "WS_ERR_INVALID_HEADER");
        }
        chunked = true;
      }
    }
    if (chunked && contentLength !== null) {
      throw new LocalProtocolError("Content-Length and Transfer-Encoding cannot both be sent", "WS_ERR_INVALID_HEADER");
    }
    // h11's rules (wsproto's framing): the peer's HTTP version and keep-alive decide.
    const http10 = request === null || request.httpVersion < "1.1";
    const keepAlive =
      request === null ||
      (request.httpVersion >= "1.1" && !hasToken(joined(request.headers, "connection") ?? "", "close"));
    let framing: RejectFraming;
    let needClose = !keepAlive;
    if (!hasBody) {
      if (chunked || (contentLength !== null && contentLength !== 0)) {
        throw new LocalProtocolError("A rejection without a body cannot declare one", "WS_ERR_INVALID_HEADER");
      }
      if (contentLength === null) headers.push(["content-length", "0"]);
      framing = { kind: "length", remaining: 0 };
    } else if (statusCode === 204 || statusCode === 304) {
      throw new LocalProtocolError(`A ${statusCode} response cannot have a body`, "WS_ERR_INVALID_STATUS");
    } else if (chunked) {
      framing = { kind: "chunked" };
    } else if (contentLength !== null) {
      framing = { kind: "length", remaining: contentLength };
    } else if (request === null || http10) {
      // No framing an HTTP/1.0 peer understands: the body ends with the connection.
      framing = { kind: "close" };
      needClose = true;
    } else {
      headers.push(["Transfer-Encoding", "chunked"]);
      framing = { kind: "chunked" };
    }
    if (needClose) {
      // h11's set_comma_header: the Connection tokens, minus keep-alive, plus close, one line each.
      const tokens = new Set<string>();
      for (let i = headers.length - 1; i >= 0; i--) {
        const [name, value] = headers[i]!;
        if (name.toLowerCase() !== "connection") continue;
        let list: string[];
        try {
          list = parseTokenList(value);
        } catch {
          throw new LocalProtocolError(`Invalid Connection header ${JSON.stringify(value)}`, "WS_ERR_INVALID_HEADER");
        }
        for (const t of list) tokens.add(t.toLowerCase());
        headers.splice(i, 1);
      }
      tokens.delete("keep-alive");
      tokens.add("close");
      for (const t of [...tokens].sort()) headers.push(["Connection", t]);
    }
    const bytes = writeResponseHead(statusCode, headers, event.reason ?? "");
    this.#framing = framing;
    this.#reader!.takeTrailing(); // a rejected connection never reads frames
    this.#move(hasBody ? "server-send-reject-with-body" : "server-send-reject-no-body");
    return bytes;
  }

  #sendRejectData(event: RejectData): Uint8Array {
    if (this.client) {
      throw new LocalProtocolError("A client cannot send RejectData", "WS_ERR_INVALID_STATE");
    }
    if (this.#state !== ConnectionState.REJECTING) {
      throw new LocalProtocolError(`Cannot send rejection data in state ${stateName(this.#state)}`, "WS_ERR_INVALID_STATE");
    }
    const { data, bodyFinished } = event;
    if (!(data instanceof Uint8Array)) {
      throw new LocalProtocolError("RejectData.data must be a Uint8Array", "WS_ERR_INVALID_DATA_TYPE");
    }
    const framing = this.#framing!;
    let bytes: Uint8Array;
    if (framing.kind === "length") {
      if (data.length > framing.remaining) {
        throw new LocalProtocolError("Too much data for declared Content-Length", "WS_ERR_BODY_LENGTH");
      }
      if (bodyFinished && data.length < framing.remaining) {
        throw new LocalProtocolError("Too little data for declared Content-Length", "WS_ERR_BODY_LENGTH");
      }
      framing.remaining -= data.length;
      bytes = data.slice();
    } else if (framing.kind === "chunked") {
      const chunk = writeChunk(data);
      if (bodyFinished) {
        bytes = new Uint8Array(chunk.length + LAST_CHUNK.length);
        bytes.set(chunk);
        bytes.set(LAST_CHUNK, chunk.length);
      } else {
        bytes = chunk;
      }
    } else {
      bytes = data.slice();
    }
    if (bodyFinished) this.#move("server-send-reject-data-end");
    return bytes;
  }
}

/** Run an extension hook; a non-protocol error from user code becomes a `LocalProtocolError`. */
function callHook<T>(hook: () => T, ext: Extension, what: string): T {
  try {
    return hook();
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    const error = new LocalProtocolError(
      `Extension ${String(ext.name)} failed in ${what}(): ${e instanceof Error ? e.message : String(e)}`,
      "WS_ERR_INVALID_EXTENSION",
    );
    (error as { cause?: unknown }).cause = e;
    throw error;
  }
}

/** An extension item we are about to send, checked and normalized. */
function checkedItem(text: string): string {
  let item: ExtensionItem;
  try {
    item = parseExtensionItem(text);
  } catch (e) {
    throw new LocalProtocolError(
      `Invalid extension item ${JSON.stringify(text)}: ${e instanceof Error ? e.message : String(e)}`,
      "WS_ERR_INVALID_EXTENSION",
    );
  }
  return buildExtensionItem(item);
}

function parseExtensionValues(values: readonly string[]): ExtensionItem[] {
  const items: ExtensionItem[] = [];
  for (const value of values) {
    if (typeof value !== "string") {
      throw new LocalProtocolError("Extension offers must be strings", "WS_ERR_INVALID_EXTENSION");
    }
    try {
      items.push(...parseExtensions(value));
    } catch (e) {
      if (!(e instanceof RemoteProtocolError)) throw e;
      throw reject400(`Invalid Sec-WebSocket-Extensions header: ${e.message}`, "WS_ERR_HANDSHAKE_EXTENSION");
    }
  }
  return items;
}

/**
 * Server side of the extension negotiation (wsproto's
 * `server_extensions_handshake`): for each offer, in order, every supported
 * extension of that name is asked to `accept()` it; the last accepted offer
 * of a name wins (at the position of the first). Returns the
 * `Sec-WebSocket-Extensions` value to send, or `null` if nothing was accepted.
 *
 * Accepting enables the extension objects passed in: pass forks
 * (`ext.fork()`), one set per connection, then hand the same objects to the
 * `Connection`.
 * @param requested offers, one item each (`"permessage-deflate; client_max_window_bits"`) or whole header values.
 * @throws RemoteProtocolError (hint 400) if an offer is not valid header syntax.
 * @example
 * ```ts
 * const forks = [new PerMessageDeflate().fork()];
 * const value = serverExtensionsHandshake(["permessage-deflate"], forks); // "permessage-deflate"
 * const conn = new Connection(ConnectionType.SERVER, { extensions: forks });
 * ```
 */
export function serverExtensionsHandshake(requested: readonly string[], supported: readonly Extension[]): string | null {
  const accepts = new Map<string, string>();
  for (const item of parseExtensionValues(requested)) {
    const offer = buildExtensionItem(item);
    for (const ext of supported) {
      if (ext.name !== item.name) continue;
      const answer = callHook(() => ext.accept(offer), ext, "accept");
      if (answer === true || answer === "") accepts.set(ext.name, ext.name);
      else if (typeof answer === "string") accepts.set(ext.name, `${ext.name}; ${answer}`);
      else if (answer !== false && answer !== null && answer !== undefined) {
        throw new LocalProtocolError(`${ext.name}.accept() must return a boolean, a string or null`, "WS_ERR_INVALID_EXTENSION");
      }
    }
  }
  if (accepts.size === 0) return null;
  return [...accepts.values()].map(checkedItem).join(", ");
}

/**
 * Client side of the extension negotiation (wsproto's
 * `client_extensions_handshake`): every extension the server accepted must
 * be one we offered (RFC 6455 §9.1), at most once; each is `finalize()`d
 * with the server's item, and the list is returned in the server's order.
 *
 * Finalizing configures the extension objects passed in: pass the forks
 * that made the offers.
 * @param accepted the server's items or whole `Sec-WebSocket-Extensions` values (all of them).
 * @throws RemoteProtocolError (hint 400) for an extension not offered, a repeated one, bad syntax, or parameters the extension refuses.
 * @example
 * ```ts
 * const pmd = new PerMessageDeflate().fork();
 * const offer = pmd.offer(); // sent in the request
 * const agreed = clientExtensionsHandshake(["permessage-deflate; server_no_context_takeover"], [pmd]);
 * ```
 */
export function clientExtensionsHandshake(accepted: readonly string[], supported: readonly Extension[]): Extension[] {
  const out: Extension[] = [];
  const seen = new Set<string>();
  for (const item of parseExtensionValues(accepted)) {
    const ext = supported.find((e) => e.name === item.name);
    if (ext === undefined) {
      throw reject400(`unrecognized extension ${item.name}`, "WS_ERR_HANDSHAKE_EXTENSION");
    }
    if (seen.has(item.name)) {
      throw reject400(`extension ${item.name} accepted twice`, "WS_ERR_HANDSHAKE_EXTENSION");
    }
    seen.add(item.name);
    const response = buildExtensionItem(item);
    try {
      ext.finalize(response);
    } catch (e) {
      if (e instanceof RemoteProtocolError) {
        if (e.eventHint !== null) throw e;
        const error = new RemoteProtocolError(e.message, new RejectConnection(), e.code);
        (error as { cause?: unknown }).cause = e;
        throw error;
      }
      // A throwing finalize() means the server's parameters were unacceptable.
      const error = reject400(
        `extension ${item.name} refused the server's response ${JSON.stringify(response)}: ${e instanceof Error ? e.message : String(e)}`,
        "WS_ERR_HANDSHAKE_EXTENSION",
      );
      (error as { cause?: unknown }).cause = e;
      throw error;
    }
    out.push(ext);
  }
  return out;
}
