/**
 * `pakoCodec`: the default {@link DeflateCodec}, raw DEFLATE on pako's zlib
 * port, synchronous, with a reset that allocates nothing.
 *
 * Invariants:
 * - Output is produced into one module-level scratch area shared by every
 *   stream (JavaScript runs one call at a time, and each call copies its
 *   result out before returning), so an idle connection holds only zlib's
 *   own window and hash tables, never an output buffer.
 * - Bound: the deflate scratch is kept up to 1 MiB; inflate output per call
 *   is at most `maxOutput + 1` bytes, produced 64 KiB at a time.
 * @module
 */
import {
  ZStream,
  zlibDeflate,
  zlibDeflateInit2,
  zlibDeflateReset,
  zlibDeflateSetDictionary,
  zlibInflate,
  zlibInflateInit2,
  zlibInflateReset,
  zlibInflateResetKeep,
  Z_BUF_ERROR,
  Z_DEFAULT_STRATEGY,
  Z_NO_FLUSH,
  Z_OK,
  Z_STREAM_END,
  Z_SYNC_FLUSH,
} from "pako";
import { concatBytes } from "../bytes/encoding.ts";
import { LocalProtocolError } from "../errors.ts";
import type { DeflateCodec, Deflater, DeflaterOptions, Inflater, InflaterOptions, InflateFailure } from "./deflate-codec.ts";


const EMPTY = new Uint8Array(0);
// Output chunk for inflate: the largest piece produced per zlib call.
const INFLATE_CHUNK = 64 * 1024;
// The deflate scratch area grows to the largest message seen, up to this;
// beyond it a temporary area is used and dropped.
const MAX_KEPT_SCRATCH = 1024 * 1024;
// zlib manual: with Z_SYNC_FLUSH, keep avail_out above six so the flush
// marker is never split across calls.
const FLUSH_MARGIN = 16;

let inflateScratch: Uint8Array | null = null;
let deflateScratch: Uint8Array = new Uint8Array(0);

/**
 * A plain Uint8Array view of `data` (no copy): pako's loops then always see
 * one array type, not a mix with subclasses (such as Node's), which keeps
 * its hot element accesses monomorphic.
 */
function plain(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return (data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) as Uint8Array<ArrayBuffer>;
}

/** Room for deflating `n` more input bytes: zlib's deflateBound plus the flush marker. */
function deflateBound(n: number): number {
  return n + (n >>> 12) + (n >>> 14) + (n >>> 25) + 64;
}

class PakoDeflater implements Deflater {
  readonly #strm = new ZStream();

  constructor(options: DeflaterOptions) {
    // Negative windowBits selects raw DEFLATE (no zlib header or checksum).
    // pako's default hash (Chromium's, as in Node's bundled zlib) is about a
    // fifth faster than zlib's classic one; the output differs from classic
    // zlib's only in which equally valid matches are found.
    const status = zlibDeflateInit2(
      this.#strm,
      options.level,
      8,
      -options.windowBits,
      options.memLevel,
      Z_DEFAULT_STRATEGY,
      false,
    );
    if (status !== Z_OK) {
      throw new LocalProtocolError(
        `cannot create a deflater with windowBits=${options.windowBits}, level=${options.level}, memLevel=${options.memLevel}`,
        "WS_ERR_DEFLATE_OPTIONS",
      );
    }
  }

