/**
 * Extension negotiation (RFC 6455 §9.1, wsproto's `extensions` handshake
 * helpers): which extensions a client offers, which offers a server
 * accepts, and which accepted ones a client takes. Used by `H11Handshake`
 * and by handshakes done elsewhere (HTTP/2, RFC 8441).
 *
 * Invariants:
 * - Only the extension objects passed in are asked (`offer`, `accept`,
 *   `finalize`); pass forks (`Extension.fork()`), one set per connection, so
 *   the configured objects are never mutated.
 * - A throw from an extension's hook that is not a `ProtocolError` becomes a
 *   `LocalProtocolError` (`WS_ERR_INVALID_EXTENSION`) with the throw as its
 *   `cause`; a peer's bad header is a `RemoteProtocolError` whose hint is a
 *   400 (`WS_ERR_HANDSHAKE_EXTENSION`).
 * - Every item sent is parsed and rebuilt first (`checkedItem`), so only
 *   valid header syntax leaves.
 * @module
 */
import { LocalProtocolError, ProtocolError, RemoteProtocolError } from "../errors.ts";
import { RejectConnection } from "../events.ts";
import { Extension } from "../extensions/extension.ts";
import { buildExtensionItem, parseExtensionItem, parseExtensions, type ExtensionItem } from "../http/headers.ts";
import { reject400 } from "./fields.ts";

/** What a client offers: the `Sec-WebSocket-Extensions` items and the forks that made them. */
export interface ExtensionOffers {
  /** One item per offered extension, in order (empty: send no header). */
  readonly items: string[];
  /** The forks that made the offers, to be finalized with the server's answer. */
  readonly offered: Extension[];
}

/**
 * A client's offers (wsproto's rule): each extension is asked on a fork;
 * keyed by name, a repeated name keeps its first position and its last
 * offer; an extension whose `offer()` returns `false` is not offered.
 * @throws LocalProtocolError (`WS_ERR_INVALID_EXTENSION`) for a non-Extension, a bad offer, or an offer that is not header syntax.
 * @example
 * ```ts
 * offerExtensions([new PerMessageDeflate()]).items; // ["permessage-deflate; client_max_window_bits"]
 * ```
 */
export function offerExtensions(extensions: readonly unknown[]): ExtensionOffers {
  const offers = new Map<string, { fork: Extension; offer: boolean | string }>();
  for (const ext of extensions) {
    if (!(ext instanceof Extension)) {
      throw new LocalProtocolError(
        "A client Request's extensions must be Extension objects",
        "WS_ERR_INVALID_EXTENSION",
      );
    }
    const fork = ext.fork();
    const offer = callHook(() => fork.offer(), ext, "offer");
    if (typeof offer !== "boolean" && typeof offer !== "string") {
      throw new LocalProtocolError(`${ext.name}.offer() must return a boolean or a string`, "WS_ERR_INVALID_EXTENSION");
    }
    offers.set(ext.name, { fork, offer });
  }
  const items: string[] = [];
  const offered: Extension[] = [];
  for (const [name, { fork, offer }] of offers) {
    if (offer === false) continue;
    items.push(checkedItem(offer === true || offer === "" ? name : `${name}; ${offer}`));
    offered.push(fork);
  }
  return { items, offered };
}

/** Run an extension hook; a non-protocol error from user code becomes a `LocalProtocolError`. */
function callHook<T>(hook: () => T, ext: Extension, what: string): T {
  try {
    return hook();
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    const error = new LocalProtocolError(
      `Extension ${String(ext.name)} failed in ${what}(): ${e instanceof Error ? e.message : String(e)}`,
      "WS_ERR_INVALID_EXTENSION",
    );
    (error as { cause?: unknown }).cause = e;
    throw error;
  }
}

/** An extension item we are about to send, checked and normalized. */
function checkedItem(text: string): string {
  let item: ExtensionItem;
  try {
    item = parseExtensionItem(text);
  } catch (e) {
    throw new LocalProtocolError(
      `Invalid extension item ${JSON.stringify(text)}: ${e instanceof Error ? e.message : String(e)}`,
      "WS_ERR_INVALID_EXTENSION",
    );
  }
  return buildExtensionItem(item);
}

