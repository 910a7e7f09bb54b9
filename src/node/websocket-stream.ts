/**
 * `WebSocketStream`: the WHATWG class as Chrome and Deno ship it
 * (whatwg/websockets PR #48), for Node, Bun and Deno, as a thin class over
 * a client session (`connectNodeWebSocket`). Code written for Chrome runs
 * unchanged with `import { WebSocketStream } from "wsproto/node"`.
 *
 * What this file does itself, step by step as the spec says (the numbered
 * comments are the spec's steps): the WebIDL conversions of the constructor's
 * and `close()`'s arguments, the URL rules of the WHATWG `WebSocket`, the
 * subprotocol checks, an already aborted `signal`, and `close()`'s stricter
 * code rule (1000 or 3000-4999). Everything after the constructor returns
 * (the handshake, the streams, back-pressure, the closing handshake, the
 * close timeout, `abort()`/`cancel()`) is the session's.
 *
 * Options beyond the spec (TLS, proxies, redirects, compression, limits,
 * timeouts, keepalive) never go through the constructor: they are the third
 * argument of {@link WebSocketStream.withOptions}, so `new WebSocketStream`
 * behaves as the spec says and nothing else.
 *
 * Invariants:
 * - Holds the URL, the two promises and its session; no bytes of its own
 *   (the session's bounds apply: `readableHighWaterMark`,
 *   `writableHighWaterMark`, `maxMessageSize`).
 * - `opened` and `closed` are marked handled: a program that never looks at
 *   `closed` does not crash Node on an unclean close (as a page would not).
 * @module
 */
import { connectNodeWebSocket, type NodeConnectOptions } from "./connect.ts";
import { WebSocketError, type WebSocketCloseInfo, type WebSocketSession, type WebSocketWritable } from "../streams/sessions.ts";

export { WebSocketError };

/** The constructor's options (the WHATWG `WebSocketStreamOptions`). */
export interface WebSocketStreamOptions {
  /** Subprotocols to offer, in order of preference: unique tokens (RFC 6455 §4.1). @default [] */
  protocols?: Iterable<string>;
  /** Aborting it before the opening handshake completed fails the connection; `opened` and `closed` reject with its reason. */
  signal?: AbortSignal;
}

/** What `opened` resolves with (the WHATWG `WebSocketOpenInfo`). */
export interface WebSocketStreamOpenInfo {
  /** The negotiated `Sec-WebSocket-Extensions` value, `""` if none. */
  extensions: string;
  /** The negotiated subprotocol, `""` if none. */
  protocol: string;
  /** Received messages: a `string` per text message, a `Uint8Array` per binary message. */
  readable: ReadableStream<string | Uint8Array>;
  /** Messages to send: a string (text), an `ArrayBuffer` or a view (binary). Closing it closes the WebSocket. */
  writable: WritableStream<WebSocketWritable>;
}

/** `close()`'s argument (the WHATWG `WebSocketCloseInfo`). */
export interface WebSocketStreamCloseInfo {
  /** 1000, or 3000-4999. Absent: an empty close frame (the peer sees 1005), or 1000 if a reason is given. */
  closeCode?: number;
  /** At most 123 UTF-8 bytes. @default "" */
  reason?: string;
}

/**
 * The options beyond the spec, for {@link WebSocketStream.withOptions}: those
 * of `connectNodeWebSocket` (TLS, `proxy`, `followRedirects`,
 * `createConnection`, `headers`, `extensions`, `maxMessageSize`, the
 * timeouts, `pingInterval`/`pingTimeout`, the high-water marks) except what
 * the constructor's own options or the spec decide.
 */
export type WebSocketStreamConnectOptions = Omit<
  NodeConnectOptions,
  "protocols" | "signal" | "fragments" | "onMessage" | "host" | "path"
>;

const noop = (): void => {};

/** RFC 2616 §2.2 `token`: visible ASCII except separators (RFC 6455 §4.1 for subprotocols). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Handed from {@link WebSocketStream.withOptions} to the constructor, within one synchronous call. */
let pendingConnectOptions: WebSocketStreamConnectOptions | undefined;

/**
 * A WebSocket as a pair of WHATWG streams, exactly as Chrome and Deno's
 * `WebSocketStream`: `url`, `opened`, `closed`, `close()`. Failures and
 * unclean closes reject with a {@link WebSocketError} (a `DOMException`
 * named `"WebSocketError"` with `closeCode` and `reason`, whose `code` is
 * this project's stable string).
 * @example
 * ```ts
 * import { WebSocketStream } from "wsproto/node";
 * const wss = new WebSocketStream("wss://example.com/chat", { protocols: ["chat"] });
 * const { readable, writable } = await wss.opened;
 * const writer = writable.getWriter();
 * await writer.write("hello");
 * for await (const message of readable) console.log(message);
 * const { closeCode, reason } = await wss.closed;
 * ```
 */
