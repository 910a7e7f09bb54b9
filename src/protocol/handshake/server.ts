/**
 * The server's half of the HTTP/1.1 handshake (RFC 6455 §4.2): what a
 * request must hold to be a WebSocket upgrade, and what the 101 that
 * accepts it says. Rejections are in `rejection.ts`. `H11Handshake` calls
 * these with its state already checked.
 *
 * Invariants:
 * - `validateRequest` throws only `RemoteProtocolError`s carrying the
 *   `RejectConnection` to answer with; the request's own header values are
 *   parsed into arrays, never objects.
 * - `buildAccept` validates everything before it writes, negotiates on
 *   forks of the extensions given (never on the objects themselves), and
 *   reports the `Sec-WebSocket-Extensions` value it wrote.
 * @module
 */
import { LocalProtocolError, ProtocolError, RemoteProtocolError } from "../errors.ts";
import { RejectConnection, Request, type AcceptConnection } from "../events.ts";
import { Extension } from "../extensions/extension.ts";
import { buildExtensionItem, hasToken, parseExtensions, parseSubprotocols } from "../http/headers.ts";
import { IdnaError, hostToUnicode } from "../http/idna.ts";
import type { RequestHead } from "../http/message.ts";
import { validateHeaders, validateRequestLine, writeResponseHead } from "../http/writer.ts";
import type { Headers } from "../types.ts";
import { WEBSOCKET_VERSION, generateAcceptToken, isValidNonce } from "./accept-key.ts";
import { isWebSocketUpgrade, join, reject400 } from "./fields.ts";
import { serverExtensionsHandshake } from "./negotiation.ts";

/** The request line of a request another HTTP stack parsed (see `H11Handshake.initiateUpgradeConnection`). */
export interface ReceivedRequestLine {
  /** @default "GET" */
  method?: string;
  /** The digits after `HTTP/`, as Node's `req.httpVersion`. @default "1.1" */
  httpVersion?: string;
}

/** What a server keeps of a valid request. */
export interface ReceivedRequest {
  /** The `Request` event handed to the application. */
  readonly event: Request;
  /** The extension offers, one normalized item each, in the client's order. */
  readonly offers: string[];
  /** The `Sec-WebSocket-Key` to answer. */
  readonly key: string;
}

/** A 101 on its way. */
export interface AcceptResponse {
  /** The response head to write. */
  readonly bytes: Uint8Array;
  /** The extension forks negotiated (enabled or not), for the `Connection`. */
  readonly forks: Extension[];
  /** The `Sec-WebSocket-Extensions` value written (`""` when none). */
  readonly extensionsHeader: string;
}

// The fixed fields of a 101, shared (only read: written out, never kept).
const UPGRADE_WEBSOCKET: [string, string] = ["Upgrade", "WebSocket"];
const CONNECTION_UPGRADE: [string, string] = ["Connection", "Upgrade"];

function isExtension(value: unknown): boolean {
  return value instanceof Extension;
}

function forkOf(extension: Extension): Extension {
  return extension.fork();
}

/**
 * RFC 6455 §4.2.1: check a request head, in wsproto's order with wsproto's
 * messages, and make the `Request` event it means.
 * @throws RemoteProtocolError whose hint is the `RejectConnection` to answer with (400, or 426 for a version we do not speak).
 * @example
 * ```ts
 * const { event, key } = validateRequest(head); // event.type === "Request"
 * ```
 */