  compress(data: Uint8Array, fin: boolean): Uint8Array {
    const strm = this.#strm;
    const flush = fin ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    let out = deflateScratch;
    const need = deflateBound(data.length);
    if (out.length < need && out.length < MAX_KEPT_SCRATCH) {
      // Grow the shared area up to its cap; a larger message (which usually
      // compresses well) grows a temporary one only if its output needs it.
      out = deflateScratch = new Uint8Array(Math.min(Math.max(need, 1024), MAX_KEPT_SCRATCH));
    }
    strm.input = plain(data);
    strm.next_in = 0;
    strm.avail_in = data.length;
    strm.output = out as Uint8Array<ArrayBuffer>;
    strm.next_out = 0;
    strm.avail_out = out.length;
    if (fin && data.length === 0) {
      // zlib refuses a second Z_SYNC_FLUSH with no input in between
      // (Z_BUF_ERROR, no output); a no-op Z_NO_FLUSH call re-arms it, so an
      // empty message still ends in the empty stored block.
      zlibDeflate(strm, Z_NO_FLUSH);
    }
    for (;;) {
      const status = zlibDeflate(strm, flush);
      if (status !== Z_OK && status !== Z_BUF_ERROR) {
        throw new LocalProtocolError(`deflate failed (zlib status ${status})`, "WS_ERR_DEFLATE_FAILED");
      }
      // zlib: when deflate returns with room left, it consumed all input and
      // finished the flush; with none left, call again with more room.
      if (strm.avail_out > FLUSH_MARGIN || (strm.avail_out > 0 && !fin)) break;
      const used = strm.next_out;
      const bigger = new Uint8Array(out.length * 2 + FLUSH_MARGIN);
      bigger.set(out.subarray(0, used));
      out = bigger;
      if (out.length <= MAX_KEPT_SCRATCH) deflateScratch = out;
      strm.output = out as Uint8Array<ArrayBuffer>;
      strm.next_out = used;
      strm.avail_out = out.length - used;
    }
    let end = strm.next_out;
    // RFC 7692 §7.2.1: remove the 4 octets 00 00 ff ff at the tail end.
    if (fin) end -= 4;
    const result = end > 0 ? out.slice(0, end) : EMPTY;
    strm.input = EMPTY as Uint8Array<ArrayBuffer>;
    strm.output = EMPTY as Uint8Array<ArrayBuffer>;
    return result;
  }

