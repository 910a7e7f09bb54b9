/**
 * `H11Handshake`: the HTTP/1.1 upgrade handshake of RFC 6455 §4 (wsproto's
 * `wsproto.handshake`) as one state machine: which event may be sent or
 * received when, and what happens to the bytes around the handshake. What a
 * request or a response must hold is in `client.ts`, `server.ts` and
 * `rejection.ts`; extension negotiation in `negotiation.ts`.
 *
 * Invariants:
 * - Every state change goes through `#move()` and HANDSHAKE_TRANSITIONS.
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
 * - Bound: the HTTP reader holds at most `maxHandshakeSize` bytes of head
 *   (and, on a server, of bytes after it); it is dropped once OPEN.
 * - Extensions are negotiated on forks (`Extension.fork()`), one per
 *   connection; the configured objects are never mutated.
 * @module
 */
import { Connection, type ConnectionInit } from "../frames/connection.ts";
import { LocalProtocolError, RemoteProtocolError } from "../errors.ts";
import { AcceptConnection, RejectConnection, RejectData, type Event, type Request } from "../events.ts";
import type { Extension } from "../extensions/extension.ts";
import { HttpError, type HttpEvent, type RequestHead, type ResponseHead } from "../http/message.ts";
import { HttpReader } from "../http/reader.ts";
import { writeRequestHead } from "../http/writer.ts";
import { pickConnectionOptions, resolveOptions, type ConnectionOptions, type ResolvedConnectionOptions } from "../options.ts";
import { HANDSHAKE_TRANSITIONS, transition, type Trigger } from "../state.ts";
import { ConnectionState, ConnectionType, connectionStateName, type Headers } from "../types.ts";
import { buildRequest, checkResponse } from "./client.ts";
import { fromHttpError, reject400 } from "./fields.ts";
import { buildRejection, rejectionBody, type RejectFraming } from "./rejection.ts";
import { buildAccept, checkParsedRequest, validateRequest, type ReceivedRequest, type ReceivedRequestLine } from "./server.ts";

const EMPTY = new Uint8Array(0);

function stateName(state: ConnectionState): string {
  return `ConnectionState.${connectionStateName(state)}`;
}

