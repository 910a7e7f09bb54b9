/**
 * The Node client's way to its server: `connectNodeWebSocket` opens TCP (or
 * TLS for `wss:`), directly, through an HTTP proxy's CONNECT tunnel, or
 * through a `createConnection` hook (Unix sockets, test harnesses), and may
 * follow redirects of the opening handshake.
 *
 * How it fits the session: the session writes its HTTP/1.1 request into a
 * {@link DeferredClientPort}; this module opens the connection for it, sends
 * the request, and (only with `followRedirects`) reads the response head: a
 * redirect makes it open the next connection and send the same request with
 * the new target and Host; anything else is handed to the session untouched
 * (the head included), which then validates it as usual.
 *
 * Invariants:
 * - Holds at most one response head (up to `maxHandshakeSize`, default
 *   16 KiB) while deciding about a redirect, and one proxy response head
 *   (same bound); everything else is the Node socket adapter's.
 * - At most one socket is open at a time; the previous hop's is destroyed
 *   before the next opens, and an aborted session destroys the current one.
 * - Redirects: off by default; at most `followRedirects` hops (`true` = 10);
 *   301/302/303/307/308 with a Location only; never from `wss:` to `ws:`; a
 *   URL seen before is a loop. Authorization and Cookie headers are dropped
 *   when the origin changes.
 * @module
 */
import type { Duplex } from "node:stream";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { LocalProtocolError } from "../protocol/errors.ts";
import type { RequestHead, ResponseHead } from "../protocol/http/message.ts";
import { writeRequestHead } from "../protocol/http/writer.ts";
import type { Headers } from "../protocol/types.ts";
import { transportPort, type ByteTransport, type TransportPort } from "../streams/transport.ts";
import { nodeMasker } from "./masker.ts";
import {
  WebSocketError,
  connectWebSocket,
  type ConnectWebSocketOptions,
  type MessageChunk,
  type WebSocketSession,
} from "../streams/sessions.ts";
import { DeferredClientPort, deferredTransport, type DeferredPortControl, type RequestHeadWritten } from "./deferred-port.ts";
import { headerValue, readResponseHead } from "./http-head.ts";
import { adapterOptionsOf, nodeExtensions } from "./options.ts";
import { openTunnel, parseProxyUrl, proxyFromEnvironment } from "./proxy.ts";
import { fromNodeSocket, type NodeSocketOptions } from "./socket.ts";
import { connectLendingReads } from "./lent-reads.ts";
import { parseWebSocketUrl, serverName, type WebSocketTarget } from "./url.ts";

/** Where a connection goes: what a {@link NodeConnectOptions.createConnection} hook receives. */
export interface NodeConnectTarget {
  /** The URL of this hop (after redirects, the one being connected to). */
  readonly url: URL;
  /** `true` for `wss:` (the hook must then return a TLS stream). */
  readonly secure: boolean;
  /** Host name or IP literal (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** The TLS server name (absent for IP literals, which SNI does not allow). */
  readonly servername?: string;
}

/** Options of {@link connectNodeWebSocket}: those of `connectWebSocket` (minus `url`), and how to reach the server. */
export type NodeConnectOptions<F extends boolean = false> = Omit<ConnectWebSocketOptions<F>, "url"> &
  Pick<NodeSocketOptions, "readableHighWaterMark" | "writableHighWaterMark"> & {
    /** Extra options for `tls.connect` (certificates, `rejectUnauthorized`, ...) on `wss:` URLs. */
    tls?: TlsConnectionOptions;
    /**
     * An HTTP proxy to tunnel through with CONNECT: `"http://[user:pass@]host:port"`
     * (or `https:` for a TLS proxy); credentials are sent as Basic
     * Proxy-Authorization. `true` reads `HTTPS_PROXY` (for `wss:`) or
     * `HTTP_PROXY` (for `ws:`), lower-case names first, and honours
     * `NO_PROXY`; `false` or absent: no proxy (the environment is not read).
     * @default false
     */
    proxy?: string | boolean;
    /**
     * Follow redirects of the opening handshake (301, 302, 303, 307, 308):
     * `true` for at most 10, a number for at most that many. Never from
     * `wss:` to `ws:`; a loop or one hop too many fails the connection.
     * @default false
     */
    followRedirects?: boolean | number;
    /**
     * Open the connection yourself (a Unix domain socket, an in-memory pair
     * in a test...): called once per hop, instead of `net.connect` /
     * `tls.connect`, with where the hop goes; return a connected (or
     * connecting) duplex byte stream, TLS-wrapped for `wss:` if you need
     * TLS. Not combined with `proxy`.
     */
    createConnection?: (target: NodeConnectTarget) => Duplex | Promise<Duplex>;
  };