export class WebSocketStream {
  readonly #url: string;
  readonly #opened: Promise<WebSocketStreamOpenInfo>;
  readonly #closed: Promise<WebSocketCloseInfo>;
  readonly #session: WebSocketSession | null;

  /**
   * Start connecting to `url` (`ws:`, `wss:`, or `http:`/`https:` for
   * them; no fragment).
   * @throws SyntaxError (a `DOMException`) for a bad URL or subprotocol list; TypeError for arguments of the wrong type.
   */
  constructor(url: string | URL, options?: WebSocketStreamOptions) {
    const connectOptions = pendingConnectOptions;
    pendingConnectOptions = undefined;
    if (arguments.length < 1) throw new TypeError("WebSocketStream: 1 argument required, but only 0 present");
    const href = toUSVString(url);
    const init = convertOptions(options);
    // 1-2. Let urlRecord be the result of getting a URL record given url (there is no base URL outside a document).
    const urlRecord = getURLRecord(href);
    // 3. Let protocols be options["protocols"] if it exists, otherwise an empty sequence.
    const protocols = init.protocols;
    // 4. If any of the values in protocols occur more than once or otherwise fail to match the requirements
    //    for elements of Sec-WebSocket-Protocol (RFC 6455 §4.1: unique tokens), throw a "SyntaxError" DOMException.
    if (new Set(protocols).size !== protocols.length) {
      throw new DOMException("WebSocketStream: a subprotocol is listed more than once", "SyntaxError");
    }
    for (const protocol of protocols) {
      if (!TOKEN.test(protocol)) throw new DOMException(`WebSocketStream: invalid subprotocol ${JSON.stringify(protocol)}`, "SyntaxError");
    }
    // 5. Set this's url to urlRecord.
    this.#url = urlRecord.href;
    // 8.2. If signal is aborted, reject this's opened promise and closed promise with signal's abort reason and return.
    const signal = init.signal;
    if (signal?.aborted) {
      this.#session = null;
      this.#opened = handled(Promise.reject(signal.reason));
      this.#closed = handled(Promise.reject(signal.reason));
      return;
    }
    // 6-10. The session establishes the connection; the signal's abort steps (8.3) are the session's
    // (before the handshake completed: fail the connection, reject both promises with the reason).
    const session = connectNodeWebSocket(urlRecord, {
      ...connectOptions,
      protocols,
      ...(signal === undefined ? {} : { signal }),
    });
    this.#session = session;
    this.#opened = handled(
      session.opened.then(({ extensions, protocol, readable, writable }) => ({ extensions, protocol, readable, writable })),
    );
    this.#closed = handled(session.closed);
  }

  /**
   * `new WebSocketStream(url, options)` with the options the spec has no
   * room for (TLS, proxies, redirects, compression, limits, timeouts,
   * keepalive) in a separate bag.
   * @example
   * ```ts
   * import { WebSocketStream } from "wsproto/node";
   * const wss = WebSocketStream.withOptions("wss://example.com/", { protocols: ["chat"] }, {
   *   tls: { rejectUnauthorized: false },
   *   proxy: true,
   *   maxMessageSize: 1 << 20,
   * });
   * ```
   */
  static withOptions(url: string | URL, options?: WebSocketStreamOptions, connectOptions?: WebSocketStreamConnectOptions): WebSocketStream {
    if (connectOptions !== undefined && (typeof connectOptions !== "object" || connectOptions === null)) {
      throw new TypeError("WebSocketStream.withOptions: connectOptions must be an object");
    }
    pendingConnectOptions = connectOptions;
    try {
      return new WebSocketStream(url, options);
    } finally {
      pendingConnectOptions = undefined;
    }
  }

  /** The URL, serialized (`http:` and `https:` given are `ws:` and `wss:` here). */
  get url(): string {
    return this.#url;
  }

  /** Resolves once the opening handshake succeeded; rejects with a {@link WebSocketError} (or the signal's reason) otherwise. */
  get opened(): Promise<WebSocketStreamOpenInfo> {
    return this.#opened;
  }

  /** Resolves after a clean close with the close code and reason; rejects with a {@link WebSocketError} otherwise. */
  get closed(): Promise<WebSocketCloseInfo> {
    return this.#closed;
  }

  /**
   * Start the closing handshake (messages written before are sent first),
   * or, before the opening handshake completed, fail the connection
   * (`opened` and `closed` reject). No argument: an empty close frame (the
   * peer sees 1005); a reason alone: 1000.
   * @throws InvalidAccessError (a `DOMException`) for a code other than 1000 or 3000-4999; SyntaxError for a reason over 123 UTF-8 bytes; TypeError for an argument that is not a dictionary.
   */
  close(closeInfo?: WebSocketStreamCloseInfo): void {
    const { closeCode, reason } = convertCloseInfo(closeInfo);
    // 1. Let code be closeInfo["closeCode"] if present, or null otherwise. 2. Let reason be closeInfo["reason"].
    // 3. Close the WebSocket with this, code, and reason:
    //    if code is neither 1000 nor in 3000-4999, throw an "InvalidAccessError" DOMException;
    if (closeCode !== null && closeCode !== 1000 && !(closeCode >= 3000 && closeCode <= 4999)) {
      throw new DOMException(`WebSocketStream.close: the code must be 1000 or in 3000-4999, got ${closeCode}`, "InvalidAccessError");
    }
    //    if reason is longer than 123 bytes once UTF-8 encoded, throw a "SyntaxError" DOMException.
    if (reason.length > 41 && new TextEncoder().encode(reason).byteLength > 123) {
      throw new DOMException("WebSocketStream.close: the reason is over 123 UTF-8 bytes", "SyntaxError");
    }
    // The rest (a reason alone means 1000; CLOSING or CLOSED: nothing; not yet established: fail the
    // connection; else start the closing handshake) is the session's close().
    this.#session?.close(closeCode === null ? { reason } : { closeCode, reason });
  }

  get [Symbol.toStringTag](): string {
    return "WebSocketStream";
  }
}

