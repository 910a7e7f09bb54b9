/**
 * The frame protocol (wsproto's `FrameProtocol` + `MessageDecoder`): turns
 * frame pieces into events (fragmentation rules, incremental UTF-8, close
 * payloads, limits, extension hooks) and events into frames.
 *
 * Invariants:
 * - After a protocol violation or a received close, the parser is dead for
 *   good: it drops buffered and later bytes and produces nothing more.
 * - Extension hooks are called as wsproto calls them: inbound in list order
 *   (`frameInboundHeader` once per frame header, `frameInboundPayloadData` for
 *   every payload piece, control frames too, `frameInboundComplete` when a
 *   frame's payload is complete, its bytes appended), outbound in reverse
 *   list order for every frame (`frameOutbound`). A hook returning a number
 *   fails the connection with that close code ("error in extension", as
 *   wsproto says; a 1009 says which limit instead, see `#hookFailed`).
 * - Sending validates everything before anything changes: a refused send
 *   leaves the outbound message state as it was and draws no random bytes.
 * @module
 */
import { LocalProtocolError } from "../errors.ts";
import * as events from "../events.ts";
import { NO_RSV, type Extension, type FrameProtocolView, type RsvBits } from "../extensions/extension.ts";
import * as frame from "./frame.ts";
import { FrameReader, ParseFailed, type FramePiece, type FrameReaderHooks } from "./frame.ts";
import type { ResolvedConnectionOptions } from "../options.ts";
import type { MaskFunction } from "../bytes/mask.ts";
import { CloseReason, LOCAL_ONLY_CLOSE_CODES, Opcode, isKnownCloseReason, type RandomSource } from "../types.ts";
import { MAX_CLOSE_CODE, MAX_CLOSE_REASON_BYTES, MAX_PROTOCOL_CLOSE_CODE, MIN_CLOSE_CODE, isSendableCloseCode } from "../close-codes.ts";
import * as utf8 from "../bytes/utf8.ts";
import { Utf8StreamDecoder, decodeUtf8, truncateUtf8 } from "../bytes/utf8.ts";

/**
 * The events a frame protocol produces from received bytes.
 * @example
 * ```ts
 * const event: ReceivedEvent | null = proto.nextEvent();
 * ```
 */
export type ReceivedEvent = TextMessage | BytesMessage | Ping | Pong | CloseConnection;

// Names used per frame or per event, bound once to module-local constants:
// some loaders (tsx, CommonJS interop of bundlers) compile every use of an
// imported name into a getter call, which shows in the per-frame cost.
const { BytesMessage, CloseConnection, Ping, Pong, TextMessage } = events;
type BytesMessage = events.BytesMessage;
type CloseConnection = events.CloseConnection;
type Ping = events.Ping;
type Pong = events.Pong;
type TextMessage = events.TextMessage;
const { buildFrame, buildFrameHeader, buildUnmaskedFrame } = frame;
const { encodeUtf8, encodeUtf8Transient, isWellFormed } = utf8;
const FIN_BIT = 0x80;
/** RFC 6455 §5.5: control frame payloads are 125 bytes or less. */
const MAX_PAYLOAD_NORMAL = 125;

const EMPTY: Uint8Array = new Uint8Array(0);
// Module-local opcode literals for the hot paths (see frame.ts).
const OP_CONTINUATION = 0;
const OP_TEXT = 1;
const OP_BINARY = 2;
const OP_CLOSE = 8;
const OP_PING = 9;
const OP_PONG = 10;
/**
 * Payloads from this size on may be borrowed by {@link FrameProtocol.sendDataParts}
 * rather than copied: below it, copying costs less than a second write.
 */
const BORROW_MIN = 16 * 1024;
/** Masking keys drawn from the random source at a time (64 frames' worth). */
const KEY_POOL_SIZE = 256;
// The masking key of the frame being built and the piece being parsed: both
// live only within one synchronous call (every field of the piece is read
// before any extension hook runs), so one of each serves every connection.
const FRAME_KEY = new Uint8Array(4);
const PIECE: FramePiece = { opcode: OP_CONTINUATION, fin: false, rsv: 0, payload: EMPTY, frameFinished: false };
const RSV1 = 0x40;
const RSV2 = 0x20;
const RSV3 = 0x10;