const DEFAULT_MAX_REDIRECTS = 10;
const DEFAULT_HEAD_LIMIT = 16 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Open a TCP (or TLS, for `wss:`) connection to `url` and run the WebSocket
 * client handshake over it; optionally through an HTTP proxy, following
 * redirects, or over a connection of your own.
 * @example
 * ```ts
 * import { connectNodeWebSocket } from "wsproto/node";
 * const ws = connectNodeWebSocket("wss://example.com/chat", { proxy: true, followRedirects: true });
 * const { readable, writable } = await ws.opened;
 * ```
 */
export function connectNodeWebSocket(
  url: string | URL,
  options: NodeConnectOptions<true> & { fragments: true },
): WebSocketSession<MessageChunk>;
export function connectNodeWebSocket(url: string | URL, options?: NodeConnectOptions): WebSocketSession<string | Uint8Array>;
export function connectNodeWebSocket(
  url: string | URL,
  options: NodeConnectOptions<boolean> = {},
): WebSocketSession<string | Uint8Array> | WebSocketSession<MessageChunk> {
  const target = parseWebSocketUrl(url);
  const maxRedirects = redirectLimit(options.followRedirects);
  const proxy = options.proxy ?? false;
  if (typeof proxy === "string") parseProxyUrl(proxy); // fail now, not in the handshake
  if (proxy !== false && options.createConnection !== undefined) {
    throw new LocalProtocolError("`proxy` and `createConnection` cannot be combined", "WS_ERR_INVALID_OPTION");
  }
  const adapterOptions = adapterOptionsOf(options);
  const headLimit = options.maxHandshakeSize ?? DEFAULT_HEAD_LIMIT;

  let transport: ByteTransport;
  if (proxy === false && maxRedirects === 0 && options.createConnection === undefined) {
    // The plain case: no step before the handshake, the socket goes straight to the session.
    // Nothing but the session reads it: its reads may land in the shared buffer (lent-reads.ts).
    const socket = openDirect(target, options.tls, true);
    transport = fromNodeSocket(socket, adapterOptions);
  } else {
    const port = new DeferredClientPort((request, control) =>
      establish(request, control, target, { options, proxy, maxRedirects, headLimit, adapterOptions }),
    );
    transport = deferredTransport(port);
  }
  const mask = options.mask === undefined ? nodeMasker() : options.mask;
  return connectWebSocket(transport, { ...options, extensions: options.extensions ?? nodeExtensions(), mask, url: target.url } as ConnectWebSocketOptions);
}

interface EstablishOptions {
  options: NodeConnectOptions<boolean>;
  proxy: string | boolean;
  maxRedirects: number;
  headLimit: number;
  adapterOptions: NodeSocketOptions;
}

/** Connect (hop after hop when redirects are followed) and return the port of the final socket. */
async function establish(
  request: RequestHeadWritten,
  control: DeferredPortControl,
  first: WebSocketTarget,
  { options, proxy, maxRedirects, headLimit, adapterOptions }: EstablishOptions,
): Promise<TransportPort> {
  let target = first;
  let bytes = request.bytes;
  const visited = new Set([target.url.href]);
  for (let hops = 0; ; hops++) {
    const socket = await openHop(target, options, proxy, headLimit, control);
    socket.write(bytes);
    if (maxRedirects === 0) return transportPort(fromNodeSocket(socket, adapterOptions));
    const answer = await readResponseHead(socket, headLimit);
    const location = answer.head === null ? null : redirectLocation(answer.head);
    if (location === null) {
      // Not a redirect: the session reads the answer, untouched, as if it came straight from the socket.
      return transportPort(fromNodeSocket(socket, { ...adapterOptions, head: answer.bytes }));
    }
    socket.destroy();
    let next: WebSocketTarget;
    try {
      next = parseWebSocketUrl(new URL(location, target.url.href.replace(/^ws/, "http")));
    } catch {
      throw redirectError(`The server redirected to an invalid URL: ${location}`);
    }
    if (target.secure && !next.secure) {
      throw redirectError(`Refusing to follow a redirect from ${target.url.href} to ${next.url.href} (wss: to ws:)`);
    }
    if (visited.has(next.url.href)) throw redirectError(`Redirect loop: ${next.url.href} was already visited`);
    if (hops + 1 > maxRedirects) {
      throw redirectError(`Too many redirects: more than ${maxRedirects} (the last to ${next.url.href})`);
    }
    visited.add(next.url.href);
    bytes = rewriteRequestHead(request.head, target, next);
    target = next;
  }
}

