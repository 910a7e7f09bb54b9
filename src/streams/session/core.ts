/**
 * `SessionCore`: the state of one WebSocket session, shared by its parts
 * (handshake.ts, inbound.ts, outbound.ts, keepalive.ts, close.ts), which are
 * functions over it. The public {@link WebSocketSession} (session.ts) wraps
 * one core and holds nothing else.
 *
 * Invariants:
 * - Holds references only: the engine (which owns the receive buffer, bounded
 *   by `maxMessageSize`/`maxFrameSize`), the transport port, the application's
 *   two streams once made, timers once armed. What each part may hold in
 *   bytes is stated in that part's invariants.
 * - Fields are written only by the part named in their comment; every part
 *   may read them.
 * @internal
 * @module
 */
import type { Connection } from "../../protocol/frames/connection.ts";
import type { Headers } from "../../protocol/types.ts";
import type { WSConnection } from "../../protocol/ws-connection.ts";
import type { StreamsImplementation } from "../polyfill.ts";
import type { Timer } from "../timers.ts";
import type { TransportHandler, TransportPort } from "../transport.ts";
import type { AcceptWebSocketOptions, ConnectWebSocketOptions, WebSocketCloseInfo, WebSocketOpenInfo, WebSocketWritable } from "./types.ts";
import type { MessageAssembler } from "./assembly.ts";
import type { DirectPipe } from "./pipe.ts";
import { DEFAULT_MAX_FRAGMENTS, DEFAULT_READABLE_HWM, deferred, type Deferred, type Outcome, type PendingPing, type Phase } from "./util.ts";

/** Every option of either role. */
export type AnySessionOptions = ConnectWebSocketOptions<boolean> & AcceptWebSocketOptions<boolean>;

/** The engine a session drives: a `WSConnection` (HTTP/1.1 handshake first) or an already open `Connection`. */
export type SessionEngine = WSConnection | Connection;

/**
 * The state of one session (see the module notes).
 * @internal
 */
export class SessionCore {
  readonly client: boolean;
  /** The caller's options (handshake.ts swaps in a copy without `upgradeRequest` once it is fed). */
  options: AnySessionOptions;
  readonly engine: SessionEngine;
  /** The frame-level connection once open (the engine itself when it is a `Connection`). */
  frames: Connection | null;
  port!: TransportPort;
  /** What the port calls (inbound.ts). */
  handler!: TransportHandler;
  /** Settles `opened`; dropped once it has (handshake.ts, close.ts). */
  openedDeferred: Deferred<WebSocketOpenInfo<unknown>> | null = deferred<WebSocketOpenInfo<unknown>>();
  readonly closedDeferred = deferred<WebSocketCloseInfo>();
  readonly fragments: boolean;
  readonly autoPong: boolean;
  /** The session answers a close itself (auto-reply.ts policy). */
  get autoCloseReply(): true {
    return true;
  }
  closeTimeout = Infinity;
  pingInterval = Infinity;
  pingTimeout = Infinity;

  phase: Phase = "handshake";
  /** How the session ended, once it has (for streams made afterwards). */
  outcome: Outcome | null = null;
  streams: StreamsImplementation | null = null;
  readable: ReadableStream<unknown> | null = null;
  writable: WritableStream<WebSocketWritable> | null = null;
  readController: ReadableStreamDefaultController<unknown> | null = null;
  /** The readable's high-water mark (bytes): its queue is empty when desiredSize equals it. */
  readableHwm = DEFAULT_READABLE_HWM;
  /**
   * A failure that came while whole messages were still queued for the
   * application: they are delivered first, then the readable errors (in `pull`
   * once the queue is empty), so nothing that arrived intact is lost.
   */
  deferredReadError: { error: unknown } | null = null;
  /** Fails the connection one turn after a protocol error (see close.ts `onClose`). */
  failTimer: Timer | null = null;
  /** Reads the rest of a batch one turn later (see inbound.ts `drainEvents`). */
  drainTimer: Timer | null = null;
  writeController: WritableStreamDefaultController | null = null;
  eofWaiter: (() => void) | null = null;

  // Messages written vs handed to the connection (see close()).
  writesQueued = 0;
  writesSent = 0;
  pendingClose: { code: number | null; reason: string; after: number } | null = null;

  /** A message being assembled (assembly.ts), made when one comes in pieces. */
  assembler: MessageAssembler | null = null;
  /** Frames of the message being delivered in pieces (`fragments: true`). */
  pieces = 0;
  /** Frames one message may come in. */
  readonly maxFragments: number;
  /** The application's `onMessage`, or `null` (messages go to the readable). */
  readonly onMessage: ((message: never, session: never) => unknown) | null;
  /** The public session (the second argument of `onMessage`). */
  session: unknown = null;
  /** `readable.pipeTo(a session's writable)` running the direct way (pipe.ts). */
  pipe: DirectPipe | null = null;
  /** The one automatic pong waiting for the outbound side to drain (the latest ping's payload). */
  pendingPong: Uint8Array | null = null;

