// Property tests (fast-check) of the handshake: random and mutated request
// and response heads, cut into random chunks, produce events or a
// RemoteProtocolError with a sensible hint, never anything else, and never
// hold more than the configured limits; valid heads survive the trip
// client -> server -> client unchanged.
import t from "tap";
import fc from "fast-check";
import { WSConnection } from "../../../src/protocol/ws-connection.ts";
import { RemoteProtocolError } from "../../../src/protocol/errors.ts";
import { AcceptConnection, RejectConnection, Request, type Event } from "../../../src/protocol/events.ts";
import { sequentialRandom } from "../../../src/protocol/bytes/random.ts";
import { ConnectionState, ConnectionType, type Headers } from "../../../src/protocol/types.ts";

const { CLIENT, SERVER } = ConnectionType;
const enc = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
};

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const VALID_REQUEST =
  "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n` +
  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nOrigin: http://example.com\r\n\r\n";
const VALID_RESPONSE =
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: Bz3qJYTGdOe8gUSpLosEdiLKDrk=\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
const REJECTION = "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n0\r\n\r\n";

const LIMITS = { maxHandshakeSize: 2048, maxHeaders: 32 };

/** Split `bytes` at the given (sorted, deduplicated) offsets. */
function cut(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.slice(last, p));
    last = p;
  }
  out.push(bytes.slice(last));
  return out;
}

interface Outcome {
  events: Event[];
  error: RemoteProtocolError | null;
  /** Bytes fed while the head was still incomplete and no error was raised. */
  pendingBytes: number;
}

/** Feed chunks (then EOF if asked); any error but a RemoteProtocolError fails the property. */
function run(ws: WSConnection, chunks: Uint8Array[], eof: boolean): Outcome {
  const events: Event[] = [];
  let pendingBytes = 0;
  try {
    for (const c of chunks) {
      ws.receiveData(c);
      const got = [...ws.events()];
      events.push(...got);
      if (events.length === 0) pendingBytes += c.length;
    }
    if (eof) {
      ws.receiveData(null);
      events.push(...ws.events());
    }
  } catch (e) {
    if (!(e instanceof RemoteProtocolError)) throw e;
    return { events, error: e, pendingBytes };
  }
  return { events, error: null, pendingBytes };
}

function sensibleServerHint(e: RemoteProtocolError): boolean {
  const hint = e.eventHint;
  return (
    hint instanceof RejectConnection &&
    [400, 426, 431].includes(hint.statusCode) &&
    !hint.hasBody &&
    /^WS_ERR_/.test(e.code) &&
    e.message.length > 0
  );
}

function sensibleClientHint(e: RemoteProtocolError): boolean {
  return (e.eventHint === null || (e.eventHint instanceof RejectConnection && e.eventHint.statusCode === 400)) && /^WS_ERR_/.test(e.code);
}

/** A server that got `input`: what it may produce. */
function checkServer(input: Uint8Array, offsets: number[], eof: boolean): boolean {
  const server = new WSConnection(SERVER, LIMITS);
  const out = run(server, cut(input, offsets), eof);
  if (out.pendingBytes > LIMITS.maxHandshakeSize) return false; // never buffers more than the limit
  if (out.error !== null) {
    if (!sensibleServerHint(out.error)) return false;
    if (server.state !== ConnectionState.CONNECTING) return false;
    // The hint can always be sent.
    const reply = server.send(out.error.eventHint!);
    return reply.length > 0 && (server.state as ConnectionState) === ConnectionState.CLOSED;
  }
  if (out.events.length > 1) return false;
  if (out.events.length === 1) {
    if (!(out.events[0] instanceof Request)) return false;
    const accept = server.send(new AcceptConnection());
    // After an EOF the connection is born knowing it (CLOSED, a 1006 event).
    return accept.length > 0 && server.state === (eof ? ConnectionState.CLOSED : ConnectionState.OPEN);
  }
  return server.state === ConnectionState.CONNECTING;
}

/** A client that sent its request and got `input`. */
function checkClient(input: Uint8Array, offsets: number[], eof: boolean): boolean {
  const client = new WSConnection(CLIENT, { ...LIMITS, random: sequentialRandom() });
  client.send(new Request({ host: "example.com", target: "/", subprotocols: ["chat", "superchat"] }));
  const out = run(client, cut(input, offsets), eof);
  if (out.error !== null) {
    // A fault in a rejection's body comes after the RejectConnection (state REJECTING).
    const state = client.state;
    return sensibleClientHint(out.error) && (state === ConnectionState.CONNECTING || state === ConnectionState.REJECTING);
  }
  const types = out.events.map((e) => e.type);
  if (types[0] === "AcceptConnection") {
    // Then only frame-level events (e.g. the 1006 close of an EOF).
    const handshakeTypes = ["Request", "AcceptConnection", "RejectConnection", "RejectData"];
    return client.connection !== null && !types.slice(1).some((x) => handshakeTypes.includes(x));
  }
  if (types[0] === "RejectConnection") {
    if (!types.slice(1).every((x) => x === "RejectData")) return false;
    return client.state === ConnectionState.REJECTING || client.state === ConnectionState.CLOSED;
  }
  // Only frames after an accept could be anything else; with no events we must still be waiting.
  return types.length === 0 && client.state === ConnectionState.CONNECTING;
}