/** Mark a promise handled (nobody may look at it) and return it. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(noop);
  return promise;
}

/** WebIDL `USVString`: ToString (a Symbol throws TypeError), lone surrogates as U+FFFD. */
function toUSVString(value: unknown): string {
  const text = `${value as string}`;
  const wellFormed = (text as { toWellFormed?: () => string }).toWellFormed;
  return wellFormed !== undefined ? wellFormed.call(text) : text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

/** WebIDL dictionary conversion: `undefined` and `null` are `{}`, anything else but an object is a TypeError. */
function dictionary(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" && typeof value !== "function") throw new TypeError(`${what} must be a dictionary (an object)`);
  return value as Record<string, unknown>;
}

/** WebIDL conversion of `WebSocketStreamOptions` (members in lexicographic order, as WebIDL reads them). */
function convertOptions(value: unknown): { protocols: string[]; signal: AbortSignal | undefined } {
  const options = dictionary(value, "WebSocketStream: options");
  const rawProtocols = options.protocols;
  let protocols: string[] = [];
  if (rawProtocols !== undefined) {
    // sequence<USVString>: an iterable object (a string is not one).
    const iterator = (rawProtocols as { [Symbol.iterator]?: unknown } | null)?.[Symbol.iterator];
    if ((typeof rawProtocols !== "object" && typeof rawProtocols !== "function") || rawProtocols === null || typeof iterator !== "function") {
      throw new TypeError("WebSocketStream: options.protocols must be a sequence (an iterable object)");
    }
    protocols = Array.from(rawProtocols as Iterable<unknown>, toUSVString);
  }
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError("WebSocketStream: options.signal must be an AbortSignal");
  return { protocols, signal };
}

/** WebIDL conversion of `WebSocketCloseInfo`: `[EnforceRange] unsigned short closeCode`, `USVString reason = ""`. */
function convertCloseInfo(value: unknown): { closeCode: number | null; reason: string } {
  const info = dictionary(value, "WebSocketStream.close: closeInfo");
  const rawCode = info.closeCode;
  let closeCode: number | null = null;
  if (rawCode !== undefined) {
    const number = +(rawCode as number); // ToNumber: a Symbol or a BigInt throws TypeError
    if (!Number.isFinite(number)) throw new TypeError(`WebSocketStream.close: closeCode ${String(number)} is not a finite number`);
    const integer = Math.trunc(number) || 0;
    if (integer < 0 || integer > 65535) throw new TypeError(`WebSocketStream.close: closeCode ${integer} is outside 0-65535`);
    closeCode = integer;
  }
  const rawReason = info.reason;
  return { closeCode, reason: rawReason === undefined ? "" : toUSVString(rawReason) };
}

/** "Get a URL record" (WHATWG WebSockets): parse; http(s) becomes ws(s); other schemes and fragments are SyntaxErrors. */
function getURLRecord(href: string): URL {
  let urlRecord: URL;
  try {
    urlRecord = new URL(href);
  } catch {
    throw new DOMException(`WebSocketStream: invalid URL ${JSON.stringify(href)}`, "SyntaxError");
  }
  if (urlRecord.protocol === "http:") urlRecord.protocol = "ws:";
  else if (urlRecord.protocol === "https:") urlRecord.protocol = "wss:";
  if (urlRecord.protocol !== "ws:" && urlRecord.protocol !== "wss:") {
    throw new DOMException(`WebSocketStream: the URL's scheme must be ws: or wss: (or http:, https:), got ${urlRecord.protocol}`, "SyntaxError");
  }
  if (urlRecord.hash !== "" || urlRecord.href.endsWith("#")) {
    throw new DOMException("WebSocketStream: a WebSocket URL has no fragment", "SyntaxError");
  }
  return urlRecord;
}
