/**
 * The hand-off from a Node HTTP server: `acceptNodeUpgrade` takes an
 * `'upgrade'` event's request, socket and head and runs the server side of a
 * WebSocket over them; `nodeToFetchRequest` gives a plain request to a
 * fetch-style handler; `rawHeadersToHeaders` is what Node parsed, in our
 * header shape.
 *
 * Invariants:
 * - The handlers given to `acceptNodeUpgrade` are the session's to own (a
 *   throw or a rejection answers 500 before the upgrade or closes with
 *   1011, and goes to `onError`); this module adds the socket's remote
 *   address: as `session.peer`, in `onError`'s context, and in the default
 *   stderr line (`wsproto: onMessage failed (peer 127.0.0.1:50123): ...`).
 *   A throwing `onError` is reported there too; nothing reaches the process.
 * - Holds nothing of its own: the socket belongs to the socket adapter, the
 *   request is fed to the session as Node parsed it.
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { Readable, type Duplex } from "node:stream";
import type { Headers } from "../protocol/types.ts";
import { reportToStderr } from "../streams/app-errors.ts";
import { fetchRequest } from "../streams/plain-http.ts";
import {
  acceptWebSocket,
  type AcceptWebSocketOptions,
  type MessageChunk,
  type WebSocketSession,
} from "../streams/sessions.ts";
import { adapterOptionsOf, nodeExtensions } from "./options.ts";
import { nodeMasker } from "./masker.ts";
import { fromNodeSocket, peerAddress, type NodeSocketOptions } from "./socket.ts";

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

/** Options of {@link acceptNodeUpgrade}: those of `acceptWebSocket` plus the adapter's. */
export type NodeUpgradeOptions<F extends boolean = false> = AcceptWebSocketOptions<F> &
  Pick<NodeSocketOptions, "readableHighWaterMark" | "writableHighWaterMark">;

/**
 * Accept a WebSocket from a Node HTTP server's `'upgrade'` event: the request
 * Node already parsed goes through `initiateUpgradeConnection`, the `head`
 * bytes are delivered first, and the answer (101 or a rejection) is written
 * to the socket. The handlers in `options` are owned by the session (a
 * failure answers 500 or closes with 1011, and goes to `onError`, whose
 * context and default stderr line name the peer); `session.peer` is the
 * socket's remote address.
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
  const peer = options.peer ?? peerAddress(socket);
  const session = acceptWebSocket(fromNodeSocket(socket, adapterOptionsOf(options, head)), {
    ...options,
    ...(peer === null ? {} : { peer }),
    extensions: options.extensions ?? nodeExtensions(),
    mask: options.mask === undefined ? nodeMasker() : options.mask,
    // The request line too: RFC 6455 §4.1's GET and HTTP/1.1 are checked as on the bare-TCP path.
    upgradeRequest: {
      headers: rawHeadersToHeaders(req.rawHeaders),
      path: req.url ?? "/",
      method: req.method ?? "GET",
      httpVersion: req.httpVersion ?? "1.1",
    },
  } as AcceptWebSocketOptions);
  return session;
}
