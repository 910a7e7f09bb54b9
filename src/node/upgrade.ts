/**
 * The hand-off from a Node HTTP server: `acceptNodeUpgrade` takes an
 * `'upgrade'` event's request, socket and head and runs the server side of a
 * WebSocket over them; `nodeToFetchRequest` gives a plain request to a
 * fetch-style handler; `rawHeadersToHeaders` is what Node parsed, in our
 * header shape.
 *
 * Invariants:
 * - The handlers `acceptNodeUpgrade` is given are owned: a throw or a
 *   rejection of `handleRequest` or `handleHttp` answers HTTP 500, of
 *   `onMessage`, `onPing` or `onPong` closes that connection with 1011; the
 *   error goes to `onError(error, context)` (default: one line on stderr
 *   naming the handler and the peer), and never reaches the process as an
 *   uncaught exception or an unhandled rejection. An error that only reports
 *   the connection's end (1006, the peer's close) is not reported.
 * - `closed` is observed here, so a session nobody awaits never crashes the
 *   process; `session.peer` is the socket's remote address, read once.
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { Readable, type Duplex } from "node:stream";
import type { Request } from "../protocol/events.ts";
import type { Headers } from "../protocol/types.ts";
import { reportHandlerError, isConnectionEnd, type HandlerErrorContext, type HandlerErrorReporter } from "../streams/app-errors.ts";
import { fetchRequest, type HttpHandler } from "../streams/plain-http.ts";
import {
  WebSocketError,
  acceptWebSocket,
  type AcceptWebSocketOptions,
  type MessageChunk,
  type WebSocketSession,
} from "../streams/websocket-stream.ts";
import { adapterOptionsOf, nodeExtensions } from "./options.ts";
import { fromNodeSocket, peerAddress, type NodeSocketOptions, type PeerAddress } from "./socket.ts";

/**
 * Node's `req.rawHeaders` (`[name, value, name, value, ...]`) as a
 * {@link Headers} list, names lower-cased, order kept.
 * @example
 * ```ts
 * rawHeadersToHeaders(["Host", "example.com"]); // [["host", "example.com"]]
 * ```
 */
export function rawHeadersToHeaders(rawHeaders: readonly string[]): Headers {
  const count = rawHeaders.length >>> 1;
  const headers: Headers = new Array<[string, string]>(count); // sized once, not grown push by push
  for (let i = 0; i < count; i++) {
    const name = rawHeaders[2 * i]!;
    headers[i] = [LOWER_CASE_NAMES.get(name) ?? name.toLowerCase(), rawHeaders[2 * i + 1]!];
  }
  return headers;
}

// The usual spellings of an upgrade request's names, lower-cased once here
// rather than once per request (toLowerCase() returns a lower-case name itself).
const LOWER_CASE_NAMES: ReadonlyMap<string, string> = new Map(
  [
    "Host", "Connection", "Upgrade", "Origin", "User-Agent", "Pragma", "Cache-Control", "Cookie",
    "Accept-Encoding", "Accept-Language", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
    "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
  ].map((name) => [name, name.toLowerCase()]),
);

/**
 * An `IncomingMessage` as a WHATWG `Request` (its body streamed, for methods
 * that have one); `secure` picks `https:` for the URL.
 * @example
 * ```ts
 * httpServer.on("request", async (req, res) => { const response = await app(nodeToFetchRequest(req, false)); });
 * ```
 */
export function nodeToFetchRequest(req: IncomingMessage, secure: boolean): globalThis.Request {
  const method = req.method ?? "GET";
  const head = { method, target: req.url ?? "/", headers: rawHeadersToHeaders(req.rawHeaders) };
  const scheme = secure ? "https:" : "http:";
  if (method === "GET" || method === "HEAD") return fetchRequest(head, scheme);
  return fetchRequest(head, scheme, Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>);
}

/** Options of {@link acceptNodeUpgrade}: those of `acceptWebSocket` plus the adapter's, and `onError` with a context. */
export type NodeUpgradeOptions<F extends boolean = false> = Omit<AcceptWebSocketOptions<F>, "onError"> &
  Pick<NodeSocketOptions, "readableHighWaterMark" | "writableHighWaterMark"> & {
    /**
     * Where failures of the handlers given here go (`handleRequest`,
     * `handleHttp`, `onMessage`, `onPing`, `onPong`), with which handler
     * failed, its session and the peer's address. The connection is
     * answered 500 (before the upgrade) or closed with 1011 either way.
     * @default one line on stderr naming the handler and the peer
     */
    onError?: HandlerErrorReporter;
  };

/**
 * Accept a WebSocket from a Node HTTP server's `'upgrade'` event: the request
 * Node already parsed goes through `initiateUpgradeConnection`, the `head`
 * bytes are delivered first, and the answer (101 or a rejection) is written
 * to the socket. The handlers in `options` are owned (see `onError`); the
 * session's `peer` is the socket's remote address.
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { acceptNodeUpgrade } from "wsproto/node";
 * const server = createServer();
 * server.on("upgrade", async (req, socket, head) => {
 *   const ws = acceptNodeUpgrade(req, socket, head);
 *   try {
 *     const { readable, writable } = await ws.opened;
 *     await readable.pipeTo(writable); // echo
 *   } catch {
 *     // The peer went away (or the handshake failed): `ws.closed` says how.
 *   }
 * });
 * ```
 */
