/**
 * `WebSocketSession`, the public face of a session, and the two ways to
 * make one: {@link connectWebSocket} and {@link acceptWebSocket}. This file
 * is the session's composition root: it fills the {@link SessionParts}
 * table from the part modules and hands it to each core.
 *
 * Answers: what can the application call on a session; how is a session
 * put together.
 *
 * Invariants:
 * - A `WebSocketSession` holds its `SessionCore` (core.ts) and nothing else;
 *   every behaviour lives in the core and the parts.
 * @module
 */
import { ConnectionType } from "../../protocol/types.ts";
import { WSConnection } from "../../protocol/ws-connection.ts";
import { transportPort, type ByteTransport } from "../transport.ts";
import * as closing from "./close.ts";
import { SessionCore, type SessionParts } from "./core.ts";
import * as handshake from "./handshake.ts";
import * as inbound from "./inbound.ts";
import * as keepalive from "./keepalive.ts";
import { connectionOptions, resolveSessionOptions, type AnySessionOptions } from "./options.ts";
import * as outbound from "./outbound.ts";
import * as pipe from "./pipe.ts";
import type {
  AcceptWebSocketOptions,
  ConnectWebSocketOptions,
  MessageChunk,
  PeerInfo,
  WebSocketCloseInfo,
  WebSocketOpenInfo,
} from "./types.ts";

/** The parts, one table for every session. */
const PARTS: SessionParts = {
  start: handshake.start,
  decide: handshake.decide,
  accepted: handshake.accepted,
  refused: handshake.refused,
  refusalBody: handshake.refusalBody,
  handshakeFailed: handshake.handshakeFailed,
  receive: inbound.receive,
  drainEvents: inbound.drainEvents,
  transportEnded: inbound.transportEnded,
  readable: inbound.readable,
  writable: outbound.writable,
  pipeWrite: outbound.pipeWrite,
  maybeSendClose: outbound.maybeSendClose,
  startKeepalive: keepalive.startKeepalive,
  stopKeepalive: keepalive.stopKeepalive,
  pongReceived: keepalive.pongReceived,
  closeReceived: closing.closeReceived,
  closeUsingReason: closing.closeUsingReason,
  pipeDirect: pipe.pipeDirect,
  pipeMessage: pipe.pipeMessage,
};

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
  /** The peer's address, when the transport's adapter knows it (`fromNodeSocket`, `acceptNodeUpgrade`, `WebSocketServer`, `connectNodeWebSocket`). */
  readonly peer: PeerInfo | null;
  readonly #s: SessionCore;

  /** @internal Use {@link connectWebSocket} or {@link acceptWebSocket}. */
  constructor(type: ConnectionType, transport: ByteTransport, init: AnySessionOptions) {
    const options = resolveSessionOptions(init);
    const port = transportPort(transport);
    const engine = new WSConnection(type, connectionOptions(init, port.lendsReads === true));
    const s = new SessionCore(type === ConnectionType.CLIENT, engine, options, init, port, PARTS);
    this.#s = s;
    s.session = this;
    this.connection = engine;
    this.peer = init.peer ?? null;
    this.opened = s.openedDeferred!.promise as Promise<WebSocketOpenInfo<R>>;
    this.closed = s.closedDeferred.promise;

    const signal = init.signal;
    if (signal?.aborted) {
      s.finish({ error: signal.reason }, "abort");
      return;
    }
    if (signal) s.listenForAbort(signal);
    handshake.start(s);
    // Armed only if the handshake did not complete at once (a server given
    // the parsed request and no handleRequest opens within start()).
    s.armHandshakeTimer(options.handshakeTimeout);
  }

  /**
   * Start the closing handshake. Messages written before the call are sent
   * first. Before the handshake completed, this abandons it. Codes are those
   * RFC 6455 lets an endpoint send (1000-1003, 1007-1013, 3000-4999); no code
   * sends a close frame without status (the peer sees 1005), a reason without
   * a code means 1000. Calling it again, or after the session ended, does
   * nothing.
   * @throws LocalProtocolError for a code that may not be sent or a reason over 123 UTF-8 bytes.
   */
  close(info: Partial<WebSocketCloseInfo> = {}): void {
    closing.close(this.#s, info);
  }

  /**
   * Send a ping; resolves with the round-trip time in milliseconds (a
   * fractional number, from `performance.now()`) when the matching pong
   * arrives (a pong also acknowledges every earlier ping). Rejects with a
   * `WebSocketError` (`WS_ERR_CLOSING`, `WS_ERR_CLOSED`) once the session is
   * closing or closed, or if it ends before the pong arrives; a rejection
   * nobody awaits crashes nothing.
   * @example
   * ```ts
   * const rtt = await ws.ping(); // milliseconds
   * ```
   */
  ping(payload?: Uint8Array | string): Promise<number> {
    return keepalive.ping(this.#s, payload);
  }

  /**
   * Send one message (a string as TEXT, bytes as BINARY) without going
   * through `writable`. Resolves once the transport has taken the bytes (at
   * once while it is below its high-water mark, else when it drained; a large
   * binary message a server sends without a copy, once written); it does not
   * mean the peer read them. Rejects with a `WebSocketError` with a `code`
   * (and sends nothing) when the session is closing (`WS_ERR_CLOSING`) or
   * closed (`WS_ERR_CLOSED`), or when the transport failed before taking the
   * bytes. A rejection nobody awaits crashes nothing (as `ws.send()` without
   * a callback). `options.compress: false` sends this message uncompressed
   * even when permessage-deflate is on; otherwise the extension decides (its
   * `threshold`), as `ws` does.
   * @example
   * ```ts
   * await ws.send("hello");
   * ```
   */
  send(message: string | Uint8Array, options?: { compress?: boolean }): Promise<void> {
    return outbound.send(this.#s, message, options?.compress);
  }

  /**
   * Write already framed bytes (a server's unmasked frame, built once for a
   * broadcast) to the transport, in order with the session's other writes.
   * Only while OPEN and not closing; returns `false` (and writes nothing)
   * otherwise. The caller must not interleave them inside a fragmented
   * message it is sending through `writable`.
   * @internal For `broadcast` and topics.
   */
  writeFrames(bytes: Uint8Array): boolean {
    return outbound.writeFramed(this.#s, bytes);
  }

  /**
   * Bytes handed to the transport and not yet written by it (0 when the
   * transport does not say).
   */
  get bufferedAmount(): number {
    return outbound.bufferedAmount(this.#s);
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
  return new WebSocketSession<string | Uint8Array>(ConnectionType.CLIENT, transport, options);
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
  return new WebSocketSession<string | Uint8Array>(ConnectionType.SERVER, transport, options);
}
