/**
 * Which WHATWG streams implementation the streams layer builds its streams
 * with.
 *
 * Invariant: every stream this layer creates comes from ONE implementation,
 * the current one. It is the platform's (global `ReadableStream`,
 * `WritableStream`, `TransformStream`) when the platform has all three;
 * otherwise `web-streams-polyfill` is loaded once, at module load, as a
 * ponyfill (it never patches globals). A user whose transport streams come
 * from another implementation (say a polyfill in an old browser) injects it
 * with {@link useStreamsImplementation}, so that `pipeTo` between their
 * streams and ours never crosses implementations. The layer itself only
 * touches a transport through `getReader()` / `getWriter()`, which work
 * across implementations.
 * @module
 */

/** The three constructors the streams layer needs. */
export interface StreamsImplementation {
  readonly ReadableStream: typeof ReadableStream;
  readonly WritableStream: typeof WritableStream;
  readonly TransformStream: typeof TransformStream;
}

function fromGlobals(): StreamsImplementation | null {
  const g = globalThis as Partial<StreamsImplementation>;
  if (typeof g.ReadableStream !== "function") return null;
  if (typeof g.WritableStream !== "function" || typeof g.TransformStream !== "function") return null;
  return { ReadableStream: g.ReadableStream, WritableStream: g.WritableStream, TransformStream: g.TransformStream };
}

async function loadPolyfill(): Promise<StreamsImplementation> {
  // Loaded only on platforms without global streams; a ponyfill, so the
  // globals (if some of them exist) are left alone and never mixed in.
  const ponyfill = (await import("web-streams-polyfill")) as unknown as StreamsImplementation;
  return {
    ReadableStream: ponyfill.ReadableStream,
    WritableStream: ponyfill.WritableStream,
    TransformStream: ponyfill.TransformStream,
  };
}

const nativeStreams = fromGlobals();
const defaultStreams: StreamsImplementation = nativeStreams ?? (await loadPolyfill());
let current = defaultStreams;

/**
 * The implementation the streams layer currently builds its streams with.
 * @example
 * ```ts
 * import { streamsImplementation } from "wsproto/streams";
 * const { TransformStream } = streamsImplementation();
 * ```
 */
export function streamsImplementation(): StreamsImplementation {
  return current;
}

/**
 * Use `impl` for every stream created from now on (codecs, WebSocket
 * sessions, the Node adapter). Pass the implementation your transport's
 * streams come from; pass `null` to go back to the default.
 * @example
 * ```ts
 * import * as polyfill from "web-streams-polyfill";
 * import { useStreamsImplementation } from "wsproto/streams";
 * useStreamsImplementation(polyfill as unknown as StreamsImplementation);
 * ```
 */
export function useStreamsImplementation(impl: StreamsImplementation | null): void {
  current = impl ?? defaultStreams;
}

/** `true` when the platform has global WHATWG streams (no polyfill needed). */
export function hasNativeStreams(): boolean {
  return nativeStreams !== null;
}
