/**
 * `SessionCore`: a session's state (state.ts) plus the few operations every
 * part needs: writing to the transport, the read gate, the automatic pong,
 * calling the application's code, and ending. The parts (handshake.ts,
 * inbound.ts, outbound.ts, keepalive.ts, close.ts, pipe.ts) import this file
 * and never each other; the core reaches them only through the
 * {@link SessionParts} table it is given at construction (session.ts).
 *
 * Answers: how does a session end (`finish`), and how is the transport
 * released; how does the close timeout work (`armCloseTimer`); when is the
 * transport read and when paused (the read gate: `updateReading`,
 * `resumeReading`, `mustWaitForDemand`, `waitForDrain`); what happens when
 * application code throws (`callApplication`, `applicationFailed`).
 *
 * Invariants:
 * - The session ends in `finish` exactly once: the application's streams are
 *   settled, the transport is released (`"release"`: our FIN once everything
 *   queued is written, then the peer's EOF, both bounded by `closeTimeout`;
 *   or `"abort"`: dropped now), and only then does `closed` settle.
 * - Once finished, the session holds no message bytes: assembly buffers,
 *   pending pings and the pending pong are dropped.
 * - The transport is read only while nothing is full: not while the
 *   application's readable is at its mark (`readPaused`), an automatic reply
 *   waits for the outbound side to drain (`writePaused`), a server decides on
 *   a request (`deciding`) or answers one with plain HTTP (`answering`).
 * - At most one automatic pong waits while the outbound side is above its
 *   mark (auto-reply.ts): a peer that floods pings and never reads costs at
 *   most 127 bytes beyond the high-water mark.
 * @internal
 * @module
 */
import type { WsErrorCode } from "../../protocol/errors.ts";
import type { Connection } from "../../protocol/frames/connection.ts";
import { CloseConnection, Pong, type AcceptConnection, type RejectConnection, type RejectData, type Request } from "../../protocol/events.ts";
import { ConnectionState } from "../../protocol/types.ts";
import type { WSConnection } from "../../protocol/ws-connection.ts";
import { Timer } from "../timers.ts";
import type { TransportHandler, TransportPort } from "../transport.ts";
import * as failures from "./failures.ts";
import type { AnySessionOptions, ResolvedSessionOptions } from "./options.ts";
import { noop } from "./promises.ts";
import { SessionState, type DirectPipe, type Outcome } from "./state.ts";
import { reportToStderr } from "../app-errors.ts";
import type { HandlerContext, PeerInfo, WebSocketWritable } from "./types.ts";

/**
 * What the core and the parts call of each other, one table shared by every
 * session (session.ts fills it from the part modules).
 */
export interface SessionParts {
  // handshake.ts
  /** Begin: a client sends its request; a server feeds `upgradeRequest` if given; the port starts. */
  start(s: SessionCore): void;
  /** A server's decision on a request (`handleRequest`). */
  decide(s: SessionCore, request: Request): void;
  /** A client got its 101. */
  accepted(s: SessionCore, event: AcceptConnection): void;
  /** A client got a refusal head / a piece of its body. */
  refused(s: SessionCore, event: RejectConnection): void;
  refusalBody(s: SessionCore, event: RejectData): void;
  /** An exception from the engine during the handshake (a bad head from the peer). */
  handshakeFailed(s: SessionCore, error: unknown): void;
  // inbound.ts
  /** Bytes (or EOF, or a custom feed) into the engine, then its events. */
  receive(s: SessionCore, data: Uint8Array | null, feed?: () => void): void;
  /** Take events from the engine while there is room. */
  drainEvents(s: SessionCore): void;
  /** The transport's end of stream reached the session. */
  transportEnded(s: SessionCore): void;
  /** The application's readable (made on first use). */
  readable(s: SessionCore): ReadableStream<unknown>;
  // outbound.ts
  /** The application's writable (made on first use). */
  writable(s: SessionCore): WritableStream<WebSocketWritable>;
  /** One message from a direct pipe into this session (counted as the writable's size function counts a write). */
  pipeWrite(s: SessionCore, chunk: WebSocketWritable): Promise<void> | undefined;
  /** Send the close `close()` asked for once every earlier write went out. */
  maybeSendClose(s: SessionCore): void;
  // keepalive.ts
  startKeepalive(s: SessionCore): void;
  stopKeepalive(s: SessionCore): void;
  pongReceived(s: SessionCore, payload: Uint8Array): void;
  // close.ts
  closeReceived(s: SessionCore, event: CloseConnection): void;
  /** `cancel()` / `abort()` of the application's streams: close, with a WebSocketError's code and reason if given one. */
  closeUsingReason(s: SessionCore, reason: unknown): void;
  // pipe.ts
  /** Start `readable.pipeTo(writable)` between two sessions the direct way, or `null`. */
  pipeDirect(
    s: SessionCore,
    dest: SessionCore,
    readable: ReadableStream<unknown>,
    writable: WritableStream<WebSocketWritable>,
    options: StreamPipeOptions | undefined,
  ): Promise<void> | null;
  /** One received message into a direct pipe. */
  pipeMessage(s: SessionCore, pipe: DirectPipe, message: unknown): void;
}

