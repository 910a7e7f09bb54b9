/**
 * Outbound: the application's writable, `send()`, and pre-framed writes
 * (a broadcast's), in order to the transport through the core's `write`.
 *
 * Answers: when does a write or a `send()` resolve, and what does it reject
 * with; when does `close()`'s frame go out; which large messages go out
 * without a copy.
 *
 * Invariants:
 * - The writable queues at most `writableHighWaterMark` bytes (plus 64 per
 *   message) before `writer.ready` waits.
 * - A write or `send()` resolves once the transport has taken its bytes: at
 *   once when the transport stayed below its high-water mark, else when it
 *   drained (or, for a message sent without a copy, when the transport
 *   wrote it). It rejects with a `WebSocketError` (with a `code`) when they
 *   cannot be delivered; `send()`'s rejections are marked handled.
 * - `close()` sends its close frame only after every message written before
 *   the call has been handed to the transport (writes are counted by the
 *   writable's size function, which runs synchronously in `write()`).
 * @module
 */
import { LocalProtocolError } from "../../protocol/errors.ts";
import { Message } from "../../protocol/events.ts";
import { ConnectionState } from "../../protocol/types.ts";
import type { SessionCore } from "./core.ts";
import * as failures from "./failures.ts";
import { REUSABLE_MIN, messageSize, recycle, reuseArrays, toMessage } from "./messages.ts";
import { SENT, handled, noop, rejected } from "./promises.ts";
import { sessionStreamClasses } from "./stream-classes.ts";
import type { AnyMessage, WebSocketWritable } from "./types.ts";

/** `Connection.sendParts` leaves a server's binary payload uncopied from this size on (smaller ones are cheaper copied). */
const BORROW_MIN = 16 * 1024;

/** The application's writable, made on first use; its queue counts bytes plus 64 per message. */
export function writable(s: SessionCore): WritableStream<WebSocketWritable> {
  if (s.writable !== null) return s.writable;
  s.writable = new (sessionStreamClasses(s.streams!).Writable)(
    s,
    {
      start: (controller) => {
        s.writeController = controller;
      },
      write: (chunk) => write(s, chunk),
      close: () => {
        s.writableClosing = true;
        s.parts.closeUsingReason(s, undefined);
        return s.closedDeferred.promise.then(noop);
      },
      abort: (reason) => {
        s.writableClosing = true;
        s.parts.closeUsingReason(s, reason);
      },
    },
    {
      highWaterMark: s.options.writableHighWaterMark,
      size: (chunk) => {
        s.writesQueued++;
        return messageSize(chunk);
      },
    },
  );
  const outcome = s.outcome;
  if (outcome !== null && "error" in outcome) s.writeController!.error(outcome.error);
  return s.writable;
}

/** Why a message cannot be sent now (`null` when it can). */
function refusal(s: SessionCore, closingAfter: number): Error | null {
  if (s.phase === "done") return failures.closedError();
  if (s.phase === "handshake") return new LocalProtocolError("Cannot send: the WebSocket is not open yet", "WS_ERR_INVALID_STATE");
  const pendingClose = s.pendingClose;
  if (s.phase !== "open" || (pendingClose !== null && closingAfter > pendingClose.after)) return failures.closingError();
  return null;
}

/** The writable's sink: one message to the transport, in order; resolves once writes may continue. */
export function write(s: SessionCore, chunk: WebSocketWritable): Promise<void> | undefined {
  const index = ++s.writesSent;
  const refused = refusal(s, index);
  if (refused !== null) throw refused;
  let message: AnyMessage;
  try {
    message = toMessage(chunk);
  } catch (error) {
    // The application broke the stream's contract: the write rejects with
    // the LocalProtocolError and the connection fails with 1011, so that
    // `closed` settles and the peer is told.
    s.failConnection(1011, "invalid message type written", "WS_ERR_INVALID_MESSAGE", error);
    throw error;
  }
  const written = transmit(s, message);
  if (s.pendingClose !== null) maybeSendClose(s);
  return written;
}

/** One message from a direct pipe (pipe.ts): counted as the writable's size function counts a write, then written. */
export function pipeWrite(s: SessionCore, chunk: WebSocketWritable): Promise<void> | undefined {
  s.writesQueued++;
  return write(s, chunk);
}

