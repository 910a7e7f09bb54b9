/**
 * permessage-deflate (RFC 7692): negotiation and per-message compression.
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
import { LocalProtocolError, RemoteProtocolError } from "../errors.ts";
import { CloseReason, Opcode } from "../types.ts";
import { Extension, type CloseCode, type FrameProtocolView, type RsvBits } from "./extension.ts";
import { pakoCodec, type DeflateCodec, type Deflater, type DeflaterOptions, type Inflater } from "./deflate-codec.ts";

/** Options of {@link PerMessageDeflate}. */
export interface PerMessageDeflateOptions {
  /**
   * Ask for (client) or impose (server) a fresh compression context for
   * every message the client sends.
   * @default false
   */
  clientNoContextTakeover?: boolean | undefined;
  /**
   * Largest LZ77 window (base-2 logarithm, 8..15) of the client's
   * compressor. A client offers it; a server uses it to answer an offer
   * that carries `client_max_window_bits`. 8 is allowed only on a server
   * (zlib cannot deflate with a 256-byte window).
   * @default 15
   */
  clientMaxWindowBits?: number | null | undefined;
  /**
   * Ask for (client) or impose (server) a fresh compression context for
   * every message the server sends.
   * @default false
   */
  serverNoContextTakeover?: boolean | undefined;
  /**
   * Largest LZ77 window (base-2 logarithm, 8..15) of the server's
   * compressor: a client asks for it, a server compresses with at most it.
   * A server configured with 8 declines every offer.
   * @default 15
   */
  serverMaxWindowBits?: number | null | undefined;
  /**
   * zlib compression level 0..9.
   * @default 6
   */
  level?: number | undefined;
  /**
   * zlib memory level 1..9 of the compressor (the size of its hash table
   * and pending buffer: 2^(memLevel + 9) bytes together).
   * @default 8, or 5 with the `"low"` memory preset
   */
  memLevel?: number | undefined;
  /**
   * Memory preset: how much compression state a connection keeps between
   * messages (the README has the measured table).
   * - `"high"`: the compressor is kept between messages under context
   *   takeover (like `ws` and zlib's defaults): best ratio on streams of
   *   similar small messages, about 300 KiB per connection that used it.
   * - `"medium"` (default): each message is compressed (2^15 window,
   *   memLevel 8) by a compressor taken from a shared pool and given back
   *   after the message; under context takeover the connection keeps the
   *   last 8 KiB it sent and primes the next message's compressor with them,
   *   so small similar messages still compress against their predecessors.
   *   Between messages a connection holds that history plus the
   *   decompressor the peer's context takeover needs (its window,
   *   2^windowBits bytes, plus about 7 KiB).
   * - `"low"`: as `"medium"` with a 2^12 compression window, memLevel 5
   *   (python websockets' server defaults) and 2 KiB of history, and as a
   *   server it asks a client that offers `client_max_window_bits` to
   *   compress with at most 2^12.
   * @default "medium"
   */
  memory?: "high" | "medium" | "low" | undefined;
  /**
   * Messages sent in one frame with fewer bytes than this go out
   * uncompressed (decided before compressing, so both windows stay in step).
   * @default 0 (compress everything, as wsproto does)
   */
  threshold?: number | undefined;
  /**
   * The DEFLATE engine.
   * @default pakoCodec
   */
  codec?: DeflateCodec | undefined;
}

/** The parameters both sides agreed on in the handshake. */
interface Agreed {
  readonly clientNoContextTakeover: boolean;
  readonly serverNoContextTakeover: boolean;
  /** The client's compressor window. */
  readonly clientMaxWindowBits: number;
  /** The server's compressor window. */
  readonly serverMaxWindowBits: number;
}

interface Config {
  readonly clientNoContextTakeover: boolean;
  readonly serverNoContextTakeover: boolean;
  readonly clientMaxWindowBits: number;
  readonly serverMaxWindowBits: number;
  readonly level: number;
  readonly memLevel: number;
  readonly threshold: number;
  readonly codec: DeflateCodec;
  readonly memory: "high" | "medium" | "low";
  /** The largest window this side compresses with (below the agreed one if smaller). */
  readonly deflateWindowBits: number;
}

