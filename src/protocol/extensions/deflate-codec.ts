/**
 * The raw-DEFLATE engine behind permessage-deflate, as a small interface so a
 * faster synchronous engine can replace pako (`pako-codec.ts`, the default)
 * without touching the extension; the Node layer offers native zlib.
 *
 * Contract every implementation keeps:
 * - Everything is synchronous (a sans-I/O `send()` must return its bytes).
 * - Inflate output is bounded: a call never produces more than
 *   `maxOutput + 1` bytes, so a decompression bomb costs at most the limit.
 * @module
 */
/** Parameters of a raw-DEFLATE compressor. */
export interface DeflaterOptions {
  /** Base-2 logarithm of the LZ77 window, 9..15 (zlib cannot deflate raw with 8). */
  windowBits: number;
  /** Compression level 0..9 (zlib's default is 6). */
  level: number;
  /** Memory level 1..9 (zlib's default is 8). */
  memLevel: number;
}

/** Parameters of a raw-DEFLATE decompressor. */
export interface InflaterOptions {
  /** Base-2 logarithm of the LZ77 window the peer compresses with, 8..15. */
  windowBits: number;
}

/**
 * A compressor with context kept across calls (RFC 7692 §7.2.1).
 * @example
 * ```ts
 * const d = pakoCodec.createDeflater({ windowBits: 15, level: 6, memLevel: 8 });
 * d.compress(new TextEncoder().encode("Hello"), true); // f2 48 cd c9 c9 07 00
 * ```
 */
export interface Deflater {
  /**
   * Compress `data`. When `fin` is true the output is flushed with
   * `Z_SYNC_FLUSH` and the final `00 00 ff ff` is removed (RFC 7692 §7.2.1),
   * so the result is a complete message payload; otherwise it may be empty.
   * The result is a fresh array the caller may keep.
   */
  compress(data: Uint8Array, fin: boolean): Uint8Array;
  /**
   * Forget the sliding window (no context takeover), keeping the
   * allocations. With `dictionary`, the new window starts as those bytes
   * (zlib's deflateSetDictionary): a compressor released between messages
   * under context takeover is primed with the tail of what was sent, which
   * the peer's window still holds. A codec may ignore it (the output is then
   * merely larger: never referring back is always valid).
   */
  reset(dictionary?: Uint8Array): void;
}

/** Why {@link Inflater.inflate} failed. */
export type InflateFailure = "too-big" | "invalid-data";

/**
 * A decompressor with context kept across calls.
 * @example
 * ```ts
 * const i = pakoCodec.createInflater({ windowBits: 15 });
 * const hello = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
 * const out = i.inflate(hello, 1024); // may hold back the last bytes ...
 * const rest = i.inflate(new Uint8Array([0, 0, 0xff, 0xff]), 1024); // ... until the tail
 * ```
 */
export interface Inflater {
  /**
   * Inflate `data` and return the bytes it yields (possibly none). If the
   * output would exceed `maxOutput` bytes, stop at once and return
   * `"too-big"`; a corrupt stream returns `"invalid-data"`. After either
   * failure the inflater must be `reset()` before further use.
   */
  inflate(data: Uint8Array, maxOutput: number): Uint8Array | InflateFailure;
  /**
   * `true` once the stream ended with a block marked BFINAL (RFC 7692
   * §7.2.3.4); further input is ignored until {@link Inflater.reset}.
   */
  readonly ended: boolean;
  /**
   * Start a new DEFLATE stream, keeping the allocations. By default the
   * sliding window is forgotten (no context takeover); with `keepWindow` the
   * output so far stays available to back-references, for the message after
   * one that ended with a BFINAL block under context takeover.
   */
  reset(keepWindow?: boolean): void;
}

/**
 * A synchronous raw-DEFLATE engine: the pluggable part of
 * {@link PerMessageDeflate}.
 * @example
 * ```ts
 * const ext = new PerMessageDeflate({ codec: pakoCodec });
 * ```
 */
export interface DeflateCodec {
  /** A short name for diagnostics, e.g. `"pako"`. */
  readonly name: string;
  createDeflater(options: DeflaterOptions): Deflater;
  createInflater(options: InflaterOptions): Inflater;
}
