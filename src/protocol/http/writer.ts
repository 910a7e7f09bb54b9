/**
 * Writing HTTP/1.1 for the handshake: request and response heads, chunks of
 * a chunked body, and the checks that keep what we send well-formed (a
 * header value can never inject a line: RFC 7230 §3.2).
 *
 * Invariants: every writer validates before it builds, so a
 * `LocalProtocolError` means nothing was produced; a head is written
 * straight into one array of its exact size.
 * @module
 */
import { LocalProtocolError } from "../errors.ts";
import { isLatin1, latin1Encode } from "../bytes/encoding.ts";
import { isToken } from "./headers.ts";
import { reasonPhrase } from "./status.ts";
import type { Headers } from "../types.ts";

const LF = 0x0a;
const CR = 0x0d;
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
function validateHeaderName(name: string): void {
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
function validateHeaderValue(name: string, value: string): void {
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