/** A parsed `name; param[=value]; ...` item of `Sec-WebSocket-Extensions`. */
interface ExtensionItem {
  readonly name: string;
  readonly params: ReadonlyArray<readonly [string, string | null]>;
}

const DEFAULT_WINDOW_BITS = 15;
/** The `"low"` preset's compression window and the client window its server asks for. */
const LOW_WINDOW_BITS = 12;
/** The `"low"` preset's memLevel. */
const LOW_MEM_LEVEL = 5;
/**
 * Bytes of sent history kept between messages under context takeover by the
 * presets that release their compressor ("medium", "low"): the next
 * message's compressor starts with them as its window.
 */
const HISTORY_BYTES = { high: 0, medium: 8 * 1024, low: 2 * 1024 } as const;
/** Released compressors and decompressors kept per codec and parameters. */
const SPARES_MAX = 4;

// The pools: per codec, per parameter key, released instances, the most
// recently released last. JavaScript runs one call at a time and every use of
// a codec instance is synchronous within one frame or message, so sharing
// them is safe. A released compressor remembers whose context it holds: if
// that connection sends again before anyone else took it, it continues as
// is (no reset, no priming: a busy connection pays nothing for the pool).
interface SpareDeflater {
  readonly deflater: Deflater;
  /** The connection whose context it holds (then it is not reset yet), or null. */
  readonly owner: object | null;
}
const spareDeflaters = new WeakMap<DeflateCodec, Map<string, SpareDeflater[]>>();
const spareInflaters = new WeakMap<DeflateCodec, Map<number, Inflater[]>>();

/**
 * A compressor for `owner`'s next message: its own, still untouched in the
 * pool, as is; else a clean spare, or (pool full) the least recently
 * released one, reset and primed with `history`; else a new one.
 */
function takeDeflater(codec: DeflateCodec, options: DeflaterOptions, owner: object, history: Uint8Array | null): Deflater {
  const list = spareDeflaters.get(codec)?.get(`${options.windowBits}/${options.level}/${options.memLevel}`);
  if (list !== undefined && list.length > 0) {
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i]!.owner === owner) return list.splice(i, 1)[0]!.deflater;
    }
    // Another's: only a clean one, or the least recently released once the
    // pool is full (below that, a few busy connections each keep their own).
    let at = list.findIndex((spare) => spare.owner === null);
    if (at < 0 && list.length >= SPARES_MAX) at = 0;
    if (at >= 0) {
      const spare = list.splice(at, 1)[0]!.deflater;
      spare.reset(history ?? undefined);
      return spare;
    }
  }
  const deflater = codec.createDeflater(options);
  if (history !== null) deflater.reset(history);
  return deflater;
}

/** Release a compressor; `owner` is the connection whose context it still holds (null: none to keep). */
function giveBackDeflater(codec: DeflateCodec, options: DeflaterOptions, deflater: Deflater, owner: object | null): void {
  let byKey = spareDeflaters.get(codec);
  if (byKey === undefined) spareDeflaters.set(codec, (byKey = new Map()));
  const key = `${options.windowBits}/${options.level}/${options.memLevel}`;
  let list = byKey.get(key);
  if (list === undefined) byKey.set(key, (list = []));
  // Full: the least recently released one is dropped (garbage collected).
  if (list.length >= SPARES_MAX) list.shift();
  list.push({ deflater, owner });
}

function takeInflater(codec: DeflateCodec, windowBits: number): Inflater {
  return spareInflaters.get(codec)?.get(windowBits)?.pop() ?? codec.createInflater({ windowBits });
}

