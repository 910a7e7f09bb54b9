/**
 * Errors in the code an application gives us (handlers, callbacks) and in
 * what we report to it: how an error is described in one line, how a
 * callback is called without its exception unwinding through us, and how a
 * failed handler is reported (`onError(error, context)`, by default one line
 * on stderr). What the adapters need from the session's vocabulary, without
 * reaching into its internals.
 *
 * Invariants: no state, no timers, no platform API beyond `console.error`
 * (portable); {@link reportHandlerError} never throws, whatever the
 * application's `onError` does.
 * @module
 */
import type { WebSocketSession } from "./session/session.ts";
import { WebSocketError, type MessageChunk } from "./session/types.ts";

/**
 * An error's message, with its `code` (ECONNREFUSED...) when the message does not show it already.
 * @example
 * ```ts
 * describeError(Object.assign(new Error("connect failed"), { code: "ECONNREFUSED" })); // "connect failed (ECONNREFUSED)"
 * ```
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}

/**
 * Call an application callback without letting its exception unwind through
 * the caller (which would leave events half-handled): it is rethrown on its
 * own, as an uncaught error, like a throwing event listener's.
 * @example
 * ```ts
 * callBack(options.onPong, payload);
 * ```
 */
export function callBack<T>(callback: ((value: T) => void) | undefined, payload: T): void {
  if (callback === undefined) return;
  try {
    callback(payload);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** What `onError` is told about a failed handler: which one, on which session, from which peer. */
export interface HandlerErrorContext {
  /** The option that failed: `"handleRequest"`, `"handleHttp"`, `"onMessage"`, `"onPing"`, `"onPong"`... */
  handler: string;
  /** The session it ran for (absent before there is one). */
  session?: WebSocketSession<string | Uint8Array> | WebSocketSession<MessageChunk>;
  /** The peer's IP address, when known. */
  remoteAddress?: string;
}

/** An `onError(error, context)` option: where failures of the application's handlers are reported. */
export type HandlerErrorReporter = (error: unknown, context: HandlerErrorContext) => void;

/**
 * The default report of a failed handler: one line on stderr naming the
 * handler and the peer.
 * @example
 * ```ts
 * reportToStderr(new Error("boom"), { handler: "onMessage", remoteAddress: "127.0.0.1" });
 * // wsproto: onMessage failed (peer 127.0.0.1): boom
 * ```
 */
export function reportToStderr(error: unknown, context: HandlerErrorContext): void {
  const peer = context.remoteAddress === undefined ? "" : ` (peer ${context.remoteAddress})`;
  console.error(`wsproto: ${context.handler} failed${peer}: ${describeError(error)}`);
}

/**
 * Report a handler's failure to `onError` (or, without one, to stderr). An
 * `onError` that throws is itself reported to stderr; nothing escapes.
 * @example
 * ```ts
 * reportHandlerError(options.onError, error, { handler: "handleRequest", remoteAddress: "::1" });
 * ```
 */
export function reportHandlerError(onError: HandlerErrorReporter | undefined, error: unknown, context: HandlerErrorContext): void {
  if (onError === undefined) {
    reportToStderr(error, context);
    return;
  }
  try {
    onError(error, context);
  } catch (failure) {
    try {
      reportToStderr(failure, { ...context, handler: `onError (reporting a failure of ${context.handler})` });
    } catch {
      // stderr itself is gone: nothing more to do.
    }
  }
}

const CONNECTION_END_CODES: ReadonlySet<string> = new Set(["WS_ERR_ABNORMAL_CLOSURE", "WS_ERR_TRANSPORT", "WS_ERR_CLOSED", "WS_ERR_CLOSING"]);

/**
 * `true` for an error that only reports the connection's own end (an
 * abnormal closure, the peer's close, a send after the close): escaping a
 * handler, it is not an application failure and is not reported as one.
 * @example
 * ```ts
 * isConnectionEnd(new WebSocketError("gone", { closeCode: 1006, code: "WS_ERR_ABNORMAL_CLOSURE" })); // true
 * ```
 */
export function isConnectionEnd(error: unknown): boolean {
  return error instanceof WebSocketError && error.status === null && (error.closeCode !== null || CONNECTION_END_CODES.has(error.code));
}