function typeOf(event: unknown): string {
  const type = (event as { type?: unknown } | null | undefined)?.type;
  return typeof type === "string" ? type : String(event);
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
  #framing: RejectFraming | null = null;
  // Negotiated.
  #subprotocol: string | null = null;
  #extensions: readonly Extension[] = [];
  #extensionsHeader = "";

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
   * wrote it (a client: every such header of the 101, joined with `", "`);
   * `""` when none was agreed. What `WebSocketStream`'s `extensions` reports.
   * @example
   * ```ts
   * hs.extensionsHeader; // "permessage-deflate; server_no_context_takeover" (or "")
   * ```
   */
  get extensionsHeader(): string {
    return this.#extensionsHeader;
  }

  /** wsproto's repr. */
  toString(): string {
    return `H11Handshake(client=${this.client ? "True" : "False"}, state=${stateName(this.#state)})`;
  }

  /** A local call the state or the role forbids: nothing changes. */
  #refuse(message: string): never {
    throw new LocalProtocolError(message, "WS_ERR_INVALID_STATE");
  }

  #move(trigger: Trigger): void {
    const next = transition(HANDSHAKE_TRANSITIONS, this.#state, trigger);
    if (next === undefined) {
      // Unreachable by construction: every caller checks the state first.
      this.#refuse(`Cannot ${trigger} in state ${stateName(this.#state)}`);
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
    if (this.client) this.#refuse("Cannot initiate an upgrade connection when acting as the client");
    const { method, httpVersion } = checkParsedRequest(headers, path, received);
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
    this.#read((events) => reader.pushRequestHead(method, path, httpVersion, headers, events));
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
        this.#refuse(
          this.#state === ConnectionState.OPEN
            ? `Event ${typeOf(event)} cannot be sent by the handshake once OPEN: use its connection`
            : `Event ${typeOf(event)} cannot be sent during the handshake`,
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
    if (this.#eof) this.#refuse("Data received after the end of the stream");
    if (!this.client && this.#state === ConnectionState.REJECTING) return; // we are answering; input is moot
    if (this.client && this.#request === null) {
      this.#fail(reject400("Bad HTTP message", "WS_ERR_BAD_HTTP"), new HttpError("data received before the request was sent"));
    }
    const reader = this.#reader!;
    this.#read((events) => reader.push(data, events));
  }

  /**
   * With `borrowedInput`: copy what the connection still holds of the chunks
   * given to `receiveData` (the HTTP reader keeps only copies of them).
   */
  releaseInput(): void {
    this.#connection?.releaseInput();
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
    const reader = this.#reader!;
    this.#read((events) => events.push(...reader.end()));
    // RFC 6455 §4.1: a client that gets no response fails the connection.
    if (this.client && this.#state === ConnectionState.CONNECTING) {
      this.#fail(reject400("Bad HTTP message", "WS_ERR_BAD_HTTP"), new HttpError("connection closed before a response"));
    }
  }

  #httpFailure(error: unknown): never {
    if (error instanceof HttpError) this.#fail(fromHttpError(error, this.client, this.#limits.maxHandshakeSize), error);
    throw error; // a bug, not bad input
  }

  /** Run a check of the peer's handshake; its `RemoteProtocolError` is kept and raised again for later bytes. */
  #checked<T>(check: () => T): T {
    try {
      return check();
    } catch (e) {
      if (e instanceof RemoteProtocolError) this.#fail(e);
      throw e;
    }
  }

  #fail(error: RemoteProtocolError, cause?: unknown): never {
    if (cause !== undefined) (error as { cause?: unknown }).cause = cause;
    this.#failure = error;
    throw error;
  }

  /** Let the reader append events; those completed before a fault are processed before the fault is raised. */
  #read(read: (events: HttpEvent[]) => unknown): void {
    const events: HttpEvent[] = [];
    let error: unknown = null;
    try {
      read(events);
    } catch (e) {
      error = e;
    }
    this.#process(events);
    if (error !== null) this.#httpFailure(error);
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
    const head = ev.head;
    const received = this.#checked(() => validateRequest(head));
    this.#received = received;
    this.#events.push(received.event);
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

  /** A 101: checked (`client.ts`), then the connection takes over. */
  #establish(head: ResponseHead): void {
    const agreed = this.#checked(() => checkResponse(head, this.#request!, this.#nonce!, this.#offered));
    const { subprotocol, extensions, extraHeaders } = agreed;
    this.#open("client-receive-101", subprotocol, extensions, agreed.extensionsHeader);
    this.#events.push(new AcceptConnection({ subprotocol, extensions, extraHeaders }));
  }

  /** OPEN: the bytes the reader kept past the head go to the new connection, which takes over. */
  #open(trigger: Trigger, subprotocol: string | null, extensions: Extension[], extensionsHeader: string): void {
    const trailingData = this.#reader!.takeTrailing();
    this.#reader = null;
    const init: ConnectionInit = { ...this.#options, extensions };
    if (trailingData.length > 0) init.trailingData = trailingData;
    this.#connection = new Connection(this.client ? ConnectionType.CLIENT : ConnectionType.SERVER, init);
    this.#subprotocol = subprotocol;
    this.#extensions = this.#connection.extensions;
    this.#extensionsHeader = extensionsHeader;
    this.#move(trigger);
  }

  // -------------------------------------------------------------------------
  // Sending

  #sendRequest(event: Request): Uint8Array {
    if (!this.client) this.#refuse("A server cannot send a Request");
    if (this.#state !== ConnectionState.CONNECTING || this.#request !== null) {
      this.#refuse(
        this.#request !== null ? "A Request was already sent" : `Event Request cannot be sent in state ${stateName(this.#state)}.`,
      );
    }
    const sent = buildRequest(event, this.#limits.random);
    this.#request = event;
    this.#nonce = sent.nonce;
    this.#offered = sent.offered;
    return sent.bytes;
  }

  #sendAccept(event: AcceptConnection): Uint8Array {
    if (this.client) this.#refuse("A client cannot send AcceptConnection");
    const received = this.#received;
    if (this.#state !== ConnectionState.CONNECTING || received === null) {
      this.#refuse(
        this.#state === ConnectionState.CONNECTING
          ? "Cannot accept: no valid request was received"
          : `Event AcceptConnection cannot be sent in state ${stateName(this.#state)}.`,
      );
    }
    const { bytes, forks, extensionsHeader } = buildAccept(event, received);
    this.#received = null;
    this.#requestHead = null;
    this.#open("server-send-accept", event.subprotocol, forks, extensionsHeader);
    // The peer already hung up: the connection learns it at once (a 1006 close event).
    if (this.#eof) this.#connection!.receiveData(null);
    return bytes;
  }

  #sendReject(event: RejectConnection): Uint8Array {
    if (this.client) this.#refuse("A client cannot send RejectConnection");
    if (this.#state !== ConnectionState.CONNECTING) this.#refuse(`Connection cannot be rejected in state ${stateName(this.#state)}`);
    const { bytes, framing } = buildRejection(event, this.#requestHead);
    this.#framing = framing;
    this.#reader!.takeTrailing(); // a rejected connection never reads frames
    this.#move(event.hasBody ? "server-send-reject-with-body" : "server-send-reject-no-body");
    return bytes;
  }

  #sendRejectData(event: RejectData): Uint8Array {
    if (this.client) this.#refuse("A client cannot send RejectData");
    if (this.#state !== ConnectionState.REJECTING) this.#refuse(`Cannot send rejection data in state ${stateName(this.#state)}`);
    const bytes = rejectionBody(this.#framing!, event);
    if (event.bodyFinished) this.#move("server-send-reject-data-end");
    return bytes;
  }
}
