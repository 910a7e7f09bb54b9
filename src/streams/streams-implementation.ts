/**
 * Which WHATWG streams implementation the streams layer builds its streams
 * with.
 *
 * Invariant: every stream this layer creates comes from ONE implementation,
 * the current one. By default it is the platform's (global `ReadableStream`,
 * `WritableStream`, `TransformStream`), looked up when a stream is first
 * needed, never at module load: importing this module has no side effect and
 * no top-level `await`, so every entry point loads through `require()` and
 * bundles as esm, cjs or iife. No polyfill is ever imported here: on a
 * platform without global streams, or when the application's transport
 * streams come from another implementation, the application injects one with
 * {@link useStreamsImplementation} (for example `web-streams-polyfill`), so
 * that `pipeTo` between its streams and ours never crosses implementations
 * and a bundle that does not ask for a polyfill contains none. The layer
 * itself only touches a transport through `getReader()` / `getWriter()`,
 * which work across implementations.
 * @module
 */
import { LocalProtocolError } from "../protocol/errors.ts";

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

let injected: StreamsImplementation | null = null;
let native: StreamsImplementation | null = null;

/**
 * The implementation the streams layer currently builds its streams with:
 * the injected one, else the platform's globals. Throws a
 * `LocalProtocolError` (code `WS_ERR_NO_STREAMS`) when neither exists,
 * saying how to inject one.
 * @example
 * ```ts
 * import { streamsImplementation } from "wsproto/streams";
 * const { TransformStream } = streamsImplementation();
 * ```
 */
export function streamsImplementation(): StreamsImplementation {
  if (injected) return injected;
  native ??= fromGlobals();
  if (native) return native;
  throw new LocalProtocolError(
    "This platform has no global ReadableStream, WritableStream and TransformStream: " +
      'install one and pass it to useStreamsImplementation() first, e.g. useStreamsImplementation(await import("web-streams-polyfill"))',
    "WS_ERR_NO_STREAMS",
  );
}

/**
 * Use `impl` for every stream created from now on (codecs, WebSocket
 * sessions, the Node adapter). Pass the implementation your transport's
 * streams come from, or a polyfill where the platform has no global
 * streams; pass `null` to go back to the platform's.
 * @example
 * ```ts
 * import * as polyfill from "web-streams-polyfill";
 * import { useStreamsImplementation, type StreamsImplementation } from "wsproto/streams";
 * useStreamsImplementation(polyfill as unknown as StreamsImplementation);
 * ```
 */
export function useStreamsImplementation(impl: StreamsImplementation | null): void {
  injected = impl;
}

/** `true` when the platform has global WHATWG streams (no polyfill needed). */
export function hasNativeStreams(): boolean {
  native ??= fromGlobals();
  return native !== null;
}
