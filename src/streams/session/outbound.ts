/**
 * Outbound: the application's writable, and every write to the transport
 * (messages, automatic pongs, pings, close frames) in order through `send`.
 *
 * Invariants:
 * - Everything written to the transport goes through `send`, in order.
 * - The writable queues at most `writableHighWaterMark` bytes before
 *   `writer.ready` waits; a write resolves once the transport took it.
 * - `close()` sends its close frame only after every message written before
 *   the call has been handed to the transport (writes are counted by the
 *   writable's size function, which runs synchronously in `write()`).
 * @module
 */
import { LocalProtocolError } from "../../protocol/errors.ts";
import { CloseConnection, Message, Pong } from "../../protocol/events.ts";
import { ConnectionState } from "../../protocol/types.ts";
import { close, closeUsingReason, failConnection } from "./close.ts";
import { frames, type SessionCore } from "./core.ts";
import { resumeReading, updateReading } from "./inbound.ts";
import { stopKeepalive } from "./keepalive.ts";
import { sessionStreamClasses } from "./pipe.ts";
import { WebSocketError, type AnyMessage, type WebSocketWritable } from "./types.ts";
import { BORROW_MIN, DEFAULT_WRITABLE_HWM, messageSize, noop, toMessage } from "./util.ts";

/** The application's writable, made on first use; its queue counts bytes plus 64 per message. */
export function makeWritable(s: SessionCore): WritableStream<WebSocketWritable> {
  if (s.writable !== null) return s.writable;
  const options = s.options;
  s.writable = new (sessionStreamClasses(s.streams!).Writable)(
    s,
    {
      start: (controller) => {
        s.writeController = controller;
      },
      write: (chunk) => write(s, chunk),
      close: () => {
        s.writableClosing = true;
        close(s, );
        return s.closedDeferred.promise.then(noop);
      },
      abort: (reason) => {
        s.writableClosing = true;
        closeUsingReason(s, reason);
      },
    },
    {
      highWaterMark: options.writableHighWaterMark ?? DEFAULT_WRITABLE_HWM,
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

/** Hand bytes to the transport; `false` when above its high-water mark. */
export function send(s: SessionCore, bytes: Uint8Array): boolean {
  if (s.transportReleased || bytes.byteLength === 0) return true;
  return s.port.write(bytes);
}

/**
 * An automatic reply found the transport above its high-water mark: do not
 * read it until it drains, so a peer that does not read what we send (our
 * pongs, say) stops being read. (The application's own writes wait through
 * the writable instead; an application that waits for them stops reading.)
 */
function waitForDrain(s: SessionCore): void {
  if (s.writePaused) return;
  s.writePaused = true;
  updateReading(s);
  s.port.drain().then(() => {
    s.writePaused = false;
    const payload = s.pendingPong;
    s.pendingPong = null;
    if (payload !== null) sendPong(s, payload);
    updateReading(s);
  }, noop); // a failed transport is reported by the port's handler
}

/**
 * The automatic answer to a ping: sent now, or (while the outbound side is
 * above its mark) kept as the one pending pong, replacing an older one
 * (auto-reply.ts).
 */
export function sendPong(s: SessionCore, payload: Uint8Array): void {
  if (s.engine.state !== ConnectionState.OPEN || s.phase === "done") return;
  if (s.writePaused) {
    s.pendingPong = payload;
    return;
  }
  if (!send(s, s.engine.send(new Pong({ payload })))) waitForDrain(s);
}

/** The writable's sink: one message to the transport, in order; resolves once writes may continue. */
export function write(s: SessionCore, chunk: WebSocketWritable): Promise<void> | undefined {
  const index = ++s.writesSent;
  const pendingClose = s.pendingClose;
  if (s.phase === "done") throw new WebSocketError("The WebSocket is closed", { code: "WS_ERR_CLOSED" });
  if (s.phase !== "open" || (pendingClose !== null && index > pendingClose.after)) {
    throw new WebSocketError(CLOSING_MESSAGE, { code: "WS_ERR_CLOSING" });
  }
  let message: AnyMessage;
  try {
    message = toMessage(chunk);
  } catch (error) {
    // The application broke the stream's contract: the write rejects with
    // the LocalProtocolError and the connection fails with 1011, so that
    // `closed` settles and the peer is told.
    failConnection(s, 1011, "invalid message type written", "WS_ERR_INVALID_MESSAGE", error);
    throw error;
  }
  const written = transmit(s, message);
  if (pendingClose !== null) maybeSendClose(s);
  return written;
}

/** What a write after `close()` (before the session ended) rejects with. */
export const CLOSING_MESSAGE = "Cannot send: the WebSocket was closed (the closing handshake has started)";

/** Hand one message to the transport; resolves (or is `undefined`) once writes may continue. */
function transmit(s: SessionCore, message: AnyMessage): Promise<void> | undefined {
  const port = s.port;
  const data = message.data;
  let below: boolean;
  if (port.writeBorrowed !== undefined && !s.client && data instanceof Uint8Array && data.byteLength >= BORROW_MIN && !s.transportReleased) {
    // A large binary message a server sends goes out without a copy: the
    // write resolves once the transport is done with the caller's bytes.
    const parts = frames(s)!.sendParts(message);
    if (parts.length === 2) return port.writeBorrowed(parts[0]!, parts[1]!);
    below = send(s, parts[0]!);
  } else {
    below = send(s, s.engine.send(message));
  }
  // A write resolves as the transport takes the bytes.
  return below ? undefined : port.drain();
}

/**
 * What `send()` returns when the transport took the message at once: one
 * shared resolved promise (no allocation per message), which `onMessage`'s
 * caller recognises as "nothing to wait for".
 */
export const SENT: Promise<void> = Promise.resolve();

/** `WebSocketSession.send`: one message past the writable's queue. */
export function sendMessage(s: SessionCore, message: string | Uint8Array, compress?: boolean): Promise<void> {
  if (s.phase === "done") return Promise.reject(new WebSocketError("The WebSocket is closed", { code: "WS_ERR_CLOSED" }));
  if (s.phase !== "open" || s.pendingClose !== null) {
    return Promise.reject(new WebSocketError(CLOSING_MESSAGE, { code: "WS_ERR_CLOSING" }));
  }
  if (typeof message !== "string" && !(message instanceof Uint8Array)) {
    return Promise.reject(
      new LocalProtocolError(`send() takes a string or a Uint8Array, got ${message === null ? "null" : typeof message}`, "WS_ERR_INVALID_MESSAGE"),
    );
  }
  try {
    // compress: false reaches the extension on the Message (RFC 7692: each message chooses; decided before compressing).
    const event = compress === false ? new Message({ data: message, compress: false }) : toMessage(message);
    return transmit(s, event) ?? SENT;
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Already framed bytes, in order with the other writes, only while OPEN; `false` when not written. */
export function writeFramed(s: SessionCore, bytes: Uint8Array): boolean {
  if (s.phase !== "open" || s.pendingClose !== null || s.transportReleased) return false;
  if (frames(s)?.state !== ConnectionState.OPEN) return false;
  send(s, bytes);
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
  sendClose(s, pendingClose.code, pendingClose.reason);
  s.phase = "closing";
  stopKeepalive(s);
  resumeReading(s); // read regardless of demand from now on, to see the peer's close
}

/** Send a close frame if one may still be sent (the reason was validated by `close()`). */
export function sendClose(s: SessionCore, code: number | null, reason: string): void {
  if (s.engine.state !== ConnectionState.OPEN) return;
  try {
    // A close without a code is sent as 1005 (no status), which the frame layer sends as an empty payload.
    send(s, s.engine.send(new CloseConnection({ code: code ?? 1005, reason: code === null ? null : reason })));
  } catch {
    // The code was validated in close(); nothing else can go wrong here.
  }
}

