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
import type { Event } from "../../protocol/events.ts";
import { ConnectionState } from "../../protocol/types.ts";
import { Timer } from "../timers.ts";
import type { TransportHandler } from "../transport.ts";
import { closeUsingReason, finish, onClose } from "./close.ts";
import { frames, type SessionCore } from "./core.ts";
import { decide, handshakeFailed, onRejectData, open } from "./handshake.ts";
import { onPong } from "./keepalive.ts";
import { send, sendClose } from "./outbound.ts";
import { WebSocketError, type AnyMessage } from "./types.ts";
import { DEFAULT_READABLE_HWM, HANDSHAKE_COPY_LIMIT, callBack, concat, headerOfHead, messageSize } from "./util.ts";

/** An error's message, with its `code` (ECONNREFUSED...) when the message does not show it already. */
function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}

export function makeReadable(s: SessionCore): ReadableStream<unknown> {
  if (s.readable !== null) return s.readable;
  const options = s.options;
  s.readableHwm = options.readableHighWaterMark ?? DEFAULT_READABLE_HWM;
  s.readable = new s.streams!.ReadableStream<unknown>(
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
        s.textParts = "";
        s.binaryParts = null;
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

/** What the transport port calls. */
export function makeHandler(s: SessionCore): TransportHandler {
  return {
    data: (chunk) => {
      if (s.phase === "done") return; // releasing: discard until the peer's EOF
      receive(s, chunk);
      if (mustWaitForDemand(s)) {
        s.readPaused = true;
        s.port.pause();
      }
    },
    end: () => {
      if (s.phase !== "done") receive(s, null);
      if (s.phase === "handshake" && !s.deciding) {
        finish(s, 
          { error: new WebSocketError("The transport closed during the opening handshake", { closeCode: 1006, code: "WS_ERR_ABNORMAL_CLOSURE" }) },
          false,
        );
      }
      reachedEof(s);
    },
    error: (error) => {
      if (s.phase !== "done") {
        finish(s, 
          { error: new WebSocketError(`The transport failed: ${describeCause(error)}`, { closeCode: 1006, code: "WS_ERR_TRANSPORT", cause: error }) },
          false,
        );
      }
      reachedEof(s);
    },
  };
}

export function reachedEof(s: SessionCore): void {
  s.eof = true;
  const waiter = s.eofWaiter;
  s.eofWaiter = null;
  waiter?.();
}

export function mustWaitForDemand(s: SessionCore): boolean {
  const controller = s.readController;
  return (
    s.phase === "open" &&
    s.pendingClose === null &&
    !s.readableCancelled &&
    controller !== null &&
    (controller.desiredSize ?? 1) <= 0
  );
}

export function resumeReading(s: SessionCore): void {
  if (s.readPaused) {
    s.readPaused = false;
    s.port.resume();
  }
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
  if (!s.deciding) drainEvents(s);
}

export function drainEvents(s: SessionCore): void {
  if (s.drainTimer?.active) return; // a deferred drain (below) is due
  s.messagesInBatch = false;
  try {
    for (const event of s.engine.events()) {
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

export function handle(s: SessionCore, event: Event): void {
  switch (event.type) {
    case "Request":
      void decide(s, event);
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
      if (s.autoPong && s.engine.state === ConnectionState.OPEN) send(s, s.engine.send(event.response()));
      return;
    case "Pong":
      onPong(s, event);
      return;
    case "CloseConnection":
      onClose(s, event);
      return;
  }
}

export function onMessage(s: SessionCore, event: AnyMessage): void {
  if (s.readController === null) makeReadable(s);
  const controller = s.readController!;
  if (s.readableCancelled) return;
  // While closing, nobody promised to read: drop what would overfill the queue.
  const closing = s.phase !== "open" || s.pendingClose !== null;
  if (s.fragments) {
    if (!closing || (controller.desiredSize ?? 0) > 0) {
      controller.enqueue(event);
      s.messagesInBatch = true;
    }
    return;
  }
  const data = event.data;
  let whole: string | Uint8Array;
  if (typeof data === "string") {
    if (!event.messageFinished) {
      s.textParts += data;
      return;
    }
    whole = s.textParts === "" ? data : s.textParts + data;
    s.textParts = "";
  } else {
    if (!event.messageFinished) {
      if (data.byteLength > 0) {
        (s.binaryParts ??= []).push(data);
        s.binarySize += data.byteLength;
      }
      return;
    }
    if (s.binaryParts === null) {
      // A view of a Node Buffer is a Buffer, whose slice() shares memory: hand out a plain Uint8Array.
      whole = data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      s.binaryParts.push(data);
      whole = concat(s.binaryParts, s.binarySize + data.byteLength);
      s.binaryParts = null;
      s.binarySize = 0;
    }
  }
  if (!closing || (controller.desiredSize ?? 0) > 0) {
    controller.enqueue(whole);
    s.messagesInBatch = true;
  }
}