/**
 * One session's state and the operations every part needs (see the module notes).
 * @internal
 */
export class SessionCore extends SessionState implements TransportHandler {
  readonly parts: SessionParts;
  #connection: Connection | null = null;

  constructor(
    client: boolean,
    engine: WSConnection,
    options: ResolvedSessionOptions,
    init: AnySessionOptions,
    port: TransportPort,
    parts: SessionParts,
  ) {
    super(client, engine, options, init, port);
    this.parts = parts;
  }

  /** The frame-level connection, once the handshake made it (`null` before). */
  get connection(): Connection | null {
    return (this.#connection ??= this.engine.connection);
  }

  // TransportHandler: what the port calls.

  /** Bytes from the peer (discarded once done: we only wait for the peer's EOF). */
  data(chunk: Uint8Array): void {
    if (this.phase !== "done") this.parts.receive(this, chunk);
  }
  /** The peer's end of stream. */
  end(): void {
    this.parts.transportEnded(this);
    this.reachedEof();
  }
  /** The transport failed. */
  error(error: unknown): void {
    if (this.phase !== "done") this.finish({ error: failures.transportFailed(error) }, "abort");
    this.reachedEof();
  }

  // Writing.

  /** Hand bytes to the transport; `false` when above its high-water mark. */
  write(bytes: Uint8Array): boolean {
    if (this.transportReleased || bytes.byteLength === 0) return true;
    return this.port.write(bytes);
  }

  /** Send a close frame if one may still be sent (the reason was validated by `close()`). */
  sendClose(code: number | null, reason: string): void {
    if (this.engine.state !== ConnectionState.OPEN) return;
    try {
      // A close without a code is sent as 1005 (no status), which the frame layer sends as an empty payload.
      this.write(this.engine.send(new CloseConnection({ code: code ?? 1005, reason: code === null ? null : reason })));
    } catch {
      // The code was validated in close(); nothing else can go wrong here.
    }
  }

  /**
   * The automatic answer to a ping: sent now, or (while the outbound side is
   * above its mark) kept as the one pending pong, replacing an older one.
   */
  sendPong(payload: Uint8Array): void {
    if (this.engine.state !== ConnectionState.OPEN || this.phase === "done") return;
    if (this.writePaused) {
      this.pendingPong = payload;
      return;
    }
    if (!this.write(this.engine.send(new Pong({ payload })))) this.#waitForDrain();
  }

  /** Fail the connection from our side: send `code` (when a close can still be sent), then end with a WebSocketError. */
  failConnection(code: number, reason: string, errorCode: WsErrorCode, cause: unknown): void {
    if (this.phase === "done") return;
    this.sendClose(code, reason);
    this.finish({ error: failures.failedWith(code, reason, errorCode, cause) }, "release");
  }

  /**
   * What a write that could not complete rejects with: the session's own
   * failure once it has one (the close timeout, the transport's error...), a
   * `WS_ERR_TRANSPORT` error for a transport failure not yet reported, or
   * `WS_ERR_CLOSED` when the session ended cleanly but dropped the transport
   * before these bytes went out.
   */
  writeFailure(cause: unknown): unknown {
    const outcome = this.outcome;
    if (outcome !== null) return "error" in outcome ? outcome.error : failures.closedError();
    return failures.transportFailed(cause);
  }

  // The read gate.

  /** The application's readable (or handler, or pipe) is full while it promised to read: take no more events. */
  mustWaitForDemand(): boolean {
    if (this.phase !== "open" || this.pendingClose !== null) return false;
    if (this.options.onMessage !== null) return this.handlerBusy;
    const controller = this.readController;
    if (this.readableCancelled || controller === null) return false;
    // A direct pipe keeps the queue empty: it waits only for its destination.
    const pipe = this.pipe;
    return pipe !== null ? pipe.blocked : (controller.desiredSize ?? 1) <= 0;
  }

  /** Pause or resume the transport: it is read only while nothing is full. */
  updateReading(): void {
    // Once done, read regardless (and discard) until the peer's end of stream.
    const paused = this.phase !== "done" && (this.readPaused || this.writePaused || this.deciding || this.answering);
    if (paused === this.portPaused || this.transportReleased) return;
    this.portPaused = paused;
    if (paused) this.port.pause();
    else this.port.resume();
  }

  /** The application made room (or stopped promising to read): take the events waiting in the engine, then read on. */
  resumeReading(): void {
    if (!this.readPaused) return;
    this.readPaused = false;
    if (this.phase !== "done" && !this.deciding && !this.draining) this.parts.drainEvents(this);
    this.updateReading();
  }

  /**
   * An automatic reply found the transport above its high-water mark: do not
   * read it until it drains, so a peer that does not read what we send (our
   * pongs, say) stops being read. (The application's own writes wait through
   * the writable instead; an application that waits for them stops reading.)
   */
  #waitForDrain(): void {
    if (this.writePaused) return;
    this.writePaused = true;
    this.updateReading();
    this.port.drain().then(() => {
      this.writePaused = false;
      const payload = this.pendingPong;
      this.pendingPong = null;
      if (payload !== null) this.sendPong(payload);
      this.updateReading();
    }, noop); // a failed transport is reported by the port's handler
  }

