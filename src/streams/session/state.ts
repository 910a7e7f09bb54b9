/**
 * `SessionState`: the fields of one session, and nothing else. `SessionCore`
 * (core.ts) adds the operations every part needs; the parts (handshake,
 * inbound, outbound, keepalive, close, pipe) read these fields and change
 * only those their comment names.
 *
 * Answers: what does a connection hold, and who writes each field.
 *
 * Invariants:
 * - Holds references only: the engine (which owns the receive buffer, bounded
 *   by `maxMessageSize`/`maxFrameSize`), the transport port, the
 *   application's two streams once made, timers once armed. What each part
 *   may hold in bytes is stated in that part's invariants.
 * - `phase` changes only in core.ts (`markOpen`, `markClosing`, `end`).
 * - Booleans are packed in one number (accessors below): an open connection
 *   holds one field for all of them instead of one each.
 * @internal
 * @module
 */
import type { Connection } from "../../protocol/frames/connection.ts";
import type { Headers } from "../../protocol/types.ts";
import type { WSConnection } from "../../protocol/ws-connection.ts";
import type { StreamsImplementation } from "../streams-implementation.ts";
import type { Timer } from "../timers.ts";
import type { TransportPort } from "../transport.ts";
import type { SessionCore } from "./core.ts";
import type { MessageAssembler } from "./assembly.ts";
import type { AnySessionOptions, ResolvedSessionOptions } from "./options.ts";
import { deferred, type Deferred } from "./promises.ts";
import type { WebSocketCloseInfo, WebSocketOpenInfo, WebSocketWritable } from "./types.ts";

/** Where a session is: handshake, open, closing (our close sent), done. */
export type Phase = "handshake" | "open" | "closing" | "done";
/** How a session ended. */
export type Outcome = { ok: WebSocketCloseInfo } | { error: unknown };

/** A ping awaiting its pong. */
export interface PendingPing {
  key: string;
  sentAt: number;
  resolve: (rtt: number) => void;
  reject: (error: unknown) => void;
}

/** `readable.pipeTo(a session's writable)` running the direct way (pipe.ts), held by its source. */
export interface DirectPipe {
  /** The destination's core. */
  readonly dest: SessionCore;
  readonly reader: ReadableStreamDefaultReader<unknown>;
  readonly writer: WritableStreamDefaultWriter<WebSocketWritable>;
  readonly preventClose: boolean;
  readonly preventAbort: boolean;
  readonly preventCancel: boolean;
  /** The destination's transport is above its mark: the source is not read until it drains. */
  blocked: boolean;
  /** Set once the pipe is over (its promise settles after the locks are released). */
  done: boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const MESSAGES_IN_BATCH = 1;
const READABLE_CANCELLED = 2;
const WRITABLE_CLOSING = 4;
const READ_PAUSED = 8;
const DECIDING = 16;
const ANSWERING = 32;
const EOF = 64;
const TRANSPORT_RELEASED = 128;
const WRITE_PAUSED = 256;
const PORT_PAUSED = 512;
const DRAINING = 1024;
const HANDLER_BUSY = 2048;
const KEEPALIVE_SCHEDULED = 4096;
const KEEPALIVE_GRACE_USED = 8192;

/**
 * The state of one session (see the module notes).
 * @internal
 */
export class SessionState {
  readonly client: boolean;
  /** The options, resolved once (options.ts). */
  readonly options: ResolvedSessionOptions;
  /** The caller's options, for the handshake's inputs (url, headers, handleRequest...); dropped once open (handshake.ts). */
  init: AnySessionOptions | null;
  readonly engine: WSConnection;
  readonly port: TransportPort;
  /** Settles `opened`; dropped once it has (core.ts). */
  openedDeferred: Deferred<WebSocketOpenInfo<unknown>> | null = deferred<WebSocketOpenInfo<unknown>>();
  readonly closedDeferred = deferred<WebSocketCloseInfo>();
  /** The public session (the second argument of `onMessage`). */
  session: unknown = null;

  /** Written by core.ts only. */
  phase: Phase = "handshake";
  /** How the session ended, once it has (for streams made afterwards; core.ts). */
  outcome: Outcome | null = null;
  /** The streams implementation, once open (handshake.ts). */
  streams: StreamsImplementation | null = null;

  // The application's streams (inbound.ts, outbound.ts).
  readable: ReadableStream<unknown> | null = null;
  writable: WritableStream<WebSocketWritable> | null = null;
  readController: ReadableStreamDefaultController<unknown> | null = null;
  writeController: WritableStreamDefaultController | null = null;
  /**
   * A failure that came while whole messages were still queued for the
   * application: they are delivered first, then the readable errors (in `pull`
   * once the queue is empty), so nothing that arrived intact is lost (core.ts).
   */
  deferredReadError: { error: unknown } | null = null;

  // Timers (created lazily: an idle connection holds as little as it can).
  /** Fails the connection one turn after a protocol error (close.ts). */
  failTimer: Timer | null = null;
  /** Reads the rest of a batch one turn later (inbound.ts). */
  drainTimer: Timer | null = null;
  /** core.ts */
  handshakeTimer: Timer | null = null;
  /** core.ts */
  closeTimer: Timer | null = null;
  /** keepalive.ts */
  pongTimer: Timer | null = null;
  /** Resolves when the transport reports its end (core.ts). */
  eofWaiter: (() => void) | null = null;
  /** Stops listening to the caller's `signal` (core.ts). */
  abortListener: { signal: AbortSignal; listener: () => void } | null = null;

