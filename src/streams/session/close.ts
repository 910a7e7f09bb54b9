/**
 * Closing: `close()` from the application, the peer's close, a protocol
 * violation, and closing with the code and reason a `cancel()` or `abort()`
 * was given.
 *
 * Answers: what does `close()` accept and when is its frame sent; how is the
 * peer's close answered; how does a protocol error fail the connection. (How
 * a session then ends and how the close timeout works: core.ts `finish`,
 * `armCloseTimer`.)
 *
 * Invariants:
 * - `close()` checks its code and reason in full before anything is sent.
 * - Holds no bytes: a close that waits for earlier writes is a count
 *   (`pendingClose.after`), sent by outbound.ts `maybeSendClose`.
 * @module
 */
import { LocalProtocolError } from "../../protocol/errors.ts";
import type { CloseConnection } from "../../protocol/events.ts";
import { autoReply } from "../../protocol/auto-reply.ts";
import { checkCloseReason, isSendableCloseCode } from "../../protocol/close-codes.ts";
import { Timer } from "../timers.ts";
import type { SessionCore } from "./core.ts";
import * as failures from "./failures.ts";
import { WebSocketError, type WebSocketCloseInfo } from "./types.ts";

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
  // RFC 6455 §5.5.1 and §5.5: UTF-8 (no lone surrogate), at most 123 bytes.
  checkCloseReason(reason);
  return { code, reason };
}

/**
 * Start the closing handshake. Messages written before the call are sent
 * first. Before the handshake completed, this abandons it. Calling it again
 * (or after the session ended) does nothing.
 * @throws LocalProtocolError, before anything is sent, for a code that may not be sent, or a reason that is not a string, has a lone surrogate or is over 123 UTF-8 bytes.
 */
export function close(s: SessionCore, info: Partial<WebSocketCloseInfo> = {}): void {
  const { code: given, reason } = validateCloseInfo(info);
  let code = given;
  if (code === null && reason !== "") code = 1000;
  if (s.phase === "handshake") {
    s.finish({ error: failures.handshakeAborted() }, "abort");
    return;
  }
  if (s.phase !== "open" || s.pendingClose !== null) return;
  s.pendingClose = { code, reason, after: s.writesQueued };
  s.armCloseTimer();
  s.parts.maybeSendClose(s);
}

/** A close event from the engine: the peer's close (answered, then a clean end), a protocol violation (fail with its code), or the transport's end (1006). */
export function closeReceived(s: SessionCore, event: CloseConnection): void {
  switch (event.origin) {
    case "remote": {
      const reply = autoReply(event, s.engine.state, s.options);
      if (reply !== null) {
        // RFC 6455 §5.5.1: an endpoint that receives a close frame sends one in response (echoing the code).
        try {
          s.write(s.engine.send(reply));
        } catch {
          // Already answered or impossible: the peer's close still completes ours.
        }
      }
      s.finish({ ok: { closeCode: event.code, reason: event.reason ?? "" } }, "release");
      return;
    }
    case "protocol-error": {
      // RFC 6455 §7.1.7: fail the connection, sending the close code first.
      const fail = (): void => {
        if (s.phase === "done") return;
        s.sendClose(event.code, event.reason ?? "");
        s.finish({ error: failures.protocolViolation(event.code, event.reason ?? "") }, "release");
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
      s.finish({ error: failures.abnormalClosure() }, "release");
      return;
  }
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
    close(s);
  }
}

/** Ours, or the runtime's own WHATWG `WebSocketError` (Deno's, a browser's). */
function isWebSocketError(reason: unknown): reason is { closeCode: number | null; reason: string } {
  if (reason instanceof WebSocketError) return true;
  const native = (globalThis as { WebSocketError?: unknown }).WebSocketError;
  return typeof native === "function" && reason instanceof native;
}
