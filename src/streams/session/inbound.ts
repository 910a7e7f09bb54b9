/**
 * Inbound: bytes from the transport into the engine, the engine's events
 * dispatched (the one place that decides which part handles which event),
 * and received messages into the application: `onMessage`, a direct pipe, or
 * the readable (whole, or as pieces with `fragments: true`).
 *
 * Answers: where does a received event go; how are messages assembled and
 * delivered; when does reading pause for the application (with core.ts's
 * read gate); what happens when `onMessage` throws.
 *
 * Invariants:
 * - Reading is paused while the application's readable is full (bytes
 *   counted, `readableHighWaterMark`) and resumed by its `pull`; with
 *   `onMessage`, while a promise it returned is pending.
 * - A message being assembled is bounded by `maxMessageSize` (the engine
 *   closes with 1009 past it) and `maxFragments` frames (1008).
 * - While closing, reading goes on regardless (to see the peer's close) and
 *   what nobody will read is dropped.
 * @module
 */
import type { BytesMessage, Event, TextMessage } from "../../protocol/events.ts";
import { ConnectionState } from "../../protocol/types.ts";
import { autoReply } from "../../protocol/auto-reply.ts";
import { Timer } from "../timers.ts";
import { MessageAssembler } from "./assembly.ts";
import type { SessionCore } from "./core.ts";
import * as failures from "./failures.ts";
import { messageSize, plainBytes, reuseArrays } from "./messages.ts";
import { SENT } from "./promises.ts";
import { sessionStreamClasses } from "./stream-classes.ts";
import type { AnyMessage } from "./types.ts";

/** The application's readable, made on first use; its queue counts bytes plus 64 per message (messages.ts `messageSize`). */
export function readable(s: SessionCore): ReadableStream<unknown> {
  if (s.readable !== null) return s.readable;
  const hwm = s.options.readableHighWaterMark;
  s.readable = new (sessionStreamClasses(s.streams!).Readable)(
    s,
    {
      start: (controller) => {
        s.readController = controller;
      },
      pull: (controller) => {
        const deferred = s.deferredReadError;
        if (deferred !== null && controller.desiredSize === hwm) {
          s.deferredReadError = null;
          controller.error(deferred.error);
          return;
        }
        s.resumeReading();
      },
      cancel: (reason) => {
        s.readableCancelled = true;
        s.assembler = null;
        s.resumeReading();
        s.parts.closeUsingReason(s, reason);
      },
    },
    { highWaterMark: hwm, size: messageSize },
  );
  // Made after the end: it ends as it would have.
  const outcome = s.outcome;
  if (outcome !== null) {
    if ("ok" in outcome) s.readController!.close();
    else s.readController!.error(outcome.error);
  }
  return s.readable;
}

/** The transport's end of stream: during the handshake it fails it; afterwards the engine sees EOF (1006 unless closing). */
export function transportEnded(s: SessionCore): void {
  if (s.phase === "handshake" && s.client && s.rejection === null) {
    // No response head (or part of one): say so, not "bad HTTP message".
    s.finish({ error: failures.abnormalClosure("client-handshake") }, "abort");
  }
  if (s.phase !== "done") receive(s, null);
  if (s.phase === "handshake" && !s.deciding) {
    s.finish({ error: failures.abnormalClosure(s.client ? "client-handshake" : "server-handshake") }, "abort");
  }
}

