/**
 * An independent RFC 6455 frame writer and reader for the conformance peer.
 *
 * Written from the RFC, deliberately sharing no code with src/protocol, so it
 * can produce exactly the malformed bytes a case needs (any opcode, any RSV
 * bits, fragmented control frames, oversized control payloads, non-minimal
 * lengths) and judge what the peer under test sends without trusting our own
 * parser.
 *
 * Invariants: the reader never concatenates buffered input more than once per
 * frame (a 16 MiB frame in 64-byte chunks stays linear), and it reports every
 * protocol fault of the peer's frames as a `violation` string instead of
 * throwing, so a case can record it.
 * @module
 */

/** One frame as seen on the wire (payload already unmasked). */
export interface RawFrame {
  fin: boolean;
  /** RSV1..RSV3 as a 3-bit number: RSV1 = 4, RSV2 = 2, RSV3 = 1. */
  rsv: number;
  opcode: number;
  payload: Buffer;
  masked: boolean;
}

/** What to write: any opcode and RSV bits, optionally a forced length encoding. */
export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  /** @default true */
  fin?: boolean;
  /** RSV bits as a 3-bit number (RSV1 = 4). @default 0 */
  rsv?: number;
  /** A 4-byte masking key, or null for an unmasked frame. */
  mask?: Uint8Array | null;
  /** Force a (possibly non-minimal) length encoding. @default "minimal" */
  lengthEncoding?: "minimal" | 7 | 16 | 64;
}

export const OP = {
  CONTINUATION: 0,
  TEXT: 1,
  BINARY: 2,
  CLOSE: 8,
  PING: 9,
  PONG: 10,
} as const;

/** XOR `data` with the 4-byte `key` into `out` at `offset` (RFC 6455 §5.3). */
export function applyMask(data: Uint8Array, key: Uint8Array, out: Uint8Array, offset = 0): void {
  const k0 = key[0]!, k1 = key[1]!, k2 = key[2]!, k3 = key[3]!;
  const n = data.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    out[offset + i] = data[i]! ^ k0;
    out[offset + i + 1] = data[i + 1]! ^ k1;
    out[offset + i + 2] = data[i + 2]! ^ k2;
    out[offset + i + 3] = data[i + 3]! ^ k3;
  }
  for (; i < n; i++) out[offset + i] = data[i]! ^ key[i & 3]!;
}

function toBuffer(payload: Uint8Array | string | undefined): Buffer {
  if (payload === undefined) return Buffer.alloc(0);
  if (typeof payload === "string") return Buffer.from(payload, "utf8");
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}

/** Serialize one frame in a single allocation. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = toBuffer(spec.payload);
  const len = payload.length;
  const fin = spec.fin ?? true;
  const rsv = spec.rsv ?? 0;
  const mask = spec.mask ?? null;
  let enc = spec.lengthEncoding ?? "minimal";
  if (enc === "minimal") enc = len <= 125 ? 7 : len <= 0xffff ? 16 : 64;
  const headerLen = 2 + (enc === 16 ? 2 : enc === 64 ? 8 : 0) + (mask ? 4 : 0);
  const out = Buffer.allocUnsafe(headerLen + len);
  out[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (spec.opcode & 0x0f);
  let p = 2;
  if (enc === 7) {
    out[1] = len & 0x7f;
  } else if (enc === 16) {
    out[1] = 126;
    out.writeUInt16BE(len, 2);
    p = 4;
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(len), 2);
    p = 10;
  }
  if (mask) {
    out[1] |= 0x80;
    out.set(mask.subarray(0, 4), p);
    p += 4;
    applyMask(payload, mask, out, p);
  } else {
    payload.copy(out, p);
  }
  return out;
}

/** Options of {@link FrameReader}. */
export interface FrameReaderOptions {
  /** `true` when the frames come from a client (they MUST be masked). */
  expectMasked: boolean;
  /** RSV bits the negotiated extensions allow (RSV1 = 4 for permessage-deflate). @default 0 */
  allowedRsv?: number;
}

/**
 * Incremental frame reader: `push()` bytes, get the complete frames back.
 * A fault in the peer's framing is recorded in `violation` and stops the
 * reader (every later byte is ignored), as a real endpoint would fail.
 */
