/**
 * A small strict HTTP/1.1 message reader and writer for the opening handshake
 * (wsproto leans on h11 for this; here it is ours). It reads one request head
 * (server) or response heads (client) and the bodies a rejection may carry
 * (Content-Length, chunked, or until the connection closes), and writes heads
 * and chunked bodies.
 *
 * Invariants:
 * - Incremental: bytes may arrive one at a time; every byte is examined a
 *   bounded number of times (line ends are found with `indexOf` on the new
 *   bytes only, each complete line is parsed once), so feeding N bytes costs
 *   O(N) whatever the chunking.
 * - Bounded: a head (start line, header lines, the blank line) larger than
 *   `maxHeadSize` bytes, or with more than `maxHeaders` fields, fails as soon
 *   as the limit is crossed, before the rest arrives; chunk-size lines and
 *   trailers are bounded the same way; body bytes are handed out, never kept.
 * - A request head another HTTP stack parsed may be given as fields
 *   (`pushRequestHead`): it is counted against the limits and checked exactly
 *   as its bytes would be, without being written and read back.
 * - Errors are {@link HttpError}s carrying the status a server would answer
 *   with (400 or 431); the handshake converts them to `RemoteProtocolError`s.
 *
 * Tolerated as h11 does: bare LF line ends, obs-fold continuation lines
 * (joined with one space), any `HTTP/d.d` version, absolute-form targets, tabs
 * in values, empty values, a missing reason phrase. Rejected: whitespace
 * before `:`, illegal name characters, control characters in values, a
 * non-ASCII or empty target, an empty line before the start line, a missing
 * (HTTP/1.1) or repeated Host, repeated or invalid Content-Length,
 * Content-Length together with Transfer-Encoding, any Transfer-Encoding but
 * `chunked`. Received header names are lower-cased, values stripped.
 * @module
 */
import { LocalProtocolError } from "../errors.ts";
import { concatBytes, isLatin1, latin1Decode, latin1Encode } from "../bytes/encoding.ts";
import { isToken, parseTokenList } from "./headers.ts";
import type { Headers } from "../types.ts";

/** A request head as received (names lower-cased, values stripped). */
export interface RequestHead {
  readonly kind: "request";
  readonly method: string;
  readonly target: string;
  /** `"1.1"`, `"1.0"`, ... (the digits after `HTTP/`). */
  readonly httpVersion: string;
  readonly headers: Headers;
}

/** A response head as received (names lower-cased, values stripped). */
export interface ResponseHead {
  readonly kind: "response";
  readonly httpVersion: string;
  readonly statusCode: number;
  readonly reason: string;
  readonly headers: Headers;
}

/** What the reader produces, in order. */
export type HttpEvent =
  | { readonly type: "head"; readonly head: RequestHead | ResponseHead }
  | { readonly type: "data"; readonly data: Uint8Array }
  | { readonly type: "end" };

/**
 * A malformed or oversized message. `status` is the answer a server would
 * give: 431 for a head over the limits, else 400; `tooMuchData` marks more
 * bytes after a complete request than the reader may keep.
 * @example
 * ```ts
 * try { reader.push(bytes); }
 * catch (e) { if (e instanceof HttpError) console.log(e.status, e.message); }
 * ```
 */
export class HttpError extends Error {
  readonly status: 400 | 431;
  readonly tooMuchData: boolean;
  constructor(message: string, status: 400 | 431 = 400, tooMuchData = false) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.tooMuchData = tooMuchData;
  }
}

/** Limits of an {@link HttpReader}. */
export interface HttpReaderLimits {
  /** Largest head (start line + header lines + blank line), in bytes. */
  readonly maxHeadSize: number;
  /** Most header fields in a head (or in a chunked trailer section). */
  readonly maxHeaders: number;
}

