/**
 * Reading frames (RFC 6455 §5.2) incrementally from the chunks a transport
 * delivers.
 *
 * Invariants:
 * - The reader never copies payload bytes that arrived in one chunk: it hands
 *   out `subarray` views of the caller's chunks, and unmasks them in place (the
 *   connection owns the chunks it is given). Bytes spanning chunks are gathered
 *   into one fresh array (from the caller's `allocate` when given), unmasked
 *   while copied: one pass over each byte, through the caller's `mask`
 *   (bufferutil's on Node) from 64 bytes on when given. Data frames stream out
 *   in pieces as their bytes arrive, except binary ones up to
 *   `wholeFramesUpTo` bytes, which wait (holding at most that many payload
 *   bytes, in the chunks as received) and come out whole. Text always
 *   streams (UTF-8 errors fail fast).
 * - Header checks run in wsproto's order (spec §4.1) and as soon as the bytes
 *   they need are present, so an error is reported at the same point as
 *   wsproto reports it; the header hooks run exactly once per frame.
 * - Unmasking keeps the key phase across chunk boundaries.
 * @module
 */
import { NATIVE_MIN, maskCopyWith, maskInPlace, type MaskFunction } from "../bytes/mask.ts";
import type { ConnectionOptions } from "../options.ts";
import type { Opcode } from "../types.ts";
import { FIN_BIT, RSV_MASK, OPCODE_MASK, MASK_BIT, LEN7_MASK, MAX_PAYLOAD_NORMAL, MAX_PAYLOAD_TWO_BYTE, PAYLOAD_LENGTH_TWO_BYTE, PAYLOAD_LENGTH_EIGHT_BYTE, ParseFailed, isKnownOpcode, allocated } from "./frame-header.ts";

/**
 * One piece of a frame's payload handed out by {@link FrameReader.next}
 * (the reader fills a caller-owned object, so parsing allocates no result).
 * @example
 * ```ts
 * const piece = {} as FramePiece;
 * while (reader.next(piece)) handle(piece.opcode, piece.payload, piece.frameFinished);
 * ```
 */
export interface FramePiece {
  /** The frame's opcode for its first piece, CONTINUATION for later pieces of a data frame. */
  opcode: Opcode;
  /** The frame's FIN bit. */
  fin: boolean;
  /** The frame's RSV bits (byte 0 & 0x70). */
  rsv: number;
  /** The unmasked payload bytes of this piece. */
  payload: Uint8Array;
  /** This piece ends its frame. */
  frameFinished: boolean;
}

/**
 * How a {@link FrameReader} hands out payloads (see the
 * {@link ConnectionOptions} of the same names).
 * @example
 * ```ts
 * const options: FrameReaderOptions = { wholeFramesUpTo: 1 << 20, allocate: (size) => new Uint8Array(size) };
 * ```
 */
export interface FrameReaderOptions {
  /** Data frames up to this payload size come out whole. @default 0 */
  wholeFramesUpTo?: number;
  /** Allocates gathered payloads. @default `new Uint8Array(size)` */
  allocate?: ((size: number) => Uint8Array) | null;
  /** Unmasks payloads from 64 bytes on (`ConnectionOptions.mask`). @default the built-in masking */
  mask?: MaskFunction | null;
  /** Chunks are lent, not given (`ConnectionOptions.borrowedInput`). @default false */
  borrowedInput?: boolean;
}

/**
 * Checks a frame reader leaves to its owner (the extension hooks, the limits).
 * Each throws {@link ParseFailed} to fail the connection.
 * @example
 * ```ts
 * const hooks: FrameReaderHooks = {
 *   validateHeader(_opcode, rsv) { if (rsv) throw new ParseFailed("Reserved bit set unexpectedly"); },
 *   admitFrame(_opcode, length) { if (length > 1024) throw new ParseFailed("too big", 1009); },
 * };
 * ```
 */
