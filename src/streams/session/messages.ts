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

/** Arrays this small are made by `new Uint8Array` (V8 keeps them on its heap). */
const SMALL_ARRAY = 64;

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
    // Small ones live on the JS heap (no allocation of their own to zero-fill or free).
    if (size <= SMALL_ARRAY) return new Uint8Array(size);
    // Hand out a plain Uint8Array view: a Buffer's slice() shares memory, which users of Uint8Array do not expect.
    const b = allocUnsafeSlow.call(buffer, size);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  };
})();

/** Arrays this large or larger are reused (smaller ones come cheaply from the frame slab or the platform's pool). */
export const REUSABLE_MIN = 64 * 1024;
/** The largest array kept for reuse. */
const RECYCLE_MAX = 4 * 1024 * 1024 + 64;
/** Arrays {@link allocateRecycled} made while reuse was on (of a reusable size): only these are ever reused. */
const recyclable = new WeakSet<Uint8Array>();
/**
 * Arrays nothing references any more, for the next allocation of exactly
 * their size (process-wide: two at most, of different sizes, so that an
 * echo's frames and messages do not push each other out).
 */
let spareA: Uint8Array | null = null;
let spareB: Uint8Array | null = null;
/** What is allocated now never reaches the application ({@link reuseArrays}). */
let reusing = false;

/**
 * The session's allocator (the engine's `allocate`): {@link allocUninitialised},
 * except while {@link reuseArrays} is on (an outbound frame being built, a
 * message a direct pipe will write on): then an array given back
 * ({@link recycle}) of exactly the size asked for is that array again.
 * Fresh pages are what a large message costs most (the first write into
 * each page faults it in), so an echo, a relay or a stream of equal-sized
 * messages writes into warm memory instead. Every byte of such an array is
 * written (a frame, or a message assembled whole), so nothing of its
 * previous use survives. Arrays the application gets are always fresh: it
 * keeps them as long as it likes (and one reused and then dropped would
 * have lived long enough to cost a full garbage collection).
 */
export function allocateRecycled(size: number): Uint8Array {
  if (!reusing) return allocUninitialised(size);
  let reused: Uint8Array | null = null;
  if (spareA !== null && spareA.byteLength === size) {
    reused = spareA;
    spareA = null;
  } else if (spareB !== null && spareB.byteLength === size) {
    reused = spareB;
    spareB = null;
  }
  if (reused !== null) return reused;
  const out = allocUninitialised(size);
  if (size >= REUSABLE_MIN && size <= RECYCLE_MAX) recyclable.add(out);
  return out;
}

/**
 * Turn reuse on (while an outbound frame is built, or a direct pipe's
 * source takes its next event) or back off; returns the previous setting,
 * to restore.
 */
export function reuseArrays(on: boolean): boolean {
  const previous = reusing;
  reusing = on;
  return previous;
}

/**
 * Give back an array once nothing references it: a frame the transport
 * took every byte of (its `bufferedAmount()` was 0 after the write: the
 * kernel has them), or a message a direct pipe wrote on (copied into a
 * frame, or handed to the kernel). Any array {@link allocateRecycled} did
 * not make while reuse was on is ignored.
 */
export function recycle(bytes: unknown): void {
  if (!recyclable.has(bytes as Uint8Array)) return;
  const array = bytes as Uint8Array;
  if (spareB === array) spareB = null; // (never held twice)
  if (spareA === null || spareA.byteLength === array.byteLength) spareA = array;
  else {
    // The newest is A; the one it replaces becomes B, and B's goes.
    spareB = spareA;
    spareA = array;
  }
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
