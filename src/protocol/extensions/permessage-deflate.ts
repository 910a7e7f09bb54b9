/**
 * `PerMessageDeflate` (RFC 7692): the extension object, and how each message
 * is compressed and inflated. Its parameters (options, offer, accept,
 * finalize) are computed in `pmd-params.ts`; released compressors are
 * pooled in `deflate-pool.ts`.
 *
 * Invariants:
 * - The configured object is never negotiated: the handshake negotiates on a
 *   {@link PerMessageDeflate.fork}, and the negotiated parameters live apart
 *   from the configuration, so a declined offer leaves no trace.
 * - Every window this side inflates with was agreed in the handshake (or is
 *   larger than the peer may use); every window it deflates with is one the
 *   peer agreed to.
 * - Whether a message is compressed is decided at its first frame, before
 *   any byte is compressed, and latched for its continuation frames; control
 *   frames in between never touch that state (RFC 7692 §6.1 keeps them
 *   uncompressed).
 * - Inflated output per message is bounded by the connection's
 *   `maxMessageSize`: inflation stops as soon as the limit is passed (1009).
 * - Compression state is allocated on the first compressed message, not at
 *   negotiation. Between messages a connection holds only the state a peer
 *   may still refer to: the inflater under the peer's context takeover, the
 *   deflater only with the `"high"` memory preset under ours. Released
 *   state goes back (reset) to a small module-level pool per codec and
 *   parameters, so a busy server reuses a few compressors instead of
 *   allocating one per message (see {@link PerMessageDeflateOptions.memory}).
 * @module
 */
import { LocalProtocolError } from "../errors.ts";
import { CloseReason, Opcode } from "../types.ts";
import { Extension, type CloseCode, type FrameProtocolView, type RsvBits } from "./extension.ts";
import type { DeflateCodec, Deflater, DeflaterOptions, Inflater } from "./deflate-codec.ts";
import { giveBackDeflater, giveBackInflater, takeDeflater, takeInflater } from "./deflate-pool.ts";
import {
  DEFAULT_WINDOW_BITS,
  HISTORY_BYTES,
  MIN_DEFLATE_WINDOW_BITS,
  PMD_NAME,
  acceptOffer,
  finalizeResponse,
  offerParams,
  resolveConfig,
  type Agreed,
  type Config,
  type PerMessageDeflateOptions,
} from "./pmd-params.ts";

const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const CLAIM_RSV1: RsvBits = Object.freeze({ rsv1: true, rsv2: false, rsv3: false });

/**
 * The permessage-deflate extension (RFC 7692), synchronous, on pako by
 * default. Pass one configured instance to a client `Request` or a server
 * `AcceptConnection`; each connection negotiates on its own fork.
 * @example
 * ```ts
 * import { PerMessageDeflate, Request, WSConnection, ConnectionType } from "wsproto";
 * const ws = new WSConnection(ConnectionType.CLIENT);
 * const pmd = new PerMessageDeflate({ serverNoContextTakeover: true, threshold: 64 });
 * const bytes = ws.send(new Request({ host: "example.com", target: "/", extensions: [pmd] }));
 * ```
 */
export class PerMessageDeflate extends Extension {
  /** The token of this extension in `Sec-WebSocket-Extensions`. */
  static readonly NAME = PMD_NAME;
  /** wsproto's defaults for both window sizes. */
  static readonly DEFAULT_CLIENT_MAX_WINDOW_BITS = DEFAULT_WINDOW_BITS;
  static readonly DEFAULT_SERVER_MAX_WINDOW_BITS = DEFAULT_WINDOW_BITS;

  readonly name = PerMessageDeflate.NAME;

  #options: PerMessageDeflateOptions;
  #config: Config;
  #agreed: Agreed | null = null;

  #deflater: Deflater | null = null;
  /** The parameters #deflater was made with (its pool key). */
  #deflaterOptions: DeflaterOptions | null = null;
  #inflater: Inflater | null = null;
  /** The window #inflater was made with (its pool key). */
  #inflaterBits = 0;
  /** The tail of the compressed messages sent, kept under context takeover when the compressor is released. */
  #history: Uint8Array | null = null;
  /** This negotiation's identity in the compressor pool (see takeDeflater). */
  #poolToken: object = {};
  /** The message being sent is compressed (latched at its first frame). */
  #outCompressed = false;
  /** The message being received is compressed (latched at its first frame). */
  #inCompressed = false;
  /** The frame being received is a data frame of a compressed message. */
  #frameCompressed = false;
  /** The frame being received is a control frame. */
  #frameControl = false;
  /** Bytes inflated so far for the message being received. */
  #inTotal = 0;