type Mode =
  | "head" // reading a start line and header lines
  | "length" // a Content-Length body
  | "chunk-size" // a chunk-size line
  | "chunk-data"
  | "chunk-crlf" // the CRLF after chunk data
  | "trailer" // trailer fields after the last chunk
  | "until-eof" // a response body delimited by the connection's end
  | "done" // the message is complete; later bytes are trailing data
  | "switched"; // a 101 was read; later bytes belong to the new protocol

const LF = 0x0a;
const CR = 0x0d;
/** Shared and never written: an empty partial line, no trailing bytes. */
const EMPTY = new Uint8Array(0);
/** Shared: the end event carries nothing. */
const END: HttpEvent = Object.freeze({ type: "end" });

// h11's ABNF (h11/_abnf.py), expressed over latin-1 strings.
const REQUEST_LINE = /^([-!#$%&'*+.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/([0-9]\.[0-9])$/;
const STATUS_LINE = /^HTTP\/([0-9]\.[0-9]) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
// RFC 7230 §3.2: field-value = *( field-content / obs-fold ): VCHAR, obs-text, SP, HTAB.
// eslint-disable-next-line no-control-regex
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;

function isBadValueChar(code: number): boolean {
  return (code < 0x20 && code !== 0x09) || code === 0x7f;
}

/**
 * A header line `name:[ \t]*value[ \t]*` (h11's header_field: the name a
 * token, the value free of controls but HTAB) as `[lower-cased name, value]`,
 * or `null` if it is not one. Scanned by hand: a regex match per line would
 * allocate its match array and captures for every field.
 */
function parseHeaderLine(line: string): [string, string] | null {
  const colon = line.indexOf(":");
  if (colon <= 0) return null;
  const name = line.slice(0, colon);
  if (!isToken(name)) return null;
  let start = colon + 1;
  let end = line.length;
  while (start < end && isOws(line.charCodeAt(start))) start++;
  while (end > start && isOws(line.charCodeAt(end - 1))) end--;
  for (let i = start; i < end; i++) if (isBadValueChar(line.charCodeAt(i))) return null;
  return [name.toLowerCase(), line.slice(start, end)];
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?$/;

/** Longest chunk-size line (with extensions) accepted. */
const MAX_CHUNK_LINE = 1024;

/**
 * Incremental reader of one side of an HTTP/1.1 exchange: requests
 * (`"request"`, a server's view) or responses to a GET (`"response"`, a
 * client's view). Feed bytes with {@link HttpReader.push} and the end of the
 * stream with {@link HttpReader.end}; both return the events completed so far.
 * @example
 * ```ts
 * const reader = new HttpReader("response", { maxHeadSize: 16384, maxHeaders: 128 });
 * for (const ev of reader.push(bytes)) console.log(ev.type);
 * ```
 */
export class HttpReader {
  readonly #kind: "request" | "response";
  readonly #limits: HttpReaderLimits;
  #mode: Mode = "head";
  // The current incomplete line (grows by doubling; bounded by the limits).
  #partial = EMPTY;
  #partialLength = 0;
  // Head state.
  #headBytes = 0;
  #startLine: string | null = null;
  #headers: Array<[string, string]> = [];
  #trailerBytes = 0;
  #trailerCount = 0;
  // Body state.
  #remaining = 0;
  #crlfSeen = 0;
  // Bytes after a complete request or a 101 head.
  #trailing: Uint8Array[] = [];
  #trailingLength = 0;
  #maxTrailing: number;

  constructor(kind: "request" | "response", limits: HttpReaderLimits, maxTrailing = Infinity) {
    this.#kind = kind;
    this.#limits = limits;
    this.#maxTrailing = maxTrailing;
  }

  /** `true` when nothing of a message has been read since the last one ended (or at all). */
  get idle(): boolean {
    return this.#mode === "head" && this.#startLine === null && this.#partialLength === 0 && this.#headBytes === 0;
  }

  /** `true` after a complete request (server) or a 101 (client). */
  get complete(): boolean {
    return this.#mode === "done" || this.#mode === "switched";
  }

  /** `true` while reading a body that ends with the connection. */
  get readingUntilEof(): boolean {
    return this.#mode === "until-eof";
  }

  /** Bytes received after the request or the 101 head, removed from the reader. */
  takeTrailing(): Uint8Array {
    const parts = this.#trailing;
    if (parts.length === 0) return EMPTY;
    this.#trailing = [];
    this.#trailingLength = 0;
    return parts.length === 1 ? parts[0]! : concatBytes(parts);
  }

  /**
   * Feed received bytes; appends the events they complete to `events` (also
   * returned). If the bytes are malformed, the events completed before the
   * fault stay in `events` and an {@link HttpError} is thrown.
   */
  push(data: Uint8Array, events: HttpEvent[] = []): HttpEvent[] {
    let pos = 0;
    while (pos < data.length) {
      switch (this.#mode) {
        case "head":
        case "chunk-size":
        case "trailer": {
          const nl = data.indexOf(LF, pos);
          const end = nl < 0 ? data.length : nl + 1;
          this.#count(end - pos);
          if (nl < 0) {
            this.#keepPartial(data, pos);
            pos = data.length;
            break;
          }
          const line = this.#takeLine(data, pos, nl);
          pos = nl + 1;
          this.#line(line, events);
          break;
        }
        case "length": {
          const n = Math.min(this.#remaining, data.length - pos);
          events.push({ type: "data", data: data.slice(pos, pos + n) });
          pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#finish(events);
          break;
        }
        case "chunk-data": {
          const n = Math.min(this.#remaining, data.length - pos);
          if (n > 0) events.push({ type: "data", data: data.slice(pos, pos + n) });
          pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) {
            this.#mode = "chunk-crlf";
            this.#crlfSeen = 0;
          }
          break;
        }
        case "chunk-crlf": {
          // h11: the CRLF after chunk data must be exactly "\r\n".
          const want = this.#crlfSeen === 0 ? CR : LF;
          if (data[pos] !== want) throw new HttpError("missing CRLF after chunk data");
          pos++;
          if (++this.#crlfSeen === 2) this.#mode = "chunk-size";
          break;
        }
        case "until-eof": {
          events.push({ type: "data", data: data.slice(pos) });
          pos = data.length;
          break;
        }
        case "done":
        case "switched": {
          const rest = data.length - pos;
          if (this.#trailingLength + rest > this.#maxTrailing) {
            throw new HttpError(`more than ${this.#maxTrailing} bytes received after the request`, 400, true);
          }
          this.#trailing.push(data.slice(pos));
          this.#trailingLength += rest;
          pos = data.length;
          break;
        }
      }
    }
    return events;
  }

  /**
   * The stream ended. Returns the end of an until-close body; throws
   * {@link HttpError} if a head or a delimited body is incomplete; returns
   * nothing when idle or complete.
   */
  end(): HttpEvent[] {
    switch (this.#mode) {
      case "head":
        if (this.idle) return [];
        throw new HttpError("connection closed in the middle of a message head");
      case "until-eof":
        this.#mode = "done";
        return [END];
      case "done":
      case "switched":
        return [];
      default:
        throw new HttpError("connection closed in the middle of a message body");
    }
  }

  #count(n: number): void {
    if (this.#mode === "head") {
      this.#headBytes += n;
      if (this.#headBytes > this.#limits.maxHeadSize) {
        throw new HttpError(`message head larger than ${this.#limits.maxHeadSize} bytes`, 431);
      }
    } else if (this.#mode === "trailer") {
      this.#trailerBytes += n;
      if (this.#trailerBytes > this.#limits.maxHeadSize) {
        throw new HttpError(`chunked trailer larger than ${this.#limits.maxHeadSize} bytes`, 431);
      }
    } else if (this.#partialLength + n > MAX_CHUNK_LINE) {
      throw new HttpError("chunk-size line too long");
    }
  }

  #keepPartial(data: Uint8Array, pos: number): void {
    const needed = this.#partialLength + data.length - pos;
    if (needed > this.#partial.length) {
      const grown = new Uint8Array(Math.max(needed, this.#partial.length * 2, 256));
      grown.set(this.#partial.subarray(0, this.#partialLength));
      this.#partial = grown;
    }
    this.#partial.set(data.subarray(pos), this.#partialLength);
    this.#partialLength = needed;
  }

  /** The line ending at `nl` (exclusive), with the bytes kept before it, minus a trailing CR. */
  #takeLine(data: Uint8Array, pos: number, nl: number): string {
    if (this.#partialLength === 0) {
      const end = nl > pos && data[nl - 1] === CR ? nl - 1 : nl;
      return latin1Decode(data, pos, end);
    }
    this.#keepPartial(data.subarray(0, nl), pos);
    const len = this.#partialLength;
    this.#partialLength = 0;
    const end = this.#partial[len - 1] === CR ? len - 1 : len;
    const line = latin1Decode(this.#partial, 0, end);
    if (this.#partial.length > 4096) this.#partial = EMPTY; // do not keep a big buffer around
    return line;
  }

  #line(line: string, events: HttpEvent[]): void {
    if (this.#mode === "chunk-size") {
      const m = CHUNK_SIZE_LINE.exec(line);
      if (!m) throw new HttpError(`illegal chunk header ${JSON.stringify(line.slice(0, 64))}`);
      const size = parseInt(m[1]!, 16);
      if (!Number.isSafeInteger(size)) throw new HttpError("chunk size too large");
      if (size === 0) {
        this.#mode = "trailer";
        this.#trailerBytes = 0;
        this.#trailerCount = 0;
      } else {
        this.#mode = "chunk-data";
        this.#remaining = size;
      }
      return;
    }
    if (this.#mode === "trailer") {
      // Trailer fields are checked for syntax and then dropped.
      if (line === "") {
        this.#finish(events);
        return;
      }
      if (line.charCodeAt(0) !== 0x20 && line.charCodeAt(0) !== 0x09) {
        if (++this.#trailerCount > this.#limits.maxHeaders) throw new HttpError("too many trailer fields", 431);
        if (parseHeaderLine(line) === null) throw new HttpError("illegal trailer line");
      }
      return;
    }
    // Head.
    if (this.#startLine === null) {
      if (line === "") throw new HttpError("empty line before the start line");
      this.#startLine = line;
      return;
    }
    if (line === "") {
      this.#endOfHead(events);
      return;
    }
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      // RFC 7230 §3.2.4: obs-fold; a recipient may replace it with SP.
      const last = this.#headers[this.#headers.length - 1];
      if (!last) throw new HttpError("continuation line at start of headers");
      const more = line.trim();
      if (BAD_VALUE_CHAR.test(more)) throw new HttpError(`illegal header line ${JSON.stringify(line.slice(0, 64))}`);
      last[1] = last[1] === "" ? more : more === "" ? last[1] : `${last[1]} ${more}`;
      return;
    }
    const field = parseHeaderLine(line);
    if (field === null) throw new HttpError(`illegal header line ${JSON.stringify(line.slice(0, 64))}`);
    this.#addField(field);
  }

  #addField(field: [string, string]): void {
    if (this.#headers.length >= this.#limits.maxHeaders) {
      throw new HttpError(`more than ${this.#limits.maxHeaders} header fields`, 431);
    }
    this.#headers.push(field);
  }

  /**
   * Take a request head another HTTP stack already parsed (Node's `'upgrade'`
   * event) as if its bytes, `METHOD target HTTP/version`, one `name: value`
   * line per header and a blank line, had been pushed: the same size and
   * field limits, counted line by line, the same checks and events, without
   * writing the bytes and reading them back. The caller has checked what
   * {@link writeRequestHead} checks ({@link validateRequestLine},
   * {@link validateHeaders}), so every line is well-formed; the reader must be
   * an idle request reader. The head's `headers` are new, but a field whose
   * name is already lower-case is the caller's pair itself.
   */
  pushRequestHead(method: string, target: string, httpVersion: string, headers: Headers, events: HttpEvent[] = []): HttpEvent[] {
    if (this.#kind !== "request" || !this.idle) {
      throw new LocalProtocolError("pushRequestHead needs an idle request reader", "WS_ERR_INVALID_STATE");
    }
    // The limits, line by line as push() counts them: size first, then the field count.
    this.#count(method.length + target.length + httpVersion.length + 9); // "M T HTTP/v\r\n"
    for (let i = 0; i < headers.length; i++) {
      const field = headers[i]!; // indexed, not destructured: no iterator in baseline code
      const name = field[0];
      const value = field[1];
      this.#count(name.length + value.length + 4); // "name: value\r\n"
      if (i >= this.#limits.maxHeaders) throw new HttpError(`more than ${this.#limits.maxHeaders} header fields`, 431);
    }
    this.#count(2);
    // Valid values have no surrounding whitespace: each value is what a reader
    // would keep. A field already lower-cased is kept as given, not copied.
    const fields: Headers = new Array<[string, string]>(headers.length);
    for (let i = 0; i < headers.length; i++) {
      const field = headers[i]!;
      const lower = field[0].toLowerCase();
      fields[i] = lower === field[0] ? field : [lower, field[1]];
    }
    this.#headers = fields;
    this.#endOfHead(events, method, target, httpVersion);
    return events;
  }

  /** The blank line after the head; a request line already parsed (`pushRequestHead`) comes as `method`, `target`, `version`. */
  #endOfHead(events: HttpEvent[], method?: string, target?: string, version?: string): void {
    const startLine = this.#startLine;
    const headers = this.#headers;
    this.#startLine = null;
    this.#headers = [];
    this.#headBytes = 0;

    let contentLength: number | null = null;
    let transferEncoding: string[] | null = null;
    let hosts = 0;
    for (let i = 0; i < headers.length; i++) {
      const field = headers[i]!;
      const name = field[0];
      const value = field[1];
      if (name === "content-length") {
        // RFC 7230 §3.3.2: repeated or list-valued Content-Length is a framing attack.
        if (contentLength !== null) throw new HttpError("repeated Content-Length");
        if (!/^[0-9]{1,15}$/.test(value)) throw new HttpError(`invalid Content-Length ${JSON.stringify(value)}`);
        contentLength = Number(value);
      } else if (name === "transfer-encoding") {
        let codings: string[];
        try {
          codings = parseTokenList(value);
        } catch {
          throw new HttpError(`invalid Transfer-Encoding ${JSON.stringify(value)}`);
        }
        transferEncoding = [...(transferEncoding ?? []), ...codings.map((c) => c.toLowerCase())];
      } else if (name === "host") {
        hosts++;
      }
    }
    // RFC 7230 §3.3.3: a message with both is a smuggling attempt; refuse it.
    if (transferEncoding !== null && contentLength !== null) {
      throw new HttpError("both Transfer-Encoding and Content-Length");
    }
    if (transferEncoding !== null && (transferEncoding.length !== 1 || transferEncoding[0] !== "chunked")) {
      throw new HttpError("only Transfer-Encoding: chunked is supported");
    }

    if (this.#kind === "request") {
      if (method === undefined || target === undefined || version === undefined) {
        const m = REQUEST_LINE.exec(startLine!);
        if (!m) throw new HttpError(`illegal request line ${JSON.stringify(startLine!.slice(0, 64))}`);
        method = m[1]!;
        target = m[2]!;
        version = m[3]!;
      }
      // RFC 7230 §5.4: exactly one Host in HTTP/1.1, never more than one.
      if (hosts > 1) throw new HttpError("repeated Host header");
      if (hosts === 0 && version >= "1.1") throw new HttpError("missing Host header");
      events.push({ type: "head", head: { kind: "request", method, target, httpVersion: version, headers } });
      if (transferEncoding !== null) this.#startChunked();
      else if (contentLength !== null && contentLength > 0) this.#startLength(contentLength);
      else this.#finish(events);
      return;
    }

    const m = STATUS_LINE.exec(startLine!);
    if (!m) throw new HttpError(`illegal status line ${JSON.stringify(startLine!.slice(0, 64))}`);
    const statusCode = Number(m[2]!);
    if (statusCode < 100) throw new HttpError(`invalid status code ${statusCode}`);
    events.push({
      type: "head",
      head: { kind: "response", httpVersion: m[1]!, statusCode, reason: m[3] ?? "", headers },
    });
    if (statusCode === 101) {
      this.#mode = "switched";
    } else if (statusCode < 200) {
      this.#mode = "head"; // interim response: the real one follows
    } else if (statusCode === 204 || statusCode === 304) {
      this.#finish(events); // RFC 7230 §3.3.3 rule 1: never a body
    } else if (transferEncoding !== null) {
      this.#startChunked();
    } else if (contentLength !== null) {
      if (contentLength > 0) this.#startLength(contentLength);
      else this.#finish(events);
    } else {
      this.#mode = "until-eof"; // RFC 7230 §3.3.3 rule 7
    }
  }

  #startLength(n: number): void {
    this.#mode = "length";
    this.#remaining = n;
  }

  #startChunked(): void {
    this.#mode = "chunk-size";
  }

  #finish(events: HttpEvent[]): void {
    this.#mode = "done";
    events.push(END);
  }
}

// ---------------------------------------------------------------------------
// Writing

const TARGET = /^[\x21-\x7e]+$/;
// h11's field_value: empty, or field-vchars with single SP/HTAB runs inside.
const VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[ \t]*[\x21-\x7e\x80-\xff])*)?$/;

