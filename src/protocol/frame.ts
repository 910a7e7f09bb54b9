/**
 * RFC 6455 §5.2 framing: the header layout, the length rules, masking, a
 * frame builder and an incremental frame reader.
 *
 * Invariants:
 * - The reader never copies payload bytes that arrived in one chunk: it hands
 *   out `subarray` views of the caller's chunks, and unmasks them in place (the
 *   connection owns the chunks it is given). Bytes spanning chunks are gathered
 *   into one fresh array.
 * - Header checks run in wsproto's order (spec §4.1) and as soon as the bytes
 *   they need are present, so an error is reported at the same point as
 *   wsproto reports it; the header hooks run exactly once per frame.
 * - Unmasking keeps the key phase across chunk boundaries.
 * - A built frame is one allocation: header, key and payload written into one
 *   `Uint8Array`.
 * @module
 */
import type { Opcode } from "./types.ts";

/** Byte 0: the FIN bit. */
const FIN_BIT = 0x80;
/** Byte 0: the three reserved bits (RSV1 = 0x40, RSV2 = 0x20, RSV3 = 0x10). */
const RSV_MASK = 0x70;
/** Byte 0: the opcode nibble. */
const OPCODE_MASK = 0x0f;
/** Byte 1: the MASK bit. */
const MASK_BIT = 0x80;
/** Byte 1: the 7-bit length. */
const LEN7_MASK = 0x7f;
/** Largest payload a 7-bit length (and a control frame, RFC 6455 §5.5) carries. */
const MAX_PAYLOAD_NORMAL = 125;
/** Largest payload a 16-bit extended length carries. */
const MAX_PAYLOAD_TWO_BYTE = 65535;
/** The 7-bit length value announcing a 16-bit extended length. */
const PAYLOAD_LENGTH_TWO_BYTE = 126;
/** The 7-bit length value announcing a 64-bit extended length. */
const PAYLOAD_LENGTH_EIGHT_BYTE = 127;

/**
 * A violation of the framing rules by the peer. `closeCode` is the close code
 * to fail the connection with (1002 unless noted). Internal: the connection
 * turns it into a `CloseConnection` event, it never reaches the application.
 * @example
 * ```ts
 * throw new ParseFailed("Invalid opcode 0x3");
 * ```
 */
export class ParseFailed extends Error {
  readonly closeCode: number;
  constructor(message: string, closeCode = 1002) {
    super(message);
    this.name = "ParseFailed";
    this.closeCode = closeCode;
  }
}

/**
 * `true` for the six opcodes RFC 6455 §5.2 defines (the others are reserved).
 * @example
 * ```ts
 * isKnownOpcode(0x9); // true
 * isKnownOpcode(0x3); // false
 * ```
 */
export function isKnownOpcode(opcode: number): opcode is Opcode {
  return opcode <= 2 || (opcode >= 8 && opcode <= 10);
}

/**
 * Length of the header (with the masking key when `masked`) of a frame
 * carrying `payloadLength` bytes, using the minimal length encoding (§5.2).
 * @example
 * ```ts
 * frameHeaderLength(200, true); // 2 + 2 + 4
 * ```
 */
export function frameHeaderLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength <= MAX_PAYLOAD_NORMAL ? 2 : payloadLength <= MAX_PAYLOAD_TWO_BYTE ? 4 : 10;
  return masked ? base + 4 : base;
}

// A 4-byte scratch seen as one native-endian 32-bit word: writing the key
// bytes in memory order and reading the word gives the value to XOR with an
// Int32Array over the payload, whatever the platform's endianness.
const KEY_BYTES = new Uint8Array(4);
const KEY_WORD = new Int32Array(KEY_BYTES.buffer);

function keyWord(key: Uint8Array, phase: number): number {
  KEY_BYTES[0] = key[phase & 3]!;
  KEY_BYTES[1] = key[(phase + 1) & 3]!;
  KEY_BYTES[2] = key[(phase + 2) & 3]!;
  KEY_BYTES[3] = key[(phase + 3) & 3]!;
  return KEY_WORD[0]!;
}

/**
 * XOR `buf[start, end)` in place with the 4-byte `key`, the first byte using
 * `key[phase % 4]` (so a payload split across chunks keeps the key phase).
 * RFC 6455 §5.3: octet i of the payload is XORed with octet i mod 4 of the key.
 * Works a 32-bit word at a time over the 4-byte aligned part.
 * @example
 * ```ts
 * const data = new Uint8Array([1, 2, 3]);
 * xorMask(data, 0, 3, new Uint8Array([1, 2, 3, 4]), 0); // data is now 0, 0, 0
 * ```
 */