// The eight RsvBits values, indexed by (byte0 & 0x70) >> 4, so the header hook
// allocates nothing per frame.
const RSV_BITS: readonly RsvBits[] = Array.from({ length: 8 }, (_, i) =>
  Object.freeze({ rsv1: (i & 4) !== 0, rsv2: (i & 2) !== 0, rsv3: (i & 1) !== 0 }),
);

function rsvNumber(bits: RsvBits): number {
  return (bits.rsv1 ? RSV1 : 0) | (bits.rsv2 ? RSV2 : 0) | (bits.rsv3 ? RSV3 : 0);
}

/**
 * One side of a WebSocket's frame layer, below `Connection` (which adds the
 * state machine). Parsing is pull-based: {@link receiveBytes} buffers, and
 * {@link nextEvent} parses one event at a time.
 * @example
 * ```ts
 * const proto = new FrameProtocol(false, [], resolveOptions());
 * proto.receiveBytes(new Uint8Array([0x81, 0x82, 1, 2, 3, 4, 0x69, 0x6b]));
 * proto.nextEvent(); // TextMessage { data: "hi" }
 * ```
 */
export class FrameProtocol implements FrameReaderHooks {
  /** `true` on the client side. */
  readonly client: boolean;
  /** The enabled extensions, in negotiation order. */
  readonly extensions: readonly Extension[];
  readonly #view: FrameProtocolView | null; // what extension hooks see (none without extensions)
  readonly #maxFrameSize: number;
  readonly #maxMessageSize: number;
  readonly #random: RandomSource;
  readonly #reader: FrameReader;
  #dead = false;

  // The message being received: its opcode (0 when none) and bytes so far.
  #inOpcode = 0;
  #inBytes = 0;
  #utf8: Utf8StreamDecoder | null = null; // created at the first text message

  // The message being sent: its opcode (0 when none), and whether it may be compressed.
  #outOpcode = 0;
  #outCompress = true;
  /** A server without extensions: frames go out unmasked and unchanged. */
  readonly #plain: boolean;
  /** Allocates frames too large for the slab (ConnectionOptions.allocate). */
  readonly #allocate: ((size: number) => Uint8Array) | null;
  /** Masks built frames' payloads from 64 bytes on (ConnectionOptions.mask; null: the built-in masking). */
  readonly #mask: MaskFunction | null;
  // Masking keys: drawn KEY_POOL_SIZE bytes at a time, 4 per frame, in
  // stream order (so a deterministic source yields the same keys as drawing
  // 4 bytes per frame would).
  #keys: Uint8Array | null = null; // a client's, created at its first frame
  #keyOffset = KEY_POOL_SIZE;

  constructor(client: boolean, extensions: readonly Extension[], options: ResolvedConnectionOptions) {
    this.client = client;
    this.extensions = extensions;
    this.#maxFrameSize = options.maxFrameSize;
    this.#maxMessageSize = options.maxMessageSize;
    this.#random = options.random;
    this.#plain = !client && extensions.length === 0;
    this.#allocate = options.allocate;
    this.#mask = options.mask;
    const self = this;
    this.#view =
      extensions.length === 0
        ? null
        : Object.freeze({
            client,
            maxMessageSize: options.maxMessageSize,
            get compress(): boolean {
              return self.#outCompress;
            },
          });
    // The reader calls back into this object (no closures per connection).
    this.#reader = new FrameReader(client, this, options);
  }

  /** `true` between the first and the last frame of a message being sent in pieces. */
  get sendingMessage(): boolean {
    return this.#outOpcode !== 0;
  }

  /** The opcode of the next buffered frame not yet parsed, or -1 (see FrameReader.peekOpcode). */
  get nextOpcode(): number {
    return this.#dead ? -1 : this.#reader.peekOpcode();
  }

  /** `true` once a close frame or a violation ended parsing for good. */
  get finished(): boolean {
    return this.#dead;
  }

