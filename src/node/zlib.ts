/**
 * A {@link DeflateCodec} on Node's native zlib, synchronous: about three
 * times faster than pako at compressing (Node-only; exported from
 * `wsproto/node`, never from the portable entries).
 *
 * Node's public synchronous zlib API (`deflateRawSync`, `_processChunk`)
 * closes its native handle after one call, so it cannot keep the context
 * permessage-deflate needs between messages. This module therefore drives
 * the native handle behind `zlib.createDeflateRaw()` itself (PRIVATE API,
 * read from Node 20's lib/zlib.js, `processChunkSync`):
 * `new (stream._handle.constructor)(mode)`, `handle.init(windowBits, level,
 * memLevel, strategy, writeState, callback, dictionary)`,
 * `handle.writeSync(flush, input, inOff, inLen, output, outOff, outLen)`
 * with the results in `writeState` (`[availOutAfter, availInAfter]`), errors
 * reported synchronously through `handle.onerror(message, errno, code)`,
 * `handle.reset()` (which re-applies the dictionary of the last `init`) and
 * `handle.close()`. The handles are weak: one that is
 * dropped is freed (window and tables included) by the garbage collector.
 *
 * Fallback: the native path is enabled only on the Node majors listed in
 * {@link NATIVE_ZLIB_NODE_MAJORS} (20, 22, 24, 26: the ones CI tests it on), then
 * confirmed once, at load, by the handle's shape and a self-test (RFC 7692
 * §7.2.3.1/§7.2.3.2 byte for byte, and back). If anything is missing or
 * differs (Bun, Deno, an untested Node major), then
 * {@link nodeZlibCodec} IS {@link pakoCodec} and {@link nodeZlibNative} is
 * `false`; nothing else changes.
 *
 * Invariants (the same contracts as the pako codec, see deflate-codec.ts):
 * - Every call is synchronous; output goes to one module-level scratch area
 *   per direction and is copied out before returning.
 * - Native code aborts the process on a failed internal check rather than
 *   throwing, so every argument is validated here first: options in range,
 *   offsets and lengths inside their arrays, no write to a closed handle,
 *   no call from inside `onerror`.
 * - A handle that reported an error (through `onerror`) is never written to
 *   again, only closed and replaced: on Node 20.20, writing on after errors
 *   corrupts the process's heap within some hundred thousand rounds
 *   (malloc aborts), even with a reset() in between. Node's own streams
 *   destroy a zlib stream at its first error, so they never do this.
 * - The handles write their results into `writeState`, which they do
 *   not keep alive: it is one module-level array, referenced by every call.
 *   A handle whose array was collected writes into freed memory after each
 *   call (malloc aborts within 200,000 calls on Node 20.20, 22.23, 24.22 and
 *   26.12; scripts/zlib-handle-check.mjs shows it).
 * - Inflate never produces more than `maxOutput + 1` bytes per call.
 * - Native zlib does not say when inflate returned `Z_STREAM_END`: it is
 *   inferred from input left over with output room to spare, and when the
 *   input ran out exactly, {@link Inflater.ended} asks the handle once by
 *   feeding it an empty stored block, which a stream on a block boundary
 *   takes whole and an ended one refuses (no error either way).
 * - Native zlib cannot hand out its window, so an inflater keeps a copy of
 *   its last `2^windowBits` output bytes (grown as output arrives; a ring,
 *   or from the first `reset(true)` on a linear buffer of twice that) for
 *   `reset(true)`, which re-initialises the same handle with that copy as
 *   its dictionary and resets it (see `reinit`: no new handle, about 1 µs),
 *   or, where the self-test finds that does not work, starts a new handle.
 * @module
 */
import zlib from "node:zlib";
import { concatBytes } from "../protocol/bytes/encoding.ts";
import { LocalProtocolError } from "../protocol/errors.ts";
import type {
  DeflateCodec,
  Deflater,
  DeflaterOptions,
  InflateFailure,
  Inflater,
  InflaterOptions,
} from "../protocol/extensions/deflate-codec.ts";
import { pakoCodec } from "../protocol/extensions/pako-codec.ts";