function giveBackInflater(codec: DeflateCodec, windowBits: number, inflater: Inflater): void {
  inflater.reset();
  let byBits = spareInflaters.get(codec);
  if (byBits === undefined) spareInflaters.set(codec, (byBits = new Map()));
  let list = byBits.get(windowBits);
  if (list === undefined) byBits.set(windowBits, (list = []));
  if (list.length < SPARES_MAX) list.push(inflater);
}
/** zlib refuses to deflate raw with an 8-bit window (and Node bumps 8 to 9). */
const MIN_DEFLATE_WINDOW_BITS = 9;
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const CLAIM_RSV1: RsvBits = Object.freeze({ rsv1: true, rsv2: false, rsv3: false });
const KNOWN_PARAMS: ReadonlySet<string> = new Set([
  "client_no_context_takeover",
  "server_no_context_takeover",
  "client_max_window_bits",
  "server_max_window_bits",
]);

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
  static readonly NAME = "permessage-deflate";
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
    this.#config = resolve(this.#options);
  }

  /** Change the configuration (wsproto's validated attribute assignment). */
  #configure(change: PerMessageDeflateOptions): void {
    if (this.#agreed !== null) {
      throw new LocalProtocolError("a negotiated PerMessageDeflate cannot be reconfigured", "WS_ERR_PMD_NEGOTIATED");
    }
    const options = { ...this.#options, ...change };
    this.#config = resolve(options);
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
    const c = this.#config;
    if (c.clientMaxWindowBits < MIN_DEFLATE_WINDOW_BITS) {
      throw new LocalProtocolError(
        "clientMaxWindowBits=8 cannot be offered by a client: zlib cannot deflate with a 256-byte window",
        "WS_ERR_PMD_WINDOW_BITS",
      );
    }
    const params = [
      `client_max_window_bits=${c.clientMaxWindowBits}`,
      `server_max_window_bits=${c.serverMaxWindowBits}`,
    ];
    if (c.clientNoContextTakeover) params.push("client_no_context_takeover");
    if (c.serverNoContextTakeover) params.push("server_no_context_takeover");
    return params.join("; ");
  }

  /**
   * Server: answer one offer (`"permessage-deflate; params"`). Returns the
   * response parameters (`""` for none) and enables the extension, or `null`
   * to decline. A declined offer leaves an earlier accepted one in force.
   */
  override accept(offer: string): string | null {
    const item = parseExtensionItem(offer);
    if (item === null || item.name.toLowerCase() !== PerMessageDeflate.NAME) return null;
    // RFC 7692 §7: a server MUST decline an offer with an unknown parameter,
    // an invalid value, or a parameter given twice.
    const params = checkParams(item);
    if (params === null) return null;
    const c = this.#config;

    let clientNoContextTakeover = c.clientNoContextTakeover;
    if (params.has("client_no_context_takeover")) {
      if (params.get("client_no_context_takeover") !== null) return null;
      clientNoContextTakeover = true;
    }
    let serverNoContextTakeover = c.serverNoContextTakeover;
    if (params.has("server_no_context_takeover")) {
      if (params.get("server_no_context_takeover") !== null) return null;
      serverNoContextTakeover = true;
    }

    // RFC 7692 §7.1.2.1: the server answers with the same or a smaller
    // window. Without a value (not allowed by the RFC; wsproto takes it) the
    // configured window is used.
    let serverBits = c.serverMaxWindowBits;
    const serverOffered = params.has("server_max_window_bits");
    if (serverOffered) {
      const raw = params.get("server_max_window_bits") ?? null;
      if (raw !== null) {
        const bits = parseWindowBits(raw);
        if (bits === null) return null;
        serverBits = Math.min(bits, serverBits);
      }
    }
    // We would have to deflate within 256 bytes, which zlib cannot do.
    if (serverBits < MIN_DEFLATE_WINDOW_BITS) return null;

    // RFC 7692 §7.1.2.2: only when the client offered client_max_window_bits
    // may the response limit its window; then it is the configured value,
    // or the client's own smaller value. Otherwise the client compresses
    // with up to 15 bits and the server must inflate with 15 (wsproto
    // inflated with its configured value it never told the client).
    let clientBits = DEFAULT_WINDOW_BITS;
    const clientOffered = params.has("client_max_window_bits");
    if (clientOffered) {
      // The "low" preset keeps the decompressor a client's context takeover needs small.
      clientBits = c.memory === "low" ? Math.min(c.clientMaxWindowBits, LOW_WINDOW_BITS) : c.clientMaxWindowBits;
      const raw = params.get("client_max_window_bits") ?? null;
      if (raw !== null) {
        const bits = parseWindowBits(raw);
        if (bits === null) return null;
        clientBits = Math.min(bits, clientBits);
      }
    }

    const response: string[] = [];
    if (clientNoContextTakeover) response.push("client_no_context_takeover");
    if (serverNoContextTakeover) response.push("server_no_context_takeover");
    if (clientOffered) response.push(`client_max_window_bits=${clientBits}`);
    if (serverOffered) response.push(`server_max_window_bits=${serverBits}`);
    this.#agree({
      clientNoContextTakeover,
      serverNoContextTakeover,
      clientMaxWindowBits: clientBits,
      serverMaxWindowBits: serverBits,
    });
    return response.join("; ");
  }

  /**
   * Client: apply the server's response item. Throws a
   * `RemoteProtocolError` (hint `null`) when RFC 7692 §7 requires the client
   * to fail the connection, or when the response asks for an 8-bit window
   * for our compressor.
   */
  override finalize(response: string): void {
    const item = parseExtensionItem(response);
    if (item === null) fail(`malformed permessage-deflate response: ${JSON.stringify(response)}`);
    if (item.name.toLowerCase() !== PerMessageDeflate.NAME) {
      fail(`expected a permessage-deflate response, got ${JSON.stringify(item.name)}`);
    }
    const params = checkParams(item);
    if (params === null) {
      fail(`permessage-deflate response has an unknown or repeated parameter: ${JSON.stringify(response)}`);
    }
    // What we offered (or would have offered: finalize without offer()
    // behaves as after the default offer).
    const offer = this.offer();
    const offered = typeof offer === "string" && offer !== "" ? parseExtensionItem(`x; ${offer}`) : null;
    const offeredParams = new Map(offered?.params ?? []);
    const c = this.#config;

    for (const name of ["client_no_context_takeover", "server_no_context_takeover"]) {
      if (params.has(name) && params.get(name) !== null) fail(`${name} must not have a value`);
    }
    // RFC 7692 §7.1.1: the server may impose either flag even if not offered.
    const clientNoContextTakeover = c.clientNoContextTakeover || params.has("client_no_context_takeover");
    const serverNoContextTakeover = params.has("server_no_context_takeover");

    // RFC 7692 §7.1.2.1: the response carries the server's window with a
    // value no larger than the one offered. Absent, the server may use 15.
    let serverBits = DEFAULT_WINDOW_BITS;
    if (params.has("server_max_window_bits")) {
      const bits = parseWindowBits(params.get("server_max_window_bits") ?? null);
      if (bits === null) fail("server_max_window_bits needs a value from 8 to 15");
      const limit = parseWindowBits(offeredParams.get("server_max_window_bits") ?? null);
      if (limit !== null && bits > limit) {
        fail(`server_max_window_bits=${bits} is larger than the ${limit} offered`);
      }
      serverBits = bits;
    }

    // RFC 7692 §7.1.2.2: client_max_window_bits in a response needs a value
    // and is only allowed if the client offered the parameter.
    let clientBits = c.clientMaxWindowBits;
    if (params.has("client_max_window_bits")) {
      if (!offeredParams.has("client_max_window_bits")) {
        fail("client_max_window_bits in the response, but the client did not offer it");
      }
      const bits = parseWindowBits(params.get("client_max_window_bits") ?? null);
      if (bits === null) fail("client_max_window_bits needs a value from 8 to 15");
      if (bits < MIN_DEFLATE_WINDOW_BITS) {
        fail("client_max_window_bits=8 cannot be honoured: zlib cannot deflate with a 256-byte window");
      }
      clientBits = Math.min(bits, clientBits);
    }

    this.#agree({
      clientNoContextTakeover,
      serverNoContextTakeover,
      clientMaxWindowBits: clientBits,
      serverMaxWindowBits: serverBits,
    });
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