export function xorMask(buf: Uint8Array, start: number, end: number, key: Uint8Array, phase: number): void {
  let i = start;
  let p = phase - start; // key index of byte i is (p + i) & 3
  if (end - start >= 32) {
    // Bytes up to the next 4-byte boundary of the underlying buffer.
    const lead = (4 - ((buf.byteOffset + i) & 3)) & 3;
    for (const stop = i + lead; i < stop; i++) buf[i] = buf[i]! ^ key[(p + i) & 3]!;
    const words = (end - i) >>> 2;
    const w = new Int32Array(buf.buffer, buf.byteOffset + i, words);
    const k = keyWord(key, p + i);
    let j = 0;
    const stop8 = words - 8;
    for (; j <= stop8; j += 8) {
      w[j] = w[j]! ^ k;
      w[j + 1] = w[j + 1]! ^ k;
      w[j + 2] = w[j + 2]! ^ k;
      w[j + 3] = w[j + 3]! ^ k;
      w[j + 4] = w[j + 4]! ^ k;
      w[j + 5] = w[j + 5]! ^ k;
      w[j + 6] = w[j + 6]! ^ k;
      w[j + 7] = w[j + 7]! ^ k;
    }
    for (; j < words; j++) w[j] = w[j]! ^ k;
    i += words << 2;
  }
  for (; i < end; i++) buf[i] = buf[i]! ^ key[(p + i) & 3]!;
}

/**
 * Build one frame in one allocation: header, masking key (when `maskKey` is
 * given) and payload (masked with it). `firstByte` is FIN | RSV | opcode.
 * @example
 * ```ts
 * buildFrame(0x81, new TextEncoder().encode("Hello"), null); // 81 05 48 65 6c 6c 6f
 * ```
 */
export function buildFrame(firstByte: number, payload: Uint8Array, maskKey: Uint8Array | null): Uint8Array {
  const len = payload.length;
  const maskBit = maskKey === null ? 0 : MASK_BIT;
  const hdr = frameHeaderLength(len, maskKey !== null);
  const out = new Uint8Array(hdr + len);
  out[0] = firstByte;
  if (len <= MAX_PAYLOAD_NORMAL) {
    out[1] = len | maskBit;
  } else if (len <= MAX_PAYLOAD_TWO_BYTE) {
    out[1] = PAYLOAD_LENGTH_TWO_BYTE | maskBit;
    out[2] = len >>> 8;
    out[3] = len & 0xff;
  } else {
    // RFC 6455 §5.2: the most significant bit of the 64-bit length MUST be 0.
    // JS lengths stay below 2^53, so the high word fits in 21 bits.
    const hi = Math.floor(len / 0x100000000);
    const lo = len >>> 0;
    out[1] = PAYLOAD_LENGTH_EIGHT_BYTE | maskBit;
    out[2] = 0;
    out[3] = 0;
    out[4] = hi >>> 8;
    out[5] = hi & 0xff;
    out[6] = lo >>> 24;
    out[7] = (lo >>> 16) & 0xff;
    out[8] = (lo >>> 8) & 0xff;
    out[9] = lo & 0xff;
  }
  if (maskKey === null) {
    if (len > 32) {
      out.set(payload, hdr);
    } else {
      // Short payloads: a loop beats the call into `set`.
      let i = 0;
      for (let o = hdr; i + 4 <= len; i += 4, o += 4) {
        out[o] = payload[i]!;
        out[o + 1] = payload[i + 1]!;
        out[o + 2] = payload[i + 2]!;
        out[o + 3] = payload[i + 3]!;
      }
      for (; i < len; i++) out[hdr + i] = payload[i]!;
    }
    return out;
  }
  // RFC 6455 §5.3: the key goes right before the payload, which is XORed with it.
  const k0 = maskKey[0]!;
  const k1 = maskKey[1]!;
  const k2 = maskKey[2]!;
  const k3 = maskKey[3]!;
  out[hdr - 4] = k0;
  out[hdr - 3] = k1;
  out[hdr - 2] = k2;
  out[hdr - 1] = k3;
  if (len >= 32) {
    out.set(payload, hdr);
    xorMask(out, hdr, hdr + len, maskKey, 0);
    return out;
  }
  let i = 0;
  for (let o = hdr; i + 4 <= len; i += 4, o += 4) {
    out[o] = payload[i]! ^ k0;
    out[o + 1] = payload[i + 1]! ^ k1;
    out[o + 2] = payload[i + 2]! ^ k2;
    out[o + 3] = payload[i + 3]! ^ k3;
  }
  for (; i < len; i++) out[hdr + i] = payload[i]! ^ maskKey[i & 3]!;
  return out;
}

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

