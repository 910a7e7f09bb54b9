/**
 * WebSockets over HTTP/2 (RFC 8441, extended CONNECT), both roles, as the
 * same {@link WebSocketSession} the HTTP/1.1 helpers return.
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
import * as http2 from "node:http2";
import { STATUS_CODES } from "node:http";
import type { ClientHttp2Session, IncomingHttpHeaders, ServerHttp2Stream, SecureClientSessionOptions } from "node:http2";
import { generateAcceptToken } from "../protocol/http/headers.ts";
import { HttpReader } from "../protocol/http/http.ts";
import { PerMessageDeflate } from "../protocol/extensions/permessage-deflate.ts";
import type { Headers } from "../protocol/types.ts";
import { nodeZlibCodec } from "./zlib.ts";
import { nodeMasker } from "./masker.ts";
import { fromNodeSocket, type NodeSocketOptions } from "./index.ts";
import { DeferredClientPort, headEnd, type DeferredPortControl } from "./deferred-port.ts";
import { deferredTransport, parseWebSocketUrl, type WebSocketTarget } from "./connect.ts";
import { describeError } from "../streams/session/failures.ts";
import { transportPort, type TransportHandler, type TransportPort } from "../streams/transport.ts";
import {
  WebSocketError,
  acceptWebSocket,
  connectWebSocket,
  type AcceptWebSocketOptions,
  type ConnectWebSocketOptions,
  type MessageChunk,
  type WebSocketSession,
} from "../streams/websocket-stream.ts";

/** Options of {@link acceptHttp2WebSocket}: those of `acceptWebSocket` (but `upgradeRequest`) plus the adapter's. */
export type Http2AcceptOptions<F extends boolean = false> = Omit<AcceptWebSocketOptions<F>, "upgradeRequest"> &
  Pick<NodeSocketOptions, "readableHighWaterMark" | "writableHighWaterMark">;

/** Options of {@link connectHttp2WebSocket}: those of `connectWebSocket` (minus `url`), and the HTTP/2 connection. */
export type Http2ConnectOptions<F extends boolean = false> = Omit<ConnectWebSocketOptions<F>, "url"> &
  Pick<NodeSocketOptions, "readableHighWaterMark" | "writableHighWaterMark"> & {
    /**
     * An HTTP/2 connection to the server to open the stream on (several
     * WebSockets and requests may share one). Without it, a connection is
     * opened for this WebSocket and closed with it. The WebSocket waits for
     * the server's SETTINGS if they have not arrived yet (a session whose
     * SETTINGS came without extended CONNECT cannot be told apart from one
     * still waiting for them: that wait ends with `handshakeTimeout`).
     */
    session?: ClientHttp2Session;
    /** Options for `http2.connect` when no `session` is given (certificates, `rejectUnauthorized`, ...). */
    tls?: SecureClientSessionOptions;
  };

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
const HTTP1_ONLY = new Set(["connection", "upgrade", "keep-alive", "proxy-connection", "transfer-encoding", "te", "host"]);

const nodeExtensions = (): PerMessageDeflate[] => [new PerMessageDeflate({ threshold: 1024, codec: nodeZlibCodec })];

function adapterOptionsOf(options: Pick<NodeSocketOptions, "readableHighWaterMark" | "writableHighWaterMark" | "streams">): NodeSocketOptions {
  const adapter: NodeSocketOptions = {};
  if (options.readableHighWaterMark !== undefined) adapter.readableHighWaterMark = options.readableHighWaterMark;
  if (options.writableHighWaterMark !== undefined) adapter.writableHighWaterMark = options.writableHighWaterMark;
  if (options.streams !== undefined) adapter.streams = options.streams;
  return adapter;
}