export function acceptNodeUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: NodeUpgradeOptions<true> & { fragments: true },
): WebSocketSession<MessageChunk>;
export function acceptNodeUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options?: NodeUpgradeOptions,
): WebSocketSession<string | Uint8Array>;
export function acceptNodeUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: NodeUpgradeOptions<boolean> = {},
): WebSocketSession<string | Uint8Array> | WebSocketSession<MessageChunk> {
  // As ws does: no idle timeout left over from the HTTP server, and no Nagle delay for small frames.
  const tcp = socket as Partial<Pick<Socket, "setTimeout" | "setNoDelay">>;
  tcp.setTimeout?.(0);
  tcp.setNoDelay?.(true);
  const peer = options.peer !== undefined ? options.peer : peerAddress(socket);
  const owner = new HandlerOwner(options.onError, peer);
  const { onError: _onError, ...rest } = options;
  const session = acceptWebSocket(fromNodeSocket(socket, adapterOptionsOf(options, head)), {
    ...rest,
    ...owner.wrap(options),
    peer,
    extensions: options.extensions ?? nodeExtensions(),
    // The request line too: RFC 6455 §4.1's GET and HTTP/1.1 are checked as on the bare-TCP path.
    upgradeRequest: {
      headers: rawHeadersToHeaders(req.rawHeaders),
      path: req.url ?? "/",
      method: req.method ?? "GET",
      httpVersion: req.httpVersion ?? "1.1",
    },
  } as AcceptWebSocketOptions);
  owner.session = session;
  owner.watch(session);
  return session;
}

type AnySession = WebSocketSession<string | Uint8Array> | WebSocketSession<MessageChunk>;

/** The handlers of one `acceptNodeUpgrade` call, called inside a boundary that owns their failures. */
class HandlerOwner {
  readonly #onError: HandlerErrorReporter | undefined;
  readonly #peer: PeerAddress | null;
  session: AnySession | null = null;

  constructor(onError: HandlerErrorReporter | undefined, peer: PeerAddress | null) {
    this.#onError = onError;
    this.#peer = peer;
  }

  report(handler: string, error: unknown): void {
    const context: HandlerErrorContext = { handler };
    if (this.session !== null) context.session = this.session;
    if (this.#peer !== null) context.remoteAddress = this.#peer.address;
    reportHandlerError(this.#onError, error, context);
  }

  /** The options with each handler given wrapped (absent ones stay absent: no handleRequest means no turn before the 101). */
  wrap(options: NodeUpgradeOptions<boolean>): Partial<AcceptWebSocketOptions<boolean>> {
    const wrapped: Partial<AcceptWebSocketOptions<boolean>> = {};
    const { handleRequest, handleHttp, onPing, onPong } = options;
    if (handleRequest !== undefined) {
      // A failure answers 500 (the session's rule) and is reported here, once.
      wrapped.handleRequest = async (request: Request) => {
        try {
          return await handleRequest(request);
        } catch (error) {
          this.report("handleRequest", error);
          throw error;
        }
      };
    }
    if (handleHttp !== undefined) wrapped.handleHttp = this.#ownHttp(handleHttp);
    if (onPing !== undefined) wrapped.onPing = this.#ownCallback("onPing", onPing);
    if (onPong !== undefined) wrapped.onPong = this.#ownCallback("onPong", onPong);
    return wrapped;
  }

  #ownHttp(handleHttp: HttpHandler): HttpHandler {
    return async (request) => {
      try {
        const response = await handleHttp(request);
        if (!(response instanceof Response)) throw new TypeError("handleHttp must return a Response");
        return response;
      } catch (error) {
        this.report("handleHttp", error); // the client gets a 500
        throw error;
      }
    };
  }

  #ownCallback(handler: string, callback: (payload: Uint8Array) => void): (payload: Uint8Array) => void {
    return (payload) => {
      try {
        callback(payload);
      } catch (error) {
        this.report(handler, error);
        this.#fail();
      }
    };
  }

  /** RFC 6455 §7.4.1: 1011, the server met a condition that kept it from fulfilling the request. */
  #fail(): void {
    try {
      this.session?.close({ closeCode: 1011, reason: "Internal error" });
    } catch {
      // Already closing.
    }
  }

  /** `onMessage` failures are the session's (1011, `closed` rejects with their cause): reported from there. */
  watch(session: AnySession): void {
    session.closed.then(undefined, (error: unknown) => {
      if (error instanceof WebSocketError && error.code === "WS_ERR_MESSAGE_HANDLER" && !isConnectionEnd(error.cause)) {
        this.report("onMessage", error.cause);
      }
    });
  }
}
