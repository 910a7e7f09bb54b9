/**
 * Plain HTTP beside WebSockets, for a server that reads requests itself (a
 * bare TCP / `Deno.listen` server through `acceptWebSocket`, or a Node
 * `'upgrade'` event carrying some other upgrade): the answers a server gives
 * to a request that is not a valid WebSocket upgrade, in one place, so every
 * path answers alike.
 *
 * - A request that does not ask for `Upgrade: websocket` at all is plain
 *   HTTP: it goes to `handleHttp` (a WHATWG `Request` in, a `Response` out),
 *   or gets 426 Upgrade Required with a short body.
 * - A WebSocket upgrade that is invalid (wrong method, HTTP/1.0, no Host, a
 *   body, a bad key...) gets the handshake's status (400, or 426 for a wrong
 *   `Sec-WebSocket-Version`, 431) with its reason phrase and a one-line
 *   `text/plain` body saying what was wrong.
 *
 * Invariants: nothing here reads or writes a transport; answers are values
 * ({@link HttpAnswer}) the session writes through its handshake (so its
 * state machine frames them). A `Response` body is read whole, at most
 * {@link MAX_HTTP_RESPONSE_BODY} bytes (a larger one is a 500).
 * @module
 */
import type { RemoteProtocolError } from "../protocol/errors.ts";
import { RejectConnection } from "../protocol/events.ts";
import { concatBytes } from "../protocol/bytes/encoding.ts";
import { parseTokenList } from "../protocol/http/headers.ts";
import type { RequestHead } from "../protocol/http/message.ts";
import { reasonPhrase } from "../protocol/http/status.ts";
import type { Headers } from "../protocol/types.ts";

/** What `handleHttp` is: a fetch-style handler for requests that are not WebSocket upgrades. */
export type HttpHandler = (request: globalThis.Request) => Response | Promise<Response>;

/** An HTTP response to write instead of a 101: status, reason phrase, headers and the whole body. */
export interface HttpAnswer {
  status: number;
  reason: string;
  headers: Headers;
  body: Uint8Array;
}

/** Largest `Response` body `handleHttp` may return on a path that buffers it (16 MiB). */
export const MAX_HTTP_RESPONSE_BODY = 16 * 1024 * 1024;

const encoder = new TextEncoder();

/**
 * A short `text/plain` answer: `status`, its usual reason phrase, and `detail`
 * as a one-line body.
 * @example
 * ```ts
 * shortAnswer(404, "no such path"); // 404 Not Found, body "no such path\n"
 * ```
 */
export function shortAnswer(status: number, detail: string, headers: Headers = []): HttpAnswer {
  const body = encoder.encode(`${detail}\n`);
  return {
    status,
    reason: reasonPhrase(status),
    headers: [...headers, ["Content-Type", "text/plain; charset=utf-8"], ["Content-Length", String(body.byteLength)]],
    body,
  };
}

/**
 * 426 Upgrade Required, the answer to plain HTTP where nothing handles it
 * (RFC 9110 §15.5.22: it names the protocol to upgrade to).
 * @example
 * ```ts
 * const answer = upgradeRequired(); // answer.status === 426
 * ```
 */
export function upgradeRequired(): HttpAnswer {
  return shortAnswer(426, "This endpoint speaks WebSocket only: send a WebSocket upgrade request.", [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
  ]);
}

/**
 * The answer to a refused upgrade request: the status and headers of the
 * handshake's hint (400, 426 with `Sec-WebSocket-Version`, 431), its reason
 * phrase, and the error's message as the body.
 * @example
 * ```ts
 * try { ws.receiveData(bytes); } catch (e) { if (e instanceof RemoteProtocolError) answerForRefusal(e); }
 * ```
 */
export function answerForRefusal(error: RemoteProtocolError): HttpAnswer {
  const hint = error.eventHint instanceof RejectConnection ? error.eventHint : new RejectConnection();
  return shortAnswer(hint.statusCode, error.message, hint.headers);
}

/**
 * `true` when the request asks to upgrade to WebSocket (an `Upgrade` header
 * listing `websocket`), valid or not; anything else is plain HTTP.
 * @example
 * ```ts
 * asksForWebSocket([["upgrade", "websocket"]]); // true
 * asksForWebSocket([["upgrade", "h2c"]]);       // false
 * ```
 */
export function asksForWebSocket(headers: Headers): boolean {
  for (const [name, value] of headers) {
    if (name.toLowerCase() !== "upgrade") continue;
    try {
      if (parseTokenList(value).some((token) => token.toLowerCase() === "websocket")) return true;
    } catch {
      // Unparseable: the handshake says what is wrong with it.
      return true;
    }
  }
  return false;
}