function headerValues(value: string | string[] | number | undefined): string[] {
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
  return acceptWebSocket(deferredTransport(port), {
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
  #head: Buffer | null = Buffer.alloc(0);
  /** A rejection's body in HTTP/1.1 framing (chunked, as the engine writes it), unframed for HTTP/2 DATA. */
  #body: HttpReader | null = null;

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
    if (this.#head === null) return this.#body === null ? this.#inner.write(bytes) : this.#writeBody(bytes);
    const all = Buffer.concat([this.#head, bytes]);
    const end = headEnd(all);
    if (end < 0) {
      this.#head = all;
      return true;
    }
    this.#head = null;
    const head = all.subarray(0, end);
    if (this.#respond(head.toString("latin1")) !== 101) {
      this.#body = new HttpReader("response", { maxHeadSize: head.byteLength, maxHeaders: Number.MAX_SAFE_INTEGER });
      this.#body.push(head);
      return this.#writeBody(all.subarray(end));
    }
    return end < all.byteLength ? this.#inner.write(all.subarray(end)) : true;
  }

  #writeBody(bytes: Uint8Array): boolean {
    let ok = true;
    try {
      for (const event of this.#body!.push(bytes)) if (event.type === "data") ok = this.#inner.write(event.data);
    } catch {
      // Our own engine's framing; nothing malformed is expected, and nothing more is sent if it is.
    }
    return ok;
  }

  writeBorrowed(header: Uint8Array, payload: Uint8Array): Promise<void> | undefined {
    if (this.#head === null && this.#body === null && this.#inner.writeBorrowed !== undefined) {
      return this.#inner.writeBorrowed(header, payload);
    }
    this.write(Buffer.concat([header, payload]));
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
  #respond(head: string): number {
    const stream = this.#stream;
    const lines = head.split("\r\n");
    const status = Number(lines[0]!.split(" ")[1]);
    if (stream.destroyed || stream.headersSent) return status;
    const out: http2.OutgoingHttpHeaders = { ":status": status === 101 ? 200 : status };
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      if (HTTP1_ONLY.has(name) || name === "sec-websocket-accept") continue;
      const value = line.slice(colon + 1).trim();
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

// ---- client -------------------------------------------------------------------

/**
 * Open a WebSocket over HTTP/2 (RFC 8441): a CONNECT stream with
 * `:protocol: websocket` on `options.session`, or on a connection opened to
 * `url` for it. Fails with a clear error when the server did not send
 * SETTINGS_ENABLE_CONNECT_PROTOCOL. Resolves and rejects as
 * `connectWebSocket` does (a non-2xx answer is a rejection with its status,
 * headers and body).
 * @example
 * ```ts
 * import { connectHttp2WebSocket } from "wsproto/node";
 * const ws = connectHttp2WebSocket("wss://example.com/chat", { protocols: ["chat"] });
 * const { readable, writable } = await ws.opened;
 * ```
 */
export function connectHttp2WebSocket(
  url: string | URL,
  options: Http2ConnectOptions<true> & { fragments: true },
): WebSocketSession<MessageChunk>;
export function connectHttp2WebSocket(url: string | URL, options?: Http2ConnectOptions): WebSocketSession<string | Uint8Array>;
export function connectHttp2WebSocket(
  url: string | URL,
  options: Http2ConnectOptions<boolean> = {},
): WebSocketSession<string | Uint8Array> | WebSocketSession<MessageChunk> {
  const target = parseWebSocketUrl(url);
  const adapterOptions = adapterOptionsOf(options);
  const port = new DeferredClientPort((head, control) => establishHttp2(head, control, target, options, adapterOptions));
  const { session: _session, tls: _tls, ...rest } = options;
  return connectWebSocket(deferredTransport(port), {
    ...rest,
    extensions: options.extensions ?? nodeExtensions(),
    mask: options.mask === undefined ? nodeMasker() : options.mask,
    url: target.url,
  } as ConnectWebSocketOptions);
}

function http2Error(message: string, cause?: unknown): WebSocketError {
  return new WebSocketError(cause === undefined ? message : `${message}: ${describeError(cause)}`, {
    closeCode: 1006,
    code: "WS_ERR_HTTP2",
    ...(cause === undefined ? {} : { cause }),
  });
}

async function establishHttp2(
  head: Uint8Array,
  control: DeferredPortControl,
  target: WebSocketTarget,
  options: Http2ConnectOptions<boolean>,
  adapterOptions: NodeSocketOptions,
): Promise<TransportPort> {
  let session = options.session;
  const own = session === undefined;
  if (session === undefined) {
    const origin = `${target.secure ? "https" : "http"}://${target.url.host}`;
    const opened = http2.connect(origin, {
      ...(target.servername === undefined ? {} : { servername: target.servername }),
      ...options.tls,
    });
    // A later failure reaches the stream (and so the WebSocket); the session's own 'error' must not crash the process.
    opened.on("error", () => {});
    control.onAbort(() => opened.destroy());
    session = opened;
  }
  await connectProtocolAllowed(session, target);
  const request = parseRequestHead(Buffer.from(head).toString("latin1"));
  const headers: http2.OutgoingHttpHeaders = {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": target.secure ? "https" : "http",
    ":path": request.target,
    ":authority": request.host ?? target.url.host,
  };
  for (const [name, value] of request.headers) {
    if (HTTP1_ONLY.has(name) || name === "sec-websocket-key") continue;
    const previous = headers[name];
    headers[name] = previous === undefined ? value : [...headerValues(previous as string | string[]), value];
  }
  let stream: http2.ClientHttp2Stream;
  try {
    stream = session.request(headers, { endStream: false });
  } catch (error) {
    throw http2Error("Could not open an HTTP/2 stream", error);
  }
  control.onAbort(() => stream.close(http2.constants.NGHTTP2_CANCEL));
  if (own) {
    const s = session;
    stream.once("close", () => s.close());
  }
  const response = await new Promise<http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader>((resolve, reject) => {
    const onError = (error: unknown): void => {
      cleanup();
      reject(http2Error("The HTTP/2 stream failed before the server answered", error));
    };
    const onClose = (): void => {
      cleanup();
      const code = stream.rstCode;
      reject(http2Error(`The server closed the HTTP/2 stream before answering${code ? ` (RST_STREAM code ${code})` : ""}`));
    };
    const onResponse = (h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void => {
      cleanup();
      resolve(h);
    };
    const cleanup = (): void => {
      stream.off("error", onError);
      stream.off("close", onClose);
      stream.off("response", onResponse);
    };
    stream.on("error", onError);
    stream.on("close", onClose);
    stream.on("response", onResponse);
  });
  const status = Number(response[":status"]);
  const lines =
    status >= 200 && status < 300
      ? // RFC 8441 §5: a 2xx opens the WebSocket; the engine expects RFC 6455's 101.
        [
          "HTTP/1.1 101 Switching Protocols",
          "Upgrade: websocket",
          "Connection: Upgrade",
          `Sec-WebSocket-Accept: ${generateAcceptToken(request.key ?? "")}`,
        ]
      : [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}`];
  for (const [name, value] of Object.entries(response)) {
    if (name.startsWith(":") || HTTP1_ONLY.has(name)) continue;
    for (const v of headerValues(value)) lines.push(`${name}: ${v}`);
  }
  const synthesized = Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1");
  return transportPort(fromNodeSocket(stream, { ...adapterOptions, head: synthesized }));
}

/** RFC 8441 §3: a client uses :protocol only once the server's SETTINGS allowed it. */
function connectProtocolAllowed(session: ClientHttp2Session, target: WebSocketTarget): Promise<void> {
  if (session.destroyed || session.closed) return Promise.reject(http2Error("The HTTP/2 session is closed"));
  if (!session.connecting && session.remoteSettings.enableConnectProtocol === true) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      session.off("remoteSettings", onSettings);
      session.off("error", onError);
      session.off("close", onClose);
    };
    const onSettings = (settings: http2.Settings): void => {
      cleanup();
      if (settings.enableConnectProtocol === true) resolve();
      else {
        reject(
          http2Error(
            `The HTTP/2 server at ${target.url.host} does not accept WebSockets: it did not send SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)`,
          ),
        );
      }
    };
    const onError = (error: unknown): void => {
      cleanup();
      reject(http2Error(`Could not connect to ${target.url.host} over HTTP/2`, error));
    };
    const onClose = (): void => {
      cleanup();
      reject(http2Error(`The HTTP/2 connection to ${target.url.host} closed before its settings arrived`));
    };
    session.on("remoteSettings", onSettings);
    session.on("error", onError);
    session.on("close", onClose);
  });
}

/** Our own session's request head (we wrote it, so it is well formed). */
function parseRequestHead(head: string): { target: string; host: string | null; key: string | null; headers: Headers } {
  const lines = head.split("\r\n");
  const target = lines[0]!.split(" ")[1] ?? "/";
  const headers: Headers = [];
  let host: string | null = null;
  let key: string | null = null;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "host") host = value;
    else if (name === "sec-websocket-key") key = value;
    headers.push([name, value]);
  }
  return { target, host, key, headers };
}