  /** Keep received bytes (dropped once parsing has ended). The chunk may be unmasked in place. */
  receiveBytes(data: Uint8Array): void {
    if (!this.#dead) this.#reader.push(data);
  }

  /** Copy what is still held of lent chunks (ConnectionOptions.borrowedInput). */
  releaseInput(): void {
    this.#reader.release();
  }

  /**
   * Parse the next event from the buffered bytes, or `null` when more bytes
   * are needed (or parsing has ended). A violation by the peer comes out as a
   * `CloseConnection` with origin `"protocol-error"`, after which parsing ends.
   */
  nextEvent(): ReceivedEvent | null {
    if (this.#dead) return null;
    try {
      return this.#parse();
    } catch (error) {
      if (!(error instanceof ParseFailed)) throw error;
      this.#die();
      return new CloseConnection({ code: error.closeCode, reason: error.message, origin: "protocol-error" });
    }
  }

  #die(): void {
    this.#dead = true;
    this.#reader.clear();
  }

  #parse(): ReceivedEvent | null {
    const piece = PIECE;
    if (!this.#reader.next(piece)) return null;
    let payload = piece.payload;
    const { opcode, frameFinished, fin } = piece;
    piece.payload = EMPTY; // the shared piece must not keep a received chunk alive
    const exts = this.extensions;
    if (exts.length !== 0) payload = this.#inboundHooks(exts, payload, frameFinished, fin);
    switch (opcode) {
      case OP_PING:
        return new Ping({ payload });
      case OP_PONG:
        return new Pong({ payload });
      case OP_CLOSE:
        return this.#receiveClose(payload);
      default:
        return this.#receiveData(opcode, payload, frameFinished, fin);
    }
  }

  #inboundHooks(exts: readonly Extension[], payload: Uint8Array, finished: boolean, fin: boolean): Uint8Array {
    const view = this.#view!;
    for (const ext of exts) {
      const result = guard(() => ext.frameInboundPayloadData(view, payload));
      if (typeof result === "number") throw this.#hookFailed(ext, result);
      payload = result;
    }
    if (finished) {
      for (const ext of exts) {
        const result = guard(() => ext.frameInboundComplete(view, fin));
        if (typeof result === "number") throw this.#hookFailed(ext, result);
        if (result !== null && result.length !== 0) payload = concat(payload, result);
      }
    }
    return payload;
  }

  /**
   * The reader's header hook (wsproto check 5): the extensions claim RSV
   * bits; an unclaimed set bit fails. @internal
   */
  validateHeader(opcode: Opcode, rsv: number, length: number): void {
    const exts = this.extensions;
    let claimed = 0;
    if (exts.length !== 0) {
      const bits = RSV_BITS[rsv >> 4]!;
      const view = this.#view!;
      for (const ext of exts) {
        const result = guard(() => ext.frameInboundHeader(view, opcode, bits, length));
        if (typeof result === "number") throw this.#hookFailed(ext, result);
        claimed |= rsvNumber(result);
      }
    }
    // RFC 6455 §5.2: a nonzero RSV bit not defined by a negotiated extension MUST fail the connection.
    if ((rsv & ~claimed) !== 0) throw new ParseFailed("Reserved bit set unexpectedly");
  }