  // The application's code.

  /**
   * Call an application callback inside a boundary that owns its failure: a
   * throw is reported (`onError`) and fails this connection with 1011; it
   * never unwinds through the session or reaches the process.
   */
  callApplication<T>(callback: ((value: T) => void) | undefined, payload: T, handler: string): void {
    if (callback === undefined) return;
    try {
      callback(payload);
    } catch (error) {
      this.applicationFailed(error, handler, "WS_ERR_HANDLER");
    }
  }

  /**
   * Application code failed: report it (unless the error only says that this
   * connection ended), then fail the connection with 1011 (RFC 6455 §7.4.1:
   * an unexpected condition).
   */
  applicationFailed(error: unknown, handler: string, errorCode: WsErrorCode): void {
    if (!failures.endsConnection(error)) this.report(error, handler);
    this.failConnection(1011, "Internal error", errorCode, error);
  }

  /** Give an application error to `onError` (or, without one, one line on stderr naming the peer); a throwing `onError` is reported there too. */
  report(error: unknown, handler: string): void {
    const onError = this.options.onError;
    const peer = (this.session as { peer?: PeerInfo | null } | null)?.peer ?? null;
    const context: HandlerContext = peer === null ? { handler } : { handler, peer };
    if (onError !== undefined) {
      try {
        onError(error, context);
        return;
      } catch (failure) {
        reportToStderr(failure, peer === null ? { handler: "onError" } : { handler: "onError", peer });
      }
    }
    reportToStderr(error, context);
  }

  // Phases.

  /** The handshake succeeded. */
  markOpen(): void {
    this.phase = "open";
    this.handshakeTimer?.stop();
    this.handshakeTimer = null;
    this.#removeAbortListener();
  }

  /** Our close frame went out: from now on, read regardless of demand to see the peer's. */
  markClosing(): void {
    this.phase = "closing";
    this.parts.stopKeepalive(this);
    this.resumeReading();
  }

  /** Fail the handshake after `ms` (armed only while it is still running). */
  armHandshakeTimer(ms: number): void {
    if (this.phase !== "handshake" || !Number.isFinite(ms)) return;
    this.handshakeTimer = new Timer(() => {
      if (this.phase === "handshake") this.finish({ error: failures.handshakeTimedOut() }, "abort");
    });
    this.handshakeTimer.start(ms);
  }