/**
 * Check a header name we are about to send: it must be a token (RFC 7230 §3.2).
 * @throws LocalProtocolError (code `WS_ERR_INVALID_HEADER`).
 * @example
 * ```ts
 * validateHeaderName("X-Trace-Id"); // ok
 * validateHeaderName("X Trace");    // throws LocalProtocolError
 * ```
 */
export function validateHeaderName(name: string): void {
  if (typeof name !== "string" || !isToken(name)) {
    throw new LocalProtocolError(`Illegal header name ${JSON.stringify(name)}`, "WS_ERR_INVALID_HEADER");
  }
}

/**
 * Check a header value we are about to send: visible latin-1 characters with
 * inner spaces or tabs only; in particular no CR, LF or NUL, which would let
 * the value inject header lines (RFC 7230 §3.2).
 * @throws LocalProtocolError (code `WS_ERR_INVALID_HEADER`).
 * @example
 * ```ts
 * validateHeaderValue("X-A", "1");          // ok
 * validateHeaderValue("X-A", "1\r\nX-B: 2"); // throws LocalProtocolError
 * ```
 */
export function validateHeaderValue(name: string, value: string): void {
  if (typeof value !== "string" || !VALUE.test(value)) {
    throw new LocalProtocolError(
      `Illegal value for header ${name}: ${JSON.stringify(value)} (no CR, LF, NUL, controls, ` +
        `leading or trailing whitespace, or characters above U+00FF)`,
      "WS_ERR_INVALID_HEADER",
    );
  }
}

