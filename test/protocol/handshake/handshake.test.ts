// H11Handshake (src/protocol/handshake/handshake.ts with client.ts, server.ts,
// rejection.ts), for both roles: request bytes, validation in
// wsproto's order with its hints, the deliberate differences, rejections in
// every framing, security checks on what we send, limits, trailing data.
import t, { type Test } from "tap";
import { H11Handshake } from "../../../src/protocol/handshake/handshake.ts";
import { Marker, lpe, rpe } from "../../helpers/handshake-checks.ts";
import { LocalProtocolError, RemoteProtocolError } from "../../../src/protocol/errors.ts";
import {
  AcceptConnection,
  CloseConnection,
  Ping,
  RejectConnection,
  RejectData,
  Request,
  TextMessage,
  type Event,
} from "../../../src/protocol/events.ts";
import { Extension } from "../../../src/protocol/extensions/extension.ts";
import { PerMessageDeflate } from "../../../src/protocol/extensions/permessage-deflate.ts";
import { Connection } from "../../../src/protocol/frames/connection.ts";
import { sequentialRandom } from "../../../src/protocol/bytes/random.ts";
import { ConnectionState, ConnectionType, type Headers } from "../../../src/protocol/types.ts";

const { CLIENT, SERVER } = ConnectionType;
const enc = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
};
const dec = (b: Uint8Array): string => String.fromCharCode(...b);
const events = (hs: { events(): Iterable<Event> }): Event[] => [...hs.events()];

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const NONCE = "AAECAwQFBgcICQoLDA0ODw==";
const NONCE_ACCEPT = "Bz3qJYTGdOe8gUSpLosEdiLKDrk=";

function request(extra = "", version = "1.1", start = "GET /chat"): string {
  return (
    `${start} HTTP/${version}\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

function response(extra = "", status = "101 Switching Protocols"): string {
  return `HTTP/1.1 ${status}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${NONCE_ACCEPT}\r\n${extra}\r\n`;
}

function client(options = {}): H11Handshake {
  return new H11Handshake(CLIENT, { random: sequentialRandom(), ...options });
}

t.test("client request bytes", async (t) => {
  const hs = client();
  const bytes = hs.send(new Request({ host: "example.com", target: "/" }));
  t.equal(
    dec(bytes),
    `GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${NONCE}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  t.equal(hs.state, ConnectionState.CONNECTING);
  t.equal(hs.toString(), "H11Handshake(client=True, state=ConnectionState.CONNECTING)");

  const full = client().send(
    new Request({
      host: "芝士汉堡:8080",
      target: "/chat?x=1",
      subprotocols: ["chat", "superchat"],
      extensions: [new Marker("a", true), new Marker("b", false), new Marker("c", "p=1; q"), new Marker("a", "last")],
      extraHeaders: [["Origin", "http://example.com"], ["X-Empty", ""]],
    }),
  );
  t.equal(
    dec(full),
    "GET /chat?x=1 HTTP/1.1\r\nHost: xn--7ks3rz39bh7u:8080\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${NONCE}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n` +
      "Sec-WebSocket-Extensions: a; last, c; p=1; q\r\nOrigin: http://example.com\r\nX-Empty: \r\n\r\n",
    "a repeated extension name keeps its first position and its last offer; false is not offered",
  );
});

t.test("client request: what we are asked to send is checked, nothing written, nothing consumed", async (t) => {
  const bad: Array<[string, () => Request, RegExp]> = [
    ["CRLF in host", () => new Request({ host: "a\r\nX-Evil: 1", target: "/" }), /INVALID_HOST/],
    ["space in host", () => new Request({ host: "a b", target: "/" }), /INVALID_HOST/],
    ["NUL in host", () => new Request({ host: "a\0", target: "/" }), /INVALID_HOST/],
    ["empty label", () => new Request({ host: "a..ü", target: "/" }), /INVALID_HOST/],
    ["CRLF in target", () => new Request({ host: "h", target: "/\r\nX: 1" }), /INVALID_TARGET/],
    ["space in target", () => new Request({ host: "h", target: "/a b" }), /INVALID_TARGET/],
    ["non-ASCII target", () => new Request({ host: "h", target: "/é" }), /INVALID_TARGET/],
    ["empty target", () => new Request({ host: "h", target: "" }), /INVALID_TARGET/],
    ["CRLF in subprotocol", () => new Request({ host: "h", target: "/", subprotocols: ["a\r\nX: 1"] }), /INVALID_SUBPROTOCOL/],
    ["comma in subprotocol", () => new Request({ host: "h", target: "/", subprotocols: ["a,b"] }), /INVALID_SUBPROTOCOL/],
    ["empty subprotocol", () => new Request({ host: "h", target: "/", subprotocols: [""] }), /INVALID_SUBPROTOCOL/],
    ["CRLF in header value", () => new Request({ host: "h", target: "/", extraHeaders: [["X", "1\r\nY: 2"]] }), /INVALID_HEADER/],
    ["LF in header value", () => new Request({ host: "h", target: "/", extraHeaders: [["X", "1\nY: 2"]] }), /INVALID_HEADER/],
    ["NUL in header value", () => new Request({ host: "h", target: "/", extraHeaders: [["X", "1\0"]] }), /INVALID_HEADER/],
    ["CRLF in header name", () => new Request({ host: "h", target: "/", extraHeaders: [["X\r\nY", "1"]] }), /INVALID_HEADER/],
    ["non-token header name", () => new Request({ host: "h", target: "/", extraHeaders: [["X Y", "1"]] }), /INVALID_HEADER/],
    ["Host in extraHeaders", () => new Request({ host: "h", target: "/", extraHeaders: [["host", "evil"]] }), /INVALID_HEADER/],
    ["string extension", () => new Request({ host: "h", target: "/", extensions: ["permessage-deflate"] }), /INVALID_EXTENSION/],
    ["CRLF in an offer", () => new Request({ host: "h", target: "/", extensions: [new Marker("x", "a\r\nX: 1")] }), /INVALID_EXTENSION/],
    ["bad offer syntax", () => new Request({ host: "h", target: "/", extensions: [new Marker("x", "a b")] }), /INVALID_EXTENSION/],
    ["offer() returns junk", () => new Request({ host: "h", target: "/", extensions: [new Marker("x", null)] }), /INVALID_EXTENSION/],
  ];
  for (const [what, make, code] of bad) {
    const hs = client();
    lpe(t, () => hs.send(make()), code, what);
    t.equal(hs.state, ConnectionState.CONNECTING, `${what}: state unchanged`);
    // Nothing was consumed: the next request still uses the first nonce.
    t.match(dec(hs.send(new Request({ host: "h", target: "/" }))), NONCE, `${what}: a valid request still works`);
  }
  const throwing = new Marker("x");
  throwing.offer = () => {
    throw new TypeError("boom");
  };
  lpe(t, () => client().send(new Request({ host: "h", target: "/", extensions: [throwing] })), /INVALID_EXTENSION/, "offer() throws");
});

