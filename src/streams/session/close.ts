/**
 * Closing: `close()`, the peer's close, failing the connection, the close
 * timeout, and the one place a session ends (`finish`).
 *
 * Invariants:
 * - The session ends in `finish` exactly once: the application's streams are
 *   settled, the transport is released (gracefully: our FIN, then the peer's
 *   EOF, both bounded by `closeTimeout`; or aborted), and only then does
 *   `closed` settle.
 * - Once finished, the session holds no message bytes: assembly buffers and
 *   pending pings are dropped.
 * @module
 */
import { LocalProtocolError } from "../../protocol/errors.ts";
import type { CloseConnection } from "../../protocol/events.ts";
import { ConnectionState } from "../../protocol/types.ts";
import { autoReply } from "../auto-reply.ts";
import { Timer } from "../timers.ts";
import type { SessionCore } from "./core.ts";
import { resumeReading, reachedEof } from "./inbound.ts";
import { maybeSendClose, send, sendClose } from "./outbound.ts";
import { stopKeepalive } from "./keepalive.ts";
import { WebSocketError, type WebSocketCloseInfo } from "./types.ts";
import { MAX_CLOSE_REASON_BYTES, encoder, isSendableCloseCode, type Outcome } from "./util.ts";

/** A lone UTF-16 surrogate (not UTF-8 encodable: `TextEncoder` would send U+FFFD instead). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Check a close code and reason in full before anything is sent.
 * @throws LocalProtocolError for anything that could not go in a close frame as given.
 */
export function validateCloseInfo(info: unknown): { code: number | null; reason: string } {
  if (info === undefined || info === null) return { code: null, reason: "" };
  if (typeof info !== "object") {
    throw new LocalProtocolError(`close() takes { closeCode?, reason? }, got ${typeof info}`, "WS_ERR_INVALID_CLOSE_CODE");
  }
  const { closeCode, reason = "" } = info as { closeCode?: unknown; reason?: unknown };
  const code = closeCode ?? null;
  if (code !== null && (typeof code !== "number" || !isSendableCloseCode(code))) {
    throw new LocalProtocolError(`Close code ${String(code)} may not be sent`, "WS_ERR_INVALID_CLOSE_CODE");
  }
  if (typeof reason !== "string") {
    throw new LocalProtocolError(`A close reason must be a string, got ${reason === null ? "null" : typeof reason}`, "WS_ERR_INVALID_CLOSE_REASON");
  }
  // RFC 6455 §5.5.1: the reason is UTF-8, which a lone surrogate cannot be.
  if (LONE_SURROGATE.test(reason)) {
    throw new LocalProtocolError("A close reason must be valid Unicode (it has a lone surrogate)", "WS_ERR_INVALID_CLOSE_REASON");
  }
  if (reason.length > MAX_CLOSE_REASON_BYTES / 3 && encoder.encode(reason).byteLength > MAX_CLOSE_REASON_BYTES) {
    // RFC 6455 §5.5: a control frame payload is at most 125 bytes (2 of them the code).
    throw new LocalProtocolError("A close reason is at most 123 UTF-8 bytes", "WS_ERR_INVALID_CLOSE_REASON");
  }
  return { code, reason };
}

/**
 * Start the closing handshake. Messages written before the call are sent
 * first. Before the handshake completed, this abandons it. Codes are those
 * RFC 6455 lets an endpoint send (1000-1003, 1007-1013, 3000-4999); no code
 * sends a close frame without status (the peer sees 1005), a reason without
 * a code means 1000.
 * @throws LocalProtocolError, before anything is sent, for a code that may not be sent, or a reason that is not a string, has a lone surrogate or is over 123 UTF-8 bytes.
 */
export function close(s: SessionCore, info: Partial<WebSocketCloseInfo> = {}): void {
  const { code: given, reason } = validateCloseInfo(info);
  let code = given;
  if (code === null && reason !== "") code = 1000;
  if (s.phase === "handshake") {
    finish(s, 
      {
        error: new WebSocketError("The WebSocket was closed before the opening handshake completed", {
          closeCode: 1006,
          code: "WS_ERR_HANDSHAKE_ABORTED",
        }),
      },
      false,
    );
    return;
  }
  if (s.phase !== "open" || s.pendingClose !== null) return;
  s.pendingClose = { code, reason, after: s.writesQueued };
  armCloseTimer(s);
  maybeSendClose(s);
}

/** A close event from the engine: the peer's close (answered, then a clean end), a protocol violation (fail with its code), or the transport's end (1006). */
export function onClose(s: SessionCore, event: CloseConnection): void {
  switch (event.origin) {
    case "remote": {
      const reply = autoReply(event, s.engine.state, s);
      if (reply !== null) {
        // RFC 6455 §5.5.1: an endpoint that receives a close frame sends one in response (echoing the code).
        try {
          send(s, s.engine.send(reply));
        } catch {
          // Already answered or impossible: the peer's close still completes ours.
        }
      }
      finish(s, { ok: { closeCode: event.code, reason: event.reason ?? "" } }, true);
      return;
    }
    case "protocol-error": {
      // RFC 6455 §7.1.7: fail the connection, sending the close code first.
      const fail = (): void => {
        if (s.phase === "done") return;
        sendClose(s, event.code, event.reason ?? "");
        const error = new WebSocketError(event.reason || `The WebSocket failed with code ${event.code}`, {
          closeCode: event.code,
          reason: event.reason ?? "",
          code: "WS_ERR_PROTOCOL",
        });
        finish(s, { error }, true);
      };
      if (s.messagesInBatch) {
        // Messages that arrived whole before the bad frame went to the
        // application just now. An application already waiting on them
        // answers within this turn (an echo stays in arrival order, as
        // Autobahn's 3.2, 4.x and 5.15 expect); the failure follows one
        // macrotask later. The parser is dead meanwhile: nothing more is read.
        (s.failTimer = new Timer(fail)).start(0);
        return;
      }
      fail();
      return;
    }
    case "abnormal":
    case "local":
      finish(s, 
        { error: new WebSocketError("The transport closed without a close frame", { closeCode: 1006, code: "WS_ERR_ABNORMAL_CLOSURE" }) },
        true,
      );
      return;
  }
}

