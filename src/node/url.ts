/**
 * Where a Node client connects: a `ws:`/`wss:` URL (`http:`/`https:`
 * accepted as their WebSocket twins) parsed and checked once, as the host,
 * port, TLS flag and TLS server name that `connectNodeWebSocket` and
 * `connectHttp2WebSocket` open their connections to.
 *
 * Invariants: no state; an invalid URL or scheme is a `LocalProtocolError`
 * (`WS_ERR_INVALID_URL`) thrown before anything is opened.
 * @module
 */
import { isIP } from "node:net";
import { LocalProtocolError } from "../protocol/errors.ts";

/** A parsed `ws:`/`wss:` URL (`http:`/`https:` accepted as their WebSocket twins). */
export interface WebSocketTarget {
  url: URL;
  secure: boolean;
  hostname: string;
  port: number;
  /** TLS server name: the hostname, except for IP literals (RFC 6066 §3 forbids them in SNI). */
  servername?: string;
}

/**
 * Parse and check a WebSocket URL.
 * @example
 * ```ts
 * parseWebSocketUrl("wss://[::1]:8443/chat"); // { secure: true, hostname: "::1", port: 8443, ... } (no servername)
 * ```
 */
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
  const hostname = bareHostname(url);
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  return isIP(hostname) === 0 ? { url, secure, hostname, port, servername: hostname } : { url, secure, hostname, port };
}

/** The URL's host name as sockets want it: IPv6 literals without their brackets (URL keeps them). */
export function bareHostname(url: URL): string {
  return url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
}

/** `{ servername }` for a TLS connection to `target` (nothing for an IP literal). */
export function serverName(target: WebSocketTarget): { servername?: string } {
  return target.servername === undefined ? {} : { servername: target.servername };
}
