/**
 * The fuzz targets and their invariants.
 *
 * Every target feeds untrusted bytes to one parser of src/protocol and
 * checks, beyond "no crash":
 * - the only exceptions are the documented protocol errors
 *   (`LocalProtocolError`, `RemoteProtocolError`), and only where the API
 *   documents them (the frame layer raises none for peer bytes: a bad frame
 *   is a `CloseConnection` event);
 * - memory stays within the configured limits: no message, frame or inflated
 *   output larger than `maxMessageSize`, no handshake head beyond
 *   `maxHandshakeSize`;
 * - the event stream is well formed: nothing after a close, a 1006 at end of
 *   stream, close codes a peer may receive, pong payloads of at most 125
 *   bytes, text that is a string;
 * - the answers the API tells the application to send (`ping.response()`,
 *   `close.response()`, a handshake error's `eventHint`) can be sent.
 * Hangs are caught by the engine's per-input time bound.
 * @module
 */
import { deflateRawSync, constants as zc } from "node:zlib";
import {
  AcceptConnection,
  CloseConnection,
  Connection,
  ConnectionState,
  ConnectionType,
  LocalProtocolError,
  PerMessageDeflate,
  RemoteProtocolError,
  Request,
  WSConnection,
  buildExtensions,
  buildSubprotocols,
  buildTokenList,
  clientExtensionsHandshake,
  generateAcceptToken,
  hasToken,
  isToken,
  isValidNonce,
  parseExtensionItem,
  parseExtensions,
  parseSubprotocols,
  parseTokenList,
  sequentialRandom,
  serverExtensionsHandshake,
  type Event,
} from "../src/protocol/index.ts";
import { chunksOf, hashBytes, InvariantError, Rng, type FuzzTarget } from "./engine.ts";

export const LIMITS = { maxMessageSize: 64 * 1024, maxFrameSize: 32 * 1024, maxHandshakeSize: 4096, maxHeaders: 32 } as const;
const enc = new TextEncoder();
const te = (s: string): Uint8Array => enc.encode(s);
const latin1 = (b: Uint8Array): string => {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
};

function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new InvariantError(message);
}

/** Run `fn`; a protocol error is allowed, anything else propagates (a finding). */
function allowingProtocolErrors<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof LocalProtocolError || err instanceof RemoteProtocolError) return undefined;
    throw err;
  }
}