/** Hand one message to the transport; resolves (or is `undefined`) once writes may continue. */
function transmit(s: SessionCore, message: AnyMessage): Promise<void> | undefined {
  const port = s.port;
  const data = message.data;
  let below: boolean;
  if (port.writeBorrowed !== undefined && !s.client && data instanceof Uint8Array && data.byteLength >= BORROW_MIN && !s.transportReleased) {
    // A large binary message a server sends goes out without a copy: the
    // write resolves once the transport wrote the caller's bytes.
    const parts = s.connection!.sendParts(message);
    if (parts.length === 2) {
      const done = port.writeBorrowed(parts[0]!, parts[1]!);
      return done === undefined ? undefined : asWriteFailure(s, done);
    }
    below = s.write(parts[0]!);
  } else {
    const frame = frameOf(s, message);
    below = s.write(frame);
    if (frame.byteLength >= REUSABLE_MIN && port.handsOffWrites === true) {
      // Once the transport has handed every byte on (the kernel has them),
      // the frame's array serves the next one of its size: at once, or when
      // it drained.
      if (port.bufferedAmount!() === 0) recycle(frame);
      else if (!below) return asWriteFailure(s, port.drain(), () => recycleIfHandedOn(port, frame));
    }
  }
  // A write resolves as the transport takes the bytes.
  return below ? undefined : asWriteFailure(s, port.drain());
}

/** The engine's frame for `message`, built with reuse on: a large one may take an array the transport is done with (messages.ts). */
function frameOf(s: SessionCore, message: AnyMessage): Uint8Array {
  const previous = reuseArrays(true);
  try {
    return s.engine.send(message);
  } finally {
    reuseArrays(previous);
  }
}

/** `written`, then `then`; a transport failure rejects as the session's write failure. */
function asWriteFailure(s: SessionCore, written: Promise<void>, then?: () => void): Promise<void> {
  return written.then(then, (error: unknown) => Promise.reject(s.writeFailure(error)));
}

/** Reuse `frame`'s array if the transport holds nothing any more. */
function recycleIfHandedOn(port: SessionCore["port"], frame: Uint8Array): void {
  if (port.bufferedAmount!() === 0) recycle(frame);
}

/** `WebSocketSession.send`: one message past the writable's queue; its rejections are marked handled. */
export function send(s: SessionCore, message: string | Uint8Array, compress?: boolean): Promise<void> {
  const refused = refusal(s, 0);
  if (refused !== null || s.pendingClose !== null) return rejected(refused ?? failures.closingError());
  if (typeof message !== "string" && !(message instanceof Uint8Array)) {
    return rejected(
      new LocalProtocolError(`send() takes a string or a Uint8Array, got ${message === null ? "null" : typeof message}`, "WS_ERR_INVALID_MESSAGE"),
    );
  }
  try {
    // compress: false reaches the extension on the Message (RFC 7692: each message chooses; decided before compressing).
    const event = compress === false ? new Message({ data: message, compress: false }) : toMessage(message);
    const written = transmit(s, event);
    return written === undefined ? SENT : handled(written);
  } catch (error) {
    return rejected(error);
  }
}

/** Already framed bytes, in order with the other writes, only while OPEN; `false` when not written. */
export function writeFramed(s: SessionCore, bytes: Uint8Array): boolean {
  if (s.phase !== "open" || s.pendingClose !== null || s.transportReleased) return false;
  if (s.connection?.state !== ConnectionState.OPEN) return false;
  s.write(bytes);
  return true;
}

/** Bytes the transport holds for writing (0 when it does not say). */
export function bufferedAmount(s: SessionCore): number {
  return s.transportReleased ? 0 : (s.port.bufferedAmount?.() ?? 0);
}

/** Send the close `close()` asked for once every message written before it went out. */
export function maybeSendClose(s: SessionCore): void {
  const pendingClose = s.pendingClose;
  if (pendingClose === null || s.phase !== "open") return;
  if (s.writesSent < pendingClose.after && !s.writableClosing) return;
  s.sendClose(pendingClose.code, pendingClose.reason);
  s.markClosing();
}
