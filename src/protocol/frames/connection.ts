/**
 * `Connection`: one end of an open WebSocket, at the frame level (wsproto's
 * `wsproto.connection.Connection`). Born OPEN; used after an HTTP/1.1
 * handshake (by `WSConnection`) or directly over any stream that is already
 * a WebSocket (HTTP/2 extended CONNECT, RFC 8441, or a pre-negotiated socket).
 *
 * Invariants:
 * - Every state change goes through `transition()` and the tables of
 *   state.ts; an event not allowed in the current state raises a
 *   `LocalProtocolError` and changes nothing.
 * - Parsing is lazy: bytes are parsed while `events()` is iterated, and the
 *   state change caused by a received close happens when that
 *   `CloseConnection` is yielded.
 * - At end of stream (`receiveData(null)`) the state is CLOSED at once, the
 *   events of bytes already received still come out, then the 1006 close.
 * @module
 */
import { LocalProtocolError } from "../errors.ts";
import { CloseConnection, EVENT_TYPES, assertNever, type Event, type Message } from "../events.ts";
import type { Extension } from "../extensions/extension.ts";
import { FrameProtocol } from "./frame-protocol.ts";
import { resolveOptions, type ConnectionOptions } from "../options.ts";
import { CONNECTION_SEND_ALLOWED, CONNECTION_TRANSITIONS, transition, type Trigger } from "../state.ts";
import { CloseReason, ConnectionState, ConnectionType, connectionStateName } from "../types.ts";

const CLOSE_OPCODE = 0x8;

/**
 * Options of a {@link Connection}: the limits and randomness, plus what a
 * handshake negotiated.
 * @example
 * ```ts
 * const conn = new Connection(ConnectionType.SERVER, { maxMessageSize: 1 << 20, extensions, trailingData });
 * ```
 */
export interface ConnectionInit extends ConnectionOptions {
  /** Negotiated extension instances; only those whose `enabled()` is true are used. @default [] */
  extensions?: Extension[];
  /** Bytes that arrived after the handshake, fed through `receiveData` at construction. */
  trailingData?: Uint8Array;
}

const EVENT_TYPE_SET: ReadonlySet<unknown> = new Set(EVENT_TYPES);

function messagesAllowed(allowed: ReadonlySet<string> | undefined): boolean {
  return allowed !== undefined && allowed.has("Message") && allowed.has("TextMessage") && allowed.has("BytesMessage");
}

/**
 * One end of an open WebSocket connection: `send()` turns events into bytes
 * to write, `receiveData()` takes bytes read, `events()` yields what they mean.
 *
 * `receiveData` takes ownership of the chunks it is given: masked payloads
 * are unmasked in place and received messages may be views of those chunks,
 * so do not modify or reuse a chunk after passing it (a socket's chunks are
 * fresh buffers, so this is free in practice).
 * @example
 * ```ts
 * import { Connection, ConnectionType, TextMessage } from "wsproto";
 * const conn = new Connection(ConnectionType.SERVER);
 * socket.write(conn.send(new TextMessage({ data: "hello" })));
 * conn.receiveData(chunk);
 * for (const event of conn.events()) {
 *   if (event.type === "TextMessage") console.log(event.data);
 *   else if (event.type === "Ping") socket.write(conn.send(event.response()));
 *   else if (event.type === "CloseConnection" && conn.state === ConnectionState.REMOTE_CLOSING)
 *     socket.write(conn.send(event.response()));
 * }
 * ```
 */
export class Connection {
  /** `true` on the client side (which masks what it sends). */
  readonly client: boolean;
  #state: ConnectionState = ConnectionState.OPEN;
  /** The send table's row for the current state (kept with the state, read on every send). */
  #allowed: ReadonlySet<string> | undefined = CONNECTION_SEND_ALLOWED[ConnectionState.OPEN];
  /** The same row says every message class may be sent (a per-send shortcut past the set lookup). */
  #messagesAllowed = messagesAllowed(this.#allowed);
  readonly #proto: FrameProtocol;
  readonly #extensions: readonly Extension[];
  /** 1006 closes queued by `receiveData(null)`, yielded after the parsed events. */
  #pendingEof = 0;

