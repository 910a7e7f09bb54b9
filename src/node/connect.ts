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
import { connect as netConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { LocalProtocolError } from "../protocol/errors.ts";
import { PerMessageDeflate } from "../protocol/extensions/permessage-deflate.ts";
import { nodeZlibCodec } from "./zlib.ts";
import { nodeMasker } from "./masker.ts";
import { describeError } from "../streams/session/failures.ts";
import { fromNodeSocket, type NodeSocketOptions } from "./index.ts";
import { DeferredClientPort, headEnd, type DeferredPortControl } from "./deferred-port.ts";
import { TRANSPORT_PORT, transportPort, type ByteTransport, type PortProvider, type TransportPort } from "../streams/transport.ts";
import {
  WebSocketError,
  connectWebSocket,
  type ConnectWebSocketOptions,
  type MessageChunk,
  type WebSocketSession,
} from "../streams/websocket-stream.ts";

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

/** The default extensions of the Node helpers: those of the streams layer, on native zlib. */
const nodeExtensions = (): PerMessageDeflate[] => [new PerMessageDeflate({ threshold: 1024, codec: nodeZlibCodec })];

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
  const adapterOptions: NodeSocketOptions = {};
  if (options.readableHighWaterMark !== undefined) adapterOptions.readableHighWaterMark = options.readableHighWaterMark;
  if (options.writableHighWaterMark !== undefined) adapterOptions.writableHighWaterMark = options.writableHighWaterMark;
  if (options.streams !== undefined) adapterOptions.streams = options.streams;
  const headLimit = options.maxHandshakeSize ?? DEFAULT_HEAD_LIMIT;

  let transport: ByteTransport;
  if (proxy === false && maxRedirects === 0 && options.createConnection === undefined) {
    // The plain case: no step before the handshake, the socket goes straight to the session.
    const socket = openDirect(target, options.tls);
    transport = fromNodeSocket(socket, adapterOptions);
  } else {
    const port = new DeferredClientPort((head, control) =>
      establish(head, control, target, { options, proxy, maxRedirects, headLimit, adapterOptions }),
    );
    transport = deferredTransport(port);
  }
  const mask = options.mask === undefined ? nodeMasker() : options.mask;
  return connectWebSocket(transport, { ...options, extensions: options.extensions ?? nodeExtensions(), mask, url: target.url } as ConnectWebSocketOptions);
}

