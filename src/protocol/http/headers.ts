/**
 * Pure functions over the WebSocket handshake's header grammar, with a real
 * tokenizer (python websockets' `headers.py` is the model, not wsproto's
 * `split_comma_header`, which splits inside quoted strings).
 *
 * Grammar (RFC 7230 §3.2.6 and §7, RFC 6455 §4.3 and §9.1):
 * ```
 * list          = [ element ] *( OWS "," OWS [ element ] )   ; empty items allowed
 * token         = 1*tchar
 * quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
 * extension     = token *( OWS ";" OWS param )
 * param         = token [ OWS "=" OWS ( token / quoted-string ) ]
 * ```
 * Invariants: parsers never throw anything but a {@link RemoteProtocolError}
 * (code `WS_ERR_HANDSHAKE_HEADER`, no hint: the caller decides the reply);
 * builders never throw anything but a {@link LocalProtocolError}; results are
 * arrays of pairs, never plain objects, so names such as `__proto__` or
 * `constructor` are ordinary strings; every function is linear in its input.
 * @module
 */
import { LocalProtocolError, RemoteProtocolError } from "../errors.ts";

const HEADER_ERROR = "WS_ERR_HANDSHAKE_HEADER";

// RFC 7230 §3.2.6: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
// "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/**
 * `true` when `value` is an RFC 7230 token (non-empty, tchar only).
 * @example
 * ```ts
 * isToken("permessage-deflate"); // true
 * isToken("a b");                // false
 * ```
 */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) if (!isTchar(value.charCodeAt(i))) return false;
  return true;
}

/** One item of `Sec-WebSocket-Extensions`: a name and its parameters in order. */
export interface ExtensionItem {
  /** The extension token, e.g. `"permessage-deflate"`. */
  readonly name: string;
  /** `[name, value]` in header order; `null` for a parameter without value. Duplicates are kept. */
  readonly params: ReadonlyArray<readonly [string, string | null]>;
}

function fail(message: string): never {
  throw new RemoteProtocolError(message, null, HEADER_ERROR);
}

function describe(value: string, pos: number): string {
  const at = pos < value.length ? `'${value[pos]!}' at ${pos}` : "end of value";
  return `${at} in ${JSON.stringify(value.length > 80 ? value.slice(0, 77) + "..." : value)}`;
}

function skipOws(value: string, pos: number): number {
  while (pos < value.length) {
    const c = value.charCodeAt(pos);
    if (c !== 0x20 && c !== 0x09) break;
    pos++;
  }
  return pos;
}

function readToken(value: string, pos: number, what: string): [string, number] {
  const start = pos;
  while (pos < value.length && isTchar(value.charCodeAt(pos))) pos++;
  if (pos === start) fail(`Expected ${what}, found ${describe(value, pos)}`);
  return [value.slice(start, pos), pos];
}

// RFC 7230 §3.2.6: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text;
// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ).
function readQuotedString(value: string, pos: number): [string, number] {
  let out = "";
  pos++; // opening quote
  let runStart = pos;
  while (pos < value.length) {
    const c = value.charCodeAt(pos);
    if (c === 0x22) {
      out += value.slice(runStart, pos);
      return [out, pos + 1];
    }
    if (c === 0x5c) {
      out += value.slice(runStart, pos);
      const next = value.charCodeAt(pos + 1);
      if (!(next === 0x09 || (next >= 0x20 && next !== 0x7f && next <= 0xff))) {
        fail(`Invalid quoted-pair, found ${describe(value, pos + 1)}`);
      }
      out += value[pos + 1]!;
      pos += 2;
      runStart = pos;
      continue;
    }
    if (!(c === 0x09 || (c >= 0x20 && c !== 0x7f && c <= 0xff))) {
      fail(`Invalid character in quoted-string, found ${describe(value, pos)}`);
    }
    pos++;
  }
  fail(`Unterminated quoted-string in ${JSON.stringify(value)}`);
}

/**
 * Parse an RFC 7230 `#rule` list: items separated by commas with optional
 * whitespace; empty items (`a,,b`, a leading or trailing comma) are skipped.
 */
