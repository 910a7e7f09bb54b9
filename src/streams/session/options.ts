/**
 * A session's options, checked and resolved once: defaults, durations,
 * high-water marks, the engine's own options, and what both roles offer by
 * default.
 *
 * Answers: what is the default of an option; how is a duration read
 * (`null`/0 disables); which options reach the engine.
 *
 * Invariants:
 * - `resolveSessionOptions` throws a `LocalProtocolError` for a bad value
 *   before anything is sent; what it returns is frozen and never changes.
 * - The one state across calls is the last resolved object, frozen and
 *   shared by the sessions whose options resolve to the same values.
 * @module
 */
import { LocalProtocolError } from "../../protocol/errors.ts";
import type { Extension } from "../../protocol/extensions/extension.ts";
import { PerMessageDeflate } from "../../protocol/extensions/index.ts";
import { DEFAULT_MAX_MESSAGE_SIZE, pickConnectionOptions, type ConnectionOptions } from "../../protocol/options.ts";
import type { StreamsImplementation } from "../streams-implementation.ts";
import { duration } from "../timers.ts";
import { allocateRecycled } from "./messages.ts";
import type { AcceptWebSocketOptions, ConnectWebSocketOptions, HandlerContext } from "./types.ts";

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

/** Every option of either role. */
export type AnySessionOptions = ConnectWebSocketOptions<boolean> & AcceptWebSocketOptions<boolean>;

/**
 * What a session reads of its options after the handshake, resolved once.
 * The handshake's own inputs (`url`, `headers`, `handleRequest`,
 * `upgradeRequest`...) stay in the caller's object, which the session drops
 * once open.
 */
export interface ResolvedSessionOptions {
  readonly handshakeTimeout: number;
  readonly closeTimeout: number;
  readonly pingInterval: number;
  readonly pingTimeout: number;
  readonly readableHighWaterMark: number;
  readonly writableHighWaterMark: number;
  /** Frames one message may come in (`Infinity` for no limit). */
  readonly maxFragments: number;
  readonly maxRejectionBodySize: number;
  readonly fragments: boolean;
  readonly autoPong: boolean;
  /** The session answers a close itself (the auto-reply policy's other half; always on for sessions). */
  readonly autoCloseReply: true;
  readonly streams: StreamsImplementation | undefined;
  readonly onMessage: ((message: never, session: never) => unknown) | null;
  readonly onPing: ((payload: Uint8Array) => void) | undefined;
  readonly onPong: ((payload: Uint8Array) => void) | undefined;
  readonly onError: ((error: unknown, context: HandlerContext) => void) | undefined;
}

/**
 * Check and resolve a session's options. A server hands every connection a
 * copy of the same options, so the last result is reused when every value
 * matches: connections of one server share one frozen object instead of
 * holding one each (~150 bytes per connection).
 * @throws LocalProtocolError for a negative duration or high-water mark.
 */
export function resolveSessionOptions(options: AnySessionOptions): ResolvedSessionOptions {
  const resolved: ResolvedSessionOptions = {
    handshakeTimeout: timeoutOption(options.handshakeTimeout, DEFAULT_HANDSHAKE_TIMEOUT, "handshakeTimeout"),
    closeTimeout: timeoutOption(options.closeTimeout, DEFAULT_CLOSE_TIMEOUT, "closeTimeout"),
    pingInterval: timeoutOption(options.pingInterval, DEFAULT_PING_INTERVAL, "pingInterval"),
    pingTimeout: timeoutOption(options.pingTimeout, DEFAULT_PING_TIMEOUT, "pingTimeout"),
    readableHighWaterMark: positiveOption(options.readableHighWaterMark, DEFAULT_READABLE_HWM, "readableHighWaterMark"),
    writableHighWaterMark: positiveOption(options.writableHighWaterMark, DEFAULT_WRITABLE_HWM, "writableHighWaterMark"),
    maxFragments: options.maxFragments === 0 ? Infinity : (options.maxFragments ?? DEFAULT_MAX_FRAGMENTS),
    maxRejectionBodySize: options.maxRejectionBodySize ?? DEFAULT_MAX_REJECTION_BODY,
    fragments: options.fragments === true,
    autoPong: options.autoPong ?? true,
    autoCloseReply: true as const,
    streams: options.streams,
    onMessage: typeof options.onMessage === "function" ? (options.onMessage as never) : null,
    onPing: options.onPing,
    onPong: options.onPong,
    onError: options.onError,
  };
  if (last !== null && sameOptions(last, resolved)) return last;
  return (last = Object.freeze(resolved));
}

/** The last options resolved (frozen), reused while the next ones are the same. */
let last: ResolvedSessionOptions | null = null;

function sameOptions(a: ResolvedSessionOptions, b: ResolvedSessionOptions): boolean {
  for (const key in b) {
    if (!Object.is(a[key as keyof ResolvedSessionOptions], b[key as keyof ResolvedSessionOptions])) return false;
  }
  return true;
}

/** A non-negative number option, or its default. */
function positiveOption(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value >= 0)) {
    throw new LocalProtocolError(`${name} must be a non-negative number, got ${String(value)}`, "WS_ERR_INVALID_OPTION");
  }
  return value;
}

/** A duration option: non-negative, `null`/0 disabling (Infinity). */
function timeoutOption(value: number | null | undefined, fallback: number, name: string): number {
  if (typeof value === "number" && !(value >= 0)) {
    throw new LocalProtocolError(`${name} must be a non-negative number or null, got ${String(value)}`, "WS_ERR_INVALID_OPTION");
  }
  return duration(value, fallback);
}

/** What both roles offer or accept when `extensions` is not given: permessage-deflate, compressing messages of 1 KiB and more (as `ws` does). */
export function defaultExtensions(): Extension[] {
  return [new PerMessageDeflate({ threshold: 1024 })];
}

/** The engine's options picked out of a session's; `lentReads` when the transport lends its chunks (`TransportPort.lendsReads`). */
export function connectionOptions(options: ConnectionOptions & { fragments?: boolean }, lentReads = false): ConnectionOptions {
  const picked = pickConnectionOptions(options);
  // A session that delivers whole messages takes binary frames whole from the
  // engine: unmasked straight from the received chunks into one array of the
  // payload's size (one pass per byte, one allocation, no assembly). With
  // `fragments: true` pieces stream as they arrive.
  const whole = options.wholeFramesUpTo ?? (options.fragments === true ? undefined : (options.maxFrameSize ?? options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE));
  if (whole !== undefined) picked.wholeFramesUpTo = whole;
  picked.allocate = options.allocate ?? allocateRecycled;
  if (lentReads) picked.borrowedInput = true;
  return picked;
}