  reset(dictionary?: Uint8Array): void {
    zlibDeflateReset(this.#strm);
    if (dictionary !== undefined && dictionary.length > 0) zlibDeflateSetDictionary(this.#strm, plain(dictionary));
  }
}

class PakoInflater implements Inflater {
  readonly #strm = new ZStream();
  #ended = false;

  constructor(options: InflaterOptions) {
    const status = zlibInflateInit2(this.#strm, -options.windowBits);
    if (status !== Z_OK) {
      throw new LocalProtocolError(
        `cannot create an inflater with windowBits=${options.windowBits}`,
        "WS_ERR_DEFLATE_OPTIONS",
      );
    }
  }

  get ended(): boolean {
    return this.#ended;
  }

  inflate(data: Uint8Array, maxOutput: number): Uint8Array | InflateFailure {
    if (this.#ended || data.length === 0) return EMPTY;
    const strm = this.#strm;
    const scratch = (inflateScratch ??= new Uint8Array(INFLATE_CHUNK));
    // Never ask zlib for more than one byte past the limit: that byte, if
    // produced, proves the limit is exceeded without inflating further.
    const cap = Math.max(0, maxOutput) + 1;
    let first: Uint8Array | null = null;
    let pieces: Uint8Array[] | null = null;
    let total = 0;
    strm.input = plain(data);
    strm.next_in = 0;
    strm.avail_in = data.length;
    let failure: InflateFailure | null = null;
    for (;;) {
      const room = Math.min(scratch.length, cap - total);
      strm.output = scratch as Uint8Array<ArrayBuffer>;
      strm.next_out = 0;
      strm.avail_out = room;
      const status = zlibInflate(strm, Z_SYNC_FLUSH);
      const produced = strm.next_out;
      if (status !== Z_OK && status !== Z_STREAM_END && status !== Z_BUF_ERROR) {
        failure = "invalid-data";
        break;
      }
      if (produced > 0) {
        total += produced;
        if (total > maxOutput) {
          failure = "too-big";
          break;
        }
        const piece = scratch.slice(0, produced);
        if (first === null) first = piece;
        else (pieces ??= [first]).push(piece);
      }
      if (status === Z_STREAM_END) {
        // RFC 7692 §7.2.3.4: a sender may end a message with a BFINAL block;
        // what follows (the appended 00 00 ff ff) is not part of the stream.
        this.#ended = true;
        break;
      }
      // Room left over means zlib wants more input; a full buffer means
      // there may be more output for the input it holds.
      if (strm.avail_out !== 0) break;
    }
    strm.input = EMPTY as Uint8Array<ArrayBuffer>;
    strm.output = EMPTY as Uint8Array<ArrayBuffer>;
    if (failure !== null) return failure;
    if (pieces === null) return first ?? EMPTY;
    return concatBytes(pieces);
  }

  reset(keepWindow = false): void {
    this.#ended = false;
    // zlib's inflateResetKeep starts a new stream but leaves the sliding
    // window as it is, so back-references into the previous message still
    // resolve: O(1), no copy of the window (inflateReset empties it).
    inflateResetNoAlloc(this.#strm, keepWindow);
  }
}

// ---- resetting pako's inflater without allocating ------------------------------
//
// pako 3's inflateResetKeep (and so inflateReset) allocates the two tables
// dynamic Huffman codes are built in (Int32Array(852) and Int32Array(592),
// 5.8 KB with off-heap backing stores) on every call, where zlib's C code
// merely points at the ones it has: 1.5-12 µs per reset on a busy heap, paid
// by every message that ends with a BFINAL block under context takeover and
// by every message whose decompressor is released between messages. The
// tables hold nothing between blocks (each dynamic block header rebuilds the
// part it uses), so they can be kept. Doing so means writing the fields
// inflateResetKeep writes, in pako's inflate state (`ZStream.state`, typed
// `any` by pako): this is guarded by a check, once, that the reset leaves a
// state identical field for field to pako's own reset and that a stream
// referring back across it, with dynamic blocks before and after, inflates
// correctly; and by a shape check on every call. If either fails (another
// pako), pako's own reset is used.

/** The fields of pako 3's InflateState that its inflateResetKeep writes or reads. */
interface PakoInflateState {
  strm: unknown;
  mode: number;
  last: unknown;
  havedict: unknown;
  flags: number;
  dmax: number;
  head: unknown;
  hold: number;
  bits: number;
  total: number;
  wrap: number;
  wsize: number;
  whave: number;
  wnext: number;
  lencode: unknown;
  distcode: unknown;
  lendyn: unknown;
  distdyn: unknown;
  sane: number;
  back: number;
}

// The fields pako 3's inflateResetKeep assigns, besides the two tables.
const RESET_FIELDS = ["mode", "last", "havedict", "flags", "dmax", "head", "hold", "bits", "total", "sane", "back"] as const;
// Sizes of zlib's dynamic code tables (inftrees.h ENOUGH_LENS, ENOUGH_DISTS).
const ENOUGH_LENS = 852;
const ENOUGH_DISTS = 592;

/** pako's HEAD mode (a fresh state's mode), once the check passed; null = use pako's reset; undefined = not checked yet. */
let headMode: number | null | undefined;

function pakoState(strm: ZStream): PakoInflateState | null {
  const state = strm.state as PakoInflateState | null | undefined;
  if (state === null || typeof state !== "object" || state.strm !== strm) return null;
  const { lendyn, distdyn } = state;
  if (!(lendyn instanceof Int32Array) || lendyn.length !== ENOUGH_LENS) return null;
  if (!(distdyn instanceof Int32Array) || distdyn.length !== ENOUGH_DISTS) return null;
  return state;
}

/**
 * What pako 3's `inflateResetKeep` (keepWindow) or `inflateReset` does,
 * keeping the dynamic code tables instead of allocating new ones.
 */
function inflateResetNoAlloc(strm: ZStream, keepWindow: boolean): void {
  const head = (headMode ??= checkResetNoAlloc());
  const state = head === null ? null : pakoState(strm);
  if (state === null || head === null || state.wrap !== 0) {
    if (keepWindow) zlibInflateResetKeep(strm);
    else zlibInflateReset(strm);
    return;
  }
  if (!keepWindow) state.wsize = state.whave = state.wnext = 0;
  strm.total_in = strm.total_out = state.total = 0;
  strm.msg = "";
  state.mode = head;
  state.last = 0;
  state.havedict = 0;
  state.flags = -1;
  state.dmax = 32768;
  state.head = null;
  state.hold = 0;
  state.bits = 0;
  state.lencode = state.lendyn;
  state.distcode = state.distdyn;
  state.sane = 1;
  state.back = -1;
}

// A raw DEFLATE stream of one dynamic-Huffman block with BFINAL set
// ("eudereteaeelolaredeelteeunitienteihenete"), and one that refers back
// into it ("teihenete eudereteaeelolare", a fixed block with BFINAL).
const CHECK_FIRST = "05c1010ac0200c04b0b70a06562815e4fcff126fbb62d1a7d7b5e9f0a65226ea33e207";
const CHECK_FIRST_TEXT = "eudereteaeelolaredeelteeunitienteihenete";
const CHECK_SECOND = "83331452d1750000";
const CHECK_SECOND_TEXT = "teihenete eudereteaeelolare";

/** pako's HEAD mode if resetting without allocating is equivalent to pako's reset here, else null. */
function checkResetNoAlloc(): number | null {
  try {
    const fromHex = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
    const text = (bytes: Uint8Array): string => String.fromCharCode(...bytes);
    const ours = new ZStream();
    const theirs = new ZStream();
    if (zlibInflateInit2(ours, -15) !== Z_OK || zlibInflateInit2(theirs, -15) !== Z_OK) return null;
    const fresh = pakoState(ours);
    if (fresh === null || !Number.isInteger(fresh.mode)) return null;
    const head = fresh.mode;
    const out = new Uint8Array(256);
    const run = (strm: ZStream, hex: string): string | null => {
      const input = fromHex(hex);
      strm.input = input as Uint8Array<ArrayBuffer>;
      strm.next_in = 0;
      strm.avail_in = input.length;
      strm.output = out as Uint8Array<ArrayBuffer>;
      strm.next_out = 0;
      strm.avail_out = out.length;
      const status = zlibInflate(strm, Z_SYNC_FLUSH);
      return status === Z_STREAM_END ? text(out.subarray(0, strm.next_out)) : null;
    };
    headMode = head; // let inflateResetNoAlloc run while checking
    for (const [hex, expected] of [
      [CHECK_FIRST, CHECK_FIRST_TEXT],
      [CHECK_SECOND, CHECK_SECOND_TEXT],
      [CHECK_FIRST, CHECK_FIRST_TEXT],
    ] as const) {
      if (run(ours, hex) !== expected || run(theirs, hex) !== expected) return null;
      const s = pakoState(ours);
      const t = pakoState(theirs);
      if (s === null || t === null) return null;
      const tables = [s.lendyn, s.distdyn];
      inflateResetNoAlloc(ours, true);
      zlibInflateResetKeep(theirs);
      // The same state field for field (pako's reset allocated new tables; ours kept them).
      if (s.lendyn !== tables[0] || s.distdyn !== tables[1] || s.lencode !== s.lendyn || s.distcode !== s.distdyn) return null;
      if (t.lencode !== t.lendyn || t.distcode !== t.distdyn) return null;
      const keys = Object.keys(s);
      if (keys.join() !== Object.keys(t).join()) return null;
      for (const key of keys) {
        const a: unknown = (s as unknown as Record<string, unknown>)[key];
        const b: unknown = (t as unknown as Record<string, unknown>)[key];
        if (a === b || key === "strm" || ArrayBuffer.isView(a)) continue;
        return null;
      }
      for (const key of ["total_in", "total_out", "msg", "adler"] as const) if (ours[key] !== theirs[key]) return null;
      if (!RESET_FIELDS.every((key) => s[key] === t[key])) return null;
    }
    return head;
  } catch {
    return null;
  } finally {
    headMode = undefined;
  }
}

/**
 * The default {@link DeflateCodec}: pako 3 (a JavaScript port of zlib),
 * driven through its documented low-level zlib API only (`ZStream`,
 * `zlibDeflateInit2`, `zlibDeflate`, `zlibDeflateReset`, `zlibDeflateSetDictionary`, `zlibInflateInit2`,
 * `zlibInflate`, `zlibInflateReset`, `zlibInflateResetKeep`, the constants),
 * except that an inflater's reset writes the fields pako's reset writes
 * without allocating new code tables, behind a check that this is equivalent
 * (see `inflateResetNoAlloc`; pako's own reset is the fallback).
 * @example
 * ```ts
 * const d = pakoCodec.createDeflater({ windowBits: 15, level: 6, memLevel: 8 });
 * const i = pakoCodec.createInflater({ windowBits: 15 });
 * const payload = d.compress(new TextEncoder().encode("Hello"), true);
 * const head = i.inflate(payload, 1 << 20);
 * const tail = i.inflate(new Uint8Array([0, 0, 0xff, 0xff]), 1 << 20);
 * ```
 */
export const pakoCodec: DeflateCodec = Object.freeze({
  name: "pako",
  createDeflater(options: DeflaterOptions): Deflater {
    return new PakoDeflater(options);
  },
  createInflater(options: InflaterOptions): Inflater {
    return new PakoInflater(options);
  },
});