// Mutations that matter to an HTTP parser.
const INTERESTING = ["\r", "\n", "\r\n", "\0", " ", "\t", ":", ",", ";", '"', "\\", "\x7f", "\xff", "=", "/", "HTTP/1.1", "\r\n\r\n", "\r\n "];
type Mutation = { at: number; kind: "flip" | "insert" | "delete" | "dup-line" | "case"; byte: number; text: string };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom("flip", "insert", "delete", "dup-line", "case"),
  byte: fc.integer({ min: 0, max: 255 }),
  text: fc.constantFrom(...INTERESTING),
});

function mutate(text: string, mutations: Mutation[]): Uint8Array {
  let s = text;
  for (const m of mutations) {
    const at = m.at % (s.length + 1);
    switch (m.kind) {
      case "flip":
        s = s.slice(0, at) + String.fromCharCode(m.byte) + s.slice(at + 1);
        break;
      case "insert":
        s = s.slice(0, at) + m.text + s.slice(at);
        break;
      case "delete":
        s = s.slice(0, at) + s.slice(at + 1 + (m.byte % 8));
        break;
      case "dup-line": {
        const start = s.lastIndexOf("\n", at) + 1;
        const end = s.indexOf("\n", at);
        if (end > start) s = s.slice(0, end + 1) + s.slice(start, end + 1) + s.slice(end + 1);
        break;
      }
      case "case":
        s = s.slice(0, at) + (s[at] ?? "").toUpperCase() + s.slice(at + 1);
        break;
    }
  }
  return enc(s);
}

const offsets = fc.array(fc.nat(), { maxLength: 8 });

t.test("server: random bytes", async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), offsets, fc.boolean(), checkServer), { numRuns: 1000 });
  t.pass();
});

t.test("server: mutated requests", async (t) => {
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), offsets, fc.boolean(), (ms, o, eof) =>
      checkServer(mutate(VALID_REQUEST, ms), o, eof),
    ),
    { numRuns: 3000 },
  );
  t.pass();
});

t.test("server: requests followed by junk and huge heads stay within the limits", async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 5000 }), offsets, (junk, o) => {
      const input = new Uint8Array(VALID_REQUEST.length + junk.length);
      input.set(enc(VALID_REQUEST));
      input.set(junk, VALID_REQUEST.length);
      return checkServer(input, o, false);
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20000 }), fc.integer({ min: 1, max: 4096 }), (size, chunk) => {
      const head = enc(`GET / HTTP/1.1\r\nHost: h\r\nX: ${"a".repeat(size)}`);
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < head.length; i += chunk) chunks.push(head.subarray(i, i + chunk));
      return checkServer(head, [], false) && run(new WSConnection(SERVER, LIMITS), chunks, false).pendingBytes <= LIMITS.maxHandshakeSize;
    }),
    { numRuns: 200 },
  );
  t.pass();
});

t.test("client: random bytes", async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), offsets, fc.boolean(), checkClient), { numRuns: 1000 });
  t.pass();
});

t.test("client: mutated responses and rejections", async (t) => {
  fc.assert(
    fc.property(fc.constantFrom(VALID_RESPONSE, REJECTION, "HTTP/1.1 100 Continue\r\n\r\n" + VALID_RESPONSE), fc.array(mutation, { minLength: 1, maxLength: 4 }), offsets, fc.boolean(), (base, ms, o, eof) =>
      checkClient(mutate(base, ms), o, eof),
    ),
    { numRuns: 3000 },
  );
  t.pass();
});

// Valid random handshakes survive the trip unchanged.
const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9a-zA-Z]{1,10}$/);
const value = fc.stringMatching(/^[\x21-\x7e\x80-\xff]([\x20-\x7e\x80-\xff]{0,20}[\x21-\x7e\x80-\xff])?$/);
const RESERVED = new Set(["host", "upgrade", "connection", "content-length", "transfer-encoding"]);
const extraHeader = fc
  .tuple(token, fc.oneof(value, fc.constant("")))
  .filter(([n]) => !RESERVED.has(n.toLowerCase()) && !n.toLowerCase().startsWith("sec-websocket-"));

t.test("round trip: what the client sends is what the server sees, and back", async (t) => {
  fc.assert(
    fc.property(
      fc.uniqueArray(token, { maxLength: 5 }),
      fc.array(extraHeader, { maxLength: 6 }),
      fc.array(extraHeader, { maxLength: 6 }),
      fc.stringMatching(/^\/[\x21-\x7e]{0,30}$/),
      fc.nat(),
      (subprotocols, clientHeaders, serverHeaders, target, pick) => {
        const client = new WSConnection(CLIENT, { random: sequentialRandom() });
        const server = new WSConnection(SERVER);
        server.receiveData(client.send(new Request({ host: "example.com", target, subprotocols, extraHeaders: clientHeaders as Headers })));
        const [req] = [...server.events()] as Request[];
        if (!(req instanceof Request) || req.target !== target) return false;
        if (JSON.stringify(req.subprotocols) !== JSON.stringify(subprotocols)) return false;
        const lowered = clientHeaders.map(([n, v]) => [n.toLowerCase(), v]);
        if (JSON.stringify(req.extraHeaders.slice(4)) !== JSON.stringify(lowered)) return false;
        const chosen = subprotocols.length > 0 ? subprotocols[pick % subprotocols.length]! : null;
        client.receiveData(server.send(new AcceptConnection({ subprotocol: chosen, extraHeaders: serverHeaders as Headers })));
        const [acc] = [...client.events()] as AcceptConnection[];
        if (!(acc instanceof AcceptConnection) || acc.subprotocol !== chosen) return false;
        return JSON.stringify(acc.extraHeaders) === JSON.stringify(serverHeaders.map(([n, v]) => [n.toLowerCase(), v]));
      },
    ),
    { numRuns: 500 },
  );
  t.pass();
});