export class FrameReader {
  violation: string | null = null;
  readonly #expectMasked: boolean;
  allowedRsv: number;
  #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(options: FrameReaderOptions) {
    this.#expectMasked = options.expectMasked;
    this.allowedRsv = options.allowedRsv ?? 0;
  }

  /** Bytes buffered but not yet part of a complete frame. */
  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): RawFrame[] {
    if (this.violation !== null) return [];
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.#buffered += chunk.length;
    }
    const frames: RawFrame[] = [];
    for (;;) {
      const frame = this.#next();
      if (frame === null) break;
      frames.push(frame);
    }
    return frames;
  }

  /** Copy the first `n` buffered bytes without consuming them. */
  #peek(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let p = 0;
    for (const c of this.#chunks) {
      const take = Math.min(c.length, n - p);
      c.copy(out, p, 0, take);
      p += take;
      if (p === n) break;
    }
    return out;
  }

  #consume(n: number): Buffer {
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let p = 0;
      while (p < n) {
        const c = this.#chunks[0]!;
        const take = Math.min(c.length, n - p);
        c.copy(out, p, 0, take);
        p += take;
        if (take === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(take);
      }
    }
    this.#buffered -= n;
    return out;
  }

  #fail(message: string): null {
    this.violation = message;
    this.#chunks = [];
    this.#buffered = 0;
    return null;
  }

  #next(): RawFrame | null {
    if (this.#buffered < 2) return null;
    const h = this.#peek(2);
    const b0 = h[0]!;
    const b1 = h[1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >> 4) & 7;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    // RFC 6455 §5.2: opcodes 3-7 and 11-15 are reserved.
    if (![0, 1, 2, 8, 9, 10].includes(opcode)) return this.#fail(`reserved opcode ${opcode}`);
    const control = opcode >= 8;
    // RFC 6455 §5.5: control frames MUST have a payload of 125 bytes or less and MUST NOT be fragmented.
    if (control && !fin) return this.#fail(`fragmented control frame (opcode ${opcode})`);
    if (control && len7 > 125) return this.#fail(`control frame with payload length ${len7}`);
    // RFC 6455 §5.2: RSV bits MUST be 0 unless an extension defines them.
    if ((rsv & ~this.allowedRsv) !== 0) return this.#fail(`unexpected RSV bits ${rsv}`);
    if ((rsv & 4) !== 0 && (control || opcode === 0)) {
      // RFC 7692 §6.1: RSV1 only on the first frame of a data message.
      return this.#fail(`RSV1 on opcode ${opcode}`);
    }
    // RFC 6455 §5.1: a client MUST mask every frame; a server MUST NOT mask.
    if (masked !== this.#expectMasked) return this.#fail(masked ? "masked frame from a server" : "unmasked frame from a client");
    const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const headerLen = 2 + extra + (masked ? 4 : 0);
    if (this.#buffered < headerLen) return null;
    const header = this.#peek(headerLen);
    let length = len7;
    if (len7 === 126) {
      length = header.readUInt16BE(2);
      // RFC 6455 §5.2: the minimal number of bytes MUST be used to encode the length.
      if (length <= 125) return this.#fail(`non-minimal 16-bit length ${length}`);
    } else if (len7 === 127) {
      const big = header.readBigUInt64BE(2);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) return this.#fail(`64-bit length too large ${big}`);
      length = Number(big);
      if (length <= 0xffff) return this.#fail(`non-minimal 64-bit length ${length}`);
    }
    if (this.#buffered < headerLen + length) return null;
    this.#consume(headerLen);
    let payload = length === 0 ? Buffer.alloc(0) : this.#consume(length);
    if (masked) {
      const key = header.subarray(2 + extra, 2 + extra + 4);
      const out = Buffer.allocUnsafe(length);
      applyMask(payload, key, out, 0);
      payload = out;
    }
    return { fin, rsv, opcode, payload, masked };
  }
}

/** Strict UTF-8 validity (no surrogates, no overlongs, nothing above U+10FFFF). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Close payload: 2-byte code + UTF-8 reason (a reason as raw bytes is allowed, to send invalid ones). */
export function closePayload(code: number | null, reason: string | Uint8Array = ""): Buffer {
  if (code === null) return Buffer.alloc(0);
  const r = typeof reason === "string" ? Buffer.from(reason, "utf8") : Buffer.from(reason);
  const out = Buffer.allocUnsafe(2 + r.length);
  out.writeUInt16BE(code & 0xffff, 0);
  r.copy(out, 2);
  return out;
}
