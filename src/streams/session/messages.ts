/**
 * Messages as the application hands them over and gets them: what a queued
 * message counts against the high-water marks, what the writable accepts,
 * and the byte arrays messages are assembled into.
 *
 * Answers: how big is a message for back-pressure; what may be written;
 * how is a message's array allocated.
 *
 * Invariants:
 * - Pure helpers: nothing here holds state across calls (the one
 *   module-level value is the platform's allocator, found once).
 * @module
 */
import { BytesMessage, Message, TextMessage } from "../../protocol/events.ts";
import { LocalProtocolError } from "../../protocol/errors.ts";
import type { AnyMessage } from "./types.ts";

/** An empty byte array. */
export const EMPTY = new Uint8Array(0);
/** The one UTF-8 encoder. */
export const encoder = new TextEncoder();

/**
 * What a queued message costs beyond its payload (the queue's entry, the
 * message object, a view's header), counted by both high-water marks so that
 * many tiny messages are bounded as well as a few large ones.
 */
export const MESSAGE_OVERHEAD = 64;

/** Size of a queued message for the high-water marks (UTF-16 units for strings: cheap, and close enough). */
export function messageSize(chunk: unknown): number {
  // Never 0, so that an empty queue is exactly `desiredSize === highWaterMark`.
  if (typeof chunk === "string") return chunk.length + MESSAGE_OVERHEAD;
  if (chunk instanceof Message) return messageSize(chunk.data);
  if (ArrayBuffer.isView(chunk) || chunk instanceof ArrayBuffer) return chunk.byteLength + MESSAGE_OVERHEAD;
  return MESSAGE_OVERHEAD;
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
 * have an uninitialised allocator on their global byte-buffer class, found
 * at run time, never imported): a
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

/** Arrays this large or larger may be reused (smaller ones come cheaply from the platform's pool or the frame slab). */
const RECYCLE_MIN = 64 * 1024;
/** The largest array kept for reuse: the process holds at most one spare, of at most this size. */
const RECYCLE_MAX = 4 * 1024 * 1024 + 64;
/** Arrays {@link allocateRecycled} made (of a reusable size): only these are ever reused. */
const recyclable = new WeakSet<Uint8Array>();
/** One array nothing references any more, for the next allocation of exactly its size (process-wide: one at most). */
let spare: Uint8Array | null = null;

/**
 * The session's allocator (the engine's `allocate`, for frames it builds and
 * messages it assembles): {@link allocUninitialised}, except that an array
 * of exactly the size of the last one given back ({@link recycle}) is that
 * array again. Fresh pages are what a large message costs most (the first
 * write into each page faults it in), so an echo, a relay or a stream of
 * equal-sized messages writes into warm memory instead. Every byte of an
 * array handed out is written over (a frame, or a message assembled
 * whole), so nothing of its previous use survives.
 */
export function allocateRecycled(size: number): Uint8Array {
  const reused = spare;
  if (reused !== null && reused.byteLength === size) {
    spare = null;
    return reused;
  }
  const out = allocUninitialised(size);
  if (size >= RECYCLE_MIN && size <= RECYCLE_MAX) recyclable.add(out);
  return out;
}

/**
 * Give back an array {@link allocateRecycled} made once nothing references
 * it: a frame the transport took whole (its `bufferedAmount()` was 0 right
 * after the write: the kernel has the bytes), or a message a direct pipe
 * wrote on that the application never saw. Any other array is ignored.
 */
export function recycle(bytes: unknown): void {
  if (recyclable.has(bytes as Uint8Array)) spare = bytes as Uint8Array;
}

/** Concatenate byte arrays of known total size into an uninitialised array (one array is returned as is). */
export function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = allocUninitialised(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** A plain `Uint8Array` over the same bytes (a view of a Node Buffer is a Buffer, whose `slice()` shares memory). */
export function plainBytes(data: Uint8Array): Uint8Array {
  return data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