t.test("client misuse", async (t) => {
  const hs = client();
  hs.send(new Request({ host: "h", target: "/" }));
  lpe(t, () => hs.send(new Request({ host: "h", target: "/" })), /INVALID_STATE/, "second request");
  lpe(t, () => hs.send(new AcceptConnection()), /INVALID_STATE/, "accept on a client");
  lpe(t, () => hs.send(new RejectConnection()), /INVALID_STATE/, "reject on a client");
  lpe(t, () => hs.send(new RejectData({ data: new Uint8Array(1) })), /INVALID_STATE/, "reject data on a client");
  lpe(t, () => hs.send(new TextMessage({ data: "x" })), /INVALID_STATE/, "message during the handshake");
  lpe(t, () => hs.send(new Ping()), /INVALID_STATE/, "ping during the handshake");
  lpe(t, () => hs.send(null as unknown as Event), /INVALID_STATE/, "not an event");
  lpe(t, () => hs.initiateUpgradeConnection([["Host", "h"]], "/"), /INVALID_STATE/, "initiateUpgradeConnection on a client");
  lpe(t, () => hs.receiveData("text" as unknown as Uint8Array), /INVALID_DATA_TYPE/, "string data");
  lpe(t, () => new H11Handshake(3 as ConnectionType), /INVALID_CONNECTION_TYPE/, "bad type");
  lpe(t, () => new H11Handshake(CLIENT, { maxHandshakeSize: -1 }), /INVALID_OPTION/, "bad option");
});

t.test("client: a valid 101 opens, trailing frames reach the connection", async (t) => {
  const hs = client();
  hs.send(new Request({ host: "h", target: "/", subprotocols: ["chat", "superchat"] }));
  t.equal(hs.connection, null);
  hs.receiveData(enc(response("Sec-WebSocket-Protocol: superchat\r\nX-Extra: 1\r\n") + "\x81\x05Hello"));
  t.equal(hs.state, ConnectionState.OPEN);
  t.ok(hs.connection instanceof Connection);
  t.equal(hs.subprotocol, "superchat");
  const [accept, ...rest] = events(hs);
  t.ok(accept instanceof AcceptConnection);
  t.same((accept as AcceptConnection).extraHeaders, [["x-extra", "1"]]);
  t.same(rest, []);
  t.same([...hs.connection!.events()].map((e) => (e as TextMessage).data), ["Hello"]);
  // Bytes fed to the handshake once OPEN go to the connection.
  hs.receiveData(enc("\x81\x02hi"));
  t.same([...hs.connection!.events()].map((e) => (e as TextMessage).data), ["hi"]);
  lpe(t, () => hs.send(new TextMessage({ data: "x" })), /INVALID_STATE/, "messages go through .connection");
});

t.test("client: the response fed one byte at a time", async (t) => {
  const hs = client();
  hs.send(new Request({ host: "h", target: "/" }));
  const bytes = enc(response() + "\x81\x05Hello\x89\x00");
  for (let i = 0; i < bytes.length; i++) hs.receiveData(bytes.subarray(i, i + 1));
  t.equal(hs.state, ConnectionState.OPEN);
  t.same(events(hs).map((e) => e.type), ["AcceptConnection"]);
  t.same([...hs.connection!.events()].map((e) => e.type), ["TextMessage", "Ping"]);
});

