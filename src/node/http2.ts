/**
 * WebSockets over HTTP/2 (RFC 8441, extended CONNECT), both roles, as the
 * same {@link WebSocketSession} the HTTP/1.1 helpers return: the rules both
 * share and the server side here, the client side in http2-client.ts.
 *
 * How: HTTP/2 carries the opening handshake in its own headers (a CONNECT
 * request with `:protocol: websocket`, answered by a 2xx; no key, no accept,
 * no 101), and the stream's DATA frames then carry WebSocket frames. The
 * session's handshake stays the engine's: this module translates at the
 * edge. A server session is given the request as `upgradeRequest` (the
 * HTTP/2 headers plus what RFC 6455 needs: Upgrade, Connection and a
 * fixed key), and the head it answers with becomes `stream.respond()` (101
 * becomes 200, the HTTP/1.1-only fields dropped); a rejection keeps its
 * status, headers and body. A client session's request head becomes the
 * CONNECT request, and the response is handed back to the session as the
 * HTTP/1.1 head it expects (a 2xx becomes the 101 with the accept token its
 * key calls for). So subprotocols, `Sec-WebSocket-Extensions` (through
 * `serverExtensionsHandshake` / `clientExtensionsHandshake`, as for
 * HTTP/1.1), `handleRequest`, rejections with a body, timeouts and the
 * signal all behave as over HTTP/1.1.
 *
 * Invariants:
 * - Holds at most one HTTP head on each side while translating; after it,
 *   bytes go straight between the session and the stream through the Node
 *   adapter's port, so HTTP/2 flow control is the back-pressure: a session
 *   that stops reading stops the stream being read, its window stops being
 *   replenished and the peer's writes wait (and the reverse).
 * - RFC 8441 §6: the WebSocket's TCP close is the stream's END_STREAM; an
 *   abort is RST_STREAM (CANCEL). A client session opened here (no
 *   `session` option) is closed when its stream closes.
 * @module
 */
import type * as http2 from "node:http2";
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { concatBytes } from "../protocol/bytes/encoding.ts";
import type { HttpEvent, ResponseHead } from "../protocol/http/message.ts";
import { HttpReader } from "../protocol/http/reader.ts";
import type { Headers } from "../protocol/types.ts";
import { transportPort, type TransportHandler, type TransportPort } from "../streams/transport.ts";
import { acceptWebSocket, type AcceptWebSocketOptions, type MessageChunk, type WebSocketSession } from "../streams/sessions.ts";
import { deferredTransport } from "./deferred-port.ts";
import { adapterOptionsOf, nodeExtensions } from "./options.ts";
import { nodeMasker } from "./masker.ts";
import { fromNodeSocket, peerAddress, type NodeSocketOptions } from "./socket.ts";

/** Options of {@link acceptHttp2WebSocket}: those of `acceptWebSocket` (but `upgradeRequest`) plus the adapter's. */
export type Http2AcceptOptions<F extends boolean = false> = Omit<AcceptWebSocketOptions<F>, "upgradeRequest"> &
  Pick<NodeSocketOptions, "readableHighWaterMark" | "writableHighWaterMark">;

/**
 * The server setting RFC 8441 §3 requires before a client may open a
 * WebSocket: pass it to `http2.createServer` / `http2.createSecureServer`.
 * @example
 * ```ts
 * import { createSecureServer } from "node:http2";
 * import { HTTP2_WEBSOCKET_SETTINGS } from "wsproto/node";
 * const server = createSecureServer({ allowHTTP1: true, settings: HTTP2_WEBSOCKET_SETTINGS });
 * ```
 */
export const HTTP2_WEBSOCKET_SETTINGS: Readonly<{ enableConnectProtocol: true }> = Object.freeze({ enableConnectProtocol: true });

