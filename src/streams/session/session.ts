/**
 * `WebSocketSession`, the public face of a session, and the three ways to
 * make one: {@link connectWebSocket}, {@link acceptWebSocket}, and (for
 * handshakes done elsewhere, such as HTTP/2 extended CONNECT)
 * {@link openEstablishedSession}.
 *
 * Invariants:
 * - A `WebSocketSession` holds its `SessionCore` (core.ts) and nothing else;
 *   every behaviour lives in the parts (handshake, inbound, outbound,
 *   keepalive, close).
 * @module
 */
import type { Connection } from "../../protocol/frames/connection.ts";
import { LocalProtocolError } from "../../protocol/errors.ts";
import { ConnectionType } from "../../protocol/types.ts";
import { WSConnection } from "../../protocol/ws-connection.ts";
import { Timer } from "../timers.ts";
import { transportPort, type ByteTransport } from "../transport.ts";
import { close, finish } from "./close.ts";
import { SessionCore, type AnySessionOptions, type SessionEngine } from "./core.ts";
import { open, start } from "./handshake.ts";
import { drainEvents, makeHandler } from "./inbound.ts";
import { ping } from "./keepalive.ts";
import { bufferedAmount, sendMessage, writeFramed } from "./outbound.ts";
import {
  WebSocketError,
  type AcceptWebSocketOptions,
  type ConnectWebSocketOptions,
  type MessageChunk,
  type WebSocketCloseInfo,
  type WebSocketOpenInfo,
  type WebSocketSessionOptions,
} from "./types.ts";
import {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_PING_INTERVAL,
  DEFAULT_PING_TIMEOUT,
  DEFAULT_READABLE_HWM,
  DEFAULT_WRITABLE_HWM,
  connectionOptions,
  positiveOption,
  timeoutOption,
} from "./util.ts";

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
  /**
   * The sans-I/O engine underneath (for inspection; do not feed it): a
   * `WSConnection`, or the `Connection` a session over an established
   * connection ({@link openEstablishedSession}) was given.
   */
  readonly connection: WSConnection | Connection;
  readonly #s: SessionCore;

  /** @internal Use {@link connectWebSocket} or {@link acceptWebSocket}. */
  constructor(
    type: ConnectionType,
    transport: ByteTransport,
    options: ConnectWebSocketOptions<boolean> & AcceptWebSocketOptions<boolean>,
    established?: { connection: Connection; protocol: string; extensions: string },
  ) {
    const client = type === ConnectionType.CLIENT;
    const handshakeTimeout = timeoutOption(options.handshakeTimeout, DEFAULT_HANDSHAKE_TIMEOUT, "handshakeTimeout");
    const closeTimeout = timeoutOption(options.closeTimeout, DEFAULT_CLOSE_TIMEOUT, "closeTimeout");
    const pingInterval = timeoutOption(options.pingInterval, DEFAULT_PING_INTERVAL, "pingInterval");
    const pingTimeout = timeoutOption(options.pingTimeout, DEFAULT_PING_TIMEOUT, "pingTimeout");
    positiveOption(options.readableHighWaterMark, DEFAULT_READABLE_HWM, "readableHighWaterMark");
    positiveOption(options.writableHighWaterMark, DEFAULT_WRITABLE_HWM, "writableHighWaterMark");
    const engine: SessionEngine = established?.connection ?? new WSConnection(type, connectionOptions(options));
    const s = new SessionCore(client, engine, options as AnySessionOptions);
    s.closeTimeout = closeTimeout;
    s.pingInterval = pingInterval;
    s.pingTimeout = pingTimeout;
    this.#s = s;
    s.session = this;
    this.connection = engine;
    this.opened = s.openedDeferred!.promise as Promise<WebSocketOpenInfo<R>>;
    this.closed = s.closedDeferred.promise;
    s.port = transportPort(transport);
    s.handler = makeHandler(s);

    const signal = options.signal;
    if (signal?.aborted) {
      finish(s, { error: signal.reason }, false);
      return;
    }
    if (established !== undefined) {
      open(s, established.protocol, established.extensions);
      s.port.start(s.handler);
      // Frames that came with the connection (its trailing data) are already buffered.
      if (s.phase === "open") drainEvents(s);
      return;
    }
    if (signal) {
      s.abortListener = () => {
        if (s.phase === "handshake") finish(s, { error: signal.reason }, false);
      };
      signal.addEventListener("abort", s.abortListener, { once: true });
    }
    start(s);
    // Armed only if the handshake did not complete at once (a server given
    // the parsed request and no handleRequest opens within start()).
    if (s.phase === "handshake" && Number.isFinite(handshakeTimeout)) {
      s.handshakeTimer = new Timer(() => {
        if (s.phase === "handshake") {
          finish(
            s,
            { error: new WebSocketError("The opening handshake timed out", { closeCode: 1006, code: "WS_ERR_HANDSHAKE_TIMEOUT" }) },
            false,
          );
        }
      });
      s.handshakeTimer.start(handshakeTimeout);
    }
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
    close(this.#s, info);
  }

  /** The peer's address and port, when the adapter knew them (`acceptNodeUpgrade`, `WebSocketServer`, the `peer` option); else `null`. */
  get peer(): { readonly address: string; readonly port: number; readonly family: string } | null {
    return this.#s.options.peer ?? null;
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
    return ping(this.#s, payload);
  }

  /**
   * Send one message (a string as TEXT, bytes as BINARY) without going
   * through `writable`: it is handed to the transport at once, and the
   * promise resolves when the transport takes it (at once unless it is above
   * its high-water mark). Rejects (and sends nothing) when the session is not
   * open or closing. `options.compress: false` sends this message
   * uncompressed even when permessage-deflate is on (decided before anything
   * is compressed, so context takeover stays in step); otherwise the
   * extension decides (its `threshold`), as `ws` does.
   * @example
   * ```ts
   * await ws.send("hello");
   * ```
   */
  send(message: string | Uint8Array, options?: { compress?: boolean }): Promise<void> {
    return sendMessage(this.#s, message, options?.compress);
  }

  /**
   * Write already framed bytes (a server's unmasked frame, built once for a
   * broadcast) to the transport, in order with the session's other writes.
   * Only while OPEN and not closing; returns `false` (and writes nothing)
   * otherwise. The caller must not interleave them inside a fragmented
   * message it is sending through `writable`.
   * @internal For `WebSocketServer.broadcast`.
   */
  writeFrames(bytes: Uint8Array): boolean {
    return writeFramed(this.#s, bytes);
  }

  /**
   * Bytes handed to the transport and not yet written by it (0 when the
   * transport does not say).
   * @internal For `WebSocketServer.broadcast` (skipping slow peers).
   */
  get bufferedAmount(): number {
    return bufferedAmount(this.#s);
  }
}

/**
 * Start a session over a transport that already carries an open WebSocket
 * whose handshake was done elsewhere (HTTP/2 extended CONNECT, RFC 8441):
 * `connection` is the post-handshake `Connection` (made with the negotiated
 * extensions and any trailing bytes), `protocol` and `extensions` what
 * `opened` reports. `opened` resolves at once; handshake options
 * (`handshakeTimeout`, `handleRequest`, `url`...) are ignored.
 * @internal For the HTTP/2 transports.
 * @example
 * ```ts
 * const connection = new Connection(ConnectionType.SERVER, { extensions });
 * const ws = openEstablishedSession(transport, connection, { protocol: "", extensions: "", role: "server" });
 * ```
 */
export function openEstablishedSession(
  transport: ByteTransport,
  connection: Connection,
  negotiated: { protocol: string; extensions: string; role?: "client" | "server" },
  options: WebSocketSessionOptions<boolean> = {},
): WebSocketSession<string | Uint8Array> | WebSocketSession<MessageChunk> {
  const type = connection.client ? ConnectionType.CLIENT : ConnectionType.SERVER;
  if (negotiated.role !== undefined && (negotiated.role === "client") !== connection.client) {
    throw new LocalProtocolError(`openEstablishedSession: role ${negotiated.role} does not match the connection's`, "WS_ERR_INVALID_OPTION");
  }
  const established = { connection, protocol: negotiated.protocol, extensions: negotiated.extensions };
  return options.fragments === true
    ? new WebSocketSession<MessageChunk>(type, transport, options, established)
    : new WebSocketSession<string | Uint8Array>(type, transport, options, established);
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