  // Client: what was read during the handshake (for the raw extensions header).
  handshakeBytes: Uint8Array[] | null = null;
  handshakeSize = 0;

  // Client rejection being received.
  rejection: { status: number; headers: Headers; body: Uint8Array[]; size: number } | null = null;

  // Timers (created lazily: an idle connection holds as little as it can).
  handshakeTimer: Timer | null = null;
  closeTimer: Timer | null = null;
  pongTimer: Timer | null = null;
  keepalivePing: string | null = null;
  pings: PendingPing[] | null = null;
  pingCounter = 0;
  abortListener: (() => void) | null = null;

  // Booleans packed in one number (accessors below): an open connection holds
  // one field for all of them instead of one each.
  #flags = 0;

  /** Whether the events being handled now handed a message to the application. */
  get messagesInBatch(): boolean {
    return (this.#flags & 1) !== 0;
  }
  set messagesInBatch(on: boolean) {
    this.#flags = on ? this.#flags | 1 : this.#flags & ~1;
  }
  get readableCancelled(): boolean {
    return (this.#flags & 2) !== 0;
  }
  set readableCancelled(on: boolean) {
    this.#flags = on ? this.#flags | 2 : this.#flags & ~2;
  }
  get writableClosing(): boolean {
    return (this.#flags & 4) !== 0;
  }
  set writableClosing(on: boolean) {
    this.#flags = on ? this.#flags | 4 : this.#flags & ~4;
  }
  /** Reading is paused because the application's readable is full. */
  get readPaused(): boolean {
    return (this.#flags & 8) !== 0;
  }
  set readPaused(on: boolean) {
    this.#flags = on ? this.#flags | 8 : this.#flags & ~8;
  }
  /** Events are not drained while the server's handleRequest decides. */
  get deciding(): boolean {
    return (this.#flags & 16) !== 0;
  }
  set deciding(on: boolean) {
    this.#flags = on ? this.#flags | 16 : this.#flags & ~16;
  }
  /** A server is answering a request that will not become a WebSocket (handleHttp, or a refusal). */
  get answering(): boolean {
    return (this.#flags & 32) !== 0;
  }
  set answering(on: boolean) {
    this.#flags = on ? this.#flags | 32 : this.#flags & ~32;
  }
  /** The transport reported its end (or failed, or was aborted). */
  get eof(): boolean {
    return (this.#flags & 64) !== 0;
  }
  set eof(on: boolean) {
    this.#flags = on ? this.#flags | 64 : this.#flags & ~64;
  }
  get transportReleased(): boolean {
    return (this.#flags & 128) !== 0;
  }
  set transportReleased(on: boolean) {
    this.#flags = on ? this.#flags | 128 : this.#flags & ~128;
  }
  /** Reading is paused because the outbound side is above its high-water mark (outbound.ts). */
  get writePaused(): boolean {
    return (this.#flags & 256) !== 0;
  }
  set writePaused(on: boolean) {
    this.#flags = on ? this.#flags | 256 : this.#flags & ~256;
  }
  /** The port is paused (for either reason above). */
  get portPaused(): boolean {
    return (this.#flags & 512) !== 0;
  }
  set portPaused(on: boolean) {
    this.#flags = on ? this.#flags | 512 : this.#flags & ~512;
  }
  /** `drainEvents` is running (inbound.ts). */
  get draining(): boolean {
    return (this.#flags & 1024) !== 0;
  }
  set draining(on: boolean) {
    this.#flags = on ? this.#flags | 1024 : this.#flags & ~1024;
  }
  /** A promise `onMessage` returned is pending: no message is delivered meanwhile (inbound.ts). */
  get handlerBusy(): boolean {
    return (this.#flags & 2048) !== 0;
  }
  set handlerBusy(on: boolean) {
    this.#flags = on ? this.#flags | 2048 : this.#flags & ~2048;
  }
  /** Waiting for its keepalive ping on the shared clock (keepalive.ts). */
  get keepaliveScheduled(): boolean {
    return (this.#flags & 4096) !== 0;
  }
  set keepaliveScheduled(on: boolean) {
    this.#flags = on ? this.#flags | 4096 : this.#flags & ~4096;
  }
  constructor(client: boolean, engine: SessionEngine, options: AnySessionOptions) {
    this.client = client;
    this.engine = engine;
    this.frames = "handshake" in engine ? null : engine;
    this.options = options;
    this.fragments = options.fragments === true;
    this.autoPong = options.autoPong ?? true;
    this.onMessage = typeof options.onMessage === "function" ? (options.onMessage as never) : null;
    this.maxFragments = options.maxFragments === 0 ? Infinity : (options.maxFragments ?? DEFAULT_MAX_FRAGMENTS);
  }
}

/** The frame-level connection, once the handshake made it (`null` before). */
export function frames(s: SessionCore): Connection | null {
  return s.frames ?? (s.frames = (s.engine as WSConnection).connection);
}