  /** The reader's limits hook, decided from the header before any payload is read. @internal */
  admitFrame(opcode: Opcode, length: number): void {
    // Lengths past 2^53 cannot be counted exactly in a JS number: refused even without a limit.
    if (length > Number.MAX_SAFE_INTEGER) {
      throw new ParseFailed(`Frame payload of more than ${Number.MAX_SAFE_INTEGER} bytes`, CloseReason.MESSAGE_TOO_BIG);
    }
    if (length > this.#maxFrameSize) {
      throw new ParseFailed(
        `Frame payload of ${length} bytes exceeds maxFrameSize (${this.#maxFrameSize})`,
        CloseReason.MESSAGE_TOO_BIG,
      );
    }
    // Without extensions a frame's payload is message data as is, so an
    // oversized message is refused from this header already. (With them, the
    // size after the transforms is counted as pieces arrive.)
    if (opcode < 8 && this.extensions.length === 0) {
      let total = -1;
      if (opcode === OP_CONTINUATION) {
        if (this.#inOpcode !== 0) total = this.#inBytes + length;
      } else if (this.#inOpcode === 0) {
        total = length;
      }
      if (total > this.#maxMessageSize) throw this.#tooBig(total);
    }
  }

  /**
   * The failure for a hook that returned `code`. The reason is sent to the
   * peer: a 1009 (permessage-deflate inflating past the limit) names the
   * limit; other codes keep wsproto's "error in extension".
   */
  #hookFailed(ext: Extension, code: number): ParseFailed {
    if (code === CloseReason.MESSAGE_TOO_BIG) {
      return new ParseFailed(
        `Message exceeds maxMessageSize (${this.#maxMessageSize}) once decoded by ${ext.name}`,
        CloseReason.MESSAGE_TOO_BIG,
      );
    }
    return new ParseFailed("error in extension", code);
  }

  #tooBig(total: number): ParseFailed {
    return new ParseFailed(
      `Message of ${total} bytes exceeds maxMessageSize (${this.#maxMessageSize})`,
      CloseReason.MESSAGE_TOO_BIG,
    );
  }

  /** The message assembler (wsproto's MessageDecoder). */
  #receiveData(opcode: Opcode, payload: Uint8Array, frameFinished: boolean, fin: boolean): TextMessage | BytesMessage {
    // RFC 6455 §5.4: a fragmented message is one TEXT/BINARY frame then CONTINUATION frames.
    if (this.#inOpcode === 0) {
      if (opcode === OP_CONTINUATION) throw new ParseFailed("unexpected CONTINUATION");
      this.#inOpcode = opcode;
    } else if (opcode !== OP_CONTINUATION) {
      throw new ParseFailed(`expected CONTINUATION, got <Opcode.${opcode === OP_TEXT ? "TEXT" : "BINARY"}: ${opcode}>`);
    }
    const messageFinished = frameFinished && fin;
    const total = this.#inBytes + payload.length;
    if (total > this.#maxMessageSize) throw this.#tooBig(total);
    let event: TextMessage | BytesMessage;
    if (this.#inOpcode === OP_TEXT) {
      const text = (this.#utf8 ??= new Utf8StreamDecoder()).decode(payload, messageFinished);
      // RFC 6455 §8.1: invalid UTF-8 in a text message MUST fail the connection (1007).
      if (text === null) throw new ParseFailed("Invalid UTF-8 in TEXT message", CloseReason.INVALID_FRAME_PAYLOAD_DATA);
      event = new TextMessage({ data: text, frameFinished, messageFinished });
    } else {
      event = new BytesMessage({ data: payload, frameFinished, messageFinished });
    }
    if (messageFinished) {
      this.#inOpcode = 0;
      this.#inBytes = 0;
    } else {
      this.#inBytes = total;
    }
    return event;
  }

  /** RFC 6455 §5.5.1 / §7.4: validate a received close payload (spec §4.8 table). */
  #receiveClose(payload: Uint8Array): CloseConnection {
    let code: number = CloseReason.NO_STATUS_RCVD;
    let reason = "";
    if (payload.length === 1) throw new ParseFailed("CLOSE with 1 byte payload");
    if (payload.length >= 2) {
      code = (payload[0]! << 8) | payload[1]!;
      if (code < MIN_CLOSE_CODE || code > MAX_CLOSE_CODE) throw new ParseFailed("CLOSE with invalid code");
      if (LOCAL_ONLY_CLOSE_CODES.has(code)) throw new ParseFailed("remote CLOSE with local-only reason");
      if (code <= MAX_PROTOCOL_CLOSE_CODE && !isKnownCloseReason(code)) {
        throw new ParseFailed("CLOSE with unknown reserved code");
      }
      const text = decodeUtf8(payload.subarray(2));
      // RFC 6455 §5.5.1: the close reason is UTF-8; invalid data fails with 1007.
      if (text === null) {
        throw new ParseFailed("Error decoding CLOSE reason: invalid UTF-8", CloseReason.INVALID_FRAME_PAYLOAD_DATA);
      }
      reason = text;
    }
    // RFC 6455 §5.5.1: nothing follows a close frame; parsing ends here.
    this.#die();
    return new CloseConnection({ code, reason, origin: "remote" });
  }