export interface FrameReaderHooks {
  /** RFC 6455 §5.2 RSV check (wsproto check 5), called once the length is known, before the mask check. */
  validateHeader(opcode: Opcode, rsv: number, payloadLength: number): void;
  /** Called after every header check passed, before the masking key or payload is read (limits). */
  admitFrame(opcode: Opcode, payloadLength: number): void;
}

// Hot paths use these module-local literals rather than `Opcode.X`: an
// imported object costs a property load (and under some loaders a getter) per use.
const OP_CONTINUATION = 0;
const OP_TEXT = 1;
const OP_BINARY = 2;

const STAGE_HEADER = 0;
const STAGE_KEY = 1;
const STAGE_PAYLOAD = 2;
const EMPTY: Uint8Array = new Uint8Array(0);
// Header bytes that span chunks are gathered here; used only within one
// synchronous call (every byte is read before a hook runs), so it is shared.
const HEADER_SCRATCH = new Uint8Array(10);
/**
 * With borrowed input, a whole frame up to this many payload bytes gets its
 * array as soon as its payload starts, so that each lent chunk is copied
 * once, straight into it. Larger ones are kept as copies of the chunks
 * until complete (a second pass): a peer's header alone never makes the
 * reader reserve more than this beyond what it sent.
 */
export const ASSEMBLE_AHEAD_MAX = 4 * 1024 * 1024;
/** Payloads this small are copied byte by byte (cheaper than making a view to copy from). */
const SMALL_COPY = 64;

/**
 * An incremental frame parser over a list of received chunks (never
 * re-concatenated): {@link push} bytes, then call {@link next} until it
 * returns `false`. Data frame payloads come out in pieces as they arrive;
 * control frames only whole (RFC 6455 §5.4: control frames are not
 * fragmented, and wsproto delivers them whole).
 * @example
 * ```ts
 * const reader = new FrameReader(true, { validateHeader() {}, admitFrame() {} });
 * reader.push(new Uint8Array([0x81, 0x02, 0x68, 0x69]));
 * const piece = {} as FramePiece;
 * reader.next(piece); // true; piece.payload is "hi"
 * ```
 */
export class FrameReader {
  readonly #client: boolean;
  readonly #hooks: FrameReaderHooks;
  readonly #wholeUpTo: number;
  /** The data message in progress is binary (its first frame's opcode). */
  #binaryMessage = false;
  /** The current frame waits for its whole payload (control frames, and binary ones up to #wholeUpTo). */
  #whole = false;
  readonly #allocate: ((size: number) => Uint8Array) | null;
  readonly #mask: MaskFunction | null;
  /** Chunks are lent (see the module notes). */
  readonly #borrowed: boolean;
  /** Lent chunks at the end of #chunks, pushed since the last {@link release}. */
  #lent = 0;
  /** With borrowed input: the array a whole frame's payload is being copied into as it arrives. */
  #assembly: Uint8Array | null = null;
  #chunks: Uint8Array[] = [];
  #head = 0; // index of the first chunk with unread bytes
  #pos = 0; // read offset into #chunks[#head]
  #buffered = 0; // unread bytes in all chunks
  // The chunk views were last cut from, with its buffer and offset: read
  // once per chunk, not per frame (on a platform's Uint8Array subclass the
  // two getters cost as much as the view itself). Dropped once every buffered byte is read.
  #viewChunk: Uint8Array | null = null;
  #viewBuffer: ArrayBufferLike | null = null;
  #viewOffset = 0;

  #stage = STAGE_HEADER;
  #fin = false;
  #rsv = 0;
  #opcode: Opcode = OP_CONTINUATION; // effective opcode of the next piece
  #masked = false;
  #maskKey = 0; // big-endian packed
  #length = 0;
  #consumed = 0;

  /**
   * `options.wholeFramesUpTo` and `options.allocate` are the
   * {@link ConnectionOptions} of those names (default: every frame in pieces
   * as it arrives; `new Uint8Array`).
   */
  constructor(client: boolean, hooks: FrameReaderHooks, options: FrameReaderOptions = {}) {
    this.#client = client;
    this.#hooks = hooks;
    this.#wholeUpTo = options.wholeFramesUpTo ?? 0;
    this.#allocate = options.allocate ?? null;
    this.#mask = options.mask ?? null;
    this.#borrowed = options.borrowedInput === true;
  }

