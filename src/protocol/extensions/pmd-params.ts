/**
 * permessage-deflate's parameters (RFC 7692 §7): the options as configured
 * and validated, the offer a client makes, a server's answer to an offer,
 * and a client's check of that answer. Pure functions over a resolved
 * {@link Config}; `PerMessageDeflate` keeps the result (`Agreed`) and does
 * the compression.
 *
 * Invariants:
 * - Nothing here allocates compression state or changes a configuration:
 *   a declined offer leaves no trace.
 * - A server declines (returns `null`) every offer RFC 7692 §7 says it
 *   MUST decline; a client fails (a `RemoteProtocolError`,
 *   `WS_ERR_PMD_NEGOTIATION`, hint `null`) every response it says to fail.
 * - No agreed window makes this side deflate with 8 bits (zlib cannot).
 * @module
 */
import { LocalProtocolError, ProtocolError, RemoteProtocolError } from "../errors.ts";
import { parseExtensionItem, type ExtensionItem } from "../http/headers.ts";
import type { DeflateCodec } from "./deflate-codec.ts";
import { pakoCodec } from "./pako-codec.ts";

/** The token of this extension in `Sec-WebSocket-Extensions`. */
export const PMD_NAME = "permessage-deflate";

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
export interface Agreed {
  readonly clientNoContextTakeover: boolean;
  readonly serverNoContextTakeover: boolean;
  /** The client's compressor window. */
  readonly clientMaxWindowBits: number;
  /** The server's compressor window. */
  readonly serverMaxWindowBits: number;
}

/** The configuration, validated and with its defaults. */
export interface Config {
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

export const DEFAULT_WINDOW_BITS = 15;
/** The `"low"` preset's compression window and the client window its server asks for. */
const LOW_WINDOW_BITS = 12;
/** The `"low"` preset's memLevel. */
const LOW_MEM_LEVEL = 5;
/**
 * Bytes of sent history kept between messages under context takeover by the
 * presets that release their compressor ("medium", "low"): the next
 * message's compressor starts with them as its window.
 */
export const HISTORY_BYTES = { high: 0, medium: 8 * 1024, low: 2 * 1024 } as const;
/** zlib refuses to deflate raw with an 8-bit window (and Node bumps 8 to 9). */
export const MIN_DEFLATE_WINDOW_BITS = 9;
const KNOWN_PARAMS: ReadonlySet<string> = new Set([
  "client_no_context_takeover",
  "server_no_context_takeover",
  "client_max_window_bits",
  "server_max_window_bits",
]);

/**
 * Client: the offer's parameters, as wsproto makes it: both window sizes
 * with values, then the context-takeover flags that are set.
 * @throws LocalProtocolError (`WS_ERR_PMD_WINDOW_BITS`) for a client window of 8.
 * @example
 * ```ts
 * offerParams(resolveConfig({})); // "client_max_window_bits=15; server_max_window_bits=15"
 * ```
 */
export function offerParams(c: Config): string {
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
 * Server: answer one offer (`"permessage-deflate; params"`): the response
 * parameters (`""` for none) and what they agree, or `null` to decline.
 * @example
 * ```ts
 * acceptOffer(resolveConfig({}), "permessage-deflate; client_max_window_bits")?.response; // "client_max_window_bits=15"
 * ```
 */
export function acceptOffer(c: Config, offer: string): { response: string; agreed: Agreed } | null {
  const item = parseItem(offer);
  if (item === null || item.name.toLowerCase() !== PMD_NAME) return null;
  // RFC 7692 §7: a server MUST decline an offer with an unknown parameter,
  // an invalid value, or a parameter given twice.
  const params = checkParams(item);
  if (params === null) return null;

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
  const agreed = { clientNoContextTakeover, serverNoContextTakeover, clientMaxWindowBits: clientBits, serverMaxWindowBits: serverBits };
  return { response: response.join("; "), agreed };
}

/**
 * Client: check the server's response item against what was offered
 * (`offer`, the parameters the extension's `offer()` made) and return what
 * it agrees.
 * @throws RemoteProtocolError (hint `null`) when RFC 7692 §7 requires the client to fail the connection, or when the response asks for an 8-bit window for our compressor.
 * @example
 * ```ts
 * const c = resolveConfig({});
 * finalizeResponse(c, "permessage-deflate; server_no_context_takeover", offerParams(c)).serverNoContextTakeover; // true
 * ```
 */
export function finalizeResponse(c: Config, response: string, offer: unknown): Agreed {
  const item = parseItem(response);
  if (item === null) fail(`malformed permessage-deflate response: ${JSON.stringify(response)}`);
  if (item.name.toLowerCase() !== PMD_NAME) {
    fail(`expected a permessage-deflate response, got ${JSON.stringify(item.name)}`);
  }
  const params = checkParams(item);
  if (params === null) {
    fail(`permessage-deflate response has an unknown or repeated parameter: ${JSON.stringify(response)}`);
  }
  // What we offered (or would have offered: finalize without offer()
  // behaves as after the default offer).
  const offered = typeof offer === "string" && offer !== "" ? parseItem(`x; ${offer}`) : null;
  const offeredParams = new Map(offered?.params ?? []);

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

  return { clientNoContextTakeover, serverNoContextTakeover, clientMaxWindowBits: clientBits, serverMaxWindowBits: serverBits };
}

/**
 * One extension item, or `null` if `text` is not exactly one (the header
 * grammar's tokenizer). A comma can only separate items (a quoted value is
 * a token), so any comma, even before an empty element, makes it not one.
 */
function parseItem(text: string): ExtensionItem | null {
  if (text.includes(",")) return null;
  try {
    return parseExtensionItem(text);
  } catch (e) {
    if (e instanceof ProtocolError) return null;
    throw e;
  }
}

/**
 * Validate options and fill in the defaults.
 * @throws LocalProtocolError (`WS_ERR_INVALID_OPTION`) for an option out of range.
 * @example
 * ```ts
 * resolveConfig({ memory: "low" }).deflateWindowBits; // 12
 * ```
 */
export function resolveConfig(options: PerMessageDeflateOptions): Config {
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