// RFC 6455 §7.4.1: codes a peer may see in a close frame or event.
function validReceivedCode(code: number): boolean {
  return code === 1005 || code === 1006 || (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** Drain events, checking the frame-level invariants; answers pings and closes as an application would. */
class EventChecker {
  closed = false;
  messageBytes = 0;
  events = 0;
  constructor(
    readonly send: (e: Event) => Uint8Array,
    readonly state: () => ConnectionState,
  ) {}

  take(events: Iterable<Event>): void {
    for (const event of events) {
      check(++this.events < 1_000_000, "more than a million events from one input");
      if (event.type === "CloseConnection") {
        check(!this.closed || event.origin === "abnormal", `a second close (${event.code}) after the first`);
        check(validReceivedCode(event.code), `close event with code ${event.code}`);
        if (!this.closed) this.answerClose(event);
        this.closed = true;
        continue;
      }
      check(!this.closed, `${event.type} after the close`);
      switch (event.type) {
        case "TextMessage":
        case "BytesMessage": {
          const d = event.data;
          if (event.type === "TextMessage") check(typeof d === "string", "TextMessage data is not a string");
          else check(d instanceof Uint8Array, "BytesMessage data is not a Uint8Array");
          // RFC 6455 §5.6 + options: a message stops at maxMessageSize (1009).
          this.messageBytes += typeof d === "string" ? enc.encode(d).length : d.length;
          check(this.messageBytes <= LIMITS.maxMessageSize, `message of ${this.messageBytes} bytes > maxMessageSize`);
          if (event.messageFinished) this.messageBytes = 0;
          break;
        }
        case "Ping":
          check(event.payload.length <= 125, "ping payload over 125 bytes");
          if (this.state() === ConnectionState.OPEN) this.send(event.response());
          break;
        case "Pong":
          check(event.payload.length <= 125, "pong payload over 125 bytes");
          break;
        default:
          break;
      }
    }
  }

  answerClose(event: CloseConnection): void {
    const state = this.state();
    if (event.origin === "remote") {
      check(state === ConnectionState.REMOTE_CLOSING, `remote close left the state at ${state}`);
      this.send(event.response());
    } else if (event.origin === "protocol-error") {
      check(event.code !== 1005 && event.code !== 1006, "protocol error with a local-only code");
      if (state === ConnectionState.OPEN) this.send(new CloseConnection({ code: event.code, reason: event.reason }));
    }
  }
}

function agreedDeflate(role: "client" | "server", selector: number): PerMessageDeflate {
  const params = [
    "permessage-deflate",
    "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; client_max_window_bits=9; server_max_window_bits=9",
    "permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
  ][selector & 3]!;
  const pmd = new PerMessageDeflate();
  if (role === "server") pmd.accept(params.replace("client_max_window_bits=9", "client_max_window_bits"));
  else pmd.finalize(params);
  return pmd;
}

// ---- frame generators ------------------------------------------------------------------

function frame(rng: Rng, opts: { masked: boolean; opcode: number; fin: boolean; rsv: number; payload: Uint8Array; lengthHint?: number }): Uint8Array {
  const p = opts.payload;
  const len = opts.lengthHint ?? p.length;
  const ext = len <= 125 && rng.below(20) ? 0 : len <= 0xffff && rng.below(20) ? 2 : 8;
  const head = new Uint8Array(2 + ext + (opts.masked ? 4 : 0));
  head[0] = (opts.fin ? 0x80 : 0) | ((opts.rsv & 7) << 4) | (opts.opcode & 15);
  head[1] = (opts.masked ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) {
    head[2] = (len >> 8) & 0xff;
    head[3] = len & 0xff;
  } else if (ext === 8) {
    const v = BigInt(len);
    for (let i = 0; i < 8; i++) head[2 + i] = Number((v >> BigInt(56 - 8 * i)) & 0xffn);
  }
  const out = new Uint8Array(head.length + p.length);
  out.set(head);
  if (opts.masked) {
    const key = head.subarray(2 + ext, 6 + ext);
    for (let i = 0; i < 4; i++) key[i] = rng.below(256);
    for (let i = 0; i < p.length; i++) out[head.length + i] = p[i]! ^ key[i & 3]!;
  } else out.set(p, head.length);
  return out;
}

const TEXTS = ["Hello", "κόσμε", "", "a".repeat(200), "€𤭢", "fragment"];
const BAD_UTF8 = [[0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0xff], [0xce]];

function payload(rng: Rng, compressed: boolean): Uint8Array {
  let p: Uint8Array;
  switch (rng.below(6)) {
    case 0:
      p = te(rng.pick(TEXTS));
      break;
    case 1:
      p = Uint8Array.from(rng.pick(BAD_UTF8));
      break;
    case 2:
      p = new Uint8Array(rng.pick([0, 1, 125, 126, 127, 128, 300, 1000])).map(() => rng.below(256));
      break;
    case 3:
      p = new Uint8Array(rng.below(64)).fill(0x61);
      break;
    default:
      p = new Uint8Array(rng.below(40)).map(() => rng.below(256));
  }
  if (compressed) {
    // Sometimes a bomb: many zeros compress to a few bytes.
    const src = rng.below(8) === 0 ? new Uint8Array(1 << (14 + rng.below(6))) : p;
    const z = deflateRawSync(src, { finishFlush: zc.Z_SYNC_FLUSH });
    p = z.subarray(0, Math.max(0, z.length - 4));
  }
  return p;
}

/** A sequence of mostly sensible frames with boundary lengths, reserved bits and opcodes sprinkled in. */
function frames(rng: Rng, masked: boolean, deflate: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  const n = 1 + rng.below(6);
  let inMessage = false;
  for (let i = 0; i < n; i++) {
    const r = rng.below(20);
    let opcode: number;
    if (r < 2) opcode = rng.below(16);
    else if (r < 5) opcode = rng.pick([8, 9, 10]);
    else opcode = inMessage ? 0 : rng.pick([1, 2]);
    const control = opcode >= 8;
    const fin = control ? rng.below(20) !== 0 : rng.chance(0.6);
    const compressed = deflate && !control && opcode !== 0 && rng.chance(0.7);
    let p: Uint8Array;
    if (opcode === 8) {
      const code = rng.pick([1000, 1001, 1002, 1005, 1006, 1007, 1015, 999, 3000, 4999, 5000, 65535, rng.below(65536)]);
      const reason = rng.chance(0.3) ? Uint8Array.from(rng.pick(BAD_UTF8)) : te(rng.chance(0.5) ? "" : "bye");
      p = rng.below(10) === 0 ? new Uint8Array([0x03]) : new Uint8Array([code >> 8, code & 0xff, ...reason]);
    } else p = control ? payload(rng, false).subarray(0, rng.below(20) === 0 ? 126 : 125) : payload(rng, compressed);
    const rsv = compressed ? 4 : rng.below(25) === 0 ? rng.below(8) : 0;
    parts.push(frame(rng, { masked: rng.below(30) === 0 ? !masked : masked, opcode, fin, rsv, payload: p }));
    if (!control) inMessage = !fin;
  }
  if (rng.below(10) === 0) {
    // A header claiming more than the limits allow.
    parts.push(frame(rng, { masked, opcode: 2, fin: true, rsv: 0, payload: new Uint8Array(0), lengthHint: rng.pick([LIMITS.maxFrameSize + 1, 2 ** 31, 2 ** 53]) }));
  }
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- targets ---------------------------------------------------------------------------

const FRAME_DICT = [
  [0x81, 0x05], [0x82, 0x7e], [0x82, 0x7f], [0x88, 0x02, 0x03, 0xe8], [0x89, 0x00], [0x8a, 0x00], [0x01, 0x01], [0x80, 0x00],
  [0xc1, 0x00], [0x00, 0x00, 0xff, 0xff], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x7e, 0x00, 0x7e], [0x7f, 0x80],
].map((a) => Uint8Array.from(a));

function frameTarget(role: "client" | "server", deflate: boolean): FuzzTarget {
  const type = role === "client" ? ConnectionType.CLIENT : ConnectionType.SERVER;
  return {
    name: `frame-${role}${deflate ? "-deflate" : ""}`,
    description: `Connection(${role}) receiveData + events${deflate ? ", permessage-deflate agreed" : ""}`,
    maxLength: 16 * 1024,
    dictionary: FRAME_DICT,
    generate: (rng) => frames(rng, role === "server", deflate),
    run(input) {
      const bytes = input.slice(); // receiveData unmasks in place
      const extensions = deflate ? [agreedDeflate(role, hashBytes(input))] : [];
      const conn = new Connection(type, { ...LIMITS, random: sequentialRandom(), extensions });
      const checker = new EventChecker((e) => conn.send(e), () => conn.state);
      for (const chunk of chunksOf(bytes)) {
        if (conn.state === ConnectionState.CLOSED) break;
        conn.receiveData(chunk);
        checker.take(conn.events());
      }
      if (conn.state !== ConnectionState.CLOSED) {
        conn.receiveData(null);
        const before = checker.events;
        checker.take(conn.events());
        check(checker.events > before, "no event at end of stream");
      }
      check(conn.state === ConnectionState.CLOSED, `state ${conn.state} after end of stream`);
    },
  };
}

const HTTP_DICT = [
  "\r\n", "\r\n\r\n", ": ", ":", " ", "\t", ",", ";", "=", '"', "\\", "\n", "\0", "\x7f", "\xff",
  "GET / HTTP/1.1", "GET /chat HTTP/1.0", "HTTP/1.1 101 Switching Protocols", "HTTP/1.1 100 Continue", "HTTP/1.1 400 Bad",
  "Host: example.com", "Upgrade: websocket", "Connection: Upgrade", "Connection: keep-alive, Upgrade",
  "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol: chat",
  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits", "Content-Length: 5", "Transfer-Encoding: chunked",
  "5\r\nhello\r\n0\r\n\r\n", "server_max_window_bits=8", "client_no_context_takeover", "x-ext; a=\"b,c\"",
].map(te);

const NONCE_ACCEPT = generateAcceptToken("AAECAwQFBgcICQoLDA0ODw==");
const PMD_PARAMS = ["client_max_window_bits", "server_max_window_bits", "client_no_context_takeover", "server_no_context_takeover", "x-unknown"];
const PMD_VALUES = [null, null, "8", "9", "10", "15", "16", "0", "-1", "abc", '"12"', '""', "1e1", "09", " 10"];
const ows = (rng: Rng): string => rng.pick(["", "", " ", "  ", "\t"]);

/** A `Sec-WebSocket-Extensions` value from a small grammar, sometimes slightly wrong. */
export function extensionValue(rng: Rng): string {
  const items: string[] = [];
  const n = 1 + rng.below(3);
  for (let i = 0; i < n; i++) {
    let item = rng.pick(["permessage-deflate", "permessage-deflate", "x-webkit-deflate-frame", "foo", "PerMessage-Deflate"]);
    const k = rng.below(5);
    for (let j = 0; j < k; j++) {
      const v = rng.pick(PMD_VALUES);
      item += `${ows(rng)};${ows(rng)}${rng.pick(PMD_PARAMS)}${v === null ? "" : `=${v}`}`;
    }
    items.push(item);
  }
  return items.join(`${ows(rng)},${ows(rng)}`);
}

function headerLine(rng: Rng, name: string, value: string): string {
  const n = rng.below(10) === 0 ? name.toUpperCase() : rng.below(10) === 0 ? name.toLowerCase() : name;
  return `${n}:${rng.pick([" ", "", "  ", "\t"])}${value}${rng.below(15) === 0 ? " " : ""}\r\n`;
}

/** A request head with the required headers, shuffled and perturbed, maybe followed by frames. */
function requestHead(rng: Rng): Uint8Array {
  const lines: string[] = [];
  const required: Array<[string, string]> = [
    ["Host", rng.pick(["server.example.com", "[::1]:8080", "example.com:80", "", "bücher.example"])],
    ["Upgrade", rng.pick(["websocket", "WebSocket", "websocket, h2c", "h2c"])],
    ["Connection", rng.pick(["Upgrade", "keep-alive, Upgrade", "upgrade", "close"])],
    ["Sec-WebSocket-Key", rng.pick(["dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ", "AAAAAAAAAAAAAAAAAAAAAA=="])],
    ["Sec-WebSocket-Version", rng.pick(["13", "13", "8", "13, 8"])],
  ];
  for (const h of required) if (rng.below(25) !== 0) lines.push(headerLine(rng, h[0], h[1]));
  if (rng.chance(0.7)) lines.push(headerLine(rng, "Sec-WebSocket-Extensions", extensionValue(rng)));
  if (rng.chance(0.3)) lines.push(headerLine(rng, "Sec-WebSocket-Extensions", extensionValue(rng)));
  if (rng.chance(0.5)) lines.push(headerLine(rng, "Sec-WebSocket-Protocol", rng.pick(["chat", "chat, superchat", "a b", "", "chat,,v2"])));
  if (rng.chance(0.2)) lines.push(headerLine(rng, rng.pick(["Content-Length", "Transfer-Encoding", "Origin", "X-A"]), rng.pick(["0", "5", "chunked", "http://x"])));
  for (let i = lines.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  }
  const start = rng.below(12) === 0 ? rng.pick(["GET / HTTP/1.0", "POST / HTTP/1.1", "GET  / HTTP/1.1", "GET /chat?x=1#f HTTP/1.1"]) : "GET /chat HTTP/1.1";
  const head = te(`${start}\r\n${lines.join("")}\r\n`);
  if (!rng.chance(0.3)) return head;
  const tail = frames(rng, true, false);
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

/** A response to the fuzz client's request (nonce 00..0f): mostly a 101 with a valid accept. */
function responseHead(rng: Rng): Uint8Array {
  const status = rng.below(6) === 0 ? rng.pick(["100 Continue\r\n\r\nHTTP/1.1 101 OK", "400 Bad", "403 Forbidden", "200 OK", "101"]) : "101 Switching Protocols";
  const lines: string[] = [
    headerLine(rng, "Upgrade", rng.pick(["websocket", "websocket", "WebSocket", "h2c"])),
    headerLine(rng, "Connection", rng.pick(["Upgrade", "Upgrade", "upgrade, keep-alive", "close"])),
    headerLine(rng, "Sec-WebSocket-Accept", rng.below(15) === 0 ? "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" : NONCE_ACCEPT),
  ];
  if (rng.chance(0.7)) lines.push(headerLine(rng, "Sec-WebSocket-Extensions", extensionValue(rng)));
  if (rng.chance(0.4)) lines.push(headerLine(rng, "Sec-WebSocket-Protocol", rng.pick(["chat", "superchat", "other", "chat, superchat"])));
  if (!status.startsWith("101")) lines.push(rng.chance(0.5) ? headerLine(rng, "Content-Length", "5") : headerLine(rng, "Transfer-Encoding", "chunked"));
  const body = status.startsWith("101") ? "" : rng.pick(["hello", "5\r\nhello\r\n0\r\n\r\n", "3\r\nab", ""]);
  const head = te(`HTTP/1.1 ${status}\r\n${lines.join("")}\r\n${body}`);
  if (!rng.chance(0.3)) return head;
  const tail = frames(rng, false, rng.chance(0.5));
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

function drainHandshake(ws: WSConnection, checker: EventChecker, onRequest: (r: Request) => void): void {
  const events = [...ws.events()];
  for (const e of events) {
    if (e.type === "Request") onRequest(e);
    else if (e.type === "RejectConnection" || e.type === "RejectData" || e.type === "AcceptConnection") check(!checker.closed, `${e.type} after the close`);
    else checker.take([e]);
  }
}

/** Feed chunks to a WSConnection; a RemoteProtocolError ends the input, after sending its hint. */
function feedHandshake(ws: WSConnection, input: Uint8Array, onRequest: (r: Request) => void): void {
  const checker = new EventChecker((e) => ws.send(e), () => ws.state);
  for (const chunk of chunksOf(input.slice())) {
    if (ws.state === ConnectionState.CLOSED) break;
    try {
      ws.receiveData(chunk);
      drainHandshake(ws, checker, onRequest);
    } catch (err) {
      if (!(err instanceof RemoteProtocolError)) throw err;
      check(ws.state === ConnectionState.CONNECTING || ws.state === ConnectionState.REJECTING, `RemoteProtocolError in state ${ws.state}`);
      if (err.eventHint) allowingProtocolErrors(() => ws.send(err.eventHint!));
      return;
    }
  }
  if (ws.state !== ConnectionState.CLOSED) {
    allowingProtocolErrors(() => {
      ws.receiveData(null);
      drainHandshake(ws, checker, onRequest);
    });
  }
}

const serverHttp: FuzzTarget = {
  name: "http-server",
  description: "WSConnection(server): request head parsing, validation, accept, then frames",
  maxLength: 8 * 1024,
  dictionary: HTTP_DICT,
  generate: requestHead,
  run(input) {
    const ws = new WSConnection(ConnectionType.SERVER, { ...LIMITS, random: sequentialRandom() });
    feedHandshake(ws, input, (request) => {
      check(typeof request.host === "string" && typeof request.target === "string", "Request without host/target strings");
      check(request.subprotocols.every((p) => isToken(p)), "a subprotocol that is not a token");
      const sub = request.subprotocols[0] ?? null;
      const out = allowingProtocolErrors(() => ws.send(new AcceptConnection({ subprotocol: sub, extensions: [new PerMessageDeflate()] })));
      if (out !== undefined) check(ws.state === ConnectionState.OPEN, "accepted but not OPEN");
    });
  },
};

const clientHttp: FuzzTarget = {
  name: "http-client",
  description: "WSConnection(client): response head parsing, 101 validation, extension finalize, rejection bodies",
  maxLength: 8 * 1024,
  dictionary: [...HTTP_DICT, te(`Sec-WebSocket-Accept: ${NONCE_ACCEPT}`)],
  generate: responseHead,
  run(input) {
    const ws = new WSConnection(ConnectionType.CLIENT, { ...LIMITS, random: sequentialRandom() });
    ws.send(new Request({ host: "example.com", target: "/chat", subprotocols: ["chat", "superchat"], extensions: [new PerMessageDeflate()] }));
    feedHandshake(ws, input, () => {
      throw new InvariantError("a client received a Request event");
    });
  },
};

const headerTarget: FuzzTarget = {
  name: "headers",
  description: "headers.ts tokenizer (token lists, subprotocols, extensions, nonce) with round trips, and PerMessageDeflate offer/response parsing",
  maxLength: 1024,
  dictionary: HTTP_DICT,
  generate: (rng) => te(extensionValue(rng)),
  run(input) {
    const v = latin1(input);
    const tokens = allowingProtocolErrors(() => parseTokenList(v));
    if (tokens) {
      check(tokens.every(isToken), "parseTokenList returned a non-token");
      const again = parseTokenList(buildTokenList(tokens));
      check(JSON.stringify(again) === JSON.stringify(tokens), "token list round trip differs");
    }
    allowingProtocolErrors(() => hasToken(v, "upgrade"));
    const subs = allowingProtocolErrors(() => parseSubprotocols(v));
    if (subs && subs.length) check(JSON.stringify(parseSubprotocols(buildSubprotocols(subs))) === JSON.stringify(subs), "subprotocol round trip differs");
    const exts = allowingProtocolErrors(() => parseExtensions(v));
    if (exts) {
      const built = allowingProtocolErrors(() => buildExtensions(exts));
      if (built !== undefined) check(JSON.stringify(parseExtensions(built)) === JSON.stringify(exts), "extension round trip differs");
    }
    allowingProtocolErrors(() => parseExtensionItem(v));
    isValidNonce(v);
    check(typeof generateAcceptToken(v) === "string", "accept token is not a string");
    // Negotiation strings as a server receives them (offers) and a client (the response).
    const server = new PerMessageDeflate();
    const answer = allowingProtocolErrors(() => server.accept(v));
    if (typeof answer === "string") check(server.enabled(), "accepted but not enabled");
    allowingProtocolErrors(() => new PerMessageDeflate().finalize(v));
    allowingProtocolErrors(() => serverExtensionsHandshake([v], [new PerMessageDeflate()]));
    allowingProtocolErrors(() => clientExtensionsHandshake([v], [new PerMessageDeflate()]));
  },
};

/**
 * PerMessageDeflate's inbound hooks driven directly: records of
 * [flags, length u16, data] become frames of a well-sequenced stream (the
 * frame layer guarantees the sequencing), so the inflater sees arbitrary
 * compressed data, bombs and control frames between fragments.
 */
const deflateTarget: FuzzTarget = {
  name: "deflate-inbound",
  description: "PerMessageDeflate inbound (frameInboundHeader / PayloadData / Complete): arbitrary compressed data, bombs, fragmentation",
  maxLength: 16 * 1024,
  dictionary: [Uint8Array.from([0x00, 0x00, 0xff, 0xff]), Uint8Array.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), Uint8Array.from([0x41, 0x00, 0x04]), Uint8Array.from([0x02, 0x00])],
  generate(rng) {
    const parts: number[] = [];
    const n = 1 + rng.below(4);
    for (let i = 0; i < n; i++) {
      const p = payload(rng, true);
      const fin = i === n - 1 || rng.chance(0.3);
      parts.push((fin ? 0x80 : 0) | (rng.chance(0.9) ? 0x40 : 0) | rng.below(4), p.length >> 8, p.length & 0xff, ...p);
    }
    return Uint8Array.from(parts);
  },
  run(input) {
    const role = (hashBytes(input) & 4) !== 0 ? "client" : "server";
    const pmd = agreedDeflate(role, hashBytes(input));
    const proto = { client: role === "client", maxMessageSize: LIMITS.maxMessageSize };
    let i = 0;
    let inMessage = false;
    let total = 0;
    while (i + 3 <= input.length) {
      const flags = input[i]!;
      const len = Math.min((input[i + 1]! << 8) | input[i + 2]!, input.length - i - 3);
      const data = input.slice(i + 3, i + 3 + len);
      i += 3 + len;
      const control = (flags & 3) === 3;
      const opcode = control ? 9 : inMessage ? 0 : (flags & 1) + 1;
      const fin = control || (flags & 0x80) !== 0;
      const rsv = { rsv1: (flags & 0x40) !== 0 && !control && !inMessage, rsv2: false, rsv3: false };
      const header = pmd.frameInboundHeader(proto, opcode as 0 | 1 | 2 | 9, rsv, control ? Math.min(len, 125) : len);
      if (typeof header === "number") {
        check(validReceivedCode(header), `header hook returned code ${header}`);
        return;
      }
      const body = control ? data.subarray(0, 125) : data;
      const cut = body.length >> 1;
      for (const piece of [body.subarray(0, cut), body.subarray(cut)]) {
        const out = pmd.frameInboundPayloadData(proto, piece);
        if (typeof out === "number") {
          check(out === 1007 || out === 1009 || out === 1002, `payload hook returned code ${out}`);
          return;
        }
        if (!control) total += out.length;
      }
      const end = pmd.frameInboundComplete(proto, fin);
      if (typeof end === "number") {
        check(end === 1007 || end === 1009 || end === 1002, `complete hook returned code ${end}`);
        return;
      }
      if (end && !control) total += end.length;
      // The inflated message never exceeds the limit (a bomb gets 1009).
      check(total <= LIMITS.maxMessageSize, `inflated ${total} bytes > maxMessageSize`);
      if (!control) {
        inMessage = !fin;
        if (fin) total = 0;
      }
    }
  },
};

/** Every target, in report order. */
export const TARGETS: readonly FuzzTarget[] = [
  frameTarget("server", false),
  frameTarget("client", false),
  frameTarget("server", true),
  frameTarget("client", true),
  serverHttp,
  clientHttp,
  headerTarget,
  deflateTarget,
];