function resolve(options: PerMessageDeflateOptions): Config {
  const memory = options.memory ?? "medium";
  if (memory !== "high" && memory !== "medium" && memory !== "low") invalid("memory", memory, '"high", "medium" or "low"');
  const low = memory === "low";
  return {
    memory,
    deflateWindowBits: low ? LOW_WINDOW_BITS : DEFAULT_WINDOW_BITS,
    clientNoContextTakeover: flag(options.clientNoContextTakeover, "clientNoContextTakeover"),
    serverNoContextTakeover: flag(options.serverNoContextTakeover, "serverNoContextTakeover"),
    clientMaxWindowBits: windowBits(options.clientMaxWindowBits, "clientMaxWindowBits"),
    serverMaxWindowBits: windowBits(options.serverMaxWindowBits, "serverMaxWindowBits"),
    level: integer(options.level, 6, 0, 9, "level"),
    memLevel: integer(options.memLevel, low ? LOW_MEM_LEVEL : 8, 1, 9, "memLevel"),
    threshold: threshold(options.threshold),
    codec: options.codec ?? pakoCodec,
  };
}

function fail(message: string): never {
  throw new RemoteProtocolError(message, null, "WS_ERR_PMD_NEGOTIATION");
}

/** Parameters as a map, or `null` if one is unknown or repeated. */
function checkParams(item: ExtensionItem): Map<string, string | null> | null {
  const map = new Map<string, string | null>();
  for (const [name, value] of item.params) {
    const key = name.toLowerCase();
    if (!KNOWN_PARAMS.has(key) || map.has(key)) return null;
    map.set(key, value);
  }
  return map;
}