/** `true` when a received request head declares a body. */
function hasBody(head: RequestHead): boolean {
  return head.headers.some(([name, value]) => name === "transfer-encoding" || (name === "content-length" && value !== "0"));
}

/**
 * A WHATWG `Request` for a plain request head (read from a transport, or
 * parsed by another HTTP stack): the URL from `scheme`, the Host header and
 * the target (absolute-form kept), every header, and `body` if given (a
 * request read from a transport keeps none: one that declares a body is
 * answered 413 before this).
 * @example
 * ```ts
 * const request = fetchRequest(head, "http:"); // request.url === "http://host/path"
 * ```
 */
export function fetchRequest(
  head: Pick<RequestHead, "method" | "target" | "headers">,
  scheme: "http:" | "https:" = "http:",
  body?: ReadableStream<Uint8Array>,
): globalThis.Request {
  let host = "localhost";
  for (const [name, value] of head.headers) {
    if (name.toLowerCase() === "host") {
      host = value;
      break;
    }
  }
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(head.target) ? head.target : `${scheme}//${host}${head.target.startsWith("/") ? "" : "/"}${head.target}`;
  const headers = new globalThis.Headers();
  for (const [name, value] of head.headers) headers.append(name, value);
  const init: RequestInit & { duplex?: "half" } = { method: head.method, headers };
  if (body !== undefined) {
    init.body = body;
    init.duplex = "half"; // a streamed request body (undici and the fetch spec require saying so)
  }
  return new globalThis.Request(url, init);
}

/**
 * A `Response`'s headers as a list, each `Set-Cookie` on its own (a
 * `Headers` object joins them with commas, which cookies may contain),
 * leaving out the names in `skip` (lower-case).
 * @example
 * ```ts
 * responseHeaders(new Response("", { headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"]] })); // two fields
 * ```
 */
export function responseHeaders(response: Response, skip?: ReadonlySet<string>): Headers {
  const headers: Headers = [];
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie" && skip?.has(name) !== true) headers.push([name, value]);
  });
  if (skip?.has("set-cookie") !== true) for (const cookie of response.headers.getSetCookie()) headers.push(["set-cookie", cookie]);
  return headers;
}

/** Framing fields `answerFromResponse` sets itself. */
const FRAMING = new Set(["content-length", "transfer-encoding", "connection"]);

/**
 * Hand a plain request to `handleHttp` and turn its `Response` into an
 * answer (body read whole; `HEAD` gets the headers only). No handler: 426. A
 * request with a body: 413 (a server reading its own requests does not keep
 * bodies). A handler that throws or returns something else: 500 (and the
 * error goes to `report`).
 * @example
 * ```ts
 * const answer = await answerPlainRequest(head, (request) => new Response("ok"));
 * ```
 */
export async function answerPlainRequest(
  head: RequestHead,
  handleHttp: HttpHandler | undefined,
  report?: (error: unknown) => void,
): Promise<HttpAnswer> {
  if (handleHttp === undefined) return upgradeRequired();
  if (hasBody(head)) return shortAnswer(413, "Request bodies are not accepted here.");
  let response: Response;
  try {
    const request = fetchRequest(head);
    response = await handleHttp(request);
    if (!(response instanceof Response)) throw new TypeError("handleHttp must return a Response");
  } catch (error) {
    report?.(error);
    return shortAnswer(500, "The request handler failed.");
  }
  return answerFromResponse(response, head.method);
}

/**
 * A WHATWG `Response` as an {@link HttpAnswer}: status, status text (else the
 * usual phrase), headers but framing ones (`Content-Length` and
 * `Transfer-Encoding` are set from the body), `Connection: close`, and the
 * body read whole (none for `HEAD`).
 * @example
 * ```ts
 * const answer = await answerFromResponse(new Response("hi"), "GET");
 * ```
 */
export async function answerFromResponse(response: Response, method: string): Promise<HttpAnswer> {
  let body: Uint8Array = new Uint8Array(0);
  if (method !== "HEAD" && response.body !== null) {
    const reader = response.body.getReader();
    const parts: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_HTTP_RESPONSE_BODY) {
        await reader.cancel();
        return shortAnswer(500, "The response body is too large.");
      }
      parts.push(value);
    }
    body = concatBytes(parts);
  }
  const headers = responseHeaders(response, FRAMING);
  headers.push(["connection", "close"]);
  if (method !== "HEAD") headers.push(["content-length", String(body.byteLength)]);
  return { status: response.status, reason: response.statusText || reasonPhrase(response.status), headers, body };
}
