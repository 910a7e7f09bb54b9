/**
 * Small pieces the session's parts share: defaults, option checks, a
 * deferred promise, message sizes for the high-water marks, conversion of
 * what the application writes, and byte concatenation.
 *
 * Invariants:
 * - Pure helpers: nothing here holds state across calls (the one module-level
 *   value is the platform's allocator, found once).
 * @module
 */
import { BytesMessage, Message, TextMessage } from "../../protocol/events.ts";
import { LocalProtocolError } from "../../protocol/errors.ts";
import type { Extension } from "../../protocol/extensions/extension.ts";
import { PerMessageDeflate } from "../../protocol/extensions/index.ts";
import { DEFAULT_MAX_MESSAGE_SIZE, pickConnectionOptions, type ConnectionOptions } from "../../protocol/options.ts";
import { duration } from "../timers.ts";
import type { AnyMessage, WebSocketCloseInfo } from "./types.ts";

/** Default `handshakeTimeout` (ms). */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
/** Default `closeTimeout` (ms). */
export const DEFAULT_CLOSE_TIMEOUT = 10_000;
/** Default `pingInterval` (ms). */
export const DEFAULT_PING_INTERVAL = 20_000;
/** Default `pingTimeout` (ms). */
export const DEFAULT_PING_TIMEOUT = 20_000;
/** Default `readableHighWaterMark` (bytes). */
export const DEFAULT_READABLE_HWM = 1024 * 1024;
/** Default `writableHighWaterMark` (bytes). */
export const DEFAULT_WRITABLE_HWM = 64 * 1024;
/**
 * Frames one received message may come in (`ws`'s `maxFragments`). Higher
 * than `ws`'s 16,384: here a piece costs no memory of its own (one growing
 * buffer), and Autobahn's 9.3.1 and 9.4.1 send 4 MiB in 64-byte frames
 * (65,536 of them).
 */
export const DEFAULT_MAX_FRAGMENTS = 128 * 1024;
/** Default `maxRejectionBodySize` (bytes). */
export const DEFAULT_MAX_REJECTION_BODY = 64 * 1024;
/** RFC 6455 §5.5: 125 bytes of control payload, 2 of them the code. */
export const MAX_CLOSE_REASON_BYTES = 123;
/** Most bytes of a client's handshake kept to read the raw extensions header. */
export const HANDSHAKE_COPY_LIMIT = 256 * 1024;
/** Connection.sendParts leaves a server's binary payload uncopied from this size on (smaller ones are cheaper copied). */
export const BORROW_MIN = 16 * 1024;
/** An empty byte array. */
export const EMPTY = new Uint8Array(0);
/** The one UTF-8 encoder. */
export const encoder = new TextEncoder();
/** A function that does nothing. */
export const noop = (): void => {};

/** Where a session is: handshake, open, closing (our close sent), done. */
export type Phase = "handshake" | "open" | "closing" | "done";
/** How a session ended. */
export type Outcome = { ok: WebSocketCloseInfo } | { error: unknown };

/** A promise with its settling functions. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}
/** A {@link Deferred}, marked handled (nobody may look at it). */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let settleRejected!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    settleRejected = rej;
  });
  return {
    promise,
    resolve,
    reject(error) {
      // Callers may never look at a promise (say `closed` after `opened`
      // rejected): mark it handled so Node does not crash the process on it.
      // Done here, on the failure path only, so that a session that ends
      // cleanly never allocates the extra promise and reaction.
      promise.catch(noop);
      settleRejected(error);
    },
  };
}

/** A ping awaiting its pong. */
export interface PendingPing {
  key: string;
  sentAt: number;
  resolve: (rtt: number) => void;
  reject: (error: unknown) => void;
}

/** A monotonic clock in milliseconds (for round-trip times). */
export const now: () => number =
  typeof performance !== "undefined" && typeof performance.now === "function" ? () => performance.now() : () => Date.now();

/**
 * Call an application callback without letting its exception unwind through
 * the session (which would leave events half-handled): it is rethrown on its
 * own, as an uncaught error, like a throwing event listener's.
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

/** A ping payload as a string key (to match pongs). */
export function payloadKey(payload: Uint8Array): string {
  let key = "";
  for (let i = 0; i < payload.length; i++) key += String.fromCharCode(payload[i]!);
  return key;
}

/** Size of a queued message for the high-water marks (UTF-16 units for strings: cheap, and close enough). */
export function messageSize(chunk: unknown): number {
  // Never 0, so that an empty queue is exactly `desiredSize === highWaterMark`.
  if (typeof chunk === "string") return chunk.length + MESSAGE_OVERHEAD;
  if (chunk instanceof Message) return messageSize(chunk.data);
  if (ArrayBuffer.isView(chunk) || chunk instanceof ArrayBuffer) return chunk.byteLength + MESSAGE_OVERHEAD;
  return MESSAGE_OVERHEAD;
}