/**
 * RFC 7692 §7.1.2: a window size is a decimal integer without leading zeros
 * from 8 to 15 (quoted or not; the quotes are already removed).
 */
function parseWindowBits(value: string | null): number | null {
  if (value === null || !/^(?:[89]|1[0-5])$/.test(value)) return null;
  return Number(value);
}

// RFC 7230 §3.2.6 tchar.
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parse one `Sec-WebSocket-Extensions` item (RFC 6455 §9.1):
 * `token *( OWS ";" OWS token [ OWS "=" OWS ( token / quoted-string ) ] ) OWS`.
 * Returns `null` for anything else. Quoted values come back unquoted.
 * @example
 * ```ts
 * parseExtensionItem('permessage-deflate; client_max_window_bits="10"');
 * // { name: "permessage-deflate", params: [["client_max_window_bits", "10"]] }
 * ```
 */
export function parseExtensionItem(text: string): ExtensionItem | null {
  let i = 0;
  const n = text.length;
  const ows = (): void => {
    while (i < n && (text[i] === " " || text[i] === "\t")) i++;
  };
  const token = (): string | null => {
    const start = i;
    while (i < n && TCHAR.test(text[i]!)) i++;
    return i > start ? text.slice(start, i) : null;
  };
  const quoted = (): string | null => {
    // RFC 7230 §3.2.6 quoted-string with quoted-pair.
    i++;
    let out = "";
    while (i < n) {
      const ch = text[i]!;
      if (ch === '"') {
        i++;
        return out;
      }
      if (ch === "\\") {
        if (i + 1 >= n) return null;
        out += text[i + 1];
        i += 2;
        continue;
      }
      const code = ch.charCodeAt(0);
      if ((code < 0x20 && ch !== "\t") || code === 0x7f || code > 0xff) return null;
      out += ch;
      i++;
    }
    return null;
  };
  ows();
  const name = token();
  if (name === null) return null;
  const params: Array<[string, string | null]> = [];
  ows();
  while (i < n) {
    if (text[i] !== ";") return null;
    i++;
    ows();
    const key = token();
    if (key === null) return null;
    ows();
    let value: string | null = null;
    if (text[i] === "=") {
      i++;
      ows();
      value = text[i] === '"' ? quoted() : token();
      if (value === null) return null;
      ows();
    }
    params.push([key, value]);
  }
  return { name, params };
}

function flag(value: boolean | undefined, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") invalid(name, value, "a boolean");
  return value;
}

function windowBits(value: number | null | undefined, name: string): number {
  if (value === undefined || value === null) return DEFAULT_WINDOW_BITS;
  if (!Number.isInteger(value) || value < 8 || value > 15) invalid(name, value, "an integer from 8 to 15");
  return value;
}

function integer(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) invalid(name, value, `an integer from ${min} to ${max}`);
  return value;
}

function threshold(value: number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !(value >= 0)) invalid("threshold", value, "a non-negative number");
  return value;
}

function invalid(name: string, value: unknown, what: string): never {
  throw new LocalProtocolError(
    `PerMessageDeflate option ${name} must be ${what}, got ${String(value)}`,
    "WS_ERR_INVALID_OPTION",
  );
}