/** Fail the connection from our side: send `code` (when a close can still be sent), then end with a WebSocketError. */
export function failConnection(s: SessionCore, code: number, reason: string, errorCode: string, cause: unknown): void {
  if (s.phase === "done") return;
  sendClose(s, code, reason);
  const message = cause instanceof Error ? cause.message : reason;
  finish(s, { error: new WebSocketError(message, { closeCode: code, reason, code: errorCode, cause }) }, true);
}

/** Close with the code and reason of a WebSocketError given to `cancel()` / `abort()` (else without a code). */
export function closeUsingReason(s: SessionCore, reason: unknown): void {
  let code: number | null = null;
  let text = "";
  if (isWebSocketError(reason)) {
    code = reason.closeCode;
    text = reason.reason;
  }
  try {
    close(s, code === null ? { reason: text } : { closeCode: code, reason: text });
  } catch {
    close(s, );
  }
}

/** Ours, or the runtime's own WHATWG `WebSocketError` (Deno's, a browser's). */
function isWebSocketError(reason: unknown): reason is { closeCode: number | null; reason: string } {
  if (reason instanceof WebSocketError) return true;
  const native = (globalThis as { WebSocketError?: unknown }).WebSocketError;
  return typeof native === "function" && reason instanceof native;
}

/** Bound the closing handshake and the peer's end of stream by `closeTimeout`. */
export function armCloseTimer(s: SessionCore): void {
  if (!Number.isFinite(s.closeTimeout)) return;
  if (s.closeTimer?.active) return;
  s.closeTimer ??= new Timer(() => closeTimedOut(s));
  s.closeTimer.start(s.closeTimeout);
}

/** The closing handshake took longer than `closeTimeout`: end with 1006 and drop the transport. */
export function closeTimedOut(s: SessionCore): void {
  if (s.phase !== "done") {
    finish(s, 
      { error: new WebSocketError("The closing handshake timed out", { closeCode: 1006, code: "WS_ERR_CLOSE_TIMEOUT" }) },
      false,
    );
  } else {
    abortTransport(s);
  }
}

/** Stop listening to `signal` (the handshake is over). */
export function removeAbortListener(s: SessionCore): void {
  if (s.abortListener) {
    s.options.signal?.removeEventListener("abort", s.abortListener);
    s.abortListener = null;
  }
}

/** Settle everything once; release the transport (gracefully or not); then settle `closed`. */
export function finish(s: SessionCore, outcome: Outcome, graceful: boolean): void {
  if (s.phase === "done") return;
  const wasHandshake = s.phase === "handshake";
  s.phase = "done";
  s.outcome = outcome;
  s.handshakeTimer?.stop();
  s.failTimer?.stop();
  s.drainTimer?.stop();
  stopKeepalive(s);
  removeAbortListener(s);

  const error = "error" in outcome ? outcome.error : null;
  if (wasHandshake) {
    s.openedDeferred!.reject(error);
    s.openedDeferred = null;
  }
  const readController = s.readController;
  const writeController = s.writeController;
  if (error === null) {
    // Clean: the readable ends. The writable is left to fail each later
    // write (WS_ERR_CLOSED) rather than errored now, so that an echo's
    // `readable.pipeTo(writable)` resolves instead of rejecting.
    if (readController !== null && !s.readableCancelled) readController.close();
  } else {
    if (readController !== null && !s.readableCancelled) {
      // Messages that arrived whole before the failure are still delivered.
      const queued = readController.desiredSize !== null && readController.desiredSize < s.readableHwm;
      if (queued) s.deferredReadError = { error };
      else readController.error(error);
    }
    if (writeController !== null) writeController.error(error);
  }
  const pingError = error ?? new WebSocketError("The WebSocket closed before the pong arrived", { code: "WS_ERR_CLOSED" });
  for (const ping of s.pings ?? []) ping.reject(pingError);
  s.pings = null;
  s.assembler = null;
  s.pendingPong = null;
  s.handshakeBytes = null;

  const settle = (): void => {
    s.closeTimer?.stop();
    if ("ok" in outcome) s.closedDeferred.resolve(outcome.ok);
    else s.closedDeferred.reject(outcome.error);
  };
  if (!graceful) {
    abortTransport(s);
    settle();
    return;
  }
  armCloseTimer(s);
  resumeReading(s);
  releaseGracefully(s).then(settle, settle);
}

/** Our FIN once everything queued is written, then the peer's EOF, then drop the transport. */
export async function releaseGracefully(s: SessionCore): Promise<void> {
  try {
    await s.port.end(); // our FIN, once every queued frame is out
  } catch {
    // Aborted by the close timer or failed: nothing more to flush.
  }
  // Wait for the peer's EOF (incoming bytes are discarded until then).
  if (!s.eof) await new Promise<void>((resolve) => (s.eofWaiter = resolve));
  abortTransport(s);
}

/** Drop the transport now (idempotent). */
export function abortTransport(s: SessionCore): void {
  if (s.transportReleased) return;
  s.transportReleased = true;
  s.port.abort();
  reachedEof(s);
}