function parseList<T>(value: string, readItem: (value: string, pos: number) => [T, number], what: string): T[] {
  const items: T[] = [];
  let pos = skipOws(value, 0);
  while (pos < value.length) {
    if (value.charCodeAt(pos) === 0x2c) {
      pos = skipOws(value, pos + 1);
      continue;
    }
    const [item, next] = readItem(value, pos);
    items.push(item);
    pos = skipOws(value, next);
    if (pos < value.length) {
      if (value.charCodeAt(pos) !== 0x2c) fail(`Expected ',' after ${what}, found ${describe(value, pos)}`);
      pos = skipOws(value, pos + 1);
    }
  }
  return items;
}

/**
 * Parse a comma-separated token list such as `Connection`, `Upgrade` or
 * `Sec-WebSocket-Protocol` (RFC 7230 §7: `1#token`, empty items allowed).
 * @throws RemoteProtocolError (code `WS_ERR_HANDSHAKE_HEADER`) on anything but tokens.
 * @example
 * ```ts
 * parseTokenList("keep-alive, Upgrade"); // ["keep-alive", "Upgrade"]
 * parseTokenList(" , a ,, b ");          // ["a", "b"]
 * ```
 */
export function parseTokenList(value: string): string[] {
  return parseList(value, (v, p) => readToken(v, p, "a token"), "a token");
}

/**
 * Serialize tokens as a list (`a, b`).
 * @throws LocalProtocolError if an item is not a token.
 * @example
 * ```ts
 * buildTokenList(["chat", "superchat"]); // "chat, superchat"
 * ```
 */
export function buildTokenList(tokens: readonly string[]): string {
  return joinTokens(tokens, (t) => new LocalProtocolError(`Not a token: ${JSON.stringify(t)}`, HEADER_ERROR));
}

/** `tokens` joined as a list, or the error `refuse` makes for the first that is not a token. */
function joinTokens(tokens: readonly unknown[], refuse: (item: unknown) => LocalProtocolError): string {
  for (const t of tokens) if (typeof t !== "string" || !isToken(t)) throw refuse(t);
  return tokens.join(", ");
}

/**
 * `true` when the token list `value` contains `token`, compared ASCII
 * case-insensitively (RFC 6455 §4.2.1 for `Connection: Upgrade`). A value
 * that is not a valid token list contains nothing.
 * @example
 * ```ts
 * hasToken("keep-alive, UPGRADE", "upgrade"); // true
 * ```
 */
export function hasToken(value: string, token: string): boolean {
  const wanted = token.toLowerCase();
  // The usual value is one token ("Upgrade"): compared in place, nothing parsed or allocated.
  if (isToken(value)) return equalsLowerAscii(value, wanted);
  let tokens: string[];
  try {
    tokens = parseTokenList(value);
  } catch {
    return false;
  }
  return tokens.some((t) => equalsLowerAscii(t, wanted));
}

/**
 * `token.toLowerCase() === lower` for a token (ASCII by definition), without
 * building the lower-cased copy.
 * @example
 * ```ts
 * equalsLowerAscii("WebSocket", "websocket"); // true
 * ```
 */