  /** Unread bytes held. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * The opcode of the next frame when its first header byte is buffered and
   * no frame is in progress, else -1. Looks without consuming anything.
   */
  peekOpcode(): number {
    if (this.#stage !== STAGE_HEADER || this.#buffered === 0) return -1;
    return this.#chunks[this.#head]![this.#pos]! & 0x0f;
  }

  /**
   * Append a received chunk. The reader keeps it and may unmask it in place;
   * with borrowed input it only reads it, until {@link release}.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#borrowed) this.#lent++;
  }

  /**
   * With borrowed input: copy the unread bytes of the chunks lent since the
   * last call into arrays of the reader's own, so that the caller may
   * overwrite its chunks. Does nothing otherwise.
   */
  release(): void {
    const lent = this.#lent;
    if (lent === 0) return;
    this.#lent = 0;
    const chunks = this.#chunks;
    for (let i = Math.max(this.#head, chunks.length - lent); i < chunks.length; i++) {
      const chunk = chunks[i]!;
      const from = i === this.#head ? this.#pos : 0;
      const own = new Uint8Array(chunk.length - from);
      own.set(from === 0 ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset + from, own.length));
      chunks[i] = own;
      if (i === this.#head) this.#pos = 0;
    }
    this.#viewChunk = null;
    this.#viewBuffer = null;
  }

  /** Drop every buffered byte (the parser is dead). */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#pos = 0;
    this.#buffered = 0;
    this.#lent = 0;
    this.#assembly = null;
    this.#viewChunk = null;
    this.#viewBuffer = null;
  }

  /**
   * Parse as far as the buffered bytes allow and fill `out` with the next
   * payload piece: `true` when a piece was produced, `false` when more bytes
   * are needed. Throws {@link ParseFailed} on a framing violation.
   */
  next(out: FramePiece): boolean {
    if (this.#stage === STAGE_HEADER && !this.#parseHeader()) return false;
    if (this.#stage === STAGE_KEY) {
      if (this.#buffered < 4) return false;
      let c = this.#chunks[this.#head]!;
      let p = this.#pos;
      if (c.length - p < 4) {
        this.#copyOut(HEADER_SCRATCH, 0, 4, false);
        c = HEADER_SCRATCH;
        p = 0;
      }
      this.#maskKey = (c[p]! << 24) | (c[p + 1]! << 16) | (c[p + 2]! << 8) | c[p + 3]!;
      this.#advance(4);
      this.#stage = STAGE_PAYLOAD;
    }
    const remaining = this.#length - this.#consumed;
    let n = remaining;
    if (this.#buffered < remaining) {
      // Control frames wait for their whole payload, and so do binary
      // frames up to #wholeUpTo (gathered once complete); others stream.
      if (this.#buffered === 0) return false;
      if (this.#whole) {
        // Lent chunks go straight into the payload's array as they arrive.
        if (this.#borrowed && this.#length <= ASSEMBLE_AHEAD_MAX) this.#assembleAhead();
        return false;
      }
      n = this.#buffered;
    }
    const payload = n === 0 ? EMPTY : this.#take(n, this.#masked);
    this.#consumed += n;
    const finished = this.#consumed === this.#length;
    out.opcode = this.#opcode;
    out.fin = this.#fin;
    out.rsv = this.#rsv;
    out.payload = payload;
    out.frameFinished = finished;
    if (finished) this.#stage = STAGE_HEADER;
    else this.#opcode = OP_CONTINUATION;
    return true;
  }

  /** Parse and check a header (spec §4.1 order); `false` when bytes are missing. */
  #parseHeader(): boolean {
    if (this.#buffered < 2) return false;
    let c = this.#chunks[this.#head]!;
    let p = this.#pos;
    if (c.length - p < 10 && this.#buffered > c.length - p) {
      // The header may span chunks: look at it through the scratch buffer.
      const n = Math.min(10, this.#buffered);
      this.#copyOut(HEADER_SCRATCH, 0, n, false);
      c = HEADER_SCRATCH;
      p = 0;
    }
    const b0 = c[p]!;
    const b1 = c[p + 1]!;
    const opcode = b0 & OPCODE_MASK;
    // RFC 6455 §5.2: reserved opcodes MUST fail the connection.
    if (!isKnownOpcode(opcode)) throw new ParseFailed(`Invalid opcode 0x${opcode.toString(16)}`);
    const fin = (b0 & FIN_BIT) !== 0;
    const control = opcode >= 8;
    // RFC 6455 §5.5: control frames MUST NOT be fragmented.
    if (control && !fin) throw new ParseFailed("Invalid attempt to fragment control frame");
    const len7 = b1 & LEN7_MASK;
    // RFC 6455 §5.5: control frames MUST have a payload length of 125 bytes or less.
    if (control && len7 > MAX_PAYLOAD_NORMAL) throw new ParseFailed("Control frame with payload len > 125");
    let length = len7;
    let headerLength = 2;
    if (len7 === PAYLOAD_LENGTH_TWO_BYTE) {
      if (this.#buffered < 4) return false;
      length = (c[p + 2]! << 8) | c[p + 3]!;
      // RFC 6455 §5.2: the minimal number of bytes MUST be used to encode the length.
      if (length <= MAX_PAYLOAD_NORMAL) throw new ParseFailed("Payload length used 2 bytes when 1 would have sufficed");
      headerLength = 4;
    } else if (len7 === PAYLOAD_LENGTH_EIGHT_BYTE) {
      if (this.#buffered < 10) return false;
      const hi = ((c[p + 2]! << 24) | (c[p + 3]! << 16) | (c[p + 4]! << 8) | c[p + 5]!) >>> 0;
      const lo = ((c[p + 6]! << 24) | (c[p + 7]! << 16) | (c[p + 8]! << 8) | c[p + 9]!) >>> 0;
      if (hi === 0 && lo <= MAX_PAYLOAD_TWO_BYTE) {
        throw new ParseFailed("Payload length used 8 bytes when 2 would have sufficed");
      }
      // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
      if (hi >= 0x80000000) throw new ParseFailed("8-byte payload length with non-zero MSB");
      // Exact up to 2^53; beyond, the owner's admitFrame refuses the frame (it
      // sees a number above Number.MAX_SAFE_INTEGER).
      length = hi * 0x100000000 + lo;
      headerLength = 10;
    }
    const rsv = b0 & RSV_MASK;
    this.#hooks.validateHeader(opcode, rsv, length);
    const masked = (b1 & MASK_BIT) !== 0;
    // RFC 6455 §5.1: a server MUST NOT mask frames it sends to the client...
    if (masked && this.#client) throw new ParseFailed("client received unexpected masked frame");
    // ...and a client MUST mask every frame it sends to the server.
    if (!masked && !this.#client) throw new ParseFailed("server received unexpected unmasked frame");
    this.#hooks.admitFrame(opcode, length);
    this.#advance(headerLength);
    this.#fin = fin;
    this.#rsv = rsv;
    this.#opcode = opcode;
    // Text always streams: invalid UTF-8 then fails the connection as soon
    // as it arrives (Autobahn's fail-fast cases), not once the frame is whole.
    if (opcode === OP_BINARY) this.#binaryMessage = true;
    else if (opcode === OP_TEXT) this.#binaryMessage = false;
    this.#whole = control || (this.#binaryMessage && length <= this.#wholeUpTo);
    this.#masked = masked;
    this.#length = length;
    this.#consumed = 0;
    this.#stage = masked ? STAGE_KEY : STAGE_PAYLOAD;
    return true;
  }

  /** Consume the next `n` unread bytes (n <= buffered). */
  #advance(n: number): void {
    this.#buffered -= n;
    if (this.#buffered === 0) {
      this.#chunks.length = 0;
      this.#head = 0;
      this.#pos = 0;
      this.#lent = 0;
      // Hold no consumed chunk (an idle connection keeps nothing it read).
      this.#viewChunk = null;
      this.#viewBuffer = null;
      return;
    }
    let p = this.#pos + n;
    let h = this.#head;
    const chunks = this.#chunks;
    while (p >= chunks[h]!.length) {
      p -= chunks[h]!.length;
      h++;
    }
    this.#pos = p;
    // Compact the list rarely, not on every consumed chunk.
    if (h >= 64 && h * 2 >= chunks.length) {
      chunks.splice(0, h);
      h = 0;
    }
    this.#head = h;
  }

  /**
   * Consume and return the next `n` unread payload bytes, unmasked when
   * `masked`: a view (unmasked in place) when contiguous, else a gathered
   * copy (unmasked while copying: one pass over each byte).
   */
  #take(n: number, masked: boolean): Uint8Array {
    const c = this.#chunks[this.#head]!;
    const p = this.#pos;
    let out: Uint8Array;
    const assembly = this.#assembly;
    if (assembly !== null) {
      // The rest of a frame assembled as it arrived.
      this.#copyOut(assembly, this.#consumed, n, masked);
      this.#assembly = null;
      out = assembly;
    } else if (c.length - p >= n && !this.#borrowed) {
      // A plain view (not `subarray`, which goes through the species
      // constructor, e.g. a Node buffer subclass, at several times the cost).
      if (p === 0 && n === c.length) {
        out = c;
      } else {
        if (c !== this.#viewChunk) {
          this.#viewChunk = c;
          this.#viewBuffer = c.buffer;
          this.#viewOffset = c.byteOffset;
        }
        out = new Uint8Array(this.#viewBuffer!, this.#viewOffset + p, n);
      }
      if (masked) {
        const key = this.#maskKey;
        const phase = this.#consumed & 3;
        if (n < NATIVE_MIN || this.#mask === null) maskInPlace(out, 0, n, key, phase);
        else maskCopyWith(this.#mask, out, 0, out, 0, n, key, phase);
      }
    } else {
      // Spanning chunks (or lent ones): one array of the payload's size.
      out = this.#newArray(n);
      this.#copyOut(out, 0, n, masked);
    }
    this.#advance(n);
    return out;
  }

  /** A payload's array, from the caller's `allocate` when given. */
  #newArray(n: number): Uint8Array {
    return this.#allocate === null ? new Uint8Array(n) : allocated(this.#allocate, n);
  }

  /**
   * With borrowed input, the part of a whole frame's payload received so
   * far into the frame's array (made now if this is its first part), so
   * that no lent chunk is kept for it.
   */
  #assembleAhead(): void {
    const n = this.#buffered;
    this.#assembly ??= this.#newArray(this.#length);
    this.#copyOut(this.#assembly, this.#consumed, n, this.#masked);
    this.#consumed += n;
    this.#advance(n);
  }

  /**
   * Copy the next `n` unread bytes (without consuming them) into `out` at
   * `offset`: header bytes that span chunks, or payload bytes, unmasked
   * while copied when `masked` (the key phase from the bytes of the frame
   * consumed so far): one pass over each byte.
   */
  #copyOut(out: Uint8Array, offset: number, n: number, masked: boolean): void {
    const key = this.#maskKey;
    let phase = this.#consumed & 3;
    let filled = 0;
    let i = this.#head;
    let q = this.#pos;
    while (filled < n) {
      const chunk = this.#chunks[i]!;
      const m = Math.min(chunk.length - q, n - filled);
      if (masked) {
        // Unmasked while copied, from the chunk straight into the payload's array.
        maskCopyWith(this.#mask, chunk, q, out, offset + filled, m, key, phase);
        phase = (phase + m) & 3;
      } else if (m <= SMALL_COPY) {
        for (let j = 0; j < m; j++) out[offset + filled + j] = chunk[q + j]!;
      } else {
        // A plain view, not `subarray` (a Uint8Array subclass's goes through its species constructor).
        out.set(q === 0 && m === chunk.length ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset + q, m), offset + filled);
      }
      filled += m;
      i++;
      q = 0;
    }
  }

}