/** The private native handle behind a Node zlib stream (Node 20 lib/zlib.js). */
interface ZlibHandle {
  init(
    windowBits: number,
    level: number,
    memLevel: number,
    strategy: number,
    writeState: Uint32Array,
    processCallback: () => void,
    dictionary: Uint8Array | undefined,
  ): unknown;
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    output: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number, code: string) => void;
}
type ZlibHandleClass = new (mode: number) => ZlibHandle;

const { Z_NO_FLUSH, Z_SYNC_FLUSH, Z_DEFAULT_STRATEGY, DEFLATERAW, INFLATERAW } = zlib.constants;

const EMPTY = new Uint8Array(0);
// Output chunk for inflate: the largest piece produced per zlib call.
const INFLATE_CHUNK = 64 * 1024;
// As in the pako codec: the deflate scratch area grows up to this.
const MAX_KEPT_SCRATCH = 1024 * 1024;
// zlib manual: with Z_SYNC_FLUSH keep avail_out above six.
const FLUSH_MARGIN = 16;
// Input handed to one native call (lengths are 32-bit there).
const MAX_CALL_INPUT = 1 << 30;

let inflateScratch: Uint8Array | null = null;
let deflateScratch: Uint8Array = new Uint8Array(0);
// RFC 1951 §3.2.4: an empty stored block, not final (BFINAL 0, BTYPE 00, LEN 0, NLEN ffff).
const EMPTY_STORED_BLOCK = new Uint8Array([0x00, 0x00, 0x00, 0xff, 0xff]);
// A wrapped window copy made contiguous for a reset (grown to the largest window).
let windowScratch: Uint8Array = new Uint8Array(0);
// Whether reinit() may reset a handle in place; the self-test decides.
let reinitInPlace = true;
// Every handle shares these: calls are synchronous and one at a time.
const writeState = new Uint32Array(2);
let lastError: string | null = null;
let inCall = false;
function onError(message: string, _errno: number, code: string): void {
  lastError = `${message} (${code})`;
}
function noCallback(): void {}

/** One native call; `true` if zlib reported no error. */
function write(
  handle: ZlibHandle,
  flush: number,
  input: Uint8Array,
  inOff: number,
  inLen: number,
  output: Uint8Array,
  outOff: number,
  outLen: number,
): boolean {
  // Native code aborts on a nested call; JavaScript cannot get here from
  // onerror, but keep the guarantee explicit.
  if (inCall) throw new LocalProtocolError("re-entrant zlib call", "WS_ERR_DEFLATE_FAILED");
  inCall = true;
  lastError = null;
  try {
    handle.writeSync(flush, input, inOff, inLen, output, outOff, outLen);
  } finally {
    inCall = false;
  }
  return lastError === null;
}

function newHandle(
  Handle: ZlibHandleClass,
  mode: number,
  windowBits: number,
  level: number,
  memLevel: number,
  dictionary?: Uint8Array,
): ZlibHandle {
  const handle = new Handle(mode);
  handle.onerror = onError;
  lastError = null;
  handle.init(windowBits, level, memLevel, Z_DEFAULT_STRATEGY, writeState, noCallback, dictionary);
  if (lastError !== null) {
    handle.close();
    throw new LocalProtocolError(`cannot initialise zlib: ${lastError}`, "WS_ERR_DEFLATE_OPTIONS");
  }
  return handle;
}

/**
 * Reset `handle`'s stream with `dictionary` (or none) as the dictionary its
 * resets apply, keeping its zlib state: Node 20's `init` on a handle whose
 * zlib stream is already initialised only records the parameters and the
 * dictionary (zlib is initialised once, lazily), and `reset()` is
 * inflateReset/deflateReset followed by setting that dictionary. About 1 µs,
 * against 4-15 µs for a new handle (an AsyncWrap, zlib's state and window
 * allocated, the old ones freed). The parameters must be the handle's own
 * (zlib would not apply others). The module's self-test confirms the
 * behaviour before it is used (see {@link reinitInPlace}).
 */
