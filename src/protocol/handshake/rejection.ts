/**
 * A server's HTTP rejection of an upgrade request: the head of the
 * `RejectConnection` and the framing of the body that `RejectData` events
 * carry (h11's rules, as wsproto uses them). `H11Handshake` calls these
 * with its state already checked.
 *
 * Invariants:
 * - Both functions validate before they build: a `LocalProtocolError`
 *   means no bytes were made and the framing did not change.
 * - The body is framed by what the head declared (Content-Length,
 *   chunked), else by the peer: chunked for HTTP/1.1, until the connection
 *   closes for HTTP/1.0 (with `Connection: close` said).
 * - A length-framed body never gets more or fewer bytes than declared.
 * @module
 */
import { LocalProtocolError } from "../errors.ts";
import type { RejectConnection, RejectData } from "../events.ts";
import { hasToken, parseTokenList } from "../http/headers.ts";
import type { RequestHead } from "../http/message.ts";
import { LAST_CHUNK, validateHeaders, writeChunk, writeResponseHead } from "../http/writer.ts";
import type { Headers } from "../types.ts";
import { joined } from "./fields.ts";

/** How a server's rejection body is framed on the wire (`remaining` counts down as `RejectData` is sent). */
export type RejectFraming =
  | { readonly kind: "length"; remaining: number }
  | { readonly kind: "chunked" }
  | { readonly kind: "close" }; // HTTP/1.0 style: the body ends with the connection

/** A rejection head on its way, and how its body goes. */
export interface RejectResponse {
  readonly bytes: Uint8Array;
  readonly framing: RejectFraming;
}

/**
 * Validate a `RejectConnection` and write its head, answering `request`
 * (the head received, or `null` when none was complete).
 * @throws LocalProtocolError for a status outside 200-999, bad headers, or a body the headers contradict.
 * @example
 * ```ts
 * const { bytes, framing } = buildRejection(new RejectConnection({ statusCode: 403 }), null);
 * ```
 */
export function buildRejection(event: RejectConnection, request: RequestHead | null): RejectResponse {
  const { statusCode, hasBody } = event;
  if (!Number.isInteger(statusCode) || statusCode < 200 || statusCode > 999) {
    throw new LocalProtocolError(
      `Invalid rejection status ${String(statusCode)}: must be 200-999 (use AcceptConnection for 101)`,
      "WS_ERR_INVALID_STATUS",
    );
  }
  validateHeaders(event.headers);
  const headers: Headers = [...event.headers];
  let contentLength: number | null = null;
  let chunked = false;
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === "content-length") {
      if (contentLength !== null || !/^[0-9]{1,15}$/.test(value)) {
        throw new LocalProtocolError(`Invalid or repeated Content-Length ${JSON.stringify(value)}`, "WS_ERR_INVALID_HEADER");
      }
      contentLength = Number(value);
    } else if (lower === "transfer-encoding") {
      if (chunked || value.toLowerCase() !== "chunked") {
        throw new LocalProtocolError("Only one Transfer-Encoding: chunked is supported", "WS_ERR_INVALID_HEADER");
      }
      chunked = true;
    }
  }
  if (chunked && contentLength !== null) {
    throw new LocalProtocolError("Content-Length and Transfer-Encoding cannot both be sent", "WS_ERR_INVALID_HEADER");
  }
  // h11's rules (wsproto's framing): the peer's HTTP version and keep-alive decide.
  const http10 = request === null || request.httpVersion < "1.1";
  const keepAlive =
    request === null ||
    (request.httpVersion >= "1.1" && !hasToken(joined(request.headers, "connection") ?? "", "close"));
  let framing: RejectFraming;
  let needClose = !keepAlive;
  if (!hasBody) {
    if (chunked || (contentLength !== null && contentLength !== 0)) {
      throw new LocalProtocolError("A rejection without a body cannot declare one", "WS_ERR_INVALID_HEADER");
    }
    if (contentLength === null) headers.push(["content-length", "0"]);
    framing = { kind: "length", remaining: 0 };
  } else if (statusCode === 204 || statusCode === 304) {
    throw new LocalProtocolError(`A ${statusCode} response cannot have a body`, "WS_ERR_INVALID_STATUS");
  } else if (chunked) {
    framing = { kind: "chunked" };
  } else if (contentLength !== null) {
    framing = { kind: "length", remaining: contentLength };
  } else if (request === null || http10) {
    // No framing an HTTP/1.0 peer understands: the body ends with the connection.
    framing = { kind: "close" };
    needClose = true;
  } else {
    headers.push(["Transfer-Encoding", "chunked"]);
    framing = { kind: "chunked" };
  }
  if (needClose) {
    // h11's set_comma_header: the Connection tokens, minus keep-alive, plus close, one line each.
    const tokens = new Set<string>();
    for (let i = headers.length - 1; i >= 0; i--) {
      const [name, value] = headers[i]!;
      if (name.toLowerCase() !== "connection") continue;
      let list: string[];
      try {
        list = parseTokenList(value);
      } catch {
        throw new LocalProtocolError(`Invalid Connection header ${JSON.stringify(value)}`, "WS_ERR_INVALID_HEADER");
      }
      for (const t of list) tokens.add(t.toLowerCase());
      headers.splice(i, 1);
    }
    tokens.delete("keep-alive");
    tokens.add("close");
    for (const t of [...tokens].sort()) headers.push(["Connection", t]);
  }
  return { bytes: writeResponseHead(statusCode, headers, event.reason ?? ""), framing };
}

/**
 * The bytes of one piece of a rejection body, framed as `framing` says
 * (updated for a length-framed body).
 * @throws LocalProtocolError when `data` is not a Uint8Array or breaks the declared Content-Length.
 * @example
 * ```ts
 * const bytes = rejectionBody(framing, new RejectData({ data: body }));
 * ```
 */
export function rejectionBody(framing: RejectFraming, event: RejectData): Uint8Array {
  const { data, bodyFinished } = event;
  if (!(data instanceof Uint8Array)) {
    throw new LocalProtocolError("RejectData.data must be a Uint8Array", "WS_ERR_INVALID_DATA_TYPE");
  }
  let bytes: Uint8Array;
  if (framing.kind === "length") {
    if (data.length > framing.remaining) {
      throw new LocalProtocolError("Too much data for declared Content-Length", "WS_ERR_BODY_LENGTH");
    }
    if (bodyFinished && data.length < framing.remaining) {
      throw new LocalProtocolError("Too little data for declared Content-Length", "WS_ERR_BODY_LENGTH");
    }
    framing.remaining -= data.length;
    bytes = data.slice();
  } else if (framing.kind === "chunked") {
    const chunk = writeChunk(data);
    if (bodyFinished) {
      bytes = new Uint8Array(chunk.length + LAST_CHUNK.length);
      bytes.set(chunk);
      bytes.set(LAST_CHUNK, chunk.length);
    } else {
      bytes = chunk;
    }
  } else {
    bytes = data.slice();
  }
  return bytes;
}