  // Messages written vs handed to the connection (outbound.ts; close() waits for them).
  writesQueued = 0;
  writesSent = 0;
  /** What `close()` asked for, sent once the writes before it are out (close.ts, outbound.ts). */
  pendingClose: { code: number | null; reason: string; after: number } | null = null;

  /** A message being assembled (inbound.ts), made when one comes in pieces. */
  assembler: MessageAssembler | null = null;
  /** Frames of the message being delivered in pieces (`fragments: true`; inbound.ts). */
  pieces = 0;
  /** A direct pipe from this session's readable (pipe.ts). */
  pipe: DirectPipe | null = null;
  /** The one automatic pong waiting for the outbound side to drain (the latest ping's payload; core.ts). */
  pendingPong: Uint8Array | null = null;

  /** A rejection a client is receiving (handshake.ts). */
  rejection: { status: number; headers: Headers; body: Uint8Array[]; size: number } | null = null;

  // keepalive.ts
  keepalivePing: string | null = null;
  pings: PendingPing[] | null = null;
  pingCounter = 0;

  #flags = 0;

  constructor(client: boolean, engine: WSConnection, options: ResolvedSessionOptions, init: AnySessionOptions, port: TransportPort) {
    this.client = client;
    this.engine = engine;
    this.options = options;
    this.init = init;
    this.port = port;
  }

  #flag(bit: number): boolean {
    return (this.#flags & bit) !== 0;
  }
  #set(bit: number, on: boolean): void {
    this.#flags = on ? this.#flags | bit : this.#flags & ~bit;
  }

  /** The events being handled now handed a message to the application (inbound.ts). */
  get messagesInBatch(): boolean {
    return this.#flag(MESSAGES_IN_BATCH);
  }
  set messagesInBatch(on: boolean) {
    this.#set(MESSAGES_IN_BATCH, on);
  }
  /** The application cancelled its readable (inbound.ts). */
  get readableCancelled(): boolean {
    return this.#flag(READABLE_CANCELLED);
  }
  set readableCancelled(on: boolean) {
    this.#set(READABLE_CANCELLED, on);
  }
  /** The application closed or aborted its writable (outbound.ts). */
  get writableClosing(): boolean {
    return this.#flag(WRITABLE_CLOSING);
  }
  set writableClosing(on: boolean) {
    this.#set(WRITABLE_CLOSING, on);
  }
  /** Reading is paused because the application's readable is full (core.ts read gate). */
  get readPaused(): boolean {
    return this.#flag(READ_PAUSED);
  }
  set readPaused(on: boolean) {
    this.#set(READ_PAUSED, on);
  }
  /** Events are not drained while the server's handleRequest decides (handshake.ts). */
  get deciding(): boolean {
    return this.#flag(DECIDING);
  }
  set deciding(on: boolean) {
    this.#set(DECIDING, on);
  }
  /** A server is answering a request that will not become a WebSocket (handleHttp, or a refusal; handshake.ts). */
  get answering(): boolean {
    return this.#flag(ANSWERING);
  }
  set answering(on: boolean) {
    this.#set(ANSWERING, on);
  }
  /** The transport reported its end (or failed, or was aborted; core.ts). */
  get eof(): boolean {
    return this.#flag(EOF);
  }
  set eof(on: boolean) {
    this.#set(EOF, on);
  }
  /** The transport was dropped (core.ts). */
  get transportReleased(): boolean {
    return this.#flag(TRANSPORT_RELEASED);
  }
  set transportReleased(on: boolean) {
    this.#set(TRANSPORT_RELEASED, on);
  }
  /** Reading is paused because an automatic reply waits for the transport to drain (core.ts). */
  get writePaused(): boolean {
    return this.#flag(WRITE_PAUSED);
  }
  set writePaused(on: boolean) {
    this.#set(WRITE_PAUSED, on);
  }
  /** The port is paused (for any reason above; core.ts). */
  get portPaused(): boolean {
    return this.#flag(PORT_PAUSED);
  }
  set portPaused(on: boolean) {
    this.#set(PORT_PAUSED, on);
  }
  /** `drainEvents` is running (inbound.ts). */
  get draining(): boolean {
    return this.#flag(DRAINING);
  }
  set draining(on: boolean) {
    this.#set(DRAINING, on);
  }
  /** A promise `onMessage` returned is pending: no message is delivered meanwhile (inbound.ts). */
  get handlerBusy(): boolean {
    return this.#flag(HANDLER_BUSY);
  }
  set handlerBusy(on: boolean) {
    this.#set(HANDLER_BUSY, on);
  }
  /** Waiting for its keepalive ping on the shared clock (keepalive.ts). */
  get keepaliveScheduled(): boolean {
    return this.#flag(KEEPALIVE_SCHEDULED);
  }
  set keepaliveScheduled(on: boolean) {
    this.#set(KEEPALIVE_SCHEDULED, on);
  }
  /** The outstanding keepalive ping's deadline was extended once already (keepalive.ts). */
  get keepaliveGraceUsed(): boolean {
    return this.#flag(KEEPALIVE_GRACE_USED);
  }
  set keepaliveGraceUsed(on: boolean) {
    this.#set(KEEPALIVE_GRACE_USED, on);
  }
}
