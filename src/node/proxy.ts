/**
 * HTTP proxies for the Node client: which proxy the environment names for a
 * target (`proxyFromEnvironment`, as curl and python websockets read it),
 * and a CONNECT tunnel through one (RFC 9110 §9.3.6).
 *
 * Invariants: holds at most one proxy response head (`headLimit` bytes)
 * while tunnelling; a refused, failed or malformed CONNECT destroys the
 * proxy socket and rejects with a `WebSocketError` `WS_ERR_PROXY`; bytes the
 * server sent after the proxy's 2xx are put back on the socket, not lost.
 * @module
 */
import { connect as netConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { LocalProtocolError } from "../protocol/errors.ts";
import { describeError } from "../streams/app-errors.ts";
import { WebSocketError } from "../streams/sessions.ts";
import type { DeferredPortControl } from "./deferred-port.ts";
import { readResponseHead, statusLine } from "./http-head.ts";
import { bareHostname, parseWebSocketUrl, type WebSocketTarget } from "./url.ts";

/** A parsed proxy URL: where it is (as a WebSocket target is), and its credentials. */
export interface ProxyTarget extends Omit<WebSocketTarget, "servername"> {
  /** The Basic `Proxy-Authorization` value, from the URL's credentials. */
  authorization: string | null;
}

/**
 * Parse a proxy URL (`http:` or `https:`, credentials optional).
 * @throws LocalProtocolError (`WS_ERR_INVALID_OPTION`).
 * @example
 * ```ts
 * parseProxyUrl("http://user:pass@proxy:3128").authorization; // "Basic dXNlcjpwYXNz"
 * ```
 */
export function parseProxyUrl(input: string): ProxyTarget {
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
  const hostname = bareHostname(url);
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  const authorization =
    url.username === "" && url.password === ""
      ? null
      : "Basic " + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64");
  return { url, secure, hostname, port, authorization };
}

function proxyError(message: string, extra: { cause?: unknown; status?: number } = {}): WebSocketError {
  return new WebSocketError(message, { closeCode: 1006, code: "WS_ERR_PROXY", ...extra });
}

/**
 * RFC 9110 §9.3.6: a CONNECT tunnel to the target's host and port through
 * `proxy`; resolves with the proxy socket, the tunnel open.
 * @example
 * ```ts
 * const tunnel = await openTunnel(parseWebSocketUrl("ws://example.com/"), parseProxyUrl("http://proxy:3128"), 16384, control);
 * ```
 */
export async function openTunnel(target: WebSocketTarget, proxy: ProxyTarget, headLimit: number, control: DeferredPortControl): Promise<Socket> {
  const socket = proxy.secure
    ? tlsConnect({ host: proxy.hostname, port: proxy.port, ...(isIP(proxy.hostname) ? {} : { servername: proxy.hostname }) })
    : netConnect({ host: proxy.hostname, port: proxy.port });
  socket.setNoDelay(true);
  control.onAbort(() => socket.destroy());
  const authority = isIP(target.hostname) === 6 ? `[${target.hostname}]:${target.port}` : `${target.hostname}:${target.port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.authorization !== null) lines.push(`Proxy-Authorization: ${proxy.authorization}`);
  socket.write(lines.join("\r\n") + "\r\n\r\n");
  let answer: Awaited<ReturnType<typeof readResponseHead>>;
  try {
    answer = await readResponseHead(socket, headLimit);
  } catch (error) {
    socket.destroy();
    throw proxyError(`Could not reach the proxy ${proxy.url.host}: ${describeError(error)}`, { cause: error });
  }
  const head = answer.head;
  if (head === null) {
    socket.destroy();
    throw proxyError(
      answer.malformed === null
        ? `The proxy ${proxy.url.host} closed the connection before answering CONNECT ${authority}`
        : `The proxy ${proxy.url.host} answered CONNECT ${authority} with a malformed response: ${answer.malformed}`,
    );
  }
  if (head.statusCode < 200 || head.statusCode > 299) {
    socket.destroy();
    throw proxyError(`The proxy ${proxy.url.host} refused CONNECT ${authority}: ${statusLine(head)}`, { status: head.statusCode });
  }
  if (answer.rest.byteLength > 0) socket.unshift(answer.rest); // the server spoke first (unusual, but its bytes are not lost)
  return socket;
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