const STAGE_HEADER = 0;
const STAGE_KEY = 1;
const STAGE_PAYLOAD = 2;
const EMPTY: Uint8Array = new Uint8Array(0);

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
  #chunks: Uint8Array[] = [];
  #head = 0; // index of the first chunk with unread bytes
  #pos = 0; // read offset into #chunks[#head]
  #buffered = 0; // unread bytes in all chunks
  readonly #scratch = new Uint8Array(10);

  #stage = STAGE_HEADER;
  #fin = false;
  #rsv = 0;
  #opcode: Opcode = OP_CONTINUATION; // effective opcode of the next piece
  #masked = false;
  readonly #key = new Uint8Array(4);
  #length = 0;
  #consumed = 0;

  constructor(client: boolean, hooks: FrameReaderHooks) {
    this.#client = client;
    this.#hooks = hooks;
  }

  /** Unread bytes held. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Append a received chunk. The reader keeps it and may unmask it in place. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** Drop every buffered byte (the parser is dead). */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#pos = 0;
    this.#buffered = 0;
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
      const key = this.#key;
      const c = this.#chunks[this.#head]!;
      if (c.length - this.#pos >= 4) {
        const p = this.#pos;
        key[0] = c[p]!;
        key[1] = c[p + 1]!;
        key[2] = c[p + 2]!;
        key[3] = c[p + 3]!;
      } else {
        this.#gather(key, 4);
      }
      this.#advance(4);
      this.#stage = STAGE_PAYLOAD;
    }
    const remaining = this.#length - this.#consumed;
    let n = remaining;
    if (this.#buffered < remaining) {
      // Control frames wait for their whole payload; data frames stream.
      if (this.#opcode >= 8 || this.#buffered === 0) return false;
      n = this.#buffered;
    }
    const payload = n === 0 ? EMPTY : this.#take(n);
    if (this.#masked && n > 0) xorMask(payload, 0, n, this.#key, this.#consumed & 3);
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
      this.#gather(this.#scratch, n);
      c = this.#scratch;
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
    this.#masked = masked;
    this.#length = length;
    this.#consumed = 0;
    this.#stage = masked ? STAGE_KEY : STAGE_PAYLOAD;
    return true;
  }

  /** Copy the next `n` unread bytes (n <= buffered) into `into` without consuming them. */
  #gather(into: Uint8Array, n: number): void {
    let filled = 0;
    let i = this.#head;
    let p = this.#pos;
    while (filled < n) {
      const c = this.#chunks[i]!;
      const m = Math.min(c.length - p, n - filled);
      for (let j = 0; j < m; j++) into[filled + j] = c[p + j]!;
      filled += m;
      i++;
      p = 0;
    }
  }

  /** Consume the next `n` unread bytes (n <= buffered). */
  #advance(n: number): void {
    this.#buffered -= n;
    if (this.#buffered === 0) {
      this.#chunks.length = 0;
      this.#head = 0;
      this.#pos = 0;
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

  /** Consume and return the next `n` unread bytes: a view when contiguous, else a gathered copy. */
  #take(n: number): Uint8Array {
    const c = this.#chunks[this.#head]!;
    const p = this.#pos;
    let out: Uint8Array;
    if (c.length - p >= n) {
      // A plain view (not `subarray`, which goes through the species
      // constructor, e.g. Node's Buffer subclass, at several times the cost).
      out = p === 0 && n === c.length ? c : new Uint8Array(c.buffer, c.byteOffset + p, n);
    } else {
      out = new Uint8Array(n);
      let filled = 0;
      let i = this.#head;
      let q = p;
      while (filled < n) {
        const chunk = this.#chunks[i]!;
        const m = Math.min(chunk.length - q, n - filled);
        out.set(q === 0 && m === chunk.length ? chunk : chunk.subarray(q, q + m), filled);
        filled += m;
        i++;
        q = 0;
      }
    }
    this.#advance(n);
    return out;
  }
}
