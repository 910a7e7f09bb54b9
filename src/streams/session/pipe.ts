/**
 * Piping one session's `readable` into a session's `writable` (an echo: its
 * own; a relay: another's) without the WHATWG `pipeTo` machinery: each
 * message goes from the source's engine to the destination's transport in
 * the same turn, with no read or write promise, no queue hop and none of the
 * ~3.4 KB of closures and promises Node's `pipeTo` holds per connection.
 * (stream-classes.ts routes `pipeTo` here.)
 *
 * It keeps `pipeTo`'s contract (WHATWG Streams §4.9.1 "pipe"):
 * - both streams are locked for the pipe's life (a real reader and writer
 *   are taken, so nothing else can read or write meanwhile);
 * - the source closing closes the destination (unless `preventClose`), the
 *   source failing aborts it (unless `preventAbort`), the destination failing
 *   cancels the source (unless `preventCancel`), and the returned promise
 *   settles as `pipeTo`'s would;
 * - back-pressure: while the destination's transport is above its
 *   high-water mark, the source's transport is not read.
 *
 * Answers: when is a pipe direct; how does a relay's back-pressure reach
 * its source.
 *
 * Invariants:
 * - The direct path is taken only when it cannot be told apart from the
 *   standard one: no `signal`, nothing already queued in the source's
 *   readable, no write still queued in the destination's writable, the
 *   source open. Otherwise the implementation's own `pipeTo` runs.
 * - While a pipe is direct, the source's readable queue stays empty: every
 *   message inbound.ts would enqueue is written to the destination instead
 *   (`pipeMessage`), and a message the destination refuses ends the pipe as
 *   a failed write would.
 * @module
 */
import type { SessionCore } from "./core.ts";
import { recycle } from "./messages.ts";
import type { DirectPipe } from "./state.ts";
import type { WebSocketWritable } from "./types.ts";

/** Start a direct pipe from `s` into `dest`, or `null` when the standard `pipeTo` must run. */
export function pipeDirect(
  s: SessionCore,
  dest: SessionCore,
  readable: ReadableStream<unknown>,
  writable: WritableStream<WebSocketWritable>,
  options: StreamPipeOptions | undefined,
): Promise<void> | null {
  if (options?.signal !== undefined) return null;
  if (s.phase !== "open" || s.pendingClose !== null || s.readableCancelled || s.deferredReadError !== null) return null;
  const controller = s.readController;
  if (controller === null || controller.desiredSize !== s.options.readableHighWaterMark) return null; // messages queued
  if (dest.writesQueued !== dest.writesSent || dest.writableClosing || dest.phase === "done") return null;

  const reader = readable.getReader();
  const writer = writable.getWriter();
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const pipe: DirectPipe = {
    dest,
    reader,
    writer,
    preventClose: options?.preventClose === true,
    preventAbort: options?.preventAbort === true,
    preventCancel: options?.preventCancel === true,
    blocked: false,
    done: false,
    resolve,
    reject,
  };
  s.pipe = pipe;
  reader.closed.then(
    () => sourceClosed(s, pipe),
    (error: unknown) => sourceFailed(s, pipe, error),
  );
  writer.closed.then(undefined, (error: unknown) => destinationFailed(s, pipe, error));
  return promise;
}

/** One message the source's readable would have queued: written to the destination now. */
export function pipeMessage(s: SessionCore, pipe: DirectPipe, message: unknown): void {
  const dest = pipe.dest;
  let written: Promise<void> | undefined;
  try {
    written = dest.parts.pipeWrite(dest, message as WebSocketWritable);
  } catch (error) {
    // As a sink's failed write does: the writable errors, and the pipe with it.
    dest.writeController?.error(error);
    destinationFailed(s, pipe, error);
    return;
  }
  // Once the destination is done with the message (copied into its frame,
  // or its bytes handed to the kernel), nothing references its array (the
  // application never saw it): it can hold the next message of its size
  // (inbound.ts assembles a piped message with reuse on; messages.ts).
  if (written === undefined) {
    recycle(message);
    return;
  }
  pipe.blocked = true;
  written.then(
    () => {
      recycle(message);
      pipe.blocked = false;
      if (s.pipe === pipe) s.resumeReading();
    },
    (error: unknown) => {
      dest.writeController?.error(error);
      destinationFailed(s, pipe, error);
    },
  );
}

/** The source ended cleanly: close the destination (unless `preventClose`), then settle as that close does. */
function sourceClosed(s: SessionCore, pipe: DirectPipe): void {
  end(s, pipe, pipe.preventClose, () => pipe.writer.close(), null);
}

/** The source failed: abort the destination (unless `preventAbort`); the pipe rejects with the source's error. */
function sourceFailed(s: SessionCore, pipe: DirectPipe, error: unknown): void {
  end(s, pipe, pipe.preventAbort, () => pipe.writer.abort(error), { error });
}

/** The destination failed: cancel the source (unless `preventCancel`); the pipe rejects with the destination's error. */
function destinationFailed(s: SessionCore, pipe: DirectPipe, error: unknown): void {
  end(s, pipe, pipe.preventCancel, () => pipe.reader.cancel(error), { error });
}

/**
 * End the pipe once: it takes no more messages; unless `prevented`, `act` on
 * the other stream first; then settle with `failure` (or, when there is none,
 * with how `act` went).
 */
function end(s: SessionCore, pipe: DirectPipe, prevented: boolean, act: () => Promise<void>, failure: { error: unknown } | null): void {
  if (pipe.done) return;
  pipe.done = true;
  if (s.pipe === pipe) s.pipe = null; // the source's queue takes messages again, if it is still readable
  if (prevented) {
    release(s, pipe, failure);
    return;
  }
  act().then(
    () => release(s, pipe, failure),
    (error: unknown) => release(s, pipe, failure ?? { error }),
  );
}

/** Release both locks, settle the pipe's promise. */
function release(s: SessionCore, pipe: DirectPipe, failure: { error: unknown } | null): void {
  pipe.reader.releaseLock();
  pipe.writer.releaseLock();
  if (failure === null) pipe.resolve();
  else pipe.reject(failure.error);
  // Messages now wait in the readable's queue again: read as its room allows.
  s.resumeReading();
}