  constructor(type: ConnectionType, options: ConnectionInit = {}) {
    if (type !== ConnectionType.CLIENT && type !== ConnectionType.SERVER) {
      throw new LocalProtocolError(`Invalid connection type: ${String(type)}`, "WS_ERR_INVALID_CONNECTION_TYPE");
    }
    this.client = type === ConnectionType.CLIENT;
    const resolved = resolveOptions(options);
    this.#extensions = Object.freeze((options.extensions ?? []).filter((ext) => ext.enabled()));
    this.#proto = new FrameProtocol(this.client, this.#extensions, resolved);
    if (options.trailingData !== undefined) this.receiveData(options.trailingData);
  }

  /** The connection's state: OPEN, LOCAL_CLOSING, REMOTE_CLOSING or CLOSED. */
  get state(): ConnectionState {
    return this.#state;
  }

  /**
   * `true` when the next frame waiting in the receive buffer (not yet turned
   * into events) is a close frame. An I/O layer uses it to let the
   * application answer the messages before that close is read, since once it
   * is read only a close may be sent (RFC 6455 §5.5.1 allows finishing first).
   */
  get closeFrameBuffered(): boolean {
    return this.#proto.nextOpcode === CLOSE_OPCODE;
  }

  /**
   * `true` while a message sent in pieces (`messageFinished: false`) is not
   * finished: a frame built elsewhere must not be written in between.
   */
  get sendingMessage(): boolean {
    return this.#proto.sendingMessage;
  }

  /** The enabled extensions in use, in negotiation order. */
  get extensions(): readonly Extension[] {
    return this.#extensions;
  }

  #move(trigger: Trigger): void {
    const next = transition(CONNECTION_TRANSITIONS, this.#state, trigger);
    if (next !== undefined) {
      this.#state = next;
      this.#allowed = CONNECTION_SEND_ALLOWED[next];
      this.#messagesAllowed = messagesAllowed(this.#allowed);
    }
  }

  /**
   * The bytes that send `event` to the peer. Messages, pings and pongs may be
   * sent while OPEN; a close while OPEN (then LOCAL_CLOSING) or in answer to
   * the peer's close (REMOTE_CLOSING, then CLOSED). Anything else raises a
   * `LocalProtocolError`; then nothing is written and nothing changes.
   */
  send(event: Event): Uint8Array {
    // The hot path stays small (so the JIT inlines it into the caller);
    // everything else is in #sendOther.
    const type = (event as { type?: unknown } | null)?.type;
    if (this.#messagesAllowed && (type === "BytesMessage" || type === "TextMessage" || type === "Message")) {
      const message = event as Message;
      return this.#proto.sendData(message.data, message.messageFinished !== false, message.compress !== false);
    }
    return this.#sendOther(event, type);
  }