/** A transport that is only a port (the session never asks for the streams of a port provider). */
export function deferredTransport(port: TransportPort): ByteTransport & PortProvider {
  const unavailable = (): never => {
    throw new LocalProtocolError("This transport is in use by a WebSocket session", "WS_ERR_TRANSPORT_IN_USE");
  };
  let taken = false;
  return {
    get readable(): ReadableStream<Uint8Array> {
      return unavailable();
    },
    get writable(): WritableStream<Uint8Array> {
      return unavailable();
    },
    [TRANSPORT_PORT]() {
      if (taken) return undefined;
      taken = true;
      return port;
    },
  };
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
  head: Uint8Array,
  control: DeferredPortControl,
  first: WebSocketTarget,
  { options, proxy, maxRedirects, headLimit, adapterOptions }: EstablishOptions,
): Promise<TransportPort> {
  let target = first;
  const visited = new Set([target.url.href]);
  for (let hops = 0; ; hops++) {
    const socket = await openHop(target, options, proxy, headLimit, control);
    socket.write(head);
    if (maxRedirects === 0) return transportPort(fromNodeSocket(socket, adapterOptions));
    const { bytes, head: response } = await readHead(socket, headLimit);
    const location = response === null ? null : redirectLocation(response);
    if (location === null) {
      return transportPort(fromNodeSocket(socket, { ...adapterOptions, head: bytes }));
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
    head = rewriteRequestHead(head, target, next);
    target = next;
  }
}

function redirectError(message: string): WebSocketError {
  return new WebSocketError(message, { closeCode: 1006, code: "WS_ERR_REDIRECT" });
}

/** The Location of a redirect response, or `null` if it is not one we follow. */
function redirectLocation(head: string): string | null {
  const status = /^HTTP\/\d\.\d (\d{3})/.exec(head);
  if (status === null || !REDIRECT_STATUSES.has(Number(status[1]))) return null;
  const location = /\r\nlocation:[ \t]*([^\r\n]*?)[ \t]*\r\n/i.exec(head);
  return location === null || location[1] === "" ? null : location[1]!;
}

/**
 * The same request for the next hop: the new target on the request line, the
 * new Host; credentials dropped when the origin changes (as browsers and `ws` do).
 */
function rewriteRequestHead(head: Uint8Array, from: WebSocketTarget, to: WebSocketTarget): Uint8Array {
  const lines = Buffer.from(head).toString("latin1").split("\r\n");
  const [method, , version] = lines[0]!.split(" ");
  const sameOrigin = from.url.origin === to.url.origin;
  const out = [`${method} ${(to.url.pathname || "/") + to.url.search} ${version}`];
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const name = line.slice(0, line.indexOf(":")).toLowerCase();
    if (name === "host") out.push(`Host: ${to.url.host}`);
    else if (!sameOrigin && (name === "authorization" || name === "cookie")) continue;
    else out.push(line);
  }
  return Buffer.from(out.join("\r\n") + "\r\n\r\n", "latin1");
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

function serverName(target: WebSocketTarget): { servername?: string } {
  return target.servername === undefined ? {} : { servername: target.servername };
}

function openDirect(target: WebSocketTarget, tls: TlsConnectionOptions | undefined): Socket {
  const socket = target.secure
    ? tlsConnect({ ...serverName(target), ...tls, host: target.hostname, port: target.port })
    : netConnect({ host: target.hostname, port: target.port });
  socket.setNoDelay(true);
  return socket;
}

interface ProxyTarget {
  url: URL;
  secure: boolean;
  hostname: string;
  port: number;
  authorization: string | null;
}

/** RFC 9110 §9.3.6: a CONNECT tunnel to the target's host and port. */
async function openTunnel(target: WebSocketTarget, proxy: ProxyTarget, headLimit: number, control: DeferredPortControl): Promise<Socket> {
  const socket = proxy.secure
    ? tlsConnect({ host: proxy.hostname, port: proxy.port, ...(isIP(proxy.hostname) ? {} : { servername: proxy.hostname }) })
    : netConnect({ host: proxy.hostname, port: proxy.port });
  socket.setNoDelay(true);
  control.onAbort(() => socket.destroy());
  const authority = isIP(target.hostname) === 6 ? `[${target.hostname}]:${target.port}` : `${target.hostname}:${target.port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.authorization !== null) lines.push(`Proxy-Authorization: ${proxy.authorization}`);
  socket.write(lines.join("\r\n") + "\r\n\r\n");
  let answer: { bytes: Buffer; head: string | null };
  try {
    answer = await readHead(socket, headLimit);
  } catch (error) {
    socket.destroy();
    throw new WebSocketError(`Could not reach the proxy ${proxy.url.host}: ${describeError(error)}`, {
      closeCode: 1006,
      code: "WS_ERR_PROXY",
      cause: error,
    });
  }
  if (answer.head === null) {
    socket.destroy();
    throw new WebSocketError(`The proxy ${proxy.url.host} closed the connection before answering CONNECT ${authority}`, {
      closeCode: 1006,
      code: "WS_ERR_PROXY",
    });
  }
  const statusLine = answer.head.slice(0, answer.head.indexOf("\r\n"));
  const status = /^HTTP\/\d\.\d (\d{3})/.exec(statusLine);
  if (status === null || status[1]![0] !== "2") {
    socket.destroy();
    throw new WebSocketError(`The proxy ${proxy.url.host} refused CONNECT ${authority}: ${statusLine}`, {
      closeCode: 1006,
      code: "WS_ERR_PROXY",
      ...(status === null ? {} : { status: Number(status[1]) }),
    });
  }
  const rest = answer.bytes.subarray(headEnd(answer.bytes));
  if (rest.byteLength > 0) socket.unshift(rest); // the server spoke first (unusual, but its bytes are not lost)
  return socket;
}


/**
 * Read from `socket` up to the end of an HTTP head (at most `limit` bytes).
 * Resolves with the bytes read and the head as latin-1 text (`null` when the
 * peer ended first or the head is over the limit: the session judges those
 * bytes itself). A socket error rejects with that error. The socket is left
 * paused with its listeners removed.
 */
function readHead(socket: Duplex, limit: number): Promise<{ bytes: Buffer; head: string | null }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const finish = (head: string | null, error?: unknown): void => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onError);
      socket.off("close", onEnd);
      socket.pause();
      if (error !== undefined) reject(error);
      else resolve({ bytes: Buffer.concat(parts, size), head });
    };
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      size += chunk.byteLength;
      const all = Buffer.concat(parts, size);
      parts.splice(0, parts.length, all);
      const end = headEnd(all);
      if (end >= 0) finish(all.subarray(0, end).toString("latin1"));
      else if (size > limit) finish(null);
    };
    const onEnd = (): void => finish(null);
    const onError = (error: unknown): void => finish(null, error);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", onError);
    socket.resume();
  });
}

function redirectLimit(value: boolean | number | undefined): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return DEFAULT_MAX_REDIRECTS;
  if (!Number.isInteger(value) || value < 0) {
    throw new LocalProtocolError(`followRedirects must be a boolean or a non-negative integer, got ${String(value)}`, "WS_ERR_INVALID_OPTION");
  }
  return value;
}

function parseProxyUrl(input: string): ProxyTarget {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new LocalProtocolError(`Invalid proxy URL: ${input}`, "WS_ERR_INVALID_OPTION");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new LocalProtocolError(`Unsupported proxy scheme ${url.protocol} (use http: or https:)`, "WS_ERR_INVALID_OPTION");
  }
  const secure = url.protocol === "https:";
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  const authorization =
    url.username === "" && url.password === ""
      ? null
      : "Basic " + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64");
  return { url, secure, hostname, port, authorization };
}

/**
 * The proxy for `target` from the environment, as python websockets and curl
 * read it: `https_proxy`/`HTTPS_PROXY` for `wss:`, `http_proxy`/`HTTP_PROXY`
 * for `ws:`, unless `no_proxy`/`NO_PROXY` lists the host (`*`, a name, a
 * `.suffix` or `suffix` matching subdomains, optionally with `:port`).
 * @example
 * ```ts
 * proxyFromEnvironment(new URL("wss://example.com/"), { HTTPS_PROXY: "http://proxy:3128" }); // "http://proxy:3128"
 * ```
 */
export function proxyFromEnvironment(
  target: URL | WebSocketTarget,
  env: Record<string, string | undefined> = process.env,
): string | null {
  const t = target instanceof URL ? parseWebSocketUrl(target) : target;
  const pick = (name: string): string | undefined => env[name.toLowerCase()] || env[name.toUpperCase()] || undefined;
  const proxy = t.secure ? pick("HTTPS_PROXY") : pick("HTTP_PROXY");
  if (proxy === undefined) return null;
  const noProxy = pick("NO_PROXY");
  if (noProxy !== undefined && bypassesProxy(t.hostname, t.port, noProxy)) return null;
  return proxy;
}

function bypassesProxy(hostname: string, port: number, noProxy: string): boolean {
  const host = hostname.toLowerCase();
  for (let entry of noProxy.split(/[\s,]+/)) {
    entry = entry.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return true;
    let entryPort: number | null = null;
    const portMatch = /^(.*):(\d+)$/.exec(entry);
    if (portMatch !== null && !entry.endsWith("]") && (entry.match(/:/g) ?? []).length === 1) {
      entry = portMatch[1]!;
      entryPort = Number(portMatch[2]);
    }
    if (entry.startsWith("[") && entry.endsWith("]")) entry = entry.slice(1, -1);
    if (entryPort !== null && entryPort !== port) continue;
    const bare = entry.startsWith(".") ? entry.slice(1) : entry.startsWith("*.") ? entry.slice(2) : entry;
    if (host === bare || host.endsWith("." + bare)) return true;
  }
  return false;
}

/** A parsed `ws:`/`wss:` URL (`http:`/`https:` accepted as their WebSocket twins). */
export interface WebSocketTarget {
  url: URL;
  secure: boolean;
  hostname: string;
  port: number;
  /** TLS server name: the hostname, except for IP literals (RFC 6066 §3 forbids them in SNI). */
  servername?: string;
}

/** Parse and check a WebSocket URL. */
export function parseWebSocketUrl(input: string | URL): WebSocketTarget {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new LocalProtocolError(`Invalid WebSocket URL: ${String(input)}`, "WS_ERR_INVALID_URL");
  }
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  if (!secure && url.protocol !== "ws:" && url.protocol !== "http:") {
    throw new LocalProtocolError(`Unsupported URL scheme ${url.protocol} (use ws: or wss:)`, "WS_ERR_INVALID_URL");
  }
  if (url.protocol === "http:" || url.protocol === "https:") url = new URL(url.href.replace(/^http/, "ws"));
  // URL keeps IPv6 literals bracketed; sockets want them bare.
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  return isIP(hostname) === 0 ? { url, secure, hostname, port, servername: hostname } : { url, secure, hostname, port };
}