/**
 * Validate every header of a list (names tokens, values safe).
 * @example
 * ```ts
 * validateHeaders([["Origin", "https://example.com"]]);
 * ```
 */
export function validateHeaders(headers: Headers): void {
  if (!Array.isArray(headers)) throw new LocalProtocolError("Headers must be an array of [name, value] pairs", "WS_ERR_INVALID_HEADER");
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i];
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new LocalProtocolError("Headers must be an array of [name, value] pairs", "WS_ERR_INVALID_HEADER");
    }
    validateHeaderName(pair[0]);
    validateHeaderValue(pair[0], pair[1]);
  }
}

/** The head's bytes written straight into one array of the right size (no intermediate string). */
function writeHead(startLine: string, headers: Headers): Uint8Array {
  let length = startLine.length + 4;
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!;
    const name = field[0];
    const value = field[1];
    length += name.length + value.length + 4;
  }
  const out = new Uint8Array(length);
  let o = putLatin1(out, 0, startLine);
  out[o++] = CR;
  out[o++] = LF;
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!;
    const name = field[0];
    const value = field[1];
    o = putLatin1(out, o, name);
    out[o++] = 0x3a; // ":"
    out[o++] = 0x20;
    o = putLatin1(out, o, value);
    out[o++] = CR;
    out[o++] = LF;
  }
  out[o++] = CR;
  out[o] = LF;
  return out;
}