t.test("client: response validation in wsproto's order", async (t) => {
  const table: Array<[string, string, string | RegExp, string]> = [
    ["no Connection", "HTTP/1.1 101 X\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + NONCE_ACCEPT + "\r\n\r\n", "Missing header, 'Connection: Upgrade'", "WS_ERR_HANDSHAKE_HEADER"],
    ["no Upgrade", "HTTP/1.1 101 X\r\nConnection: Upgrade\r\n\r\n", "Missing header, 'Upgrade: WebSocket'", "WS_ERR_HANDSHAKE_HEADER"],
    ["Upgrade list", "HTTP/1.1 101 X\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\n\r\n", "Missing header, 'Upgrade: WebSocket'", "WS_ERR_HANDSHAKE_HEADER"],
    ["no accept", "HTTP/1.1 101 X\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "Bad accept token", "WS_ERR_HANDSHAKE_ACCEPT"],
    ["two accepts", response("Sec-WebSocket-Accept: " + NONCE_ACCEPT + "\r\n"), "Bad accept token", "WS_ERR_HANDSHAKE_ACCEPT"],
    ["subprotocol not offered", response("Sec-WebSocket-Protocol: chat\r\n"), "unrecognized subprotocol chat", "WS_ERR_HANDSHAKE_SUBPROTOCOL"],
    ["empty subprotocol", response("Sec-WebSocket-Protocol: \r\n"), "unrecognized subprotocol ", "WS_ERR_HANDSHAKE_SUBPROTOCOL"],
    ["extension not offered", response("Sec-WebSocket-Extensions: x-marker\r\n"), "unrecognized extension x-marker", "WS_ERR_HANDSHAKE_EXTENSION"],
    ["extension syntax", response("Sec-WebSocket-Extensions: a b\r\n"), /^Invalid Sec-WebSocket-Extensions header/, "WS_ERR_HANDSHAKE_EXTENSION"],
    ["garbage", "broken nonsense\r\n\r\n", "Bad HTTP message", "WS_ERR_BAD_HTTP"],
  ];
  for (const [what, text, message, code] of table) {
    const hs = client();
    hs.send(new Request({ host: "h", target: "/" }));
    t.test(what, async (t) => {
      const e = rpe(t, () => hs.receiveData(enc(text)), message, 400, code);
      t.equal(hs.state, ConnectionState.CONNECTING, "state unchanged");
      t.same(events(hs), []);
      // The failure sticks.
      t.equal(rpe(t, () => hs.receiveData(enc("x")), message, 400), e, "later bytes raise the same error");
      hs.receiveData(null);
      t.equal(hs.state, ConnectionState.CONNECTING);
    });
  }
  const hs = client();
  rpe(t, () => hs.receiveData(enc(response())), "Bad HTTP message", 400, "WS_ERR_BAD_HTTP");
  const eof = client();
  eof.send(new Request({ host: "h", target: "/" }));
  rpe(t, () => eof.receiveData(null), "Bad HTTP message", 400, "WS_ERR_BAD_HTTP");
  const midHead = client();
  midHead.send(new Request({ host: "h", target: "/" }));
  midHead.receiveData(enc("HTTP/1.1 10"));
  rpe(t, () => midHead.receiveData(null), "Bad HTTP message", 400);
  const before = client();
  before.receiveData(null);
  t.equal(before.state, ConnectionState.CONNECTING, "EOF before the request: nothing");
});

t.test("client: connection tokens across several headers count (RFC 7230 §3.2.2)", async (t) => {
  const hs = client();
  hs.send(new Request({ host: "h", target: "/" }));
  hs.receiveData(enc(`HTTP/1.1 101 X\r\nConnection: keep-alive\r\nConnection: upgrade\r\nUpgrade: WebSocket\r\nSec-WebSocket-Accept: ${NONCE_ACCEPT}\r\n\r\n`));
  t.equal(hs.state, ConnectionState.OPEN);
});

t.test("client: the response head is bounded", async (t) => {
  const hs = client({ maxHandshakeSize: 256 });
  hs.send(new Request({ host: "h", target: "/" }));
  rpe(t, () => hs.receiveData(enc(response(`X: ${"a".repeat(300)}\r\n`))), "Response head too large", 400, "WS_ERR_HANDSHAKE_TOO_LARGE");
  const many = client({ maxHeaders: 4 });
  many.send(new Request({ host: "h", target: "/" }));
  rpe(t, () => many.receiveData(enc(response("A: 1\r\nB: 2\r\n"))), "Response head too large", 400);
});

t.test("client: interim 1xx responses are ignored (deviation from wsproto 1.2)", async (t) => {
  const hs = client();
  hs.send(new Request({ host: "h", target: "/" }));
  hs.receiveData(enc("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX-A: b\r\n\r\n"));
  t.equal(hs.state, ConnectionState.CONNECTING);
  t.same(events(hs), []);
  hs.receiveData(enc(response()));
  t.equal(hs.state, ConnectionState.OPEN);
  t.same(events(hs).map((e) => e.type), ["AcceptConnection"]);
});

t.test("client: rejections with every body framing", async (t) => {
  const cases: Array<[string, string[], boolean, string[]]> = [
    ["content-length", ["HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!"], false, ["nope!"]],
    ["chunked", ["HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", "2\r\nde\r\n0\r\n\r\n"], false, ["abc", "de"]],
    ["until EOF", ["HTTP/1.1 400 Bad\r\n\r\npart", "ial"], true, ["part", "ial"]],
    ["no body", ["HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n"], false, []],
    ["204", ["HTTP/1.1 204 No Content\r\n\r\n"], false, []],
  ];
  for (const [what, chunks, eof, bodies] of cases) {
    const hs = client();
    hs.send(new Request({ host: "h", target: "/" }));
    for (const c of chunks) hs.receiveData(enc(c));
    if (eof) {
      t.equal(hs.state, ConnectionState.REJECTING, `${what}: REJECTING until EOF`);
      hs.receiveData(null);
    }
    t.equal(hs.state, ConnectionState.CLOSED, `${what}: CLOSED`);
    const got = events(hs);
    t.ok(got[0] instanceof RejectConnection && got[0].hasBody, `${what}: RejectConnection(hasBody)`);
    const data = got.slice(1) as RejectData[];
    t.same(data.map((d) => dec(d.data)), [...bodies, ""], `${what}: body pieces then an empty final one`);
    t.same(data.map((d) => d.bodyFinished), [...bodies.map(() => false), true], `${what}: bodyFinished`);
    // Whatever follows a finished rejection is ignored.
    hs.receiveData(enc("HTTP/1.1 101 X\r\n\r\n"));
    hs.receiveData(null);
    t.same(events(hs), [], `${what}: nothing after`);
  }
  const headers = client();
  headers.send(new Request({ host: "h", target: "/" }));
  headers.receiveData(enc("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-Reason: nope\r\nContent-Length: 0\r\n\r\n"));
  t.same((events(headers)[0] as RejectConnection).headers, [["content-type", "text/plain"], ["x-reason", "nope"], ["content-length", "0"]]);
  const truncated = client();
  truncated.send(new Request({ host: "h", target: "/" }));
  truncated.receiveData(enc("HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nab"));
  rpe(t, () => truncated.receiveData(null), "Bad HTTP message", 400);
  t.same(events(truncated).map((e) => e.type), ["RejectConnection", "RejectData"], "the events before the fault are kept");
  const bad = client();
  bad.send(new Request({ host: "h", target: "/" }));
  rpe(t, () => bad.receiveData(enc("HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")), "Bad HTTP message", 400);
  t.same(events(bad).map((e) => e.type), ["RejectConnection"], "the rejection before the malformed chunk is kept");
});

t.test("an empty chunk is a no-op, only null is the end (deviation)", async (t) => {
  const hs = client();
  hs.send(new Request({ host: "h", target: "/" }));
  hs.receiveData(new Uint8Array(0));
  t.equal(hs.state, ConnectionState.CONNECTING);
  hs.receiveData(enc(response()));
  t.equal(hs.state, ConnectionState.OPEN);
  const server = new H11Handshake(SERVER);
  server.receiveData(enc("GET / HTTP/1.1\r\n"));
  server.receiveData(new Uint8Array(0));
  server.receiveData(enc("Host: h\r\n"));
  t.equal(server.state, ConnectionState.CONNECTING);
});

t.test("client extension negotiation works on forks", async (t) => {
  const pmd = new PerMessageDeflate({ clientMaxWindowBits: 12 });
  const hs = client();
  const req = dec(hs.send(new Request({ host: "h", target: "/", extensions: [pmd] })));
  t.match(req, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12; server_max_window_bits=15");
  hs.receiveData(enc(response("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n")));
  const accept = events(hs)[0] as AcceptConnection;
  t.equal(accept.extensions.length, 1);
  t.not(accept.extensions[0], pmd, "the negotiated instance is a fork");
  t.ok(accept.extensions[0]!.enabled());
  t.notOk(pmd.enabled(), "the configured object is untouched");
  t.same(hs.extensions, accept.extensions);
  t.same(hs.connection!.extensions, accept.extensions);
  t.equal(hs.extensionsHeader, "permessage-deflate; server_no_context_takeover", "the value received, for the layer above");
});

t.test("extensionsHeader: the negotiated Sec-WebSocket-Extensions value, for both roles", async (t) => {
  // Client: "" until OPEN; the values of every Sec-WebSocket-Extensions header, joined.
  const hs = client();
  hs.send(new Request({ host: "h", target: "/", extensions: [new Marker("a"), new Marker("b")] }));
  t.equal(hs.extensionsHeader, "");
  hs.receiveData(enc(response("Sec-WebSocket-Extensions: a; x=1\r\nX-Other: 1\r\nSec-WebSocket-Extensions: b\r\n")));
  t.equal(hs.extensionsHeader, "a; x=1, b");
  const accept = events(hs)[0] as AcceptConnection;
  t.notOk(accept.extraHeaders.some(([n]) => n === "sec-websocket-extensions"), "still not among extraHeaders");
  // Client, nothing agreed.
  const none = client();
  none.send(new Request({ host: "h", target: "/", extensions: [new Marker("a")] }));
  none.receiveData(enc(response()));
  t.equal(none.state, ConnectionState.OPEN);
  t.equal(none.extensionsHeader, "");
  // Client, rejected: never set.
  const rejected = client();
  rejected.send(new Request({ host: "h", target: "/", extensions: [new Marker("a")] }));
  rejected.receiveData(enc("HTTP/1.1 403 Forbidden\r\nSec-WebSocket-Extensions: a\r\ncontent-length: 0\r\n\r\n"));
  t.equal(rejected.extensionsHeader, "");
  // Server: exactly the value written in the 101.
  const srv = server();
  srv.receiveData(enc(request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-b\r\n")));
  events(srv);
  t.equal(srv.extensionsHeader, "");
  const bytes = dec(srv.send(new AcceptConnection({ extensions: [new PerMessageDeflate(), new Marker("x-b", true, "q=2")] })));
  t.equal(srv.extensionsHeader, "permessage-deflate; client_max_window_bits=15, x-b; q=2");
  t.match(bytes, `\r\nSec-WebSocket-Extensions: ${srv.extensionsHeader}\r\n`);
  // Server: extensions configured but none offered, or none configured.
  for (const extensions of [[new PerMessageDeflate()], []]) {
    const plain = server();
    plain.receiveData(enc(request()));
    events(plain);
    const head = dec(plain.send(new AcceptConnection({ extensions })));
    t.notMatch(head, /Sec-WebSocket-Extensions/i);
    t.equal(plain.extensionsHeader, "");
  }
});

t.test("client: repeated Sec-WebSocket-Extensions headers are joined (deviation)", async (t) => {
  const log: string[] = [];
  const hs = client();
  hs.send(new Request({ host: "h", target: "/", extensions: [new Marker("a", true, true, log), new Marker("b", true, true, log)] }));
  hs.receiveData(enc(response("Sec-WebSocket-Extensions: a; x=1\r\nSec-WebSocket-Extensions: b\r\n")));
  t.same((events(hs)[0] as AcceptConnection).extensions.map((e) => e.name), ["a", "b"]);
  t.same(log, ["finalize a; x=1", "finalize b"]);
});

t.test("client: extension answers that fail the connection", async (t) => {
  const cases: Array<[string, Extension[], string, RegExp]> = [
    ["not offered (offer() said false)", [new Marker("a", false)], "a", /unrecognized extension a/],
    ["accepted twice", [new Marker("a")], "a, a", /accepted twice/],
    ["finalize throws", [new Marker("a")], "a; refuse", /refused the server's response/],
    ["quoted params are unquoted for finalize", [new Marker("a")], 'a; p="refuse"', /refused/],
    ["PMD: unknown parameter", [new PerMessageDeflate()], "permessage-deflate; bogus", /permessage-deflate/],
    ["PMD: window larger than offered", [new PerMessageDeflate({ serverMaxWindowBits: 10 })], "permessage-deflate; server_max_window_bits=12", /server_max_window_bits/],
  ];
  for (const [what, exts, value, message] of cases) {
    const hs = client();
    hs.send(new Request({ host: "h", target: "/", extensions: exts }));
    const e = rpe(t, () => hs.receiveData(enc(response(`Sec-WebSocket-Extensions: ${value}\r\n`))), message, 400, what.startsWith("PMD") ? undefined : "WS_ERR_HANDSHAKE_EXTENSION");
    t.ok(e, what);
    t.equal(hs.state, ConnectionState.CONNECTING, `${what}: state unchanged`);
  }
});

// ---------------------------------------------------------------------------
// Server

function server(options = {}): H11Handshake {
  return new H11Handshake(SERVER, options);
}

t.test("server: a valid request becomes a Request event; accept sends the 101", async (t) => {
  const hs = server();
  hs.receiveData(enc(request("Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Protocol: v2\r\n")));
  const [req] = events(hs) as Request[];
  t.ok(req instanceof Request);
  t.equal(req!.host, "server.example.com");
  t.equal(req!.target, "/chat");
  t.same(req!.subprotocols, ["chat", "superchat", "v2"]);
  t.same(req!.extraHeaders, [
    ["upgrade", "websocket"],
    ["connection", "Upgrade"],
    ["sec-websocket-key", KEY],
    ["sec-websocket-version", "13"],
    ["origin", "http://example.com"],
  ], "Origin reaches the application");
  lpe(t, () => hs.send(new AcceptConnection({ subprotocol: "other" })), /INVALID_SUBPROTOCOL/, "unoffered subprotocol");
  lpe(t, () => hs.send(new AcceptConnection({ extraHeaders: [["X", "a\r\nb"]] })), /INVALID_HEADER/, "CRLF in an accept header");
  lpe(t, () => hs.send(new AcceptConnection({ extensions: ["x" as unknown as Extension] })), /INVALID_EXTENSION/, "string extension");
  t.equal(hs.state, ConnectionState.CONNECTING, "still CONNECTING after refused sends");
  const bytes = hs.send(new AcceptConnection({ subprotocol: "superchat", extraHeaders: [["Set-Cookie", "a=b"]] }));
  t.equal(
    dec(bytes),
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\nSec-WebSocket-Protocol: superchat\r\nSet-Cookie: a=b\r\n\r\n`,
  );
  t.equal(hs.state, ConnectionState.OPEN);
  t.equal(hs.subprotocol, "superchat");
  t.ok(hs.connection instanceof Connection);
  lpe(t, () => hs.send(new AcceptConnection()), /INVALID_STATE/, "accept twice");
  lpe(t, () => hs.send(new RejectConnection()), /INVALID_STATE/, "reject after accept");
  t.equal(hs.toString(), "H11Handshake(client=False, state=ConnectionState.OPEN)");
});

t.test("server: the request fed one byte at a time, with pipelined frames kept (deviation)", async (t) => {
  const hs = server();
  // A masked "early" text frame right behind the request head.
  const bytes = enc(request() + "\x81\x85\x37\xfa\x21\x3d\x52\x9b\x53\x51\x4e");
  for (let i = 0; i < bytes.length; i++) hs.receiveData(bytes.subarray(i, i + 1));
  t.same(events(hs).map((e) => e.type), ["Request"]);
  hs.send(new AcceptConnection());
  t.same([...hs.connection!.events()].map((e) => (e as TextMessage).data), ["early"]);
});

t.test("server: bytes before the accept are bounded", async (t) => {
  const hs = server({ maxHandshakeSize: 1024 });
  hs.receiveData(enc(request()));
  hs.receiveData(new Uint8Array(1000));
  rpe(t, () => hs.receiveData(new Uint8Array(100)), /before the handshake completed/, 400, "WS_ERR_HANDSHAKE_TOO_LARGE");
  t.equal(dec(hs.send(new RejectConnection())), "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
});

t.test("server: request validation, in wsproto's order, with its hints", async (t) => {
  const base = (lines: string[], start = "GET /chat HTTP/1.1"): string => [start, ...lines, "", ""].join("\r\n");
  const good = ["Host: h", "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Key: ${KEY}`, "Sec-WebSocket-Version: 13"];
  const without = (name: string): string[] => good.filter((l) => !l.startsWith(name));
  const table: Array<[string, string, string | RegExp, number, string, Headers?]> = [
    ["POST", base(good, "POST /chat HTTP/1.1"), "Request method must be GET", 400, "WS_ERR_HANDSHAKE_METHOD"],
    ["lower-case get", base(good, "get /chat HTTP/1.1"), "Request method must be GET", 400, "WS_ERR_HANDSHAKE_METHOD"],
    ["no Connection", base(without("Connection")), "Missing header, 'Connection: Upgrade'", 400, "WS_ERR_HANDSHAKE_HEADER"],
    ["bad Connection syntax", base([...without("Connection"), "Connection: up grade"]), "Missing header, 'Connection: Upgrade'", 400, "WS_ERR_HANDSHAKE_HEADER"],
    ["no version", base(without("Sec-WebSocket-Version")), "Missing header, 'Sec-WebSocket-Version'", 400, "WS_ERR_HANDSHAKE_VERSION", [["Sec-WebSocket-Version", "13"]]],
    ["version 8", base([...without("Sec-WebSocket-Version"), "Sec-WebSocket-Version: 8"]), "Missing header, 'Sec-WebSocket-Version'", 426, "WS_ERR_HANDSHAKE_VERSION", [["Sec-WebSocket-Version", "13"]]],
    ["version twice", base([...good, "Sec-WebSocket-Version: 13"]), "Missing header, 'Sec-WebSocket-Version'", 426, "WS_ERR_HANDSHAKE_VERSION", [["Sec-WebSocket-Version", "13"]]],
    ["no key", base(without("Sec-WebSocket-Key")), "Missing header, 'Sec-WebSocket-Key'", 400, "WS_ERR_HANDSHAKE_KEY"],
    ["no Upgrade", base(without("Upgrade")), "Missing header, 'Upgrade: WebSocket'", 400, "WS_ERR_HANDSHAKE_HEADER"],
    ["Upgrade h2c", base([...without("Upgrade"), "Upgrade: h2c"]), "Missing header, 'Upgrade: WebSocket'", 400, "WS_ERR_HANDSHAKE_HEADER"],
    ["HTTP/1.0 without Host", base(without("Host"), "GET /chat HTTP/1.0"), "Missing header, 'Host'", 400, "WS_ERR_HANDSHAKE_HEADER"],
    ["HTTP/1.1 without Host", base(without("Host")), "Bad HTTP message", 400, "WS_ERR_BAD_HTTP"],
    ["two Hosts", base([...good, "Host: h"]), "Bad HTTP message", 400, "WS_ERR_BAD_HTTP"],
    ["short key", base([...without("Sec-WebSocket-Key"), "Sec-WebSocket-Key: short"]), 'Invalid Sec-WebSocket-Key "short"', 400, "WS_ERR_HANDSHAKE_KEY"],
    ["key of 15 bytes", base([...without("Sec-WebSocket-Key"), "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA"]), /Invalid Sec-WebSocket-Key/, 400, "WS_ERR_HANDSHAKE_KEY"],
    ["key not base64", base([...without("Sec-WebSocket-Key"), "Sec-WebSocket-Key: !GhlIHNhbXBsZSBub25jZQ=="]), /Invalid Sec-WebSocket-Key/, 400, "WS_ERR_HANDSHAKE_KEY"],
    ["two keys", base([...good, `Sec-WebSocket-Key: ${KEY}`]), /Invalid Sec-WebSocket-Key/, 400, "WS_ERR_HANDSHAKE_KEY"],
    ["bad IDNA host", base([...without("Host"), "Host: xn--zzzz-"]), /Invalid Host header/, 400, "WS_ERR_HANDSHAKE_HEADER"],
    ["bad subprotocol list", base([...good, "Sec-WebSocket-Protocol: a b"]), /Invalid Sec-WebSocket-Protocol header/, 400, "WS_ERR_HANDSHAKE_SUBPROTOCOL"],
    ["bad extension list", base([...good, 'Sec-WebSocket-Extensions: x; p="unterminated']), /Invalid Sec-WebSocket-Extensions header/, 400, "WS_ERR_HANDSHAKE_EXTENSION"],
    ["garbage", "broken nonsense\r\n\r\n", "Bad HTTP message", 400, "WS_ERR_BAD_HTTP"],
    ["header injection attempt", base([...good, "X: a\rInjected: 1"]), "Bad HTTP message", 400, "WS_ERR_BAD_HTTP"],
    // Strict upgrades (deviations from wsproto, as python websockets).
    ["HTTP/1.0 with Host", base(good, "GET /chat HTTP/1.0"), "HTTP version must be at least 1.1, got 1.0", 400, "WS_ERR_HANDSHAKE_HTTP_VERSION"],
    ["HTTP/0.9 line", base(good, "GET /chat HTTP/0.9"), "HTTP version must be at least 1.1, got 0.9", 400, "WS_ERR_HANDSHAKE_HTTP_VERSION"],
    ["Content-Length body", base([...good, "Content-Length: 5"]) + "hello", "An upgrade request must not have a body", 400, "WS_ERR_HANDSHAKE_BODY"],
    ["chunked body", base([...good, "Transfer-Encoding: chunked"]) + "0\r\n\r\n", "An upgrade request must not have a body", 400, "WS_ERR_HANDSHAKE_BODY"],
  ];
  for (const [what, text, message, status, code, hintHeaders] of table) {
    t.test(what, async (t) => {
      const hs = server();
      const e = rpe(t, () => hs.receiveData(enc(text)), message, status, code);
      if (hintHeaders) t.same((e?.eventHint as RejectConnection).headers, hintHeaders, "hint headers");
      t.equal(hs.state, ConnectionState.CONNECTING);
      t.same(events(hs), []);
      rpe(t, () => hs.receiveData(enc("more")), message, status);
      lpe(t, () => hs.send(new AcceptConnection()), /INVALID_STATE/, "accept is impossible");
      const reply = hs.send(e!.eventHint!);
      t.match(dec(reply), new RegExp(`^HTTP/1\\.1 ${status} ${({ 400: "Bad Request", 426: "Upgrade Required", 431: "Request Header Fields Too Large" } as Record<number, string>)[status]}\\r\\n`));
      t.equal(hs.state, ConnectionState.CLOSED);
      hs.receiveData(enc("ignored"));
      hs.receiveData(null);
    });
  }
});

t.test("server: lenient where h11 is", async (t) => {
  const hs = server();
  hs.receiveData(
    enc(
      "GET ws://h/chat HTTP/1.1\nhost: XN--bcher-kva.example\nupgrade: WebSocket\nconnection: keep-alive,\n UPGRADE\n" +
        `sec-websocket-key: ${KEY}\nsec-websocket-version: 13\n\n`,
    ),
  );
  const [req] = events(hs) as Request[];
  t.equal(req!.host, "bücher.example", "IDNA decoded");
  t.equal(req!.target, "ws://h/chat");
  t.same(req!.extraHeaders[1], ["connection", "keep-alive, UPGRADE"], "obs-fold joined");
  const split = server();
  split.receiveData(enc(request().replace("Connection: Upgrade\r\n", "Connection: keep-alive\r\nConnection: Upgrade\r\n")));
  t.equal(events(split).length, 1, "Connection tokens across two headers");
});

t.test("server: extension offers are parsed with the tokenizer and negotiated on forks", async (t) => {
  const hs = server();
  hs.receiveData(
    enc(request('Sec-WebSocket-Extensions: x-a; p="1", permessage-deflate ; client_max_window_bits\r\nSec-WebSocket-Extensions: x-b\r\n')),
  );
  const [req] = events(hs) as Request[];
  t.same(req!.extensions, ["x-a; p=1", "permessage-deflate; client_max_window_bits", "x-b"]);
  const pmd = new PerMessageDeflate();
  const log: string[] = [];
  const marker = new Marker("x-b", "unused", "q=2", log);
  const bytes = dec(hs.send(new AcceptConnection({ extensions: [pmd, marker, new Marker("x-c", true, true, log)] })));
  t.match(bytes, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15, x-b; q=2\r\n");
  t.same(log, ["accept x-b"], "only offered names are asked");
  t.notOk(pmd.enabled(), "configured PMD untouched");
  t.notOk(marker.on, "configured marker untouched");
  t.equal(hs.extensions.length, 2);
  t.ok(hs.extensions.every((e) => e !== pmd && e !== marker && e.enabled()));
  t.same(hs.connection!.extensions, hs.extensions);
});

t.test("server: rejections in every framing", async (t) => {
  const cases: Array<[string, string, RejectConnection, Array<RejectData | LocalProtocolError>, string]> = [
    ["no body", request(), new RejectConnection({ statusCode: 403, headers: [["X-Reason", "nope"]] }), [], "HTTP/1.1 403 Forbidden\r\nX-Reason: nope\r\ncontent-length: 0\r\n\r\n"],
    ["no body, own Content-Length: 0", request(), new RejectConnection({ headers: [["Content-Length", "0"]] }), [], "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"],
    [
      "chunked",
      request(),
      new RejectConnection({ statusCode: 403, hasBody: true }),
      [new RejectData({ data: enc("Hello"), bodyFinished: false }), new RejectData({ data: new Uint8Array(0), bodyFinished: false }), new RejectData({ data: enc(" world") })],
      "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n6\r\n world\r\n0\r\n\r\n",
    ],
    [
      "own chunked",
      request(),
      new RejectConnection({ statusCode: 403, hasBody: true, headers: [["transfer-encoding", "chunked"]] }),
      [new RejectData({ data: new Uint8Array(0) })],
      "HTTP/1.1 403 Forbidden\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
    [
      "content-length",
      request(),
      new RejectConnection({ statusCode: 401, hasBody: true, headers: [["Content-Length", "5"], ["Content-Type", "text/plain"]] }),
      [new RejectData({ data: enc("Hel"), bodyFinished: false }), new RejectData({ data: enc("lo") })],
      "HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nHello",
    ],
    ["HTTP/1.0 body", request("", "1.0"), new RejectConnection({ statusCode: 403, hasBody: true }), [new RejectData({ data: enc("bye") })], "HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\nbye"],
    ["HTTP/1.0 no body", request("", "1.0"), new RejectConnection(), [], "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nConnection: close\r\n\r\n"],
    [
      "client asked for close",
      request().replace("Connection: Upgrade", "Connection: Upgrade, close"),
      new RejectConnection({ headers: [["Connection", "keep-alive, x-foo"]] }),
      [],
      "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nConnection: close\r\nConnection: x-foo\r\n\r\n",
    ],
    ["before any valid request", "broken nonsense\r\n\r\n", new RejectConnection({ hasBody: true }), [new RejectData({ data: enc("bad") })], "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nbad"],
  ];
  for (const [what, req, reject, data, wire] of cases) {
    const hs = server();
    try {
      hs.receiveData(enc(req));
    } catch (e) {
      if (!(e instanceof RemoteProtocolError)) throw e;
    }
    let out = dec(hs.send(reject));
    t.equal(hs.state, reject.hasBody ? ConnectionState.REJECTING : ConnectionState.CLOSED, `${what}: state`);
    for (const d of data) out += dec(hs.send(d as RejectData));
    t.equal(out, wire, `${what}: wire bytes`);
    t.equal(hs.state, ConnectionState.CLOSED, `${what}: CLOSED at the end`);
    lpe(t, () => hs.send(new RejectData({ data: enc("x") })), /INVALID_STATE/, `${what}: no more data`);
    lpe(t, () => hs.send(new RejectConnection()), /INVALID_STATE/, `${what}: no second rejection`);
  }
});

t.test("server: rejection misuse changes nothing", async (t) => {
  const misuse: Array<[string, RejectConnection, RegExp]> = [
    ["status 101", new RejectConnection({ statusCode: 101 }), /INVALID_STATUS/],
    ["status 199", new RejectConnection({ statusCode: 199 }), /INVALID_STATUS/],
    ["status 1000", new RejectConnection({ statusCode: 1000 }), /INVALID_STATUS/],
    ["CRLF in a header", new RejectConnection({ headers: [["X", "a\r\nSet-Cookie: evil"]] }), /INVALID_HEADER/],
    ["no body but a length", new RejectConnection({ headers: [["Content-Length", "5"]] }), /INVALID_HEADER/],
    ["no body but chunked", new RejectConnection({ headers: [["Transfer-Encoding", "chunked"]] }), /INVALID_HEADER/],
    ["two lengths", new RejectConnection({ hasBody: true, headers: [["Content-Length", "1"], ["Content-Length", "1"]] }), /INVALID_HEADER/],
    ["length and chunked", new RejectConnection({ hasBody: true, headers: [["Content-Length", "1"], ["Transfer-Encoding", "chunked"]] }), /INVALID_HEADER/],
    ["gzip", new RejectConnection({ hasBody: true, headers: [["Transfer-Encoding", "gzip"]] }), /INVALID_HEADER/],
    ["204 with body", new RejectConnection({ statusCode: 204, hasBody: true }), /INVALID_STATUS/],
  ];
  for (const [what, reject, code] of misuse) {
    const hs = server();
    hs.receiveData(enc(request()));
    lpe(t, () => hs.send(reject), code, what);
    t.equal(hs.state, ConnectionState.CONNECTING, `${what}: state unchanged`);
  }
  const hs = server();
  hs.receiveData(enc(request()));
  hs.send(new RejectConnection({ hasBody: true, headers: [["Content-Length", "3"]] }));
  lpe(t, () => hs.send(new RejectData({ data: enc("toolong") })), /BODY_LENGTH/, "too much");
  lpe(t, () => hs.send(new RejectData({ data: enc("ab") })), /BODY_LENGTH/, "too little to finish");
  lpe(t, () => hs.send(new RejectData({ data: "abc" as unknown as Uint8Array })), /INVALID_DATA_TYPE/, "string data");
  t.equal(hs.state, ConnectionState.REJECTING);
  t.equal(dec(hs.send(new RejectData({ data: enc("abc") }))), "abc");
  const early = server();
  lpe(t, () => early.send(new RejectData({ data: enc("x") })), /INVALID_STATE/, "data before the rejection");
  lpe(t, () => early.send(new AcceptConnection()), /INVALID_STATE/, "accept before a request");
  lpe(t, () => early.send(new Request({ host: "h", target: "/" })), /INVALID_STATE/, "server Request");
  lpe(t, () => early.send(new CloseConnection({ code: 1000 })), /INVALID_STATE/, "close during the handshake");
  t.equal(dec(early.send(new RejectConnection())), "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n", "rejecting before any request is allowed");
});

t.test("server: oversized heads get a 431 hint", async (t) => {
  const hs = server({ maxHandshakeSize: 200 });
  const e = rpe(t, () => hs.receiveData(enc(request(`X-Big: ${"a".repeat(300)}\r\n`))), "Request header fields too large", 431, "WS_ERR_HANDSHAKE_TOO_LARGE");
  t.equal(dec(hs.send(e!.eventHint!)), "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n");
  const many = server({ maxHeaders: 4 });
  rpe(t, () => many.receiveData(enc(request())), "Request header fields too large", 431);
  const endless = server();
  const chunk = new Uint8Array(4096).fill(0x61);
  let error: unknown = null;
  for (let i = 0; i < 100 && error === null; i++) {
    try {
      endless.receiveData(chunk);
    } catch (err) {
      error = err;
    }
  }
  t.ok(error instanceof RemoteProtocolError, "a head that never ends fails at the limit");
  const eof = server();
  eof.receiveData(enc("GET / HTTP/1.1\r\nHo"));
  rpe(t, () => eof.receiveData(null), "Bad HTTP message", 400);
  const idle = server();
  idle.receiveData(null);
  t.equal(idle.state, ConnectionState.CONNECTING, "EOF with nothing: nothing");
  lpe(t, () => idle.receiveData(enc("GET")), /INVALID_STATE/, "data after EOF");
  const waiting = server();
  waiting.receiveData(enc(request()));
  waiting.receiveData(null);
  t.same(events(waiting).map((e) => e.type), ["Request"], "EOF after the request: nothing more");
});

/** The headers of a valid upgrade request, as another HTTP stack hands them over. */
const UPGRADE_HEADERS: Headers = [
  ["Host", "h"],
  ["Connection", "Upgrade"],
  ["Upgrade", "websocket"],
  ["Sec-WebSocket-Version", "13"],
  ["Sec-WebSocket-Key", KEY],
];

t.test("initiateUpgradeConnection", async (t) => {
  const headers: Headers = [...UPGRADE_HEADERS, ["X-Foo", "bar"]];
  const hs = server();
  hs.initiateUpgradeConnection(headers, "/chat?room=1");
  const [req] = events(hs) as Request[];
  t.equal(req!.target, "/chat?room=1");
  t.same(req!.extraHeaders.at(-1), ["x-foo", "bar"]);
  // Node's 'upgrade' event hands over `head`: the bytes after the request.
  hs.receiveData(enc("\x81\x85\x37\xfa\x21\x3d\x52\x9b\x53\x51\x4e"));
  t.equal(dec(hs.send(new AcceptConnection())).split("\r\n")[0], "HTTP/1.1 101 Switching Protocols");
  t.same([...hs.connection!.events()].map((e) => (e as TextMessage).data), ["early"]);
  lpe(t, () => server().initiateUpgradeConnection(headers.slice(1), "/"), /INVALID_HEADER/, "missing Host");
  lpe(t, () => server().initiateUpgradeConnection([...headers, ["X", "a\r\nb"]], "/"), /INVALID_HEADER/, "CRLF in a value");
  lpe(t, () => server().initiateUpgradeConnection(headers, "/a b"), /INVALID_TARGET/, "bad path");
  rpe(t, () => server().initiateUpgradeConnection([["Host", "h"]], "/"), "Missing header, 'Connection: Upgrade'", 400);
});

t.test("initiateUpgradeConnection takes the fields as the reader would take their bytes: same limits, errors and events", async (t) => {
  // The fields go to the reader without being written out; each case is
  // compared with feeding the bytes of the same request.
  const base = UPGRADE_HEADERS;
  const text = (headers: Headers, line = "GET /chat HTTP/1.1"): string =>
    `${line}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`;
  const outcome = (fn: () => void, hs: H11Handshake): unknown => {
    let error: unknown = null;
    try {
      fn();
    } catch (e) {
      const x = e as RemoteProtocolError & { cause?: Error };
      error = [x.constructor.name, x.message, x.code, (x.eventHint as RejectConnection | null)?.statusCode, x.cause?.message];
    }
    return [error, hs.state, JSON.stringify(hs.requestHead), JSON.stringify(events(hs))];
  };
  const size = text(base).length;
  const cases: Array<[string, Headers, object]> = [
    ["valid", base, {}],
    ["extra fields and offers", [...base, ["X-A", ""], ["Sec-WebSocket-Protocol", "chat"], ["Sec-WebSocket-Extensions", "x; y=1"]], {}],
    ["head exactly at maxHandshakeSize", base, { maxHandshakeSize: size }],
    ["one byte over", base, { maxHandshakeSize: size - 1 }],
    ["over inside the request line", base, { maxHandshakeSize: 10 }],
    ["over on the blank line", base, { maxHandshakeSize: size - 2 }],
    ["fields exactly at maxHeaders", base, { maxHeaders: 5 }],
    ["one field over maxHeaders", base, { maxHeaders: 4 }],
    ["both limits crossed on one line", base, { maxHeaders: 2, maxHandshakeSize: 60 }],
    ["repeated Content-Length", [...base, ["Content-Length", "0"], ["Content-Length", "0"]], {}],
    ["Transfer-Encoding gzip", [...base, ["Transfer-Encoding", "gzip"]], {}],
    ["two Hosts", [["Host", "a"], ...base], {}],
    ["no Host", base.slice(1), {}],
  ];
  const seen = new Set<string>();
  for (const [what, headers, options] of cases) {
    const a = server(options);
    const b = server(options);
    const fields = outcome(() => a.initiateUpgradeConnection(headers, "/chat", {}), a);
    t.same(fields, outcome(() => b.receiveData(enc(text(headers))), b), what);
    seen.add(JSON.stringify((fields as unknown[])[0]));
  }
  t.ok([...seen].some((e) => e.includes("more than 4 header fields")), "the field limit is hit");
  t.ok([...seen].some((e) => e.includes(`message head larger than ${size - 1} bytes`)), "the size limit is hit");
  t.ok(seen.size >= 7, "the cases fail in different ways");
});

t.test("initiateUpgradeConnection with the peer's request line: strict, answered with 400", async (t) => {
  const headers: Headers = [
    ["Host", "h"],
    ["Connection", "Upgrade"],
    ["Upgrade", "websocket"],
    ["Sec-WebSocket-Version", "13"],
    ["Sec-WebSocket-Key", KEY],
  ];
  const ok = server();
  ok.initiateUpgradeConnection(headers, "/", { method: "GET", httpVersion: "1.1" });
  t.same(events(ok).map((e) => e.type), ["Request"]);
  t.equal(ok.requestHead?.httpVersion, "1.1", "requestHead kept until answered");
  rpe(t, () => server().initiateUpgradeConnection(headers, "/", { method: "POST", httpVersion: "1.1" }), "Request method must be GET", 400, "WS_ERR_HANDSHAKE_METHOD");
  rpe(t, () => server().initiateUpgradeConnection(headers, "/", { httpVersion: "1.0" }), /HTTP version must be at least 1.1/, 400, "WS_ERR_HANDSHAKE_HTTP_VERSION");
  rpe(t, () => server().initiateUpgradeConnection(headers.slice(1), "/", {}), "Bad HTTP message", 400, "WS_ERR_BAD_HTTP");
  rpe(t, () => server().initiateUpgradeConnection([...headers, ["Content-Length", "3"]], "/", {}), /must not have a body/, 400, "WS_ERR_HANDSHAKE_BODY");
  const zero = server();
  zero.initiateUpgradeConnection([...headers, ["Content-Length", "0"]], "/", {});
  t.same(events(zero).map((e) => e.type), ["Request"], "Content-Length: 0 is no body");
  const plain = server();
  rpe(t, () => plain.receiveData(enc("GET /health HTTP/1.1\r\nHost: h\r\n\r\n")), "Missing header, 'Connection: Upgrade'", 400);
  t.equal(plain.requestHead?.target, "/health", "a refused request's head is there to answer it");
  const rejected = dec(plain.send(new RejectConnection({ statusCode: 426, reason: "Upgrade Required" })));
  t.equal(rejected, "HTTP/1.1 426 Upgrade Required\r\ncontent-length: 0\r\n\r\n", "reason phrase");
  lpe(t, () => server().send(new RejectConnection({ reason: "a\r\nb" })), /INVALID_STATUS/, "CRLF in a reason");
});

// ---------------------------------------------------------------------------
// The negotiation functions on their own (HTTP/2, RFC 8441)

t.test("events(): stopping early keeps the rest queued", async (t) => {
  const hs = client();
  hs.send(new Request({ host: "h", target: "/" }));
  hs.receiveData(enc("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"));
  const first = hs.events().next();
  t.equal(first.value?.type, "RejectConnection");
  t.same(events(hs).map((e) => e.type), ["RejectData", "RejectData"]);
});

t.test("server: a peer that hung up before the accept gives the connection its 1006", async (t) => {
  const hs = server();
  hs.receiveData(enc(request()));
  hs.receiveData(null);
  t.same(events(hs).map((e) => e.type), ["Request"]);
  hs.send(new AcceptConnection());
  const closes = [...hs.connection!.events()] as CloseConnection[];
  t.same(closes.map((e) => [e.code, e.origin]), [[1006, "abnormal"]]);
  t.equal(hs.connection!.state, ConnectionState.CLOSED);
});

t.test("junk from JavaScript callers is a LocalProtocolError, not a TypeError", async (t) => {
  const junk: Array<[string, () => unknown]> = [
    ["extensions not an array", () => client().send(new Request({ host: "h", target: "/", extensions: 5 as unknown as [] }))],
    ["host not a string", () => client().send(new Request({ host: 5 as unknown as string, target: "/" }))],
    ["target not a string", () => client().send(new Request({ host: "h", target: null as unknown as string }))],
    ["subprotocols not strings", () => client().send(new Request({ host: "h", target: "/", subprotocols: [5 as unknown as string] }))],
    ["extraHeaders not pairs", () => client().send(new Request({ host: "h", target: "/", extraHeaders: [["X"]] as unknown as Headers }))],
    ["initiate: headers not an array", () => server().initiateUpgradeConnection(null as unknown as Headers, "/")],
    ["initiate: path not a string", () => server().initiateUpgradeConnection([["Host", "h"]], 5 as unknown as string)],
    ["reject headers not an array", () => server().send(new RejectConnection({ headers: "x" as unknown as Headers }))],
  ];
  for (const [what, fn] of junk) {
    try {
      fn();
      t.fail(`${what}: no error`);
    } catch (e) {
      t.ok(e instanceof LocalProtocolError, `${what}: ${e instanceof Error ? e.name : String(e)}`);
    }
  }
  const hs = server();
  hs.receiveData(enc(request()));
  t.throws(() => hs.send(new AcceptConnection({ extraHeaders: {} as unknown as Headers })), LocalProtocolError);
});