/**
 * Whether an HTTP/2 request is a WebSocket opening (RFC 8441 §4: `:method`
 * CONNECT with `:protocol` websocket); what a server's `'stream'` listener
 * checks before {@link acceptHttp2WebSocket}.
 * @example
 * ```ts
 * server.on("stream", (stream, headers) => {
 *   if (isHttp2WebSocketRequest(headers)) acceptHttp2WebSocket(stream, headers);
 *   else stream.respond({ ":status": 404 }, { endStream: true });
 * });
 * ```
 */
export function isHttp2WebSocketRequest(headers: IncomingHttpHeaders): boolean {
  return headers[":method"] === "CONNECT" && headers[":protocol"] === "websocket";
}

/** The engine wants a key; over HTTP/2 there is none, and the accept token derived from it is never sent. */
const PLACEHOLDER_KEY = "AAAAAAAAAAAAAAAAAAAAAA==";
/** HTTP/1.1 connection-specific fields, forbidden in HTTP/2 (RFC 9113 §8.2.2), and those the translation replaces. */
export const HTTP1_ONLY = new Set(["connection", "upgrade", "keep-alive", "proxy-connection", "transfer-encoding", "te", "host"]);

/** An HTTP/2 header value as a list. */
export function headerValues(value: string | string[] | number | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [String(value)];
}

// ---- server -------------------------------------------------------------------

/**
 * Accept a WebSocket on an HTTP/2 server stream (RFC 8441). The server must
 * have been created with {@link HTTP2_WEBSOCKET_SETTINGS}. A request that is
 * not a WebSocket CONNECT, or lacks `sec-websocket-version: 13`, is
 * answered by `handleHttp` if given, else 400 (HTTP/2 has no Upgrade header for a 426).
 * @example
 * ```ts
 * import { createSecureServer } from "node:http2";
 * import { acceptHttp2WebSocket, isHttp2WebSocketRequest, HTTP2_WEBSOCKET_SETTINGS } from "wsproto/node";
 * const server = createSecureServer({ key: "", cert: "", allowHTTP1: true, settings: HTTP2_WEBSOCKET_SETTINGS });
 * server.on("stream", async (stream, headers) => {
 *   if (!isHttp2WebSocketRequest(headers)) return;
 *   const ws = acceptHttp2WebSocket(stream, headers, { protocols: ["chat"] });
 *   const { readable, writable } = await ws.opened;
 *   await readable.pipeTo(writable); // echo
 * });
 * ```
 */
export function acceptHttp2WebSocket(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  options: Http2AcceptOptions<true> & { fragments: true },
): WebSocketSession<MessageChunk>;
export function acceptHttp2WebSocket(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  options?: Http2AcceptOptions,
): WebSocketSession<string | Uint8Array>;
export function acceptHttp2WebSocket(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  options: Http2AcceptOptions<boolean> = {},
): WebSocketSession<string | Uint8Array> | WebSocketSession<MessageChunk> {
  const inner = transportPort(fromNodeSocket(stream, adapterOptionsOf(options)));
  const port = new Http2ServerPort(stream, inner);
  const socket = stream.session?.socket;
  return acceptWebSocket(deferredTransport(port), {
    peer: socket === undefined ? null : peerAddress(socket),
    ...options,
    extensions: options.extensions ?? nodeExtensions(),
    mask: options.mask === undefined ? nodeMasker() : options.mask,
    upgradeRequest: upgradeRequestOf(headers),
    // A request that is not an extended CONNECT is plain HTTP: the
    // application's handleHttp answers it, else 400 (HTTP/2 has no Upgrade
    // header, so the 426 of HTTP/1.1 cannot say what to do; RFC 9113 §8.2.2).
    handleHttp: options.handleHttp ?? notExtendedConnect,
  } as AcceptWebSocketOptions);
}

