/**
 * `WSConnection`: the whole client or server end of a WebSocket over
 * HTTP/1.1 (wsproto's `WSConnection`): an {@link H11Handshake} until the
 * handshake succeeds, then the {@link Connection} it created.
 *
 * It also offers wsproto 0.x's buffered calls (`bytesToSend`, `sendData`,
 * `ping`, `pong`, `close`, `receiveBytes`), which queue bytes inside the object
 * instead of returning them; both styles drive the same state machine. The
 * queue and the automatic answers are in `buffered.ts`.
 *
 * Invariants: one state machine (the handshake's, then its connection's);
 * the object adds only the 0.x queue and the events `receiveBytes` read
 * ahead, both drained by the caller.
 * @module
 */
import type { Connection } from "./frames/connection.ts";
import { autoReply } from "./auto-reply.ts";
import { OutgoingQueue, queuedRequest, type BufferedRequestOptions } from "./buffered.ts";
import { LocalProtocolError } from "./errors.ts";
import { BytesMessage, CloseConnection, Ping, Pong, TextMessage, type Event } from "./events.ts";
import type { Extension } from "./extensions/extension.ts";
import { H11Handshake } from "./handshake/handshake.ts";
import type { ReceivedRequestLine } from "./handshake/server.ts";
import type { ConnectionOptions } from "./options.ts";
import { CloseReason, ConnectionState, ConnectionType, type Headers } from "./types.ts";

const EMPTY = new Uint8Array(0);
/** wsproto 0.x answered pings and closes itself. */
const ANSWER_ALL = { autoPong: true, autoCloseReply: true } as const;

/**
 * Options of a {@link WSConnection}: the limits and randomness of every
 * connection, and, for a client in the 0.x style, the request to queue at
 * construction.
 * @example
 * ```ts
 * const ws = new WSConnection(ConnectionType.CLIENT, {
 *   host: "example.com", resource: "/chat", subprotocols: ["chat"], maxMessageSize: 1 << 20,
 * });
 * ```
 */
export interface WSConnectionOptions extends ConnectionOptions, BufferedRequestOptions {}

/**
 * One end of a WebSocket connection over HTTP/1.1, handshake included.
 *
 * Event style (wsproto 1.x): `send(event)` returns the bytes to write,
 * `receiveData(bytes | null)` takes what was read, `events()` yields what it
 * meant. Nothing is answered automatically.
 *
 * Buffered style (wsproto 0.x): `sendData`, `ping`, `pong`, `close` queue
 * bytes that `bytesToSend()` hands out; `receiveBytes(bytes)` feeds data,
 * reads the events at once, answers pings with pongs and a peer's close (or
 * a protocol violation) with the closing frame, queuing those answers, and
 * keeps the events for `events()`. Mixing styles is allowed; write what
 * `bytesToSend()` holds before bytes returned by `send()`.
 * @example
 * ```ts
 * import { WSConnection, ConnectionType, Request, TextMessage } from "wsproto";
 * const ws = new WSConnection(ConnectionType.CLIENT);
 * socket.write(ws.send(new Request({ host: "example.com", target: "/chat" })));
 * socket.on("data", (chunk) => {
 *   ws.receiveData(chunk);
 *   for (const event of ws.events()) {
 *     if (event.type === "AcceptConnection") socket.write(ws.send(new TextMessage({ data: "hi" })));
 *     else if (event.type === "TextMessage") console.log(event.data);
 *   }
 * });
 * ```
 * @example
 * ```ts
 * // The 0.x buffered style:
 * const ws = new WSConnection(ConnectionType.CLIENT, { host: "example.com", resource: "/chat" });
 * socket.write(ws.bytesToSend());            // the handshake request
 * socket.on("data", (chunk) => {
 *   ws.receiveBytes(chunk);                   // pings are answered for you
 *   for (const event of ws.events()) if (event.type === "AcceptConnection") ws.sendData("hi");
 *   socket.write(ws.bytesToSend());
 * });
 * ```
 */
export class WSConnection {
  /** `true` on the client side. */
  readonly client: boolean;
  /** The HTTP/1.1 handshake (wsproto's `handshake` attribute). */
  readonly handshake: H11Handshake;
  /** The frame-level connection, once the handshake succeeded (wsproto's `connection` attribute). */
  get connection(): Connection | null {
    return this.handshake.connection;
  }
  /** Bytes queued by the buffered (0.x) calls. */
  readonly #outgoing = new OutgoingQueue();
  /** Events read by `receiveBytes`, waiting for `events()`. */
  #pending: Event[] = [];

  constructor(type: ConnectionType, options: WSConnectionOptions = {}) {
    this.handshake = new H11Handshake(type, options);
    this.client = this.handshake.client;
    if (options.host !== undefined) {
      if (!this.client) {
        throw new LocalProtocolError("options.host is for clients (it queues the request)", "WS_ERR_INVALID_OPTION");
      }
      this.#outgoing.push(this.handshake.send(queuedRequest(options.host, options)));
    }
  }

  /** The handshake's state until a connection exists, then the connection's. */
  get state(): ConnectionState {
    return this.connection === null ? this.handshake.state : this.connection.state;
  }

