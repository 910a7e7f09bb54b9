/**
 * Inbound: bytes from the transport into the engine, events out of it, and
 * received messages into the application's readable (whole, or as pieces
 * with `fragments: true`).
 *
 * Invariants:
 * - Reading is paused while the application's readable is full (bytes
 *   counted, `readableHighWaterMark`) and resumed by its `pull`.
 * - A message being assembled is bounded by `maxMessageSize` (the engine
 *   closes with 1009 past it).
 * - While closing, reading goes on regardless (to see the peer's close) and
 *   what nobody will read is dropped.
 * @module
 */
import type { BytesMessage, Event, TextMessage } from "../../protocol/events.ts";
import { ConnectionState } from "../../protocol/types.ts";
import { autoReply } from "../auto-reply.ts";
import { Timer } from "../timers.ts";
import type { TransportHandler } from "../transport.ts";
import { closeUsingReason, failConnection, finish, onClose } from "./close.ts";
import { frames, type SessionCore } from "./core.ts";
import { decide, handshakeFailed, onRejectData, open } from "./handshake.ts";
import { onPong } from "./keepalive.ts";
import { SENT, sendClose, sendPong } from "./outbound.ts";
import { MessageAssembler } from "./assembly.ts";
import { pipeMessage, sessionStreamClasses } from "./pipe.ts";
import { WebSocketError, type AnyMessage } from "./types.ts";
import { DEFAULT_READABLE_HWM, HANDSHAKE_COPY_LIMIT, callBack, headerOfHead, messageSize, describeError } from "./util.ts";

/** The application's readable, made on first use; its queue counts bytes plus 64 per message (util.ts `messageSize`). */
export function makeReadable(s: SessionCore): ReadableStream<unknown> {
  if (s.readable !== null) return s.readable;
  const options = s.options;
  s.readableHwm = options.readableHighWaterMark ?? DEFAULT_READABLE_HWM;
  s.readable = new (sessionStreamClasses(s.streams!).Readable)(
    s,
    {
      start: (controller) => {
        s.readController = controller;
      },
      pull: (controller) => {
        const deferred = s.deferredReadError;
        if (deferred !== null && controller.desiredSize === s.readableHwm) {
          s.deferredReadError = null;
          controller.error(deferred.error);
          return;
        }
        resumeReading(s);
      },
      cancel: (reason) => {
        s.readableCancelled = true;
        s.assembler = null;
        resumeReading(s);
        closeUsingReason(s, reason);
      },
    },
    { highWaterMark: s.readableHwm, size: messageSize },
  );
  // Made after the end: it ends as it would have.
  const outcome = s.outcome;
  if (outcome !== null) {
    if ("ok" in outcome) s.readController!.close();
    else s.readController!.error(outcome.error);
  }
  return s.readable;
}

/** What the transport port calls (methods, not closures: one small object per session). */
class SessionHandler implements TransportHandler {
  readonly #s: SessionCore;
  constructor(s: SessionCore) {
    this.#s = s;
  }
  data(chunk: Uint8Array): void {
    const s = this.#s;
    if (s.phase === "done") return; // releasing: discard until the peer's EOF
    receive(s, chunk);
  }
  end(): void {
    const s = this.#s;
    if (s.phase === "handshake" && s.client && s.rejection === null) {
      // No response head (or part of one): say so, not "bad HTTP message".
      const error = new WebSocketError("The server closed the connection before answering the opening handshake", {
        closeCode: 1006,
        code: "WS_ERR_ABNORMAL_CLOSURE",
      });
      finish(s, { error }, false);
    }
    if (s.phase !== "done") receive(s, null);
    if (s.phase === "handshake" && !s.deciding) {
      const message = s.client
        ? "The server closed the connection before answering the opening handshake"
        : "The client closed the connection during the opening handshake";
      finish(s, { error: new WebSocketError(message, { closeCode: 1006, code: "WS_ERR_ABNORMAL_CLOSURE" }) }, false);
    }
    reachedEof(s);
  }
  error(error: unknown): void {
    const s = this.#s;
    if (s.phase !== "done") {
      finish(
        s,
        { error: new WebSocketError(`The transport failed: ${describeError(error)}`, { closeCode: 1006, code: "WS_ERR_TRANSPORT", cause: error }) },
        false,
      );
    }
    reachedEof(s);
  }
}

/** What the transport port calls. */
export function makeHandler(s: SessionCore): TransportHandler {
  return new SessionHandler(s);
}