function redirectError(message: string): WebSocketError {
  return new WebSocketError(message, { closeCode: 1006, code: "WS_ERR_REDIRECT" });
}

/** The Location of a redirect response, or `null` if it is not one we follow. */
function redirectLocation(head: ResponseHead): string | null {
  if (!REDIRECT_STATUSES.has(head.statusCode)) return null;
  const location = headerValue(head, "location");
  return location === null || location === "" ? null : location;
}

/**
 * The same request for the next hop: the new target on the request line, the
 * new Host; credentials dropped when the origin changes (as browsers and `ws` do).
 */
function rewriteRequestHead(head: RequestHead, from: WebSocketTarget, to: WebSocketTarget): Uint8Array {
  const sameOrigin = from.url.origin === to.url.origin;
  const headers: Headers = [];
  for (const [name, value] of head.headers) {
    if (name === "host") headers.push(["Host", to.url.host]);
    else if (!sameOrigin && (name === "authorization" || name === "cookie")) continue;
    else headers.push([name, value]);
  }
  return writeRequestHead(head.method, (to.url.pathname || "/") + to.url.search, headers, head.httpVersion);
}

/** Open one hop's connection: the hook's, a proxy tunnel, or a direct socket. */
async function openHop(
  target: WebSocketTarget,
  options: NodeConnectOptions<boolean>,
  proxy: string | boolean,
  headLimit: number,
  control: DeferredPortControl,
): Promise<Duplex> {
  if (options.createConnection !== undefined) {
    const info: NodeConnectTarget =
      target.servername === undefined
        ? { url: target.url, secure: target.secure, host: target.hostname, port: target.port }
        : { url: target.url, secure: target.secure, host: target.hostname, port: target.port, servername: target.servername };
    const socket = await options.createConnection(info);
    control.onAbort(() => socket.destroy());
    return socket;
  }
  const proxyUrl = proxy === true ? proxyFromEnvironment(target) : proxy === false ? null : proxy;
  if (proxyUrl === null) {
    const socket = openDirect(target, options.tls);
    control.onAbort(() => socket.destroy());
    return socket;
  }
  const tunnel = await openTunnel(target, parseProxyUrl(proxyUrl), headLimit, control);
  if (!target.secure) return tunnel;
  const secure = tlsConnect({ ...serverName(target), ...options.tls, socket: tunnel });
  // A failure of the tunnel is the TLS socket's (whose listeners report it).
  tunnel.on("error", (error) => secure.destroy(error));
  control.onAbort(() => secure.destroy());
  return secure;
}

/** A direct connection to `target`; over plain TCP with `lendReads`, one whose reads only its port takes (lent-reads.ts). */
function openDirect(target: WebSocketTarget, tls: TlsConnectionOptions | undefined, lendReads = false): Socket {
  const socket = target.secure
    ? tlsConnect({ ...serverName(target), ...tls, host: target.hostname, port: target.port })
    : lendReads
      ? connectLendingReads(target.hostname, target.port)
      : netConnect({ host: target.hostname, port: target.port });
  socket.setNoDelay(true);
  return socket;
}

function redirectLimit(value: boolean | number | undefined): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return DEFAULT_MAX_REDIRECTS;
  if (!Number.isInteger(value) || value < 0) {
    throw new LocalProtocolError(`followRedirects must be a boolean or a non-negative integer, got ${String(value)}`, "WS_ERR_INVALID_OPTION");
  }
  return value;
}
