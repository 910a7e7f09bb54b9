/**
 * Options shared by every connection object: the limits wsproto lacks and the
 * random source.
 *
 * Invariants: options are resolved once, at construction
 * (`resolveOptions`), into a read-only object; a nonsense limit is a
 * `LocalProtocolError` (`WS_ERR_INVALID_OPTION`) then, never later.
 * @module
 */
import { LocalProtocolError } from "./errors.ts";
import { defaultRandom } from "./bytes/random.ts";
import type { MaskFunction } from "./bytes/mask.ts";
import type { RandomSource } from "./types.ts";

/** Limits and randomness for a connection. Every limit has a safe default. */
export interface ConnectionOptions {
  /**
   * Largest message accepted from the peer, in bytes after decompression and
   * across fragments; a larger one fails the connection with 1009.
   * @default 67108864 (64 MiB)
   */
  maxMessageSize?: number;
  /**
   * Largest single frame payload accepted from the peer, checked from the
   * header before any payload is buffered; larger fails with 1009.
   * @default the value of maxMessageSize
   */
  maxFrameSize?: number;
  /**
   * Largest HTTP head (request or response line plus headers) accepted
   * during the handshake, in bytes (431 for a request, 400 otherwise).
   * @default 16384
   */
  maxHandshakeSize?: number;
  /**
   * Most header lines accepted in an HTTP head during the handshake.
   * @default 128
   */
  maxHeaders?: number;
  /** Fills a buffer with random bytes (masks, nonces). @default pooled `crypto.getRandomValues` */
  random?: RandomSource;
  /**
   * Frames of binary messages whose payload is at most this many bytes come
   * out whole, as one piece, even when their bytes arrive in several
   * chunks: the chunks are kept until the frame is complete, then unmasked
   * into one array of the payload's size (one pass over each byte, one
   * allocation). Larger frames come out in pieces as their bytes arrive
   * (unmasked in place, no copy), which suits a caller that streams them;
   * text frames always do, so that invalid UTF-8 fails the connection as
   * soon as it arrives. A layer that assembles whole messages anyway sets
   * this to its message limit.
   * @default 0 (every frame in pieces as it arrives)
   */
  wholeFramesUpTo?: number;
  /**
   * Makes the arrays that a payload gathered from several chunks, and a
   * frame built too large for the shared slab (over 8 KiB), go into
   * (`size` bytes, each of which is written before the array is handed
   * out, so it need not be zero-filled: on Node the streams layer passes
   * an uninitialised allocation). It must return a `Uint8Array` of exactly
   * `size` bytes.
   * @default `new Uint8Array(size)`
   */
  allocate?: (size: number) => Uint8Array;
  /**
   * The masking primitive, in `bufferutil`'s shape
   * (`mask(source, mask, output, offset, length)`: XOR from `source[0..)`
   * into `output` at `offset`), used for payloads from 64 bytes on: for
   * unmasking received frames (in place, or from each received chunk
   * straight into a gathered payload) and for masking built frames into
   * their output. `wsproto/node`'s helpers pass `bufferutil`'s native
   * `mask` when it is installed (`nodeMasker()`).
   * @default `null`: WebAssembly SIMD from 1 KiB, a JavaScript word loop below (and where WebAssembly is missing)
   */
  mask?: MaskFunction | null;
  /**
   * The arrays given to `receiveData` are lent, not given: the caller will
   * overwrite them (a transport that reads into one reused buffer). The
   * engine then never hands out or keeps a view of them: every payload it
   * hands out is a copy (unmasked while copied, still one pass per byte), a
   * whole frame of up to 4 MiB is copied into its own array as its bytes
   * arrive, and `releaseInput()` copies the unread bytes it still holds.
   * Call `releaseInput()` after taking the events a chunk made (or as many
   * as you will take now), before overwriting the chunk. A peer's frame
   * header may then make the engine reserve up to 4 MiB beyond what it sent
   * (never more than `maxFrameSize`).
   * @default false (`receiveData` takes ownership of each chunk)
   */
  borrowedInput?: boolean;
}

