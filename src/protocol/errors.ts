/**
 * The two error classes of the engine. Every error carries a stable string
 * `code` so programs need not match message texts.
 * @module
 */
import type { Event } from "./events.ts";

/** Base class of {@link LocalProtocolError} and {@link RemoteProtocolError}. */
export class ProtocolError extends Error {
  /** A stable identifier, e.g. `"WS_ERR_INVALID_STATE"`. */
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/**
 * The local side asked for something the state or the RFC forbids. Nothing
 * was written and the state did not change.
 * @example
 * ```ts
 * try { conn.send(new Ping({ payload: new Uint8Array(200) })); }
 * catch (e) { if (e instanceof LocalProtocolError) console.log(e.code); }
 * ```
 */
export class LocalProtocolError extends ProtocolError {
  constructor(message: string, code = "WS_ERR_LOCAL_PROTOCOL") {
    super(message, code);
    this.name = "LocalProtocolError";
  }
}

/**
 * The peer's handshake bytes were invalid. `eventHint` is the event to send
 * back (usually a `RejectConnection`), or `null`.
 * @example
 * ```ts
 * try { ws.receiveData(bytes); }
 * catch (e) {
 *   if (e instanceof RemoteProtocolError && e.eventHint) socket.write(ws.send(e.eventHint));
 * }
 * ```
 */
export class RemoteProtocolError extends ProtocolError {
  readonly eventHint: Event | null;
  constructor(message: string, eventHint: Event | null = null, code = "WS_ERR_REMOTE_PROTOCOL") {
    super(message, code);
    this.name = "RemoteProtocolError";
    this.eventHint = eventHint;
  }
}