  // ---- sending ----------------------------------------------------------

  /**
   * Frame (part of) a message: TEXT for a string, BINARY for bytes; a
   * non-final part leaves the message open and the next part goes out as
   * CONTINUATION. `compress: false` (read at a message's first frame) asks
   * the extensions to leave this message uncompressed.
   */
  sendData(data: unknown, fin: boolean, compress = true): Uint8Array {
    // The common case first: a server's binary frame without extensions,
    // not inside a fragmented message (the general path below does the same;
    // without extensions `compress` means nothing).
    if (this.#plain && this.#outOpcode === 0 && data instanceof Uint8Array) {
      const bytes = buildUnmaskedFrame(fin ? FIN_BIT | OP_BINARY : OP_BINARY, data, this.#allocate);
      if (!fin) this.#outOpcode = OP_BINARY;
      return bytes;
    }
    return this.#sendData(data, fin, compress);
  }

  #sendData(data: unknown, fin: boolean, compress: boolean): Uint8Array {
    let opcode: number;
    if (typeof data === "string") {
      opcode = OP_TEXT;
      if (!isWellFormed(data)) {
        throw new LocalProtocolError("Text contains a lone surrogate (not encodable as UTF-8)", "WS_ERR_INVALID_UTF16");
      }
    } else if (data instanceof Uint8Array) {
      opcode = OP_BINARY;
    } else {
      throw new LocalProtocolError("Must provide bytes or text", "WS_ERR_INVALID_DATA_TYPE");
    }
    let frameOpcode = opcode;
    if (this.#outOpcode !== 0) {
      if (this.#outOpcode !== opcode) {
        throw new LocalProtocolError("Data type mismatch inside message", "WS_ERR_DATA_TYPE_MISMATCH");
      }
      frameOpcode = OP_CONTINUATION;
    } else {
      this.#outCompress = compress !== false;
    }
    // Without extensions the encoded text is copied into the frame at once, so
    // it can live in a scratch buffer; extension hooks get bytes of their own.
    const payload =
      typeof data !== "string"
        ? (data as Uint8Array)
        : this.extensions.length === 0
          ? encodeUtf8Transient(data)
          : encodeUtf8(data);
    const bytes = this.#serialize(frameOpcode, payload, fin);
    this.#outOpcode = fin ? 0 : opcode;
    return bytes;
  }

  /**
   * As {@link sendData}, as a list of parts to write in order. A binary
   * payload of at least {@link BORROW_MIN} bytes that goes out unchanged (a
   * server's frame, no extension) is not copied: the parts are the frame
   * header and `data` itself.
   */
  sendDataParts(data: unknown, fin: boolean, compress = true): Uint8Array[] {
    if (this.client || this.extensions.length !== 0 || !(data instanceof Uint8Array) || data.length < BORROW_MIN) {
      return [this.sendData(data, fin, compress)];
    }
    let frameOpcode = OP_BINARY;
    if (this.#outOpcode !== 0) {
      if (this.#outOpcode !== OP_BINARY) {
        throw new LocalProtocolError("Data type mismatch inside message", "WS_ERR_DATA_TYPE_MISMATCH");
      }
      frameOpcode = OP_CONTINUATION;
    }
    const header = buildFrameHeader((fin ? FIN_BIT : 0) | frameOpcode, data.length);
    this.#outOpcode = fin ? 0 : OP_BINARY;
    return [header, data];
  }

  /** Frame a ping. */
  ping(payload: unknown): Uint8Array {
    return this.#serialize(OP_PING, controlPayload(payload), true);
  }

  /** Frame a pong. */
  pong(payload: unknown): Uint8Array {
    return this.#serialize(OP_PONG, controlPayload(payload), true);
  }