/** {@link ConnectionOptions} with every default applied. */
export interface ResolvedConnectionOptions {
  readonly maxMessageSize: number;
  readonly maxFrameSize: number;
  readonly maxHandshakeSize: number;
  readonly maxHeaders: number;
  readonly random: RandomSource;
  readonly wholeFramesUpTo: number;
  readonly allocate: ((size: number) => Uint8Array) | null;
  readonly mask: MaskFunction | null;
  readonly borrowedInput: boolean;
}

export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
export const DEFAULT_MAX_HANDSHAKE_SIZE = 16 * 1024;
export const DEFAULT_MAX_HEADERS = 128;

/** Apply defaults (and reject nonsense limits) once, at construction. */
export function resolveOptions(options: ConnectionOptions = {}): ResolvedConnectionOptions {
  const maxMessageSize = positive(options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, "maxMessageSize");
  return {
    maxMessageSize,
    maxFrameSize: positive(options.maxFrameSize, maxMessageSize, "maxFrameSize"),
    maxHandshakeSize: positive(options.maxHandshakeSize, DEFAULT_MAX_HANDSHAKE_SIZE, "maxHandshakeSize"),
    maxHeaders: positive(options.maxHeaders, DEFAULT_MAX_HEADERS, "maxHeaders"),
    random: options.random ?? defaultRandom,
    wholeFramesUpTo: positive(options.wholeFramesUpTo, 0, "wholeFramesUpTo"),
    allocate: allocator(options.allocate),
    mask: masker(options.mask),
    borrowedInput: flag(options.borrowedInput, "borrowedInput"),
  };
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value >= 0) || (!Number.isInteger(value) && value !== Infinity)) {
    throw new LocalProtocolError(
      `${name} must be a non-negative integer or Infinity, got ${String(value)}`,
      "WS_ERR_INVALID_OPTION",
    );
  }
  return value;
}

function flag(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") {
    throw new LocalProtocolError(`${name} must be a boolean, got ${typeof value}`, "WS_ERR_INVALID_OPTION");
  }
  return value;
}

function allocator(value: unknown): ((size: number) => Uint8Array) | null {
  if (value === undefined) return null;
  if (typeof value !== "function") {
    throw new LocalProtocolError(`allocate must be a function, got ${typeof value}`, "WS_ERR_INVALID_OPTION");
  }
  return value as (size: number) => Uint8Array;
}

function masker(value: unknown): MaskFunction | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "function") {
    throw new LocalProtocolError(`mask must be a function or null, got ${typeof value}`, "WS_ERR_INVALID_OPTION");
  }
  return value as MaskFunction;
}

/**
 * The options a `Connection` takes, picked from a larger options object (a
 * handshake's or a session's), so that no other field travels along.
 * @internal
 * @example
 * ```ts
 * new Connection(ConnectionType.SERVER, pickConnectionOptions({ maxMessageSize: 1024, protocols: ["chat"] }));
 * ```
 */
export function pickConnectionOptions(options: ConnectionOptions): ConnectionOptions {
  const out: ConnectionOptions = {};
  if (options.maxMessageSize !== undefined) out.maxMessageSize = options.maxMessageSize;
  if (options.maxFrameSize !== undefined) out.maxFrameSize = options.maxFrameSize;
  if (options.maxHandshakeSize !== undefined) out.maxHandshakeSize = options.maxHandshakeSize;
  if (options.maxHeaders !== undefined) out.maxHeaders = options.maxHeaders;
  if (options.random !== undefined) out.random = options.random;
  if (options.wholeFramesUpTo !== undefined) out.wholeFramesUpTo = options.wholeFramesUpTo;
  if (options.allocate !== undefined) out.allocate = options.allocate;
  if (options.mask !== undefined) out.mask = options.mask;
  if (options.borrowedInput !== undefined) out.borrowedInput = options.borrowedInput;
  return out;
}