/** Write `text` (checked latin-1) at `offset`, one byte per code unit; returns the offset after it. */
function putLatin1(out: Uint8Array, offset: number, text: string): number {
  for (let i = 0; i < text.length; i++) out[offset + i] = text.charCodeAt(i);
  return offset + text.length;
}

/**
 * Check a request line we are about to send or take as received: the method
 * a token, the version `d.d`, the target printable ASCII without spaces.
 * @throws LocalProtocolError (code `WS_ERR_INVALID_HEADER` or `WS_ERR_INVALID_TARGET`).
 * @example
 * ```ts
 * validateRequestLine("GET", "/chat", "1.1"); // ok
 * validateRequestLine("GET", "/a b", "1.1");  // throws LocalProtocolError
 * ```
 */
export function validateRequestLine(method: string, target: string, httpVersion: string): void {
  if (!isToken(method)) throw new LocalProtocolError(`Illegal method ${JSON.stringify(method)}`, "WS_ERR_INVALID_HEADER");
  if (typeof httpVersion !== "string" || !/^[0-9]\.[0-9]$/.test(httpVersion)) {
    throw new LocalProtocolError(`Illegal HTTP version ${JSON.stringify(httpVersion)}`, "WS_ERR_INVALID_HEADER");
  }
  if (typeof target !== "string" || !TARGET.test(target)) {
    throw new LocalProtocolError(
      `Illegal request target ${JSON.stringify(target)}: printable ASCII without spaces required`,
      "WS_ERR_INVALID_TARGET",
    );
  }
}