  /** The subprotocol agreed in the handshake (`null` before OPEN or if none). */
  get subprotocol(): string | null {
    return this.handshake.subprotocol;
  }

  /** The negotiated extension instances in use (empty before OPEN). */
  get extensions(): readonly Extension[] {
    return this.handshake.extensions;
  }

  /**
   * The negotiated `Sec-WebSocket-Extensions` value (see
   * {@link H11Handshake.extensionsHeader}): as the server sent it / the
   * client received it; `""` before OPEN or when none was agreed.
   * @example
   * ```ts
   * for (const event of ws.events()) {
   *   if (event.type === "AcceptConnection") console.log(ws.extensionsHeader); // "permessage-deflate" or ""
   * }
   * ```
   */
  get extensionsHeader(): string {
    return this.handshake.extensionsHeader;
  }

  /**
   * Server only: start from a request an HTTP server already parsed (see
   * {@link H11Handshake.initiateUpgradeConnection}).
   */
  initiateUpgradeConnection(headers: Headers, path: string, received?: ReceivedRequestLine): void {
    this.handshake.initiateUpgradeConnection(headers, path, received);
  }

  /**
   * The bytes that send `event` to the peer: handshake events while
   * CONNECTING/REJECTING, then messages, pings, pongs and the close.
   * @throws LocalProtocolError when the event is not allowed in this state or invalid; nothing changes.
   */
  send(event: Event): Uint8Array {
    const connection = this.handshake.connection;
    return connection === null ? this.handshake.send(event) : connection.send(event);
  }

  /**
   * Feed bytes from the peer, or `null` when the transport closed.
   * @throws RemoteProtocolError when the peer's handshake is invalid (send its `eventHint`).
   */
  receiveData(data: Uint8Array | null): void {
    const connection = this.handshake.connection;
    if (connection === null) this.handshake.receiveData(data);
    else connection.receiveData(data);
  }

  /**
   * With `borrowedInput` (ConnectionOptions): copy what the engine still
   * holds of the chunks given to `receiveData`, so that the caller may
   * overwrite them; call it after taking the events (as many as you take
   * now). Does nothing without `borrowedInput`.
   * @example
   * ```ts
   * const ws = new WSConnection(ConnectionType.CLIENT, { borrowedInput: true });
   * ws.receiveData(readBuffer.subarray(0, n));
   * for (const event of ws.events()) handle(event);
   * ws.releaseInput(); // readBuffer may be overwritten now
   * ```
   */
  releaseInput(): void {
    this.handshake.releaseInput();
  }

  /**
   * Pending events: the handshake's, then the connection's (parsed as you
   * pull). Stopping early loses nothing: the rest comes next time.
   */
  *events(): Generator<Event, void, undefined> {
    while (this.#pending.length > 0) yield this.#pending.shift()!;
    yield* this.handshake.events();
    const connection = this.handshake.connection;
    if (connection !== null) yield* connection.events();
  }

  // -------------------------------------------------------------------------
  // The 0.x buffered API

  /**
   * Take up to `amount` queued bytes (all when omitted) for the peer.
   * @example
   * ```ts
   * ws.sendData("hello");
   * socket.write(ws.bytesToSend());
   * ```
   */
  bytesToSend(amount?: number): Uint8Array {
    return this.#outgoing.take(amount);
  }

  /**
   * Queue a message or a piece of one: a string goes as TEXT, bytes as
   * BINARY; `final = false` leaves the message open for more pieces.
   */
  sendData(payload: string | Uint8Array, final = true): void {
    const event =
      typeof payload === "string"
        ? new TextMessage({ data: payload, messageFinished: final })
        : new BytesMessage({ data: payload, messageFinished: final });
    this.#outgoing.push(this.send(event));
  }

  /** Queue a ping. */
  ping(payload: Uint8Array = EMPTY): void {
    this.#outgoing.push(this.send(new Ping({ payload })));
  }

  /** Queue a pong (unsolicited; `receiveBytes` answers pings itself). */
  pong(payload: Uint8Array = EMPTY): void {
    this.#outgoing.push(this.send(new Pong({ payload })));
  }

  /** Queue a close frame (default 1000). */
  close(code: number = CloseReason.NORMAL_CLOSURE, reason: string | null = null): void {
    this.#outgoing.push(this.send(new CloseConnection({ code, reason })));
  }

  /**
   * Feed bytes from the peer (`null`: the transport closed) and read the
   * events they make at once. As wsproto 0.x did, a ping is answered with a
   * pong, and a close from the peer, or a protocol violation, with the
   * closing frame; those answers are queued for `bytesToSend()`. The events
   * (the pings and closes included) are kept for `events()`.
   * @throws RemoteProtocolError when the peer's handshake is invalid.
   */
  receiveBytes(data: Uint8Array | null): void {
    this.receiveData(data);
    const live: Event[] = [...this.handshake.events()];
    if (this.connection !== null) live.push(...this.connection.events());
    this.releaseInput();
    for (const event of live) {
      this.#pending.push(event);
      const answer = autoReply(event, this.state, ANSWER_ALL);
      if (answer !== null) this.#outgoing.push(this.send(answer));
    }
  }
}