function reinit(
  handle: ZlibHandle,
  windowBits: number,
  level: number,
  memLevel: number,
  dictionary: Uint8Array | undefined,
): void {
  if (inCall) throw new LocalProtocolError("re-entrant zlib call", "WS_ERR_DEFLATE_FAILED");
  lastError = null;
  handle.init(windowBits, level, memLevel, Z_DEFAULT_STRATEGY, writeState, noCallback, dictionary);
  handle.reset();
  if (lastError !== null) throw new LocalProtocolError(`cannot reset zlib: ${lastError}`, "WS_ERR_DEFLATE_FAILED");
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/** A plain byte view of `data`, refusing anything that is not an ArrayBufferView (native code would abort). */
function bytes(data: Uint8Array): Uint8Array {
  if (data instanceof Uint8Array) return data;
  const view: unknown = data;
  if (ArrayBuffer.isView(view)) return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  throw new LocalProtocolError("zlib input must be a Uint8Array", "WS_ERR_INVALID_ARGUMENT");
}

/** Room for deflating `n` more input bytes: zlib's deflateBound plus the flush marker. */
function deflateBound(n: number): number {
  return n + (n >>> 12) + (n >>> 14) + (n >>> 25) + 64;
}

class NativeDeflater implements Deflater {
  readonly #Handle: ZlibHandleClass;
  readonly #options: DeflaterOptions;
  #handle: ZlibHandle;
  /** The handle was initialised with a dictionary, which its reset() would re-apply. */
  #primed = false;
  /** zlib reported an error: the handle is replaced at the next reset, never written to again. */
  #broken = false;

  constructor(Handle: ZlibHandleClass, options: DeflaterOptions) {
    const { windowBits, level, memLevel } = options;
    // zlib cannot deflate raw with an 8-bit window; Node's init asserts
    // (aborting the process) on out-of-range values, so check them here.
    if (!isIntegerIn(windowBits, 9, 15) || !isIntegerIn(level, -1, 9) || !isIntegerIn(memLevel, 1, 9)) {
      throw new LocalProtocolError(
        `cannot create a deflater with windowBits=${String(windowBits)}, level=${String(level)}, memLevel=${String(memLevel)}`,
        "WS_ERR_DEFLATE_OPTIONS",
      );
    }
    this.#Handle = Handle;
    this.#options = options;
    this.#handle = newHandle(Handle, DEFLATERAW, windowBits, level, memLevel);
  }

  compress(input: Uint8Array, fin: boolean): Uint8Array {
    const data = bytes(input);
    if (this.#broken) throw new LocalProtocolError("deflate failed earlier; reset() first", "WS_ERR_DEFLATE_FAILED");
    const handle = this.#handle;
    let out = deflateScratch;
    const need = deflateBound(data.byteLength);
    if (out.length < need && out.length < MAX_KEPT_SCRATCH) {
      out = deflateScratch = new Uint8Array(Math.min(Math.max(need, 1024), MAX_KEPT_SCRATCH));
    }
    if (fin && data.byteLength === 0) {
      // zlib refuses a second Z_SYNC_FLUSH with no input in between
      // (Z_BUF_ERROR, no output); a no-op Z_NO_FLUSH call re-arms it, so an
      // empty message still ends in the empty stored block.
      write(handle, Z_NO_FLUSH, EMPTY, 0, 0, out, 0, out.length);
    }
    let inOff = 0;
    let inLeft = data.byteLength;
    let outOff = 0;
    for (;;) {
      const inLen = Math.min(inLeft, MAX_CALL_INPUT);
      const flush = fin && inLen === inLeft ? Z_SYNC_FLUSH : Z_NO_FLUSH;
      const room = out.length - outOff;
      if (!write(handle, flush, data, inOff, inLen, out, outOff, room)) {
        // The handle is not written to again (see the module notes).
        this.#broken = true;
        throw new LocalProtocolError(`deflate failed: ${lastError ?? "?"}`, "WS_ERR_DEFLATE_FAILED");
      }
      const availOut = writeState[0]!;
      const consumed = inLen - writeState[1]!;
      inOff += consumed;
      inLeft -= consumed;
      outOff += room - availOut;
      // zlib: room left over means all input was taken and the flush, if
      // any, completed; none left means call again with more room.
      if (inLeft === 0 && (availOut > FLUSH_MARGIN || (availOut > 0 && !fin))) break;
      if (availOut > FLUSH_MARGIN) continue; // more input to hand over
      const bigger = new Uint8Array(out.length * 2 + FLUSH_MARGIN);
      bigger.set(out.subarray(0, outOff));
      out = bigger;
      if (out.length <= MAX_KEPT_SCRATCH) deflateScratch = out;
    }
    // RFC 7692 §7.2.1: remove the 4 octets 00 00 ff ff at the tail end.
    const end = fin ? outOff - 4 : outOff;
    return end > 0 ? out.slice(0, end) : EMPTY;
  }

  reset(dictionary?: Uint8Array): void {
    const prime = dictionary !== undefined && dictionary.byteLength > 0;
    if (!prime && !this.#primed && !this.#broken) {
      this.#handle.reset();
      return;
    }
    // Native zlib takes a dictionary only at init (and re-applies it on
    // reset()): a new handle, the old one closed.
    const { windowBits, level, memLevel } = this.#options;
    const handle = newHandle(this.#Handle, DEFLATERAW, windowBits, level, memLevel, prime ? bytes(dictionary) : undefined);
    this.#handle.close();
    this.#handle = handle;
    this.#primed = prime;
    this.#broken = false;
  }
}

class NativeInflater implements Inflater {
  readonly #Handle: ZlibHandleClass;
  readonly #windowBits: number;
  #handle: ZlibHandle;
  // The handle was initialised with a dictionary, which its reset() would re-apply.
  #hasDictionary = false;
  #ended = false;
  // The last call used up its input with output room to spare: the stream
  // may have ended exactly there.
  #uncertain = false;
  // zlib reported an error (or the stream is unusable): the handle is
  // replaced at the next reset, never written to again.
  #broken = false;
  // The last 2^windowBits output bytes: a buffer grown up to that size,
  // then used as a ring (#histPos is the next write position).
  #hist: Uint8Array | null = null;
  #histPos = 0;
  #histFull = false;
  // From the first reset(true) on (a peer that ends messages with BFINAL
  // blocks), the copy is linear instead: the last output bytes at
  // [0, #linLen) of a buffer twice the window, compacted when full (at most
  // one more copy per output byte), so that each reset hands zlib a view
  // of the window instead of assembling it from a ring.
  #lin: Uint8Array | null = null;
  #linLen = 0;

  constructor(Handle: ZlibHandleClass, options: InflaterOptions) {
    const { windowBits } = options;
    if (!isIntegerIn(windowBits, 8, 15)) {
      throw new LocalProtocolError(`cannot create an inflater with windowBits=${String(windowBits)}`, "WS_ERR_DEFLATE_OPTIONS");
    }
    this.#Handle = Handle;
    // A raw stream deflated with an 8-bit window is inflated with 9 (zlib
    // deflates 8 as 9), and a larger window accepts every smaller stream.
    this.#windowBits = Math.max(windowBits, 9);
    this.#handle = this.#open();
  }

  #open(dictionary?: Uint8Array): ZlibHandle {
    // level and memLevel are unused by inflate but checked by Node's init.
    return newHandle(this.#Handle, INFLATERAW, this.#windowBits, -1, 8, dictionary);
  }

  get ended(): boolean {
    if (!this.#ended && this.#uncertain) {
      this.#uncertain = false;
      // Ask zlib without an error (see the module notes: a handle must not
      // be written to after one): feed it an empty non-final stored block.
      // permessage-deflate asks after the appended 00 00 ff ff, which ends a
      // valid message's data on a block boundary: there zlib takes all five
      // bytes and produces nothing (the stream is unchanged); after the end
      // of the stream it takes none. Anything else means the data did not
      // end on a block boundary (not a valid message): the inflater refuses
      // further input until reset.
      const room = (inflateScratch ??= new Uint8Array(INFLATE_CHUNK));
      const n = EMPTY_STORED_BLOCK.length;
      if (!write(this.#handle, Z_SYNC_FLUSH, EMPTY_STORED_BLOCK, 0, n, room, 0, room.length)) {
        this.#broken = true;
      } else if (writeState[0] === room.length && writeState[1] === n) {
        this.#ended = true;
      } else if (writeState[0] !== room.length || writeState[1] !== 0) {
        this.#broken = true;
      }
    }
    return this.#ended;
  }

  inflate(input: Uint8Array, maxOutput: number): Uint8Array | InflateFailure {
    const data = bytes(input);
    if (this.#broken) return "invalid-data";
    if (this.#ended || data.byteLength === 0) return EMPTY;
    const handle = this.#handle;
    const scratch = (inflateScratch ??= new Uint8Array(INFLATE_CHUNK));
    // Never ask zlib for more than one byte past the limit: that byte, if
    // produced, proves the limit is exceeded without inflating further.
    const limit = maxOutput >= 0 ? Math.floor(maxOutput) : 0;
    const cap = limit + 1;
    let first: Uint8Array | null = null;
    let pieces: Uint8Array[] | null = null;
    let total = 0;
    let inOff = 0;
    let inLeft = data.byteLength;
    let failure: InflateFailure | null = null;
    this.#uncertain = false;
    for (;;) {
      const inLen = Math.min(inLeft, MAX_CALL_INPUT);
      const room = Math.min(scratch.length, cap - total);
      if (!write(handle, Z_SYNC_FLUSH, data, inOff, inLen, scratch, 0, room)) {
        // The handle is not written to again (see the module notes).
        this.#broken = true;
        failure = "invalid-data";
        break;
      }
      const availOut = writeState[0]!;
      const availIn = writeState[1]!;
      const produced = room - availOut;
      inOff += inLen - availIn;
      inLeft -= inLen - availIn;
      if (produced > 0) {
        total += produced;
        if (total > limit) {
          failure = "too-big";
          break;
        }
        const piece = scratch.slice(0, produced);
        this.#remember(piece);
        if (first === null) first = piece;
        else (pieces ??= [first]).push(piece);
      }
      if (availOut !== 0) {
        if (availIn !== 0) {
          // Input refused with room to spare: inflate returned Z_STREAM_END.
          // RFC 7692 §7.2.3.4: a sender may end a message with a BFINAL
          // block; what follows (the appended 00 00 ff ff) is not part of it.
          this.#ended = true;
          break;
        }
        if (inLeft === 0) {
          this.#uncertain = true;
          break;
        }
      }
    }
    if (failure !== null) return failure;
    if (pieces === null) return first ?? EMPTY;
    return concatBytes(pieces);
  }

  reset(keepWindow = false): void {
    this.#ended = false;
    this.#uncertain = false;
    if (this.#broken) {
      // A new handle: after an error this one is only closed.
      const window = keepWindow ? this.#window() : EMPTY;
      if (!keepWindow) this.#forget();
      const handle = this.#open(window.length > 0 ? window : undefined);
      this.#handle.close();
      this.#handle = handle;
      this.#hasDictionary = window.length > 0;
      this.#broken = false;
      return;
    }
    if (keepWindow) {
      if (this.#lin === null) this.#toLinear();
      // Node re-applies the handle's init dictionary on every reset, so the
      // window becomes that dictionary.
      const window = this.#window();
      this.#redo(window.length > 0 ? window : undefined);
      this.#hasDictionary = window.length > 0;
      return;
    }
    this.#forget();
    if (this.#hasDictionary) {
      this.#redo(undefined);
      this.#hasDictionary = false;
    } else {
      this.#handle.reset();
    }
  }

  /** Reset the stream with `dictionary` as its window (none if undefined). */
  #redo(dictionary: Uint8Array | undefined): void {
    if (reinitInPlace) {
      // O(1) in allocations: the handle's zlib state is kept (see reinit()).
      reinit(this.#handle, this.#windowBits, -1, 8, dictionary);
      return;
    }
    // A fresh handle; the old one is freed now.
    const handle = this.#open(dictionary);
    this.#handle.close();
    this.#handle = handle;
  }

  /** Empty the window copy. */
  #forget(): void {
    this.#histPos = 0;
    this.#histFull = false;
    this.#linLen = 0;
  }

  /** Switch the window copy from the ring to the linear buffer. */
  #toLinear(): void {
    const wsize = 1 << this.#windowBits;
    const window = this.#window();
    const lin = (this.#lin = new Uint8Array(2 * wsize));
    lin.set(window, 0);
    this.#linLen = window.length;
    this.#hist = null;
    this.#histPos = 0;
    this.#histFull = false;
  }

  /** Append output to the window copy. */
  #remember(piece: Uint8Array): void {
    const wsize = 1 << this.#windowBits;
    const src = piece.length > wsize ? piece.subarray(piece.length - wsize) : piece;
    const lin = this.#lin;
    if (lin !== null) {
      if (this.#linLen + src.length > lin.length) {
        // Keep what is still within a window of the end once `src` is in.
        const keep = Math.min(this.#linLen, wsize - src.length);
        lin.copyWithin(0, this.#linLen - keep, this.#linLen);
        this.#linLen = keep;
      }
      lin.set(src, this.#linLen);
      this.#linLen += src.length;
      return;
    }
    let hist = this.#hist;
    if (!this.#histFull) {
      const need = this.#histPos + src.length;
      if (hist === null || need > hist.length) {
        if (hist === null || hist.length < wsize) {
          const grown = new Uint8Array(Math.min(wsize, Math.max(need, 1024, (hist?.length ?? 0) * 2)));
          if (hist !== null) grown.set(hist.subarray(0, this.#histPos));
          hist = this.#hist = grown;
        }
      }
      if (need <= hist.length) {
        hist.set(src, this.#histPos);
        this.#histPos = need;
        if (need === wsize) {
          this.#histPos = 0;
          this.#histFull = true;
        }
        return;
      }
    }
    // hist.length === wsize here: write around the ring.
    const h = hist!;
    const firstPart = Math.min(src.length, wsize - this.#histPos);
    h.set(src.subarray(0, firstPart), this.#histPos);
    h.set(src.subarray(firstPart), 0);
    this.#histPos = (this.#histPos + src.length) % wsize;
    this.#histFull = true;
  }

  /**
   * The last bytes of output (up to the window size), oldest first: a view
   * of the copy or of a shared scratch area, valid until the next call (the
   * handle's init copies it).
   */
  #window(): Uint8Array {
    const lin = this.#lin;
    if (lin !== null) return lin.subarray(Math.max(0, this.#linLen - (1 << this.#windowBits)), this.#linLen);
    const hist = this.#hist;
    if (hist === null) return EMPTY;
    if (!this.#histFull) return hist.subarray(0, this.#histPos);
    if (this.#histPos === 0) return hist;
    if (windowScratch.length < hist.length) windowScratch = new Uint8Array(hist.length);
    const out = windowScratch.subarray(0, hist.length);
    out.set(hist.subarray(this.#histPos), 0);
    out.set(hist.subarray(0, this.#histPos), hist.length - this.#histPos);
    return out;
  }
}

/**
 * The Node majors whose private zlib handle API this module was read from
 * and is tested on in CI (lib/zlib.js `processChunkSync`, src/node_zlib.cc;
 * the handle's methods and `init`'s arguments are the same on 20.20, 22.23,
 * 24.22 and 26.12). On any
 * other major the native path stays off whatever its shape: a changed native
 * signature can abort the process (a failed CHECK) before a self-test could
 * notice, so the version decides first and the self-test only confirms.
 * Adding a major is a reviewed change here plus a CI run on it.
 */
export const NATIVE_ZLIB_NODE_MAJORS: readonly number[] = Object.freeze([20, 22, 24, 26]);

/** `true` when `version` (such as `process.versions.node`) is of a tested major. */
export function nativeZlibTestedOn(version: string | undefined): boolean {
  const major = Number(/^(\d+)\./.exec(version ?? "")?.[1] ?? NaN);
  return NATIVE_ZLIB_NODE_MAJORS.includes(major);
}

/**
 * "Hello" ended by a BFINAL block, then "Hello, Hello" (BFINAL) and "Hello"
 * (sync flush) each referring back into the message before: inflated
 * across reset(true), and the last refused after a reset() that forgets.
 */
function bfinalSelfTest(Class: ZlibHandleClass): boolean {
  const fromHex = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
  const text = (out: Uint8Array | InflateFailure): string => (typeof out === "string" ? out : new TextDecoder().decode(out));
  const tail = new Uint8Array([0, 0, 0xff, 0xff]);
  const i = new NativeInflater(Class, { windowBits: 15 });
  for (const [hex, expected] of [
    ["f348cdc9c90700", "Hello"],
    ["f300113a0a600a00", "Hello, Hello"],
  ] as const) {
    if (text(i.inflate(fromHex(hex), 100)) !== expected || !i.ended) return false;
    i.reset(true);
  }
  const last = fromHex("f200110000");
  if (text(i.inflate(last, 100)) + text(i.inflate(tail, 100)) !== "Hello" || i.ended) return false;
  i.reset();
  return i.inflate(last, 100) === "invalid-data";
}

/** The native handle class, or `null` when the private API is missing or misbehaves. */
function detect(): ZlibHandleClass | null {
  try {
    const versions = (globalThis as { process?: { versions?: Record<string, string | undefined> } }).process?.versions;
    // Other runtimes emulate node:zlib; their internals are not Node's.
    if (versions?.bun !== undefined || versions?.deno !== undefined || "Deno" in globalThis) return null;
    // Only on the Node majors it is tested on (see NATIVE_ZLIB_NODE_MAJORS).
    if (!nativeZlibTestedOn(versions?.node)) return null;
    const stream = zlib.createDeflateRaw({ chunkSize: 64, windowBits: 9, memLevel: 1 });
    const handle = (stream as unknown as { _handle?: unknown })._handle;
    stream.close();
    const Handle = (handle as { constructor?: unknown } | null | undefined)?.constructor;
    if (typeof Handle !== "function") return null;
    const proto = (Handle as { prototype?: Record<string, unknown> }).prototype;
    for (const method of ["init", "writeSync", "reset", "close"]) {
      if (typeof proto?.[method] !== "function") return null;
    }
    const Class = Handle as ZlibHandleClass;
    // RFC 7692 §7.2.3.1/§7.2.3.2: "Hello" twice, sharing the window.
    const hello = new TextEncoder().encode("Hello");
    const d = new NativeDeflater(Class, { windowBits: 15, level: 6, memLevel: 8 });
    const a = d.compress(hello, true);
    const b = d.compress(hello, true);
    const hex = (u: Uint8Array): string => Array.from(u, (x) => x.toString(16).padStart(2, "0")).join("");
    if (hex(a) !== "f248cdc9c90700" || hex(b) !== "f200110000") return null;
    const i = new NativeInflater(Class, { windowBits: 15 });
    const tail = new Uint8Array([0, 0, 0xff, 0xff]);
    const parts = [i.inflate(a, 100), i.inflate(tail, 100), i.inflate(b, 100), i.inflate(tail, 100)];
    if (parts.some((p) => typeof p === "string")) return null;
    if (new TextDecoder().decode(new Uint8Array((parts as Uint8Array[]).flatMap((p) => Array.from(p)))) !== "HelloHello") return null;
    if (i.ended) return null;
    if (i.inflate(new Uint8Array([0x07]), 100) !== "invalid-data") return null;
    // RFC 7692 §7.2.3.4: messages ended by BFINAL blocks under context
    // takeover, each referring back into the one before; reset in place if
    // that works here, else with new handles.
    if (!bfinalSelfTest(Class)) {
      reinitInPlace = false;
      if (!bfinalSelfTest(Class)) return null;
    }
    return Class;
  } catch {
    return null;
  }
}

const NativeHandle = detect();

/**
 * `true` when {@link nodeZlibCodec} runs on Node's native zlib, `false` when
 * it fell back to {@link pakoCodec} (the private handle API is missing, as
 * under Bun or Deno).
 * @example
 * ```ts
 * import { nodeZlibNative } from "wsproto/node";
 * console.log(nodeZlibNative ? "native zlib" : "pako");
 * ```
 */
export const nodeZlibNative: boolean = NativeHandle !== null;

/**
 * A synchronous {@link DeflateCodec} on Node's native zlib (private handle
 * API, see the module notes), or {@link pakoCodec} where that is not
 * available. Same output contracts as pako; compression is about three
 * times faster.
 * @example
 * ```ts
 * import { PerMessageDeflate } from "wsproto";
 * import { nodeZlibCodec } from "wsproto/node";
 * const pmd = new PerMessageDeflate({ codec: nodeZlibCodec });
 * ```
 */
export const nodeZlibCodec: DeflateCodec =
  NativeHandle === null
    ? pakoCodec
    : Object.freeze({
        name: "node:zlib",
        createDeflater(options: DeflaterOptions): Deflater {
          return new NativeDeflater(NativeHandle, options);
        },
        createInflater(options: InflaterOptions): Inflater {
          return new NativeInflater(NativeHandle, options);
        },
      });