  #sendOther(event: Event, type: unknown): Uint8Array {
    const allowed = this.#allowed;
    if (allowed === undefined || !allowed.has(type as string)) {
      if (!EVENT_TYPE_SET.has(type)) return assertNever(event as never);
      throw new LocalProtocolError(
        `Event ${String(type)} cannot be sent in state ConnectionState.${connectionStateName(this.#state)}.`,
        "WS_ERR_INVALID_STATE",
      );
    }
    switch (event.type) {
      case "Message":
      case "TextMessage":
      case "BytesMessage":
        return this.#proto.sendData(event.data, event.messageFinished !== false, event.compress !== false);
      case "Ping":
        return this.#proto.ping(event.payload);
      case "Pong":
        return this.#proto.pong(event.payload);
      case "CloseConnection": {
        const bytes = this.#proto.close(event.code, event.reason);
        this.#move("send-close");
        return bytes;
      }
      case "Request":
      case "AcceptConnection":
      case "RejectConnection":
      case "RejectData":
        // Unreachable: the send table allows no handshake event on a Connection.
        throw new LocalProtocolError(`Event ${event.type} cannot be sent on a Connection`, "WS_ERR_INVALID_STATE");
      default:
        return assertNever(event);
    }
  }

  /**
   * The bytes of {@link send}`(event)` as a list of parts to write in order,
   * for transports with vectored writes (`writev`): a large binary message
   * sent unmasked (by a server) without extensions comes back as
   * `[header, data]`, where `data` is the event's own array, not a copy, so
   * it must stay unchanged until written. Anything else is `[send(event)]`.
   * Same rules, errors and state changes as `send`.
   * @example
   * ```ts
   * const parts = conn.sendParts(new BytesMessage({ data: big }));
   * socket.cork();
   * for (const part of parts) socket.write(part);
   * socket.uncork();
   * ```
   */
  sendParts(event: Event): Uint8Array[] {
    const type = (event as { type?: unknown } | null)?.type;
    if (this.#messagesAllowed && (type === "BytesMessage" || type === "Message")) {
      const message = event as Message;
      return this.#proto.sendDataParts(message.data, message.messageFinished !== false, message.compress !== false);
    }
    return [this.send(event)];
  }

  /**
   * Feed bytes read from the transport, or `null` when it closed (then the
   * state is CLOSED and `events()` ends with a `CloseConnection` 1006, origin
   * `"abnormal"`). An empty chunk does nothing. Bytes after a close was
   * received are ignored; bytes once CLOSED raise a `LocalProtocolError`.
   * Takes ownership of `data` (see the class notes).
   */
  receiveData(data: Uint8Array | null): void {
    if (data === null) {
      // RFC 6455 §7.1.5: a connection closed without a close frame has close code 1006.
      this.#move("transport-eof");
      this.#pendingEof++;
      return;
    }
    if (!(data instanceof Uint8Array)) {
      throw new LocalProtocolError("receiveData expects a Uint8Array or null", "WS_ERR_INVALID_DATA_TYPE");
    }
    if (data.length === 0) return;
    switch (this.#state) {
      case ConnectionState.OPEN:
      case ConnectionState.LOCAL_CLOSING:
        this.#proto.receiveBytes(data);
        return;
      case ConnectionState.CLOSED:
        throw new LocalProtocolError("Connection already closed.", "WS_ERR_CONNECTION_CLOSED");
      default:
        // REMOTE_CLOSING: RFC 6455 §5.5.1, nothing the peer sends after its close matters.
        return;
    }
  }

  /**
   * With `borrowedInput` (ConnectionOptions): copy the unread bytes still
   * held of the chunks given to `receiveData`, so that the caller may
   * overwrite them. Call it after taking the events a chunk made (as many as
   * you take now). Does nothing without `borrowedInput`.
   */
  releaseInput(): void {
    this.#proto.releaseInput();
  }

  /**
   * The events the received bytes make, parsed as this generator is pulled;
   * it returns when more bytes are needed. A frame violation by the peer
   * comes out as a `CloseConnection` (origin `"protocol-error"`) carrying the
   * code to answer with; nothing is parsed after it or after a received close.
   */
  *events(): Generator<Event, void, undefined> {
    for (;;) {
      const event = this.nextEvent();
      if (event === null) return;
      yield event;
    }
  }

  /**
   * The next event `events()` would yield, or `null` when more bytes are
   * needed: the same sequence, pulled one at a time without a generator (a
   * driver that reads after every chunk saves its allocations).
   * @example
   * ```ts
   * conn.receiveData(chunk);
   * for (let event = conn.nextEvent(); event !== null; event = conn.nextEvent()) handle(event);
   * ```
   */
  nextEvent(): Event | null {
    const event = this.#proto.nextEvent();
    if (event !== null) {
      // wsproto: the state moves when the close is handed to the application.
      if (event.type === "CloseConnection" && event.origin === "remote") this.#move("receive-close");
      return event;
    }
    if (this.#pendingEof > 0) {
      this.#pendingEof--;
      return new CloseConnection({ code: CloseReason.ABNORMAL_CLOSURE, reason: null, origin: "abnormal" });
    }
    return null;
  }
}
