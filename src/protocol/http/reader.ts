/**
 * `HttpReader`: a small strict incremental HTTP/1.1 message reader for the
 * opening handshake (wsproto leans on h11 for this; here it is ours). It
 * reads one request head (server) or response heads (client) and the bodies
 * a rejection may carry (Content-Length, chunked, or until the connection
 * closes). The line grammar and framing rules are in `message.ts`.
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

 * What is tolerated and what rejected (h11's choices) is listed in `message.ts`.
 * @module
 */
import { LocalProtocolError } from "../errors.ts";
import { concatBytes, latin1Decode } from "../bytes/encoding.ts";
import {
  HttpError,
  MAX_CHUNK_LINE,
  parseChunkSize,
  parseHeaderLine,
  parseRequestLine,
  parseStatusLine,
  readFraming,
  unfold,
  type HttpEvent,
} from "./message.ts";
import type { Headers } from "../types.ts";

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

/**
 * Incremental reader of one side of an HTTP/1.1 exchange: requests
 * (`"request"`, a server's view) or responses to a GET (`"response"`, a
 * client's view). Feed bytes with {@link HttpReader.push} and the end of the
 * stream with {@link HttpReader.end}; both return the events completed so far.
 * It keeps only copies of the bytes it is given (a caller may overwrite them:
 * the engine's `borrowedInput` relies on it).
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
      const size = parseChunkSize(line);
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
      last[1] = unfold(last[1], line);
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

    const { contentLength, chunked, hosts } = readFraming(headers);

    if (this.#kind === "request") {
      if (method === undefined || target === undefined || version === undefined) {
        [method, target, version] = parseRequestLine(startLine!);
      }
      // RFC 7230 §5.4: exactly one Host in HTTP/1.1, never more than one.
      if (hosts > 1) throw new HttpError("repeated Host header");
      if (hosts === 0 && version >= "1.1") throw new HttpError("missing Host header");
      events.push({ type: "head", head: { kind: "request", method, target, httpVersion: version, headers } });
      if (chunked) this.#startChunked();
      else if (contentLength !== null && contentLength > 0) this.#startLength(contentLength);
      else this.#finish(events);
      return;
    }

    const [httpVersion, statusCode, reason] = parseStatusLine(startLine!);
    events.push({ type: "head", head: { kind: "response", httpVersion, statusCode, reason, headers } });
    if (statusCode === 101) {
      this.#mode = "switched";
    } else if (statusCode < 200) {
      this.#mode = "head"; // interim response: the real one follows
    } else if (statusCode === 204 || statusCode === 304) {
      this.#finish(events); // RFC 7230 §3.3.3 rule 1: never a body
    } else if (chunked) {
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