function parseExtensionValues(values: readonly string[]): ExtensionItem[] {
  const items: ExtensionItem[] = [];
  for (const value of values) {
    if (typeof value !== "string") {
      throw new LocalProtocolError("Extension offers must be strings", "WS_ERR_INVALID_EXTENSION");
    }
    try {
      items.push(...parseExtensions(value));
    } catch (e) {
      if (!(e instanceof RemoteProtocolError)) throw e;
      throw reject400(`Invalid Sec-WebSocket-Extensions header: ${e.message}`, "WS_ERR_HANDSHAKE_EXTENSION");
    }
  }
  return items;
}

/**
 * Server side of the extension negotiation (wsproto's
 * `server_extensions_handshake`): for each offer, in order, every supported
 * extension of that name is asked to `accept()` it; the last accepted offer
 * of a name wins (at the position of the first). Returns the
 * `Sec-WebSocket-Extensions` value to send, or `null` if nothing was accepted.
 *
 * Accepting enables the extension objects passed in: pass forks
 * (`ext.fork()`), one set per connection, then hand the same objects to the
 * `Connection`.
 * @param requested offers, one item each (`"permessage-deflate; client_max_window_bits"`) or whole header values.
 * @throws RemoteProtocolError (hint 400) if an offer is not valid header syntax.
 * @example
 * ```ts
 * const forks = [new PerMessageDeflate().fork()];
 * const value = serverExtensionsHandshake(["permessage-deflate"], forks); // "permessage-deflate"
 * const conn = new Connection(ConnectionType.SERVER, { extensions: forks });
 * ```
 */
export function serverExtensionsHandshake(requested: readonly string[], supported: readonly Extension[]): string | null {
  const accepts = new Map<string, string>();
  for (const item of parseExtensionValues(requested)) {
    const offer = buildExtensionItem(item);
    for (const ext of supported) {
      if (ext.name !== item.name) continue;
      const answer = callHook(() => ext.accept(offer), ext, "accept");
      if (answer === true || answer === "") accepts.set(ext.name, ext.name);
      else if (typeof answer === "string") accepts.set(ext.name, `${ext.name}; ${answer}`);
      else if (answer !== false && answer !== null && answer !== undefined) {
        throw new LocalProtocolError(`${ext.name}.accept() must return a boolean, a string or null`, "WS_ERR_INVALID_EXTENSION");
      }
    }
  }
  if (accepts.size === 0) return null;
  return [...accepts.values()].map(checkedItem).join(", ");
}

/**
 * Client side of the extension negotiation (wsproto's
 * `client_extensions_handshake`): every extension the server accepted must
 * be one we offered (RFC 6455 §9.1), at most once; each is `finalize()`d
 * with the server's item, and the list is returned in the server's order.
 *
 * Finalizing configures the extension objects passed in: pass the forks
 * that made the offers.
 * @param accepted the server's items or whole `Sec-WebSocket-Extensions` values (all of them).
 * @throws RemoteProtocolError (hint 400) for an extension not offered, a repeated one, bad syntax, or parameters the extension refuses.
 * @example
 * ```ts
 * const pmd = new PerMessageDeflate().fork();
 * const offer = pmd.offer(); // sent in the request
 * const agreed = clientExtensionsHandshake(["permessage-deflate; server_no_context_takeover"], [pmd]);
 * ```
 */
export function clientExtensionsHandshake(accepted: readonly string[], supported: readonly Extension[]): Extension[] {
  const out: Extension[] = [];
  const seen = new Set<string>();
  for (const item of parseExtensionValues(accepted)) {
    const ext = supported.find((e) => e.name === item.name);
    if (ext === undefined) {
      throw reject400(`unrecognized extension ${item.name}`, "WS_ERR_HANDSHAKE_EXTENSION");
    }
    if (seen.has(item.name)) {
      throw reject400(`extension ${item.name} accepted twice`, "WS_ERR_HANDSHAKE_EXTENSION");
    }
    seen.add(item.name);
    const response = buildExtensionItem(item);
    try {
      ext.finalize(response);
    } catch (e) {
      if (e instanceof RemoteProtocolError) {
        if (e.eventHint !== null) throw e;
        const error = new RemoteProtocolError(e.message, new RejectConnection(), e.code);
        (error as { cause?: unknown }).cause = e;
        throw error;
      }
      // A throwing finalize() means the server's parameters were unacceptable.
      const error = reject400(
        `extension ${item.name} refused the server's response ${JSON.stringify(response)}: ${e instanceof Error ? e.message : String(e)}`,
        "WS_ERR_HANDSHAKE_EXTENSION",
      );
      (error as { cause?: unknown }).cause = e;
      throw error;
    }
    out.push(ext);
  }
  return out;
}