  constructor(options: PerMessageDeflateOptions = {}) {
    super();
    this.#options = { ...options };
    this.#config = resolveConfig(this.#options);
  }

  /** Change the configuration (wsproto's validated attribute assignment). */
  #configure(change: PerMessageDeflateOptions): void {
    if (this.#agreed !== null) {
      throw new LocalProtocolError("a negotiated PerMessageDeflate cannot be reconfigured", "WS_ERR_PMD_NEGOTIATED");
    }
    const options = { ...this.#options, ...change };
    this.#config = resolveConfig(options);
    this.#options = options;
  }

  /**
   * Negotiated value if negotiated, else the configured one. Assignable
   * before negotiation, as in wsproto (validated; a `LocalProtocolError`
   * otherwise).
   */
  get clientNoContextTakeover(): boolean {
    return (this.#agreed ?? this.#config).clientNoContextTakeover;
  }
  set clientNoContextTakeover(value: boolean) {
    this.#configure({ clientNoContextTakeover: value });
  }
  /** Negotiated value if negotiated, else the configured one (assignable before negotiation). */
  get serverNoContextTakeover(): boolean {
    return (this.#agreed ?? this.#config).serverNoContextTakeover;
  }
  set serverNoContextTakeover(value: boolean) {
    this.#configure({ serverNoContextTakeover: value });
  }
  /** Window of the client's compressor: negotiated, else configured (assignable before negotiation). */
  get clientMaxWindowBits(): number {
    return (this.#agreed ?? this.#config).clientMaxWindowBits;
  }
  set clientMaxWindowBits(value: number) {
    this.#configure({ clientMaxWindowBits: value });
  }
  /** Window of the server's compressor: negotiated, else configured (assignable before negotiation). */
  get serverMaxWindowBits(): number {
    return (this.#agreed ?? this.#config).serverMaxWindowBits;
  }
  set serverMaxWindowBits(value: number) {
    this.#configure({ serverMaxWindowBits: value });
  }
  /** The zlib compression level. */
  get level(): number {
    return this.#config.level;
  }
  /** The zlib memory level. */
  get memLevel(): number {
    return this.#config.memLevel;
  }
  /** The memory preset (see {@link PerMessageDeflateOptions.memory}). */
  get memory(): "high" | "medium" | "low" {
    return this.#config.memory;
  }
  /** Single-frame messages shorter than this are sent uncompressed. */
  get threshold(): number {
    return this.#config.threshold;
  }
  /** The DEFLATE engine. */
  get codec(): DeflateCodec {
    return this.#config.codec;
  }

  override enabled(): boolean {
    return this.#agreed !== null;
  }

  /**
   * A fresh, unnegotiated copy with the same configuration (of the same
   * class: a subclass whose constructor takes other arguments overrides this).
   */
  override fork(): PerMessageDeflate {
    const Self = this.constructor as new (options: PerMessageDeflateOptions) => PerMessageDeflate;
    return new Self(this.#options);
  }

  /**
   * Client: the offer, as wsproto makes it: both window sizes with values,
   * then the context-takeover flags that are set.
   */
  override offer(): string {
    return offerParams(this.#config);
  }

  /**
   * Server: answer one offer (`"permessage-deflate; params"`). Returns the
   * response parameters (`""` for none) and enables the extension, or `null`
   * to decline. A declined offer leaves an earlier accepted one in force.
   */
  override accept(offer: string): string | null {
    const answer = acceptOffer(this.#config, offer);
    if (answer === null) return null;
    this.#agree(answer.agreed);
    return answer.response;
  }

  /**
   * Client: apply the server's response item. Throws a
   * `RemoteProtocolError` (hint `null`) when RFC 7692 §7 requires the client
   * to fail the connection, or when the response asks for an 8-bit window
   * for our compressor.
   */
  override finalize(response: string): void {
    // What we offered (or would have offered: finalize without offer()
    // behaves as after the default offer).
    this.#agree(finalizeResponse(this.#config, response, this.offer()));
  }

  override frameInboundHeader(
    _proto: FrameProtocolView,
    opcode: Opcode,
    rsv: RsvBits,
    _payloadLength: number,
  ): RsvBits | CloseCode {
    if (opcode & 0x8) {
      // RFC 7692 §6.1: an endpoint MUST NOT set RSV1 on control frames.
      if (rsv.rsv1) return CloseReason.PROTOCOL_ERROR;
      // A control frame between fragments leaves the message's state alone
      // (wsproto 1.2 reset it here: pmd_interleaved_control_bug).
      this.#frameControl = true;
      this.#frameCompressed = false;
      return CLAIM_RSV1;
    }
    this.#frameControl = false;
    if (opcode === Opcode.CONTINUATION) {
      // RFC 7692 §6.1: RSV1 is set on the first frame of a message only.
      if (rsv.rsv1) return CloseReason.PROTOCOL_ERROR;
    } else {
      this.#inCompressed = rsv.rsv1;
      this.#inTotal = 0;
    }
    this.#frameCompressed = this.#inCompressed;
    return CLAIM_RSV1;
  }

  override frameInboundPayloadData(proto: FrameProtocolView, data: Uint8Array): Uint8Array | CloseCode {
    if (!this.#frameCompressed) return data;
    return this.#inflate(proto, data);
  }

  override frameInboundComplete(proto: FrameProtocolView, fin: boolean): Uint8Array | CloseCode | null {
    if (this.#frameControl || !fin) return null;
    if (!this.#frameCompressed) return null;
    this.#frameCompressed = false;
    this.#inCompressed = false;
    // RFC 7692 §7.2.2: append 00 00 ff ff to the payload, then inflate.
    const out = this.#inflate(proto, TAIL);
    const inflater = this.#inflater;
    if (inflater !== null) {
      const agreed = this.#agreedOrThrow();
      const peerNoContextTakeover = proto.client
        ? agreed.serverNoContextTakeover
        : agreed.clientNoContextTakeover;
      // Without the peer's context takeover nothing needs keeping: back to
      // the pool. A message ended by a BFINAL block ends the DEFLATE stream;
      // under context takeover the next one may still refer back into it.
      if (peerNoContextTakeover) this.#releaseInflater();
      else if (inflater.ended) inflater.reset(true);
    }
    return out;
  }

  override frameOutbound(
    proto: FrameProtocolView,
    opcode: Opcode,
    rsv: RsvBits,
    data: Uint8Array,
    fin: boolean,
  ): [RsvBits, Uint8Array] {
    if (opcode & 0x8) return [rsv, data];
    if (opcode !== Opcode.CONTINUATION) {
      // Decide before compressing: a message left uncompressed never enters
      // the compressor, so the peer's window and ours stay identical.
      // A message sent with `compress: false` is never compressed (RFC 7692 §6 lets each message choose).
      this.#outCompressed = proto.compress !== false && !(fin && data.length < this.#config.threshold);
      if (!this.#outCompressed) return [rsv, data];
      // RFC 7692 §6: RSV1 marks the first frame of a compressed message.
      rsv = { rsv1: true, rsv2: rsv.rsv2, rsv3: rsv.rsv3 };
    } else if (!this.#outCompressed) {
      return [rsv, data];
    }
    const agreed = this.#agreedOrThrow();
    let deflater = this.#deflater;
    if (deflater === null) {
      const c = this.#config;
      const options: DeflaterOptions = {
        windowBits: Math.min(proto.client ? agreed.clientMaxWindowBits : agreed.serverMaxWindowBits, c.deflateWindowBits),
        level: c.level,
        memLevel: c.memLevel,
      };
      deflater = this.#deflater = takeDeflater(c.codec, options, this.#poolToken, this.#history);
      this.#deflaterOptions = options;
    }
    let payload: Uint8Array;
    try {
      payload = deflater.compress(data, fin);
    } catch (error) {
      // A failed compressor is not reused.
      this.#deflater = null;
      throw error;
    }
    const noContext = proto.client ? agreed.clientNoContextTakeover : agreed.serverNoContextTakeover;
    // Only bytes that went out enter the history (the peer's window holds exactly those).
    const keep = noContext ? 0 : Math.min(HISTORY_BYTES[this.#config.memory], 1 << this.#deflaterOptions!.windowBits);
    if (keep > 0 && data.length > 0) this.#history = tail(this.#history, data, keep);
    if (fin) {
      this.#outCompressed = false;
      // RFC 7692 §7.1.1: without context takeover every message starts
      // afresh. With it, the "high" preset keeps the whole compressor; the
      // others keep only the tail of what was sent (#history), which primes
      // the next message's compressor (any shorter history is valid for the
      // peer, whose window holds all of it).
      if (noContext || this.#config.memory !== "high") {
        // Without context takeover the next user must start afresh (owner null: reset when taken).
        giveBackDeflater(this.#config.codec, this.#deflaterOptions!, deflater, noContext ? null : this.#poolToken);
        this.#deflater = null;
      }
    }
    return [rsv, payload];
  }

  /** wsproto's repr. */
  override toString(): string {
    const descr = [`client_max_window_bits=${this.clientMaxWindowBits}`];
    if (this.clientNoContextTakeover) descr.push("client_no_context_takeover");
    descr.push(`server_max_window_bits=${this.serverMaxWindowBits}`);
    if (this.serverNoContextTakeover) descr.push("server_no_context_takeover");
    return `<PerMessageDeflate ${descr.join("; ")}>`;
  }

  #agree(agreed: Agreed): void {
    this.#agreed = agreed;
    // A renegotiation (the server answering a later offer) starts afresh.
    this.#deflater = null;
    this.#inflater = null;
    this.#history = null;
    this.#poolToken = {};
  }

  /** Give the decompressor back to the pool (reset); the next compressed message takes one. */
  #releaseInflater(): void {
    const inflater = this.#inflater;
    if (inflater === null) return;
    this.#inflater = null;
    giveBackInflater(this.#config.codec, this.#inflaterBits, inflater);
  }

  #agreedOrThrow(): Agreed {
    if (this.#agreed === null) {
      throw new LocalProtocolError("permessage-deflate used before it was negotiated", "WS_ERR_PMD_NOT_NEGOTIATED");
    }
    return this.#agreed;
  }

  #inflate(proto: FrameProtocolView, data: Uint8Array): Uint8Array | CloseCode {
    let inflater = this.#inflater;
    if (inflater === null) {
      const agreed = this.#agreedOrThrow();
      const bits = proto.client ? agreed.serverMaxWindowBits : agreed.clientMaxWindowBits;
      // An agreed 8 is inflated with 9: zlib-based peers (Node, ws) deflate
      // with 9 when asked for 8, and a larger window accepts every stream
      // a smaller one does.
      this.#inflaterBits = Math.max(bits, MIN_DEFLATE_WINDOW_BITS);
      inflater = this.#inflater = takeInflater(this.#config.codec, this.#inflaterBits);
    }
    const out = inflater.inflate(data, proto.maxMessageSize - this.#inTotal);
    if (typeof out === "string") {
      // The connection fails; its decompressor goes back to the pool.
      this.#releaseInflater();
      return out === "too-big" ? CloseReason.MESSAGE_TOO_BIG : CloseReason.INVALID_FRAME_PAYLOAD_DATA;
    }
    this.#inTotal += out.length;
    return out;
  }
}

/**
 * The extensions this library implements, by token (wsproto's
 * `SUPPORTED_EXTENSIONS`).
 * @example
 * ```ts
 * const Ext = SUPPORTED_EXTENSIONS["permessage-deflate"];
 * const pmd = Ext ? new Ext() : null;
 * ```
 */
export const SUPPORTED_EXTENSIONS: Readonly<Record<string, new () => Extension>> = Object.freeze({
  [PerMessageDeflate.NAME]: PerMessageDeflate,
});

/** The last `keep` bytes of `history` followed by `data` (a fresh array). */
function tail(history: Uint8Array | null, data: Uint8Array, keep: number): Uint8Array {
  if (data.length >= keep) return data.slice(data.length - keep);
  const old = history === null ? 0 : Math.min(history.length, keep - data.length);
  const out = new Uint8Array(old + data.length);
  if (old > 0) out.set(history!.subarray(history!.length - old), 0);
  out.set(data, old);
  return out;
}