/**
 * Serialize a request head (`METHOD target HTTP/1.1`, headers, blank line).
 * `httpVersion` (digits only, as {@link RequestHead.httpVersion}) re-creates
 * a request another HTTP stack parsed, version included.
 * @throws LocalProtocolError if the method, target, version or a header is invalid; nothing is produced.
 * @example
 * ```ts
 * writeRequestHead("GET", "/chat", [["Host", "example.com"]]);
 * ```
 */
export function writeRequestHead(method: string, target: string, headers: Headers, httpVersion = "1.1"): Uint8Array {
  validateRequestLine(method, target, httpVersion);
  validateHeaders(headers);
  return writeHead(`${method} ${target} HTTP/${httpVersion}`, headers);
}

// RFC 9110 §15: the reason phrases of the status codes a WebSocket server
// sends or an application is likely to reject with.
const REASONS: ReadonlyMap<number, string> = new Map([
  [100, "Continue"], [101, "Switching Protocols"],
  [200, "OK"], [201, "Created"], [202, "Accepted"], [204, "No Content"],
  [301, "Moved Permanently"], [302, "Found"], [303, "See Other"], [304, "Not Modified"],
  [307, "Temporary Redirect"], [308, "Permanent Redirect"],
  [400, "Bad Request"], [401, "Unauthorized"], [402, "Payment Required"], [403, "Forbidden"], [404, "Not Found"],
  [405, "Method Not Allowed"], [406, "Not Acceptable"], [407, "Proxy Authentication Required"],
  [408, "Request Timeout"], [409, "Conflict"], [410, "Gone"], [411, "Length Required"], [413, "Content Too Large"],
  [414, "URI Too Long"], [415, "Unsupported Media Type"], [421, "Misdirected Request"], [426, "Upgrade Required"],
  [428, "Precondition Required"], [429, "Too Many Requests"], [431, "Request Header Fields Too Large"],
  [500, "Internal Server Error"], [501, "Not Implemented"], [502, "Bad Gateway"], [503, "Service Unavailable"],
  [504, "Gateway Timeout"], [505, "HTTP Version Not Supported"],
]);
const CLASS_REASONS = ["Unknown", "Informational", "Success", "Redirection", "Client Error", "Server Error"];