/**
 * What a queued message costs beyond its payload (the queue's entry, the
 * message object, a view's header), counted by both high-water marks so that
 * many tiny messages are bounded as well as a few large ones.
 */
export const MESSAGE_OVERHEAD = 64;

/** RFC 6455 §7.4: the codes an endpoint may put in a close frame (and that wsproto peers accept). */
export function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1013 && code !== 1004 && code !== 1005 && code !== 1006;
}

/** What the application wrote, as a message event; a `LocalProtocolError` for anything else. */
export function toMessage(chunk: unknown): AnyMessage {
  if (typeof chunk === "string") return new TextMessage({ data: chunk });
  if (chunk instanceof Uint8Array) return new BytesMessage({ data: chunk });
  if (chunk instanceof Message) return chunk;
  if (ArrayBuffer.isView(chunk)) {
    return new BytesMessage({ data: new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) });
  }
  if (chunk instanceof ArrayBuffer) return new BytesMessage({ data: new Uint8Array(chunk) });
  throw new LocalProtocolError(
    `A WebSocket message must be a string, bytes or a Message, got ${chunk === null ? "null" : typeof chunk}`,
    "WS_ERR_INVALID_MESSAGE",
  );
}

/**
 * An uninitialised byte array where the platform has one (Node, Bun and Deno
 * have `Buffer.allocUnsafeSlow`, found at run time, never imported): a
 * message assembled from pieces is written over in full, so zero-filling it
 * first would only cost a second pass over its bytes.
 */
export const allocUninitialised: (size: number) => Uint8Array = (() => {
  const buffer = (globalThis as { Buffer?: { allocUnsafeSlow?: (size: number) => Uint8Array } }).Buffer;
  const allocUnsafeSlow = buffer?.allocUnsafeSlow;
  if (typeof allocUnsafeSlow !== "function") return (size: number) => new Uint8Array(size);
  return (size: number) => {
    // Hand out a plain Uint8Array view: a Buffer's slice() shares memory, which users of Uint8Array do not expect.
    const b = allocUnsafeSlow.call(buffer, size);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  };
})();

/** Concatenate byte arrays of known total size (one array is returned as is). */
export function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = allocUninitialised(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** The value of header `name` in an HTTP head we produced (for the server's negotiated extensions). */
export function headerOfHead(parts: readonly Uint8Array[], name: string): string {
  const decoder = new TextDecoder("latin1");
  let text = "";
  for (const part of parts) text += decoder.decode(part, { stream: true });
  const values: string[] = [];
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "") break; // the end of the head
    const colon = trimmed.indexOf(":");
    if (colon > 0 && trimmed.slice(0, colon).trim().toLowerCase() === name) values.push(trimmed.slice(colon + 1).trim());
  }
  return values.join(", ");
}

/** A non-negative number option, or its default. */
export function positiveOption(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value >= 0)) {
    throw new LocalProtocolError(`${name} must be a non-negative number, got ${String(value)}`, "WS_ERR_INVALID_OPTION");
  }
  return value;
}

/** A duration option: non-negative, `null`/0 disabling (Infinity). */
export function timeoutOption(value: number | null | undefined, fallback: number, name: string): number {
  if (typeof value === "number" && !(value >= 0)) {
    throw new LocalProtocolError(`${name} must be a non-negative number or null, got ${String(value)}`, "WS_ERR_INVALID_OPTION");
  }
  return duration(value, fallback);
}

/** What both roles offer or accept when `extensions` is not given: permessage-deflate, compressing messages of 1 KiB and more (as `ws` does). */
export function defaultExtensions(): Extension[] {
  return [new PerMessageDeflate({ threshold: 1024 })];
}

/** The engine's options picked out of a session's. */
export function connectionOptions(options: ConnectionOptions & { fragments?: boolean }): ConnectionOptions {
  const picked = pickConnectionOptions(options);
  // A session that delivers whole messages takes binary frames whole from the
  // engine: unmasked straight from the received chunks into one array of the
  // payload's size (one pass per byte, one allocation, no assembly). With
  // `fragments: true` pieces stream as they arrive.
  const whole = options.wholeFramesUpTo ?? (options.fragments === true ? undefined : (options.maxFrameSize ?? options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE));
  if (whole !== undefined) picked.wholeFramesUpTo = whole;
  picked.allocate = options.allocate ?? allocUninitialised;
  return picked;
}


/** An error's message, with its `code` (ECONNREFUSED...) when the message does not show it already. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}