/** Feed bytes (or EOF, or a custom feed) to the connection and handle the events. */
export function receive(s: SessionCore, data: Uint8Array | null, feed?: () => void): void {
  const connection = s.engine;
  if (connection.state === ConnectionState.CLOSED) return; // after the close handshake or a rejection: discard
  try {
    try {
      if (feed) feed();
      else connection.receiveData(data);
    } catch (error) {
      unexpected(s, error);
      return;
    }
    if (!s.deciding && !s.readPaused) drainEvents(s);
  } finally {
    // A lent chunk (TransportPort.lendsReads) is overwritten once this returns: the engine copies what it still holds of it.
    if (s.port.lendsReads === true) connection.releaseInput();
  }
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
  const connection = s.phase === "handshake" ? null : s.connection;
  const events = connection === null ? s.engine.events() : null;
  try {
    for (;;) {
      if (s.mustWaitForDemand()) {
        s.readPaused = true;
        s.updateReading();
        return;
      }
      let event: Event | null;
      if (connection !== null) {
        if (s.pipe === null) event = connection.nextEvent();
        else {
          // A message for a direct pipe never reaches the application: its
          // array may be one the pipe gave back (messages.ts).
          const previous = reuseArrays(true);
          try {
            event = connection.nextEvent();
          } finally {
            reuseArrays(previous);
          }
        }
      } else {
        const next = events!.next();
        event = next.done === true ? null : next.value;
      }
      if (event === null) return;
      dispatch(s, event);
      if (s.phase === "done" || s.deciding) return;
      if (s.messagesInBatch && s.connection?.closeFrameBuffered) {
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
function unexpected(s: SessionCore, error: unknown): void {
  if (s.phase === "handshake") {
    s.parts.handshakeFailed(s, error);
    return;
  }
  // RFC 6455 §7.4.1: 1011, an unexpected condition prevented fulfilling the request.
  s.sendClose(1011, "");
  s.finish({ error: failures.internalError(error) }, "release");
}

/** Dispatch one engine event to the part that handles it. */
function dispatch(s: SessionCore, event: Event): void {
  switch (event.type) {
    case "Request":
      s.parts.decide(s, event);
      return;
    case "AcceptConnection":
      s.parts.accepted(s, event);
      return;
    case "RejectConnection":
      s.parts.refused(s, event);
      return;
    case "RejectData":
      s.parts.refusalBody(s, event);
      return;
    case "Message":
    case "TextMessage":
    case "BytesMessage":
      messageReceived(s, event);
      return;
    case "Ping":
      s.callApplication(s.options.onPing, event.payload, "onPing");
      if (autoReply(event, s.engine.state, s.options) !== null) s.sendPong(event.payload);
      return;
    case "Pong":
      s.parts.pongReceived(s, event.payload);
      return;
    case "CloseConnection":
      s.parts.closeReceived(s, event);
      return;
  }
}

/** A received message (or piece): to the application, whole or as it comes. */
function messageReceived(s: SessionCore, event: AnyMessage): void {
  const options = s.options;
  if (options.onMessage === null) {
    if (s.readController === null) readable(s);
    if (s.readableCancelled) return;
  }
  if (options.fragments) {
    if (event.frameFinished && !event.messageFinished && ++s.pieces > options.maxFragments) {
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
    whole = typeof data === "string" ? data : plainBytes(data);
  } else {
    const assembler = (s.assembler ??= new MessageAssembler(typeof event.data === "string"));
    const result = assembler.add(event as TextMessage | BytesMessage);
    if (assembler.frameCount > options.maxFragments) {
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
  if (s.options.onMessage !== null) {
    if (!closing || !s.handlerBusy) callMessageHandler(s, message);
    return;
  }
  if (s.pipe !== null) {
    s.parts.pipeMessage(s, s.pipe, message);
    return;
  }
  const controller = s.readController!;
  if (!closing || (controller.desiredSize ?? 0) > 0) {
    controller.enqueue(message);
    s.messagesInBatch = true;
  }
}

/** `onMessage`: a promise it returns holds further messages (and reading) until it settles; a failure fails the connection with 1011. */
function callMessageHandler(s: SessionCore, message: unknown): void {
  let result: unknown;
  try {
    result = s.options.onMessage!(message as never, s.session as never);
  } catch (error) {
    s.applicationFailed(error, "onMessage", "WS_ERR_MESSAGE_HANDLER");
    return;
  }
  // `session.send()` that the transport took at once returns SENT: nothing to wait for.
  if (result === undefined || result === SENT || result === null || typeof (result as PromiseLike<void>).then !== "function") return;
  s.handlerBusy = true;
  (result as PromiseLike<void>).then(
    () => {
      s.handlerBusy = false;
      s.readPaused = true; // reading may have stopped for this promise: take what waits, then read on
      s.resumeReading();
    },
    (error: unknown) => {
      s.handlerBusy = false;
      s.applicationFailed(error, "onMessage", "WS_ERR_MESSAGE_HANDLER");
    },
  );
}

/** More frames in one message than `maxFragments`: fail the connection with 1008, as `ws` does. */
function tooManyFragments(s: SessionCore): void {
  s.assembler = null;
  const error = failures.tooManyFragments(s.options.maxFragments);
  s.sendClose(1008, error.reason);
  s.finish({ error }, "release");
}