/**
 * The reason phrase sent after `statusCode` on our status lines: RFC 9110's
 * name for the code, else the name of its class ("Client Error"), else
 * "Unknown". Never empty: some clients reject `HTTP/1.1 101 ` (RFC 9112 §4
 * allows it, but a reason phrase costs nothing).
 * @example
 * ```ts
 * reasonPhrase(101); // "Switching Protocols"
 * reasonPhrase(499); // "Client Error"
 * ```
 */
export function reasonPhrase(statusCode: number): string {
  return REASONS.get(statusCode) ?? CLASS_REASONS[Math.floor(statusCode / 100)] ?? "Unknown";
}

/**
 * Serialize a response head. The status line is `HTTP/1.1 <code> <reason>`
 * with the code's reason phrase ({@link reasonPhrase}); wsproto 1.2 sends an
 * empty one, which some clients reject. A non-empty `reason` replaces it.
 * @throws LocalProtocolError if the status, the reason or a header is invalid.
 * @example
 * ```ts
 * writeResponseHead(403, [["content-length", "0"]]); // "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n"
 * ```
 */
export function writeResponseHead(statusCode: number, headers: Headers, reason = ""): Uint8Array {
  if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 999) {
    throw new LocalProtocolError(`Illegal status code ${String(statusCode)}`, "WS_ERR_INVALID_STATUS");
  }
  // RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ).
  if (typeof reason !== "string" || !/^[\t\x20-\x7e\x80-\xff]*$/.test(reason)) {
    throw new LocalProtocolError(`Illegal reason phrase ${JSON.stringify(reason)}`, "WS_ERR_INVALID_STATUS");
  }
  validateHeaders(headers);
  return writeHead(reason === "" ? statusLine(statusCode) : `HTTP/1.1 ${statusCode} ${reason}`, headers);
}

