/**
 * What an HTTP/1.1 message is made of, as this library reads it
 * (RFC 7230 §3): the heads the reader produces, the grammar of one line
 * (start line, header field, chunk size), the fields that frame a body, and
 * the error a malformed message raises. `reader.ts` drives these over bytes;
 * `writer.ts` writes the other direction.
 *
 * Invariants: pure; every check is linear in its line; nothing here throws
 * but {@link HttpError}, whose `status` is the answer a server would give.
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

// h11's ABNF (h11/_abnf.py), expressed over latin-1 strings.
/** RFC 7230 §3.1.1: `method SP target SP HTTP/d.d`. */
const REQUEST_LINE = /^([-!#$%&'*+.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/([0-9]\.[0-9])$/;
/** RFC 7230 §3.1.2: `HTTP/d.d SP 3DIGIT [SP reason]` (a missing reason tolerated). */
const STATUS_LINE = /^HTTP\/([0-9]\.[0-9]) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

/**
 * A request line as `[method, target, version]`.
 * @throws HttpError (400) for anything else.
 * @example
 * ```ts
 * parseRequestLine("GET /chat HTTP/1.1"); // ["GET", "/chat", "1.1"]
 * ```
 */
export function parseRequestLine(line: string): [string, string, string] {
  const m = REQUEST_LINE.exec(line);
  if (!m) throw new HttpError(`illegal request line ${JSON.stringify(line.slice(0, 64))}`);
  return [m[1]!, m[2]!, m[3]!];
}

/**
 * A status line as `[version, status code, reason]`.
 * @throws HttpError (400) for anything else, or a status below 100.
 * @example
 * ```ts
 * parseStatusLine("HTTP/1.1 101 Switching Protocols"); // ["1.1", 101, "Switching Protocols"]
 * ```
 */
export function parseStatusLine(line: string): [string, number, string] {
  const m = STATUS_LINE.exec(line);
  if (!m) throw new HttpError(`illegal status line ${JSON.stringify(line.slice(0, 64))}`);
  const statusCode = Number(m[2]!);
  if (statusCode < 100) throw new HttpError(`invalid status code ${statusCode}`);
  return [m[1]!, statusCode, m[3] ?? ""];
}
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
export function parseHeaderLine(line: string): [string, string] | null {
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

/**
 * The size of a chunk-size line (RFC 7230 §4.1: hex digits, optional
 * chunk extensions, which are ignored).
 * @throws HttpError (400) for anything else, or a size beyond 2^53.
 * @example
 * ```ts
 * parseChunkSize("1a;name=value"); // 26
 * ```
 */
export function parseChunkSize(line: string): number {
  const m = CHUNK_SIZE_LINE.exec(line);
  if (!m) throw new HttpError(`illegal chunk header ${JSON.stringify(line.slice(0, 64))}`);
  const size = parseInt(m[1]!, 16);
  if (!Number.isSafeInteger(size)) throw new HttpError("chunk size too large");
  return size;
}

/**
 * A header value continued by an obs-fold line (RFC 7230 §3.2.4: a recipient
 * may replace the fold with one space).
 * @throws HttpError (400) when the continuation has control characters.
 * @example
 * ```ts
 * unfold("a", "  b"); // "a b"
 * ```
 */
export function unfold(value: string, line: string): string {
  const more = line.trim();
  if (BAD_VALUE_CHAR.test(more)) throw new HttpError(`illegal header line ${JSON.stringify(line.slice(0, 64))}`);
  return value === "" ? more : more === "" ? value : `${value} ${more}`;
}

/** Longest chunk-size line (with extensions) accepted. */
export const MAX_CHUNK_LINE = 1024;

/** What a head's fields say about its message (RFC 7230 §3.3, §5.4). */
export interface Framing {
  /** The Content-Length, or `null` when absent. */
  readonly contentLength: number | null;
  /** `Transfer-Encoding: chunked` (the only coding accepted). */
  readonly chunked: boolean;
  /** How many Host fields. */
  readonly hosts: number;
}

/**
 * Read the fields that frame a message's body, refusing the combinations
 * that smuggle requests: a repeated or invalid Content-Length, both
 * Content-Length and Transfer-Encoding, a coding other than `chunked`.
 * @throws HttpError (400) for any of those.
 * @example
 * ```ts
 * readFraming([["content-length", "5"]]); // { contentLength: 5, chunked: false, hosts: 0 }
 * ```
 */
export function readFraming(headers: Headers): Framing {
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
  return { contentLength, chunked: transferEncoding !== null, hosts };
}