/** The transport reported its end (or failed, or was aborted). */
export function reachedEof(s: SessionCore): void {
  s.eof = true;
  const waiter = s.eofWaiter;
  s.eofWaiter = null;
  waiter?.();
}

/** The application's readable is full while it promised to read: take no more events. */
export function mustWaitForDemand(s: SessionCore): boolean {
  if (s.phase !== "open" || s.pendingClose !== null) return false;
  if (s.onMessage !== null) return s.handlerBusy;
  const controller = s.readController;
  if (s.readableCancelled || controller === null) return false;
  // A direct pipe keeps the queue empty: it waits only for its destination.
  const pipe = s.pipe;
  return pipe !== null ? pipe.blocked : (controller.desiredSize ?? 1) <= 0;
}

/** Pause or resume the transport: it is read only while neither side is full. */
export function updateReading(s: SessionCore): void {
  // Once done, read regardless (and discard) until the peer's end of stream.
  const paused = s.phase !== "done" && (s.readPaused || s.writePaused || s.deciding || s.answering);
  if (paused === s.portPaused || s.transportReleased) return;
  s.portPaused = paused;
  if (paused) s.port.pause();
  else s.port.resume();
}

/** The application made room (or stopped promising to read): take the events waiting in the engine, then read on. */
export function resumeReading(s: SessionCore): void {
  if (!s.readPaused) return;
  s.readPaused = false;
  if (s.phase !== "done" && !s.deciding && !s.draining) drainEvents(s);
  updateReading(s);
}

/** Feed bytes (or EOF, or a custom feed) to the connection and handle the events. */
export function receive(s: SessionCore, data: Uint8Array | null, feed?: () => void): void {
  const connection = s.engine;
  if (connection.state === ConnectionState.CLOSED) return; // after the close handshake or a rejection: discard
  if (s.client && s.phase === "handshake" && data !== null && s.handshakeSize < HANDSHAKE_COPY_LIMIT) {
    (s.handshakeBytes ??= []).push(data);
    s.handshakeSize += data.byteLength;
  }
  try {
    if (feed) feed();
    else connection.receiveData(data);
  } catch (error) {
    unexpected(s, error);
    return;
  }
  if (!s.deciding && !s.readPaused) drainEvents(s);
}

/**
 * Take events from the engine while the application's queue has room (the
 * engine parses and inflates only as far as it is pulled), handling each.
 * When the queue is full, reading pauses until the readable's `pull`.
 */
export function drainEvents(s: SessionCore): void {
  if (s.drainTimer?.active || s.draining) return; // a deferred drain (below) is due, or one is running
  s.messagesInBatch = false;
  s.draining = true;
  // Once open, straight from the frame layer, one event at a time: the
  // handshake has nothing more to say, and no generator is made per chunk.
  const connection = s.phase === "handshake" ? null : frames(s);
  const events = connection === null ? s.engine.events() : null;
  try {
    for (;;) {
      if (mustWaitForDemand(s)) {
        s.readPaused = true;
        updateReading(s);
        return;
      }
      let event: Event | null;
      if (connection !== null) event = connection.nextEvent();
      else {
        const next = events!.next();
        event = next.done === true ? null : next.value;
      }
      if (event === null) return;
      handle(s, event);
      if (s.phase === "done" || s.deciding) return;
      if (s.messagesInBatch && frames(s)?.closeFrameBuffered) {
        // The peer's close is next. Once it is read only a close may be
        // sent, so give an application already waiting on the messages
        // just delivered one turn to answer them (an echo keeps every
        // message, as RFC 6455 §5.5.1 allows), then read the close.
        (s.drainTimer ??= new Timer(() => drainEvents(s))).start(0);
        return;
      }
    }
  } catch (error) {
    unexpected(s, error);
  } finally {
    s.draining = false;
    if (events !== null) void events.return();
  }
}

/** An exception from the connection: a bad handshake from the peer, or (after it) a bug. */
export function unexpected(s: SessionCore, error: unknown): void {
  if (s.phase === "handshake") {
    handshakeFailed(s, error);
    return;
  }
  // RFC 6455 §7.4.1: 1011, an unexpected condition prevented fulfilling the request.
  sendClose(s, 1011, "");
  finish(s, 
    { error: new WebSocketError("Internal error", { closeCode: 1011, code: "WS_ERR_INTERNAL", cause: error }) },
    true,
  );
}