  /** Abort the handshake when `signal` fires (it reports the signal's reason). */
  listenForAbort(signal: AbortSignal): void {
    const listener = (): void => {
      if (this.phase === "handshake") this.finish({ error: signal.reason }, "abort");
    };
    this.abortListener = { signal, listener };
    signal.addEventListener("abort", listener, { once: true });
  }

  #removeAbortListener(): void {
    const abort = this.abortListener;
    if (abort !== null) {
      abort.signal.removeEventListener("abort", abort.listener);
      this.abortListener = null;
    }
  }

  // Ending.

  /**
   * Settle everything once; release the transport (`"release"`: gracefully,
   * bounded by `closeTimeout`; `"abort"`: now); then settle `closed`.
   */
  finish(outcome: Outcome, transport: "release" | "abort"): void {
    if (this.phase === "done") return;
    const wasHandshake = this.phase === "handshake";
    this.phase = "done";
    this.outcome = outcome;
    this.init = null;
    this.handshakeTimer?.stop();
    this.failTimer?.stop();
    this.drainTimer?.stop();
    this.parts.stopKeepalive(this);
    this.#removeAbortListener();

    const error = "error" in outcome ? outcome.error : null;
    if (wasHandshake) {
      this.openedDeferred!.reject(error);
      this.openedDeferred = null;
    }
    const readController = this.readController;
    const writeController = this.writeController;
    if (error === null) {
      // Clean: the readable ends. The writable is left to fail each later
      // write (WS_ERR_CLOSED) rather than errored now, so that an echo's
      // `readable.pipeTo(writable)` resolves instead of rejecting.
      if (readController !== null && !this.readableCancelled) readController.close();
    } else {
      if (readController !== null && !this.readableCancelled) {
        // Messages that arrived whole before the failure are still delivered.
        const queued = readController.desiredSize !== null && readController.desiredSize < this.options.readableHighWaterMark;
        if (queued) this.deferredReadError = { error };
        else readController.error(error);
      }
      if (writeController !== null) writeController.error(error);
    }
    const pingError = error ?? failures.pongLost();
    for (const ping of this.pings ?? []) ping.reject(pingError);
    this.pings = null;
    this.assembler = null;
    this.pendingPong = null;

    const settle = (): void => {
      this.closeTimer?.stop();
      if ("ok" in outcome) this.closedDeferred.resolve(outcome.ok);
      else this.closedDeferred.reject(outcome.error);
    };
    if (transport === "abort") {
      this.abortTransport();
      settle();
      return;
    }
    this.armCloseTimer();
    this.resumeReading();
    this.#releaseGracefully().then(settle, settle);
  }

  /** Bound the closing handshake and the peer's end of stream by `closeTimeout`. */
  armCloseTimer(): void {
    const ms = this.options.closeTimeout;
    if (!Number.isFinite(ms) || this.closeTimer?.active === true) return;
    this.closeTimer ??= new Timer(() => this.#closeTimedOut());
    this.closeTimer.start(ms);
  }

  /** The closing handshake took longer than `closeTimeout`: end with 1006 and drop the transport. */
  #closeTimedOut(): void {
    if (this.phase !== "done") this.finish({ error: failures.closeTimedOut() }, "abort");
    else this.abortTransport();
  }

  /** Our FIN once everything queued is written, then the peer's EOF, then drop the transport. */
  async #releaseGracefully(): Promise<void> {
    try {
      await this.port.end(); // our FIN, once every queued frame is out
    } catch {
      // Aborted by the close timer or failed: nothing more to flush.
    }
    // Wait for the peer's EOF (incoming bytes are discarded until then).
    if (!this.eof) await new Promise<void>((resolve) => (this.eofWaiter = resolve));
    this.abortTransport();
  }

  /** Drop the transport now (idempotent). */
  abortTransport(): void {
    if (this.transportReleased) return;
    this.transportReleased = true;
    this.port.abort();
    this.reachedEof();
  }

  /** The transport reported its end (or failed, or was aborted). */
  reachedEof(): void {
    this.eof = true;
    const waiter = this.eofWaiter;
    this.eofWaiter = null;
    waiter?.();
  }
}