// Status lines with the default reason, built once per code (at most 900).
const STATUS_LINES = new Map<number, string>();

function statusLine(statusCode: number): string {
  let line = STATUS_LINES.get(statusCode);
  if (line === undefined) STATUS_LINES.set(statusCode, (line = `HTTP/1.1 ${statusCode} ${reasonPhrase(statusCode)}`));
  return line;
}

/**
 * One chunk of a chunked body (RFC 7230 §4.1); an empty `data` writes nothing
 * (the zero-size chunk would end the body).
 * @example
 * ```ts
 * writeChunk(new TextEncoder().encode("Hello")); // "5\r\nHello\r\n"
 * ```
 */
export function writeChunk(data: Uint8Array): Uint8Array {
  if (data.length === 0) return new Uint8Array(0);
  const head = latin1Encode(`${data.length.toString(16)}\r\n`);
  const out = new Uint8Array(head.length + data.length + 2);
  out.set(head);
  out.set(data, head.length);
  out[out.length - 2] = CR;
  out[out.length - 1] = LF;
  return out;
}

/** The last chunk and an empty trailer section. */
export const LAST_CHUNK: Uint8Array = latin1Encode("0\r\n\r\n");

/**
 * `true` when `value` can be sent as a header value (see {@link validateHeaderValue}).
 * @example
 * ```ts
 * isValidHeaderValue("text/plain"); // true
 * isValidHeaderValue("a\nb");       // false
 * ```
 */
export function isValidHeaderValue(value: string): boolean {
  return typeof value === "string" && VALUE.test(value) && isLatin1(value);
}