/** Dispatch one engine event to its part. */
export function handle(s: SessionCore, event: Event): void {
  switch (event.type) {
    case "Request":
      decide(s, event);
      return;
    case "AcceptConnection": {
      // The response head is in the bytes read so far (the 101 carries the negotiated extensions).
      const head = s.handshakeBytes ?? [];
      s.handshakeBytes = null;
      open(s, event.subprotocol ?? "", headerOfHead(head, "sec-websocket-extensions"));
      return;
    }
    case "RejectConnection":
      s.rejection = { status: event.statusCode, headers: event.headers, body: [], size: 0 };
      return;
    case "RejectData":
      onRejectData(s, event);
      return;
    case "Message":
    case "TextMessage":
    case "BytesMessage":
      onMessage(s, event);
      return;
    case "Ping":
      callBack(s.options.onPing, event.payload);
      if (autoReply(event, s.engine.state, s) !== null) sendPong(s, event.payload);
      return;
    case "Pong":
      onPong(s, event);
      return;
    case "CloseConnection":
      onClose(s, event);
      return;
  }
}

/** A received message (or piece): to the application's queue, whole or as it comes. */
export function onMessage(s: SessionCore, event: AnyMessage): void {
  if (s.onMessage === null) {
    if (s.readController === null) makeReadable(s);
    if (s.readableCancelled) return;
  }
  if (s.fragments) {
    if (event.frameFinished && !event.messageFinished && ++s.pieces > s.maxFragments) {
      tooManyFragments(s);
      return;
    }
    if (event.messageFinished) s.pieces = 0;
    deliver(s, event);
    return;
  }
  let whole: string | Uint8Array;
  if (s.assembler === null && event.messageFinished) {
    const data = event.data;
    // A view of a Node Buffer is a Buffer, whose slice() shares memory: hand out a plain Uint8Array.
    whole =
      typeof data === "string" || data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {
    const assembler = (s.assembler ??= new MessageAssembler(typeof event.data === "string"));
    const result = assembler.add(event as TextMessage | BytesMessage);
    if (assembler.frames > s.maxFragments) {
      tooManyFragments(s);
      return;
    }
    if (result === null) return;
    s.assembler = null;
    whole = result;
  }
  deliver(s, whole);
}

/** A message (or piece) for the application: to `onMessage`, a direct pipe, or the readable's queue. */
function deliver(s: SessionCore, message: unknown): void {
  // While closing, nobody promised to read: drop what would overfill the queue (or find the handler busy).
  const closing = s.phase !== "open" || s.pendingClose !== null;
  if (s.onMessage !== null) {
    if (!closing || !s.handlerBusy) callMessageHandler(s, message);
    return;
  }
  if (s.pipe !== null) {
    pipeMessage(s, s.pipe, message);
    return;
  }
  const controller = s.readController!;
  if (!closing || (controller.desiredSize ?? 0) > 0) {
    controller.enqueue(message);
    s.messagesInBatch = true;
  }
}

/** `onMessage`: a promise it returns holds further messages (and reading) until it settles; a failure fails the connection. */
function callMessageHandler(s: SessionCore, message: unknown): void {
  let result: unknown;
  try {
    result = s.onMessage!(message as never, s.session as never);
  } catch (error) {
    handlerFailed(s, error);
    return;
  }
  // `session.send()` that the transport took at once returns SENT: nothing to wait for.
  if (result === undefined || result === SENT || result === null || typeof (result as PromiseLike<void>).then !== "function") return;
  s.handlerBusy = true;
  (result as PromiseLike<void>).then(
    () => {
      s.handlerBusy = false;
      s.readPaused = true; // reading may have stopped for this promise: take what waits, then read on
      resumeReading(s);
    },
    (error: unknown) => {
      s.handlerBusy = false;
      handlerFailed(s, error);
    },
  );
}

function handlerFailed(s: SessionCore, error: unknown): void {
  failConnection(s, 1011, "Internal error", "WS_ERR_MESSAGE_HANDLER", error);
}

/** More frames in one message than `maxFragments`: fail the connection with 1008, as `ws` does. */
function tooManyFragments(s: SessionCore): void {
  s.assembler = null;
  const reason = "too many fragments";
  sendClose(s, 1008, reason);
  finish(
    s,
    {
      error: new WebSocketError(`A message came in more than maxFragments (${s.maxFragments}) frames`, {
        closeCode: 1008,
        reason,
        code: "WS_ERR_TOO_MANY_FRAGMENTS",
      }),
    },
    true,
  );
}