export function validateRequest(head: RequestHead): ReceivedRequest {
  if (head.method !== "GET") {
    throw new RemoteProtocolError("Request method must be GET", new RejectConnection(), "WS_ERR_HANDSHAKE_METHOD");
  }
  // One pass over the fields (indexed: no iterators); the checks below keep wsproto's order.
  const headers = head.headers;
  const extraHeaders: Headers = new Array<[string, string]>(headers.length); // trimmed below
  let extra = 0;
  let key: string | null = null; // every Sec-WebSocket-Key, joined
  let host: string | null = null; // the last Host
  let connection: string | null = null;
  let version: string | null = null;
  let upgrade: string | null = null;
  let hasBody = false;
  let offered = false; // a Sec-WebSocket-Protocol or -Extensions field to parse
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!;
    const name = field[0];
    const value = field[1];
    switch (name) {
      case "host":
        host = value;
        continue;
      case "sec-websocket-extensions":
      case "sec-websocket-protocol":
        offered = true;
        continue;
      case "sec-websocket-key":
        key = join(key, value);
        break;
      case "connection":
        connection = join(connection, value);
        break;
      case "sec-websocket-version":
        version = join(version, value);
        break;
      case "upgrade":
        upgrade = join(upgrade, value);
        break;
      case "transfer-encoding":
        hasBody = true;
        break;
      case "content-length":
        if (Number(value) !== 0) hasBody = true;
        break;
    }
    extraHeaders[extra++] = [name, value];
  }
  extraHeaders.length = extra;
  if (connection === null || !hasToken(connection, "upgrade")) {
    throw reject400("Missing header, 'Connection: Upgrade'", "WS_ERR_HANDSHAKE_HEADER");
  }
  if (version !== WEBSOCKET_VERSION) {
    // RFC 6455 §4.4: answer an unsupported version with 426 and the versions we speak.
    throw new RemoteProtocolError(
      "Missing header, 'Sec-WebSocket-Version'",
      new RejectConnection({
        statusCode: version === null ? 400 : 426,
        headers: [["Sec-WebSocket-Version", WEBSOCKET_VERSION]],
      }),
      "WS_ERR_HANDSHAKE_VERSION",
    );
  }
  if (key === null) throw reject400("Missing header, 'Sec-WebSocket-Key'", "WS_ERR_HANDSHAKE_KEY");
  if (!isWebSocketUpgrade(upgrade)) {
    throw reject400("Missing header, 'Upgrade: WebSocket'", "WS_ERR_HANDSHAKE_HEADER");
  }
  if (host === null) throw reject400("Missing header, 'Host'", "WS_ERR_HANDSHAKE_HEADER");
  // Checked after wsproto's own checks, so that its messages stay the same where both refuse.
  // RFC 6455 §4.1: "the HTTP version MUST be at least 1.1" (deviation: wsproto accepts 1.0).
  if (head.httpVersion < "1.1") {
    throw reject400(`HTTP version must be at least 1.1, got ${head.httpVersion}`, "WS_ERR_HANDSHAKE_HTTP_VERSION");
  }
  // An upgrade request has no body (as python websockets): bytes after the
  // head are frames, and a body would be taken for them or eat them.
  if (hasBody) throw reject400("An upgrade request must not have a body", "WS_ERR_HANDSHAKE_BODY");
  // RFC 6455 §4.2.1 item 4 (deviation: wsproto accepts any key): the key
  // must be the base64 of 16 bytes, and appear once.
  if (!isValidNonce(key)) {
    throw reject400(`Invalid Sec-WebSocket-Key ${JSON.stringify(key)}`, "WS_ERR_HANDSHAKE_KEY");
  }
  let unicodeHost: string;
  try {
    unicodeHost = hostToUnicode(host);
  } catch (e) {
    if (!(e instanceof IdnaError)) throw e;
    throw reject400(`Invalid Host header: ${e.message}`, "WS_ERR_HANDSHAKE_HEADER");
  }
  const subprotocols: string[] = [];
  const offers: string[] = [];
  for (let i = 0; offered && i < headers.length; i++) {
    const field = headers[i]!;
    const name = field[0];
    const value = field[1];
    try {
      if (name === "sec-websocket-protocol") subprotocols.push(...parseSubprotocols(value));
      else if (name === "sec-websocket-extensions") {
        for (const item of parseExtensions(value)) offers.push(buildExtensionItem(item));
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      throw reject400(
        `Invalid ${name === "sec-websocket-protocol" ? "Sec-WebSocket-Protocol" : "Sec-WebSocket-Extensions"} header: ${e.message}`,
        name === "sec-websocket-protocol" ? "WS_ERR_HANDSHAKE_SUBPROTOCOL" : "WS_ERR_HANDSHAKE_EXTENSION",
      );
    }
  }
  const event = new Request({
    host: unicodeHost,
    target: head.target,
    extensions: offers.slice(),
    extraHeaders,
    subprotocols,
  });
  return { event, offers, key };
}


/**
 * The caller's checks of a request another HTTP stack parsed: header syntax,
 * the request line, and (when `received` is not given, so the caller built
 * the request) a Host. The peer's own faults are left to `validateRequest`.
 * @throws LocalProtocolError for a header or request line that cannot be written.
 * @example
 * ```ts
 * checkParsedRequest([["host", "example.com"]], "/chat"); // { method: "GET", httpVersion: "1.1" }
 * ```
 */
export function checkParsedRequest(
  headers: Headers,
  path: string,
  received: ReceivedRequestLine | undefined,
): { method: string; httpVersion: string } {
  validateHeaders(headers);
  if (received === undefined) {
    // wsproto (through h11) refuses to build an HTTP/1.1 request without Host.
    if (!headers.some(([name]) => name.toLowerCase() === "host")) {
      throw new LocalProtocolError("Missing mandatory Host: header", "WS_ERR_INVALID_HEADER");
    }
  }
  // The peer's own request line: its method, version and a missing Host are
  // the peer's faults, answered (400) as on any other path.
  const method = received?.method ?? "GET";
  const httpVersion = received?.httpVersion ?? "1.1";
  validateRequestLine(method, path, httpVersion);
  return { method, httpVersion };
}

/**
 * Validate a server's `AcceptConnection` against the request it answers and
 * write the 101, negotiating the extensions on forks.
 * @throws LocalProtocolError for a subprotocol not offered, a bad header, or extensions that are not Extension objects.
 * @example
 * ```ts
 * const { bytes, forks } = buildAccept(new AcceptConnection(), validateRequest(head));
 * ```
 */
export function buildAccept(event: AcceptConnection, received: ReceivedRequest): AcceptResponse {
  const { subprotocol, extensions, extraHeaders } = event;
  if (subprotocol !== null && !received.event.subprotocols.includes(subprotocol)) {
    throw new LocalProtocolError(`unexpected subprotocol ${String(subprotocol)}`, "WS_ERR_INVALID_SUBPROTOCOL");
  }
  validateHeaders(extraHeaders);
  if (!Array.isArray(extensions) || !extensions.every(isExtension)) {
    throw new LocalProtocolError("AcceptConnection.extensions must be Extension objects", "WS_ERR_INVALID_EXTENSION");
  }
  const headers: Headers = [UPGRADE_WEBSOCKET, CONNECTION_UPGRADE, ["Sec-WebSocket-Accept", generateAcceptToken(received.key)]];
  if (subprotocol !== null) headers.push(["Sec-WebSocket-Protocol", subprotocol]);
  const forks = extensions.map(forkOf);
  let extensionsHeader = "";
  if (forks.length > 0) {
    const accepts = serverExtensionsHandshake(received.offers, forks);
    if (accepts !== null) {
      headers.push(["Sec-WebSocket-Extensions", accepts]);
      extensionsHeader = accepts;
    }
  }
  for (let i = 0; i < extraHeaders.length; i++) headers.push(extraHeaders[i]!);
  return { bytes: writeResponseHead(101, headers), forks, extensionsHeader };
}