export function equalsLowerAscii(token: string, lower: string): boolean {
  if (token.length !== lower.length) return false;
  for (let i = 0; i < token.length; i++) {
    let c = token.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Parse `Sec-WebSocket-Protocol` (RFC 6455 §4.1: `1#token`, in the client's
 * order of preference).
 * @example
 * ```ts
 * parseSubprotocols("chat, superchat"); // ["chat", "superchat"]
 * ```
 */
export function parseSubprotocols(value: string): string[] {
  return parseList(value, (v, p) => readToken(v, p, "a subprotocol"), "a subprotocol");
}

/**
 * Serialize a subprotocol list for `Sec-WebSocket-Protocol`.
 * @throws LocalProtocolError if a name is not a token (RFC 6455 §4.1).
 * @example
 * ```ts
 * buildSubprotocols(["chat", "superchat"]); // "chat, superchat"
 * ```
 */
export function buildSubprotocols(subprotocols: readonly string[]): string {
  return joinTokens(
    subprotocols,
    (s) => new LocalProtocolError(`Invalid subprotocol ${JSON.stringify(s)}: RFC 6455 §4.1 requires a token`, "WS_ERR_INVALID_SUBPROTOCOL"),
  );
}

function readExtensionItem(value: string, pos: number): [ExtensionItem, number] {
  const [name, afterName] = readToken(value, pos, "an extension name");
  const params: Array<readonly [string, string | null]> = [];
  pos = afterName;
  for (;;) {
    const p = skipOws(value, pos);
    if (p >= value.length || value.charCodeAt(p) !== 0x3b) break;
    const [paramName, afterParam] = readToken(value, skipOws(value, p + 1), "a parameter name");
    pos = afterParam;
    const q = skipOws(value, pos);
    if (q < value.length && value.charCodeAt(q) === 0x3d) {
      const v = skipOws(value, q + 1);
      let paramValue: string;
      if (v < value.length && value.charCodeAt(v) === 0x22) {
        [paramValue, pos] = readQuotedString(value, v);
        // RFC 6455 §9.1: a quoted value MUST conform to the token ABNF once unquoted.
        if (!isToken(paramValue)) {
          fail(`Quoted parameter value ${JSON.stringify(paramValue)} is not a token (RFC 6455 §9.1)`);
        }
      } else {
        [paramValue, pos] = readToken(value, v, "a parameter value");
      }
      params.push([paramName, paramValue]);
    } else {
      params.push([paramName, null]);
    }
  }
  return [{ name, params }, pos];
}

/**
 * Parse `Sec-WebSocket-Extensions` (RFC 6455 §9.1) into items with their
 * parameters; quoted values are unquoted, commas and semicolons inside quotes
 * do not split.
 * @throws RemoteProtocolError (code `WS_ERR_HANDSHAKE_HEADER`) on a syntax error.
 * @example
 * ```ts
 * parseExtensions('permessage-deflate; client_max_window_bits="10", x-foo');
 * // [{ name: "permessage-deflate", params: [["client_max_window_bits", "10"]] },
 * //  { name: "x-foo", params: [] }]
 * ```
 */
export function parseExtensions(value: string): ExtensionItem[] {
  return parseList(value, readExtensionItem, "an extension");
}

/**
 * Parse exactly one extension item (`name; p1; p2=v`), e.g. an offer string
 * handed to `Extension.accept`.
 * @throws RemoteProtocolError if `value` is not exactly one item.
 * @example
 * ```ts
 * parseExtensionItem("permessage-deflate; server_no_context_takeover").params;
 * // [["server_no_context_takeover", null]]
 * ```
 */
export function parseExtensionItem(value: string): ExtensionItem {
  const items = parseExtensions(value);
  if (items.length !== 1) fail(`Expected one extension, found ${items.length} in ${JSON.stringify(value)}`);
  return items[0]!;
}

/**
 * Serialize one extension item as `name; p1; p2=v`.
 * @throws LocalProtocolError if a name or value is not a token.
 * @example
 * ```ts
 * buildExtensionItem({ name: "permessage-deflate", params: [["client_max_window_bits", null]] });
 * // "permessage-deflate; client_max_window_bits"
 * ```
 */
export function buildExtensionItem(item: ExtensionItem): string {
  if (typeof item.name !== "string" || !isToken(item.name)) {
    throw new LocalProtocolError(`Invalid extension name ${JSON.stringify(item.name)}`, "WS_ERR_INVALID_EXTENSION");
  }
  let out = item.name;
  for (const [name, value] of item.params) {
    if (typeof name !== "string" || !isToken(name)) {
      throw new LocalProtocolError(`Invalid extension parameter name ${JSON.stringify(name)}`, "WS_ERR_INVALID_EXTENSION");
    }
    if (value === null) {
      out += `; ${name}`;
    } else if (typeof value === "string" && isToken(value)) {
      out += `; ${name}=${value}`;
    } else {
      // RFC 6455 §9.1: parameter values must be tokens (quoted or not).
      throw new LocalProtocolError(
        `Invalid value for extension parameter ${name}: ${JSON.stringify(value)}`,
        "WS_ERR_INVALID_EXTENSION",
      );
    }
  }
  return out;
}

/**
 * Serialize a `Sec-WebSocket-Extensions` value (`a; p=1, b`).
 * @example
 * ```ts
 * buildExtensions([{ name: "a", params: [["p", "1"]] }, { name: "b", params: [] }]); // "a; p=1, b"
 * ```
 */
export function buildExtensions(items: readonly ExtensionItem[]): string {
  return items.map(buildExtensionItem).join(", ");
}