  /**
   * Frame a close: code 1005 (no status) means an empty payload; any other
   * code must be one a peer may receive; the reason is cut to 123 UTF-8 bytes
   * at a character boundary.
   */
  close(code: unknown, reason: unknown): Uint8Array {
    if (reason !== null && reason !== undefined && typeof reason !== "string") {
      throw new LocalProtocolError("Close reason must be a string or null", "WS_ERR_INVALID_CLOSE_REASON");
    }
    if (code === CloseReason.NO_STATUS_RCVD) {
      // RFC 6455 §5.5.1: a reason may only follow a status code.
      if (reason) {
        throw new LocalProtocolError("cannot specify a reason without a code", "WS_ERR_CLOSE_REASON_WITHOUT_CODE");
      }
      return this.#serialize(OP_CLOSE, EMPTY, true);
    }
    if (typeof code !== "number" || !isSendableCloseCode(code)) {
      // RFC 6455 §7.4.1: 1005, 1006 and 1015 MUST NOT be set in a close frame;
      // reserved and out-of-range codes would make the peer fail the connection.
      throw new LocalProtocolError(`Invalid close code to send: ${String(code)}`, "WS_ERR_INVALID_CLOSE_CODE");
    }
    let reasonBytes = EMPTY;
    if (reason) {
      if (!isWellFormed(reason)) {
        throw new LocalProtocolError("Close reason contains a lone surrogate", "WS_ERR_INVALID_UTF16");
      }
      reasonBytes = truncateUtf8(encodeUtf8(reason), MAX_CLOSE_REASON_BYTES);
    }
    const payload = new Uint8Array(2 + reasonBytes.length);
    payload[0] = code >>> 8;
    payload[1] = code & 0xff;
    payload.set(reasonBytes, 2);
    return this.#serialize(OP_CLOSE, payload, true);
  }

  #serialize(opcode: number, payload: Uint8Array, fin: boolean): Uint8Array {
    const control = opcode >= 8;
    // RFC 6455 §5.5: control frame payloads are 125 bytes or less.
    if (control && payload.length > MAX_PAYLOAD_NORMAL) throw controlTooLong();
    let rsv = NO_RSV;
    const exts = this.extensions;
    for (let i = exts.length - 1; i >= 0; i--) {
      [rsv, payload] = exts[i]!.frameOutbound(this.#view!, opcode as Opcode, rsv, payload, fin);
    }
    if (control && payload.length > MAX_PAYLOAD_NORMAL) throw controlTooLong();
    const firstByte = (fin ? FIN_BIT : 0) | (exts.length === 0 ? 0 : rsvNumber(rsv)) | opcode;
    if (!this.client) return buildFrame(firstByte, payload, null, this.#allocate);
    // RFC 6455 §5.3: a fresh, unpredictable masking key for every frame.
    let keys = this.#keys;
    if (keys === null || this.#keyOffset === KEY_POOL_SIZE) {
      keys = this.#keys ??= new Uint8Array(KEY_POOL_SIZE);
      this.#random(keys);
      this.#keyOffset = 0;
    }
    const key = FRAME_KEY;
    const o = this.#keyOffset;
    key[0] = keys[o]!;
    key[1] = keys[o + 1]!;
    key[2] = keys[o + 2]!;
    key[3] = keys[o + 3]!;
    this.#keyOffset = o + 4;
    return buildFrame(firstByte, payload, key, this.#allocate, this.#mask);
  }
}

function controlTooLong(): LocalProtocolError {
  return new LocalProtocolError("payload too long for control frame", "WS_ERR_CONTROL_PAYLOAD_TOO_LONG");
}

function controlPayload(payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  throw new LocalProtocolError("Ping and Pong payloads must be a Uint8Array", "WS_ERR_INVALID_DATA_TYPE");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Run an inbound extension hook; an exception escaping it (a bug or a codec
 * failure) fails the connection with 1011 instead of escaping `events()`.
 */
function guard<T>(hook: () => T): T {
  try {
    return hook();
  } catch (error) {
    if (error instanceof ParseFailed) throw error;
    const detail = error instanceof Error ? `: ${error.message}` : "";
    throw new ParseFailed(`error in extension${detail}`, CloseReason.INTERNAL_ERROR);
  }
}