/** The default answer to a plain HTTP/2 request on a WebSocket endpoint. */
function notExtendedConnect(): Response {
  return new Response("This endpoint speaks WebSocket only: open it with an extended CONNECT (RFC 8441).\n", {
    status: 400,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** The HTTP/2 request as the HTTP/1.1 upgrade request the engine checks. */
function upgradeRequestOf(headers: IncomingHttpHeaders): { headers: Headers; path: string } {
  const list: Headers = [];
  const authority = headers[":authority"] ?? headers.host;
  if (authority !== undefined) list.push(["host", String(authority)]);
  // RFC 8441 §4: only CONNECT with :protocol websocket opens a WebSocket;
  // anything else lacks the Upgrade the engine requires, and is refused by it.
  if (isHttp2WebSocketRequest(headers)) {
    list.push(["upgrade", "websocket"], ["connection", "Upgrade"], ["sec-websocket-key", PLACEHOLDER_KEY]);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || HTTP1_ONLY.has(name) || name === "sec-websocket-key") continue;
    for (const v of headerValues(value)) list.push([name, v]);
  }
  return { headers: list, path: String(headers[":path"] ?? "/") };
}

/** Turns the session's response head into `stream.respond()`; everything after it goes to the stream. */
class Http2ServerPort implements TransportPort {
  readonly #stream: ServerHttp2Stream;
  readonly #inner: TransportPort;
  /**
   * Reads what the session writes in HTTP/1.1 until the stream carries
   * WebSocket frames: the head (which becomes `respond()`), then a
   * rejection's body (chunked, as the engine writes it), unframed for
   * HTTP/2 DATA. `null` once a 101 was answered: bytes then pass through.
   */
  #reader: HttpReader | null = new HttpReader("response", { maxHeadSize: Number.MAX_SAFE_INTEGER, maxHeaders: Number.MAX_SAFE_INTEGER });

  constructor(stream: ServerHttp2Stream, inner: TransportPort) {
    this.#stream = stream;
    this.#inner = inner;
  }

  start(handler: TransportHandler): void {
    this.#inner.start(handler);
  }

  pause(): void {
    this.#inner.pause();
  }

  resume(): void {
    this.#inner.resume();
  }

  write(bytes: Uint8Array): boolean {
    const reader = this.#reader;
    if (reader === null) return this.#inner.write(bytes);
    const events: HttpEvent[] = [];
    try {
      reader.push(bytes, events);
    } catch {
      // Our own engine's framing; nothing malformed is expected, and nothing more is sent if it is.
    }
    let ok = true;
    for (const event of events) {
      if (event.type === "head") {
        if (this.#respond(event.head as ResponseHead) === 101) {
          this.#reader = null;
          // The frames the session wrote right after its 101 (none, usually).
          const frames = reader.takeTrailing();
          return frames.byteLength > 0 ? this.#inner.write(frames) : true;
        }
      } else if (event.type === "data") ok = this.#inner.write(event.data);
    }
    return ok;
  }

  writeBorrowed(header: Uint8Array, payload: Uint8Array): Promise<void> | undefined {
    if (this.#reader === null && this.#inner.writeBorrowed !== undefined) return this.#inner.writeBorrowed(header, payload);
    this.write(concatBytes([header, payload]));
    return undefined;
  }

  bufferedAmount(): number {
    return this.#inner.bufferedAmount?.() ?? 0;
  }

  drain(): Promise<void> {
    return this.#inner.drain();
  }

  end(): Promise<void> {
    return this.#inner.end();
  }

  abort(reason?: unknown): void {
    this.#inner.abort(reason);
  }

  /** Answer with the session's head; returns its status. */
  #respond(head: ResponseHead): number {
    const stream = this.#stream;
    const status = head.statusCode;
    if (stream.destroyed || stream.headersSent) return status;
    const out: http2.OutgoingHttpHeaders = { ":status": status === 101 ? 200 : status };
    for (const [name, value] of head.headers) {
      if (HTTP1_ONLY.has(name) || name === "sec-websocket-accept") continue;
      const previous = out[name];
      out[name] = previous === undefined ? value : [...headerValues(previous as string | string[]), value];
    }
    try {
      stream.respond(out);
    } catch (error) {
      stream.destroy(error instanceof Error ? error : new Error(String(error)));
    }
    return status;
  }
}
