/**
 * The client's half of the HTTP/1.1 handshake (RFC 6455 §4.1): what a
 * `Request` becomes on the wire, and what a 101 must hold to be accepted.
 * `H11Handshake` calls these with its state already checked.
 *
 * Invariants:
 * - `buildRequest` validates everything before it builds anything: a
 *   `LocalProtocolError` means no bytes and no nonce were made.
 * - `checkResponse` checks in wsproto's order and throws a
 *   `RemoteProtocolError` whose hint is a 400 `RejectConnection`; it
 *   finalizes only the forks the request offered.
 * @module
 */
import { LocalProtocolError, RemoteProtocolError } from "../errors.ts";
import { RejectConnection, type Request } from "../events.ts";
import type { Extension } from "../extensions/extension.ts";
import { isToken, hasToken } from "../http/headers.ts";
import { IdnaError, hostToAscii } from "../http/idna.ts";
import type { ResponseHead } from "../http/message.ts";
import { validateHeaders, writeRequestHead } from "../http/writer.ts";
import type { Headers, RandomSource } from "../types.ts";
import { WEBSOCKET_VERSION, generateAcceptToken, generateNonce } from "./accept-key.ts";
import { isWebSocketUpgrade, joined, reject400 } from "./fields.ts";
import { clientExtensionsHandshake, offerExtensions } from "./negotiation.ts";

/** A request on its way: its bytes and what checking the answer needs. */
export interface SentRequest {
  /** The request head to write. */
  readonly bytes: Uint8Array;
  /** The `Sec-WebSocket-Key` sent. */
  readonly nonce: string;
  /** The extension forks offered, to finalize with the server's answer. */
  readonly offered: Extension[];
}

/** What a valid 101 agreed. */
export interface AcceptedResponse {
  readonly subprotocol: string | null;
  /** The offered forks the server accepted, finalized, in the server's order. */
  readonly extensions: Extension[];
  /** The `Sec-WebSocket-Extensions` values received, joined with `", "` (`""` when none). */
  readonly extensionsHeader: string;
  /** The response's fields but the handshake's own. */
  readonly extraHeaders: Headers;
}

/**
 * Validate a client's `Request` and write its head, with a fresh key drawn
 * from `random` and the extensions offered on forks.
 * @throws LocalProtocolError for an invalid host, target, subprotocol, header or extension.
 * @example
 * ```ts
 * const { bytes, nonce } = buildRequest(new Request({ host: "example.com", target: "/" }), sequentialRandom());
 * ```
 */
export function buildRequest(event: Request, random: RandomSource): SentRequest {
  const { host, target, subprotocols, extensions, extraHeaders } = event;
  if (typeof host !== "string") throw new LocalProtocolError("Request.host must be a string", "WS_ERR_INVALID_HOST");
  let asciiHost: string;
  try {
    asciiHost = hostToAscii(host);
  } catch (e) {
    if (!(e instanceof IdnaError)) throw e;
    throw new LocalProtocolError(`Invalid host ${JSON.stringify(host)}: ${e.message}`, "WS_ERR_INVALID_HOST");
  }
  if (!/^[\x21-\x7e]*$/.test(asciiHost)) {
    throw new LocalProtocolError(`Invalid host ${JSON.stringify(host)}`, "WS_ERR_INVALID_HOST");
  }
  if (typeof target !== "string" || !/^[\x21-\x7e]+$/.test(target)) {
    throw new LocalProtocolError(
      `Illegal request target ${JSON.stringify(target)}: printable ASCII without spaces required`,
      "WS_ERR_INVALID_TARGET",
    );
  }
  if (!Array.isArray(subprotocols) || !subprotocols.every((s) => typeof s === "string" && isToken(s))) {
    throw new LocalProtocolError(
      `Invalid subprotocols ${JSON.stringify(subprotocols)}: RFC 6455 §4.1 requires tokens`,
      "WS_ERR_INVALID_SUBPROTOCOL",
    );
  }
  validateHeaders(extraHeaders);
  if (extraHeaders.some(([name]) => name.toLowerCase() === "host")) {
    throw new LocalProtocolError("Host is set from Request.host; do not repeat it in extraHeaders", "WS_ERR_INVALID_HEADER");
  }
  if (!Array.isArray(extensions)) {
    throw new LocalProtocolError("Request.extensions must be an array of Extension objects", "WS_ERR_INVALID_EXTENSION");
  }
  const { items, offered } = offerExtensions(extensions);

  const nonce = generateNonce(random);
  const headers: Headers = [
    ["Host", asciiHost],
    ["Upgrade", "WebSocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", nonce],
    ["Sec-WebSocket-Version", WEBSOCKET_VERSION],
  ];
  if (subprotocols.length > 0) headers.push(["Sec-WebSocket-Protocol", subprotocols.join(", ")]);
  if (items.length > 0) headers.push(["Sec-WebSocket-Extensions", items.join(", ")]);
  headers.push(...extraHeaders);
  return { bytes: writeRequestHead("GET", target, headers), nonce, offered };
}

/**
 * RFC 6455 §4.1 (the client's checks of the 101), in wsproto's order:
 * Connection, Upgrade, the accept token, the subprotocol, the extensions.
 * @throws RemoteProtocolError (hint: a 400 `RejectConnection`) when the response does not complete the handshake.
 * @example
 * ```ts
 * const agreed = checkResponse(head, request, sent.nonce, sent.offered);
 * ```
 */
export function checkResponse(head: ResponseHead, request: Request, nonce: string, offered: readonly Extension[]): AcceptedResponse {
  const headers = head.headers;
  const extraHeaders: Headers = [];
  for (const [name, value] of headers) {
    if (
      name !== "connection" &&
      name !== "upgrade" &&
      name !== "sec-websocket-accept" &&
      name !== "sec-websocket-protocol" &&
      name !== "sec-websocket-extensions"
    ) {
      extraHeaders.push([name, value]);
    }
  }
  const connection = joined(headers, "connection");
  if (connection === null || !hasToken(connection, "upgrade")) {
    throw reject400("Missing header, 'Connection: Upgrade'", "WS_ERR_HANDSHAKE_HEADER");
  }
  if (!isWebSocketUpgrade(joined(headers, "upgrade"))) {
    throw reject400("Missing header, 'Upgrade: WebSocket'", "WS_ERR_HANDSHAKE_HEADER");
  }
  if (joined(headers, "sec-websocket-accept") !== generateAcceptToken(nonce)) {
    throw reject400("Bad accept token", "WS_ERR_HANDSHAKE_ACCEPT");
  }
  const subprotocol = joined(headers, "sec-websocket-protocol");
  // RFC 6455 §4.1 item 6: the server may only select one of the offered values.
  if (subprotocol !== null && !request.subprotocols.includes(subprotocol)) {
    throw reject400(`unrecognized subprotocol ${subprotocol}`, "WS_ERR_HANDSHAKE_SUBPROTOCOL");
  }
  // Deviation from wsproto 1.2: every Sec-WebSocket-Extensions header counts.
  const accepted = headers.filter(([n]) => n === "sec-websocket-extensions").map(([, v]) => v);
  let extensions: Extension[];
  try {
    extensions = clientExtensionsHandshake(accepted, offered);
  } catch (e) {
    if (!(e instanceof RemoteProtocolError) || e.eventHint !== null) throw e;
    const error = new RemoteProtocolError(e.message, new RejectConnection(), e.code);
    (error as { cause?: unknown }).cause = e;
    throw error;
  }
  return { subprotocol, extensions, extensionsHeader: accepted.join(", "), extraHeaders };
}
