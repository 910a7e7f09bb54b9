// WSConnection (src/protocol/ws-connection.ts): a client and a server joined
// in memory complete the handshake (with and without subprotocols and
// extensions, or a rejection in every framing), then exchange messages; every
// exchange is run with the bytes delivered whole and one byte at a time.
// Also the 0.x buffered API.
import t, { type Test } from "tap";
import { WSConnection } from "../../src/protocol/ws-connection.ts";
import { LocalProtocolError, RemoteProtocolError } from "../../src/protocol/errors.ts";
import {
  AcceptConnection,
  BytesMessage,
  CloseConnection,
  Message,
  Ping,
  Pong,
  RejectConnection,
  RejectData,
  Request,
  TextMessage,
  type Event,
} from "../../src/protocol/events.ts";
import { PerMessageDeflate } from "../../src/protocol/extensions/permessage-deflate.ts";
import { H11Handshake } from "../../src/protocol/handshake/handshake.ts";
import { Connection } from "../../src/protocol/frames/connection.ts";
import { sequentialRandom } from "../../src/protocol/bytes/random.ts";
import { concatBytes } from "../../src/protocol/bytes/encoding.ts";
import { ConnectionState, ConnectionType } from "../../src/protocol/types.ts";
import type { ConnectionOptions } from "../../src/protocol/options.ts";

const { CLIENT, SERVER } = ConnectionType;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
type Mode = "whole" | "bytewise";
const MODES: Mode[] = ["whole", "bytewise"];

/** Deliver `bytes` to `to` (whole or one byte at a time) and collect its events. */
function deliver(to: WSConnection, bytes: Uint8Array, mode: Mode): Event[] {
  const out: Event[] = [];
  if (mode === "whole") {
    to.receiveData(bytes);
    out.push(...to.events());
  } else {
    for (let i = 0; i < bytes.length; i++) {
      to.receiveData(bytes.slice(i, i + 1));
      out.push(...to.events());
    }
  }
  return out;
}

/** Text messages pieces merged (bytewise delivery splits them). */
function merged(events: Event[]): Array<[string, string | number]> {
  const out: Array<[string, string | number]> = [];
  let text = "";
  let bytes: number[] = [];
  for (const e of events) {
    if (e instanceof TextMessage) {
      text += e.data;
      if (e.messageFinished) {
        out.push(["text", text]);
        text = "";
      }
    } else if (e instanceof BytesMessage) {
      bytes.push(...e.data);
      if (e.messageFinished) {
        out.push(["bytes", bytes.length]);
        bytes = [];
      }
    } else if (e instanceof CloseConnection) out.push(["close", e.code]);
    else out.push([e.type, e instanceof Ping || e instanceof Pong ? dec(e.payload) : ""]);
  }
  return out;
}

interface Pair {
  client: WSConnection;
  server: WSConnection;
}

function handshake(
  t: Test,
  mode: Mode,
  opts: { subprotocols?: string[]; pick?: string | null; clientExt?: PerMessageDeflate[]; serverExt?: PerMessageDeflate[]; clientOptions?: ConnectionOptions; serverOptions?: ConnectionOptions } = {},
): Pair {
  const client = new WSConnection(CLIENT, { random: sequentialRandom(), ...opts.clientOptions });
  const server = new WSConnection(SERVER, opts.serverOptions);
  t.equal(client.state, ConnectionState.CONNECTING);
  t.equal(client.connection, null);
  const req = client.send(
    new Request({ host: "example.com", target: "/chat", subprotocols: opts.subprotocols ?? [], extensions: opts.clientExt ?? [], extraHeaders: [["Origin", "http://example.com"]] }),
  );
  const got = deliver(server, req, mode);
  t.equal(got.length, 1, "the server gets one Request");
  const request = got[0] as Request;
  t.ok(request instanceof Request);
  t.equal(request.host, "example.com");
  t.same(request.subprotocols, opts.subprotocols ?? []);
  t.same(request.extraHeaders.find(([n]) => n === "origin"), ["origin", "http://example.com"]);
  const accept = server.send(new AcceptConnection({ subprotocol: opts.pick ?? null, extensions: opts.serverExt ?? [] }));
  t.equal(server.state, ConnectionState.OPEN);
  t.ok(server.connection instanceof Connection);
  const back = deliver(client, accept, mode);
  t.equal(back.length, 1, "the client gets one AcceptConnection");
  const accepted = back[0] as AcceptConnection;
  t.ok(accepted instanceof AcceptConnection);
  t.equal(accepted.subprotocol, opts.pick ?? null);
  t.equal(client.state, ConnectionState.OPEN);
  t.equal(client.subprotocol, opts.pick ?? null);
  t.equal(server.subprotocol, opts.pick ?? null);
  return { client, server };
}

function converse(t: Test, { client, server }: Pair, mode: Mode): void {
  const c2s = [
    client.send(new TextMessage({ data: "hello ünïcode" })),
    client.send(new BytesMessage({ data: new Uint8Array(300).fill(7) })),
    client.send(new TextMessage({ data: "frag", messageFinished: false })),
    client.send(new Ping({ payload: enc("p") })),
    client.send(new TextMessage({ data: "ment" })),
    client.send(new Message<string>({ data: "plain" })),
  ];
  const atServer = merged(c2s.flatMap((b) => deliver(server, b, mode)));
  t.same(atServer, [["text", "hello ünïcode"], ["bytes", 300], ["Ping", "p"], ["text", "fragment"], ["text", "plain"]]);
  const s2c = [server.send(new Pong({ payload: enc("p") })), server.send(new TextMessage({ data: "x".repeat(70000) }))];
  const atClient = merged(s2c.flatMap((b) => deliver(client, b, mode)));
  t.same(atClient, [["Pong", "p"], ["text", "x".repeat(70000)]]);
  // The closing handshake.
  const close = client.send(new CloseConnection({ code: 1000, reason: "bye" }));
  t.equal(client.state, ConnectionState.LOCAL_CLOSING);
  const closeEvents = deliver(server, close, mode);
  t.same(merged(closeEvents), [["close", 1000]]);
  t.equal(server.state, ConnectionState.REMOTE_CLOSING);
  const reply = server.send((closeEvents[0] as CloseConnection).response());
  t.equal(server.state, ConnectionState.CLOSED);
  t.same(merged(deliver(client, reply, mode)), [["close", 1000]]);
  t.equal(client.state, ConnectionState.CLOSED);
}

for (const mode of MODES) {
  t.test(`handshake and messages, no subprotocol (${mode})`, async (t) => {
    converse(t, handshake(t, mode), mode);
  });
  t.test(`handshake and messages with a subprotocol (${mode})`, async (t) => {
    converse(t, handshake(t, mode, { subprotocols: ["chat", "superchat"], pick: "superchat" }), mode);
  });
  t.test(`subprotocols offered, none picked (${mode})`, async (t) => {
    converse(t, handshake(t, mode, { subprotocols: ["chat"], pick: null }), mode);
  });
  t.test(`permessage-deflate negotiated on forks (${mode})`, async (t) => {
    const clientPmd = new PerMessageDeflate({ serverNoContextTakeover: true });
    const serverPmd = new PerMessageDeflate();
    const pair = handshake(t, mode, { clientExt: [clientPmd], serverExt: [serverPmd] });
    t.equal(pair.client.extensions.length, 1);
    t.equal(pair.server.extensions.length, 1);
    t.notOk(clientPmd.enabled(), "client configuration untouched");
    t.notOk(serverPmd.enabled(), "server configuration untouched");
    const frame = pair.client.send(new TextMessage({ data: "a".repeat(1000) }));
    t.ok(frame.length < 100, "compressed");
    t.ok((frame[0]! & 0x40) !== 0, "RSV1 set");
    t.same(merged(deliver(pair.server, frame, mode)), [["text", "a".repeat(1000)]]);
    // Both ends report the negotiated header value, read from the handshake, not from bytes.
    t.equal(pair.server.extensionsHeader, "permessage-deflate; server_no_context_takeover; client_max_window_bits=15; server_max_window_bits=15");
    t.equal(pair.client.extensionsHeader, pair.server.extensionsHeader, "the client reports what the server sent");
    converse(t, pair, mode);
  });
  t.test(`extension offered, server declines (${mode})`, async (t) => {
    const pair = handshake(t, mode, { clientExt: [new PerMessageDeflate()] });
    t.equal(pair.client.extensions.length, 0);
    t.equal(pair.client.extensionsHeader, "");
    t.equal(pair.server.extensionsHeader, "");
    converse(t, pair, mode);
  });
}

const REJECTIONS: Array<[string, RejectConnection, RejectData[], string]> = [
  ["without a body", new RejectConnection({ statusCode: 403, headers: [["X-Reason", "nope"]] }), [], ""],
  [
    "chunked body",
    new RejectConnection({ statusCode: 403, hasBody: true, headers: [["Content-Type", "text/plain"]] }),
    [new RejectData({ data: enc("go "), bodyFinished: false }), new RejectData({ data: enc("away") })],
    "go away",
  ],
  [
    "content-length body",
    new RejectConnection({ statusCode: 401, hasBody: true, headers: [["Content-Length", "7"]] }),
    [new RejectData({ data: enc("go "), bodyFinished: false }), new RejectData({ data: enc("away") })],
    "go away",
  ],
  ["empty chunked body", new RejectConnection({ statusCode: 500, hasBody: true }), [new RejectData({ data: new Uint8Array(0) })], ""],
];

for (const mode of MODES) {
  for (const [what, reject, data, body] of REJECTIONS) {
    t.test(`rejection ${what} (${mode})`, async (t) => {
      const client = new WSConnection(CLIENT);
      const server = new WSConnection(SERVER);
      deliver(server, client.send(new Request({ host: "h", target: "/" })), mode);
      const wire = [server.send(reject), ...data.map((d) => server.send(d))];
      t.equal(server.state, ConnectionState.CLOSED);
      const events = wire.flatMap((b) => deliver(client, b, mode));
      t.equal(client.state, ConnectionState.CLOSED);
      const head = events[0] as RejectConnection;
      t.ok(head instanceof RejectConnection);
      t.equal(head.statusCode, reject.statusCode);
      t.ok(head.hasBody, "hasBody is always true on receipt");
      for (const [name, value] of reject.headers) t.same(head.headers.find(([n]) => n === name.toLowerCase()), [name.toLowerCase(), value]);
      const pieces = events.slice(1) as RejectData[];
      t.ok(pieces.every((p) => p instanceof RejectData));
      t.equal(pieces.map((p) => dec(p.data)).join(""), body, "the whole body");
      const last = pieces.at(-1)!;
      t.ok(last.bodyFinished && last.data.length === 0, "ends with an empty RejectData(bodyFinished)");
      t.ok(pieces.slice(0, -1).every((p) => !p.bodyFinished));
    });
  }
}

t.test("a bad handshake from the peer: the hint answers it", async (t) => {
  const server = new WSConnection(SERVER);
  let error: unknown;
  try {
    server.receiveData(enc("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 12\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"));
  } catch (e) {
    error = e;
  }
  t.ok(error instanceof RemoteProtocolError);
  const reply = server.send((error as RemoteProtocolError).eventHint!);
  t.equal(dec(reply), "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\ncontent-length: 0\r\n\r\n");
  const client = new WSConnection(CLIENT);
  client.send(new Request({ host: "h", target: "/" }));
  const events = deliver(client, reply, "whole");
  t.same(events.map((e) => e.type), ["RejectConnection", "RejectData"]);
  t.equal((events[0] as RejectConnection).statusCode, 426);
});

t.test("options reach the Connection", async (t) => {
  const { client, server } = handshake(t, "whole", { serverOptions: { maxMessageSize: 10 }, clientOptions: { random: sequentialRandom() } });
  const frame = client.send(new TextMessage({ data: "01234567890" }));
  t.same([...frame.subarray(2, 6)], [0x10, 0x11, 0x12, 0x13], "the client's masks come from the same random source, after the nonce");
  const events = deliver(server, frame, "whole");
  t.equal((events[0] as CloseConnection).code, 1009, "maxMessageSize applies after the handshake");
  const small = new WSConnection(SERVER, { maxHandshakeSize: 100 });
  t.throws(() => small.receiveData(enc(`GET / HTTP/1.1\r\nHost: ${"h".repeat(200)}\r\n\r\n`)), RemoteProtocolError);
  t.throws(() => new WSConnection(SERVER, { maxHeaders: -1 }), LocalProtocolError);
});

t.test("initiateUpgradeConnection with Node-style headers and head", async (t) => {
  const client = new WSConnection(CLIENT, { random: sequentialRandom() });
  const req = dec(client.send(new Request({ host: "h", target: "/x?y=1" })));
  const lines = req.split("\r\n").slice(1, -2).map((l) => l.split(": ") as [string, string]);
  const server = new WSConnection(SERVER);
  server.initiateUpgradeConnection(lines, "/x?y=1");
  const [request] = [...server.events()] as Request[];
  t.equal(request!.target, "/x?y=1");
  // A frame in Node's `head` (pipelined by an eager client) survives until the accept.
  server.receiveData(new Connection(CLIENT).send(new TextMessage({ data: "early" })));
  t.same([...server.events()], []);
  const accept = server.send(new AcceptConnection());
  t.same(merged([...server.events()]), [["text", "early"]]);
  t.same(deliver(client, accept, "whole").map((e) => e.type), ["AcceptConnection"]);
  t.throws(() => client.initiateUpgradeConnection(lines, "/"), LocalProtocolError);
});

t.test("the handshake and connection attributes", async (t) => {
  const ws = new WSConnection(CLIENT);
  t.ok(ws.handshake instanceof H11Handshake);
  t.ok(ws.client);
  t.notOk(new WSConnection(SERVER).client);
  t.same(ws.extensions, []);
  t.equal(ws.subprotocol, null);
  t.equal(ws.extensionsHeader, "", "no extensions header before OPEN");
  t.throws(() => ws.send(new TextMessage({ data: "x" })), LocalProtocolError, "no messages while CONNECTING");
});

// ---------------------------------------------------------------------------
// The 0.x buffered API

t.test("0.x: a client with options.host queues its request", async (t) => {
  const client = new WSConnection(CLIENT, {
    host: "bücher.example",
    resource: "/chat",
    subprotocols: ["chat"],
    extraHeaders: [["Origin", "http://x"]],
    random: sequentialRandom(),
  });
  const first = client.bytesToSend(10);
  t.equal(dec(first), "GET /chat ");
  const rest = client.bytesToSend();
  t.equal(
    dec(first) + dec(rest),
    "GET /chat HTTP/1.1\r\nHost: xn--bcher-kva.example\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: AAECAwQFBgcICQoLDA0ODw==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\nOrigin: http://x\r\n\r\n",
  );
  t.equal(client.bytesToSend().length, 0, "drained");
  t.equal(client.bytesToSend(0).length, 0);
  t.throws(() => client.bytesToSend(-1), LocalProtocolError);
  t.throws(() => client.bytesToSend(1.5), LocalProtocolError);
  t.throws(() => new WSConnection(SERVER, { host: "h" }), LocalProtocolError, "host is for clients");
  t.throws(() => new WSConnection(CLIENT, { host: "a\r\nb" }), LocalProtocolError, "a bad host fails construction");
});

t.test("0.x: buffered exchange with automatic pongs and close replies", async (t) => {
  const client = new WSConnection(CLIENT, { host: "h", resource: "/" });
  const server = new WSConnection(SERVER);
  server.receiveBytes(client.bytesToSend());
  t.same([...server.events()].map((e) => e.type), ["Request"]);
  client.receiveBytes(server.send(new AcceptConnection()));
  t.same([...client.events()].map((e) => e.type), ["AcceptConnection"]);
  t.equal(client.state, ConnectionState.OPEN);

  client.sendData("hel", false);
  client.sendData("lo");
  client.sendData(new Uint8Array([1, 2, 3]));
  client.ping(enc("are you there"));
  client.pong(enc("unsolicited"));
  // Byte by byte, in pieces of 3, to exercise bytesToSend(amount).
  for (let piece = client.bytesToSend(3); piece.length > 0; piece = client.bytesToSend(3)) server.receiveBytes(piece);
  const got = merged([...server.events()]);
  t.same(got, [["text", "hello"], ["bytes", 3], ["Ping", "are you there"], ["Pong", "unsolicited"]]);
  // The server answered the ping by itself.
  client.receiveBytes(server.bytesToSend());
  t.same(merged([...client.events()]), [["Pong", "are you there"]]);

  client.close(1001, "going");
  t.equal(client.state, ConnectionState.LOCAL_CLOSING);
  server.receiveBytes(client.bytesToSend());
  const closes = [...server.events()];
  t.same(merged(closes), [["close", 1001]]);
  t.equal(server.state, ConnectionState.CLOSED, "the server replied to the close by itself");
  client.receiveBytes(server.bytesToSend());
  t.same(merged([...client.events()]), [["close", 1001]]);
  t.equal(client.state, ConnectionState.CLOSED);
  t.equal(client.bytesToSend().length, 0, "no answer to the reply");
});

t.test("0.x: a protocol violation is answered with its close code; EOF gives 1006", async (t) => {
  const client = new WSConnection(CLIENT, { host: "h" });
  const server = new WSConnection(SERVER);
  server.receiveBytes(client.bytesToSend());
  [...server.events()];
  client.receiveBytes(server.send(new AcceptConnection()));
  [...client.events()];
  // An unmasked frame from the client is a protocol error at the server.
  server.receiveBytes(new Uint8Array([0x81, 0x01, 0x61]));
  const [close] = [...server.events()] as CloseConnection[];
  t.equal(close!.code, 1002);
  t.equal(close!.origin, "protocol-error");
  const answer = server.bytesToSend();
  t.equal(answer[0], 0x88, "a close frame");
  t.equal(answer[1], answer.length - 2, "unmasked, with the reason");
  t.same([...answer.subarray(2, 4)], [0x03, 0xea], "code 1002");
  t.equal(server.state, ConnectionState.LOCAL_CLOSING);
  server.receiveBytes(null);
  t.same(merged([...server.events()]), [["close", 1006]]);
  t.equal(server.state, ConnectionState.CLOSED);
  // A received close without a code (1005) is answered with an empty close.
  client.receiveBytes(new Uint8Array([0x88, 0x00]));
  t.same(merged([...client.events()]), [["close", 1005]]);
  t.same([...client.bytesToSend().subarray(0, 2)], [0x88, 0x80], "an empty (masked) close frame");
});

t.test("0.x and 1.x calls drive the same machine", async (t) => {
  const client = new WSConnection(CLIENT);
  client.receiveBytes(null);
  t.same([...client.events()], [], "EOF before a request");
  const c2 = new WSConnection(CLIENT, { host: "h" });
  const server = new WSConnection(SERVER);
  server.receiveData(c2.bytesToSend());
  [...server.events()];
  c2.receiveBytes(server.send(new AcceptConnection()));
  c2.sendData("queued");
  const direct = c2.send(new TextMessage({ data: "direct" }));
  server.receiveData(c2.bytesToSend());
  server.receiveData(direct);
  t.same(merged([...server.events()]), [["text", "queued"], ["text", "direct"]]);
  t.throws(() => new WSConnection(SERVER).sendData("x"), LocalProtocolError, "no data during the handshake");
});

t.test("events(): stopping early loses nothing (both styles)", async (t) => {
  const { client, server } = handshake(t, "whole");
  server.receiveData(client.send(new TextMessage({ data: "a" })));
  server.receiveData(client.send(new TextMessage({ data: "b" })));
  t.equal((server.events().next().value as TextMessage).data, "a");
  t.same(merged([...server.events()]), [["text", "b"]]);
  client.sendData("c");
  client.sendData("d");
  server.receiveBytes(client.bytesToSend());
  t.equal((server.events().next().value as TextMessage).data, "c");
  t.same(merged([...server.events()]), [["text", "d"]]);
  t.equal(server.connection, server.handshake.connection, "connection is the handshake's");
});

t.test("borrowedInput: the handshake's answer and the first frames in one lent chunk, overwritten after releaseInput(), arrive intact", async (t) => {
  for (const role of [CLIENT, SERVER] as const) {
    const client = new WSConnection(CLIENT, { random: sequentialRandom(), ...(role === CLIENT ? { borrowedInput: true, wholeFramesUpTo: 1 << 20 } : {}) });
    const server = new WSConnection(SERVER, role === SERVER ? { borrowedInput: true, wholeFramesUpTo: 1 << 20 } : {});
    const receiver = role === CLIENT ? client : server;
    const lent = new Uint8Array(4096);
    const kept: Event[] = [];
    const feed = (bytes: Uint8Array, at: number): void => {
      // Two reads through the one lent array: the cut at `at` may fall in the head or in a frame.
      for (const part of [bytes.subarray(0, at), bytes.subarray(at)]) {
        lent.set(part);
        receiver.receiveData(lent.subarray(0, part.length));
        kept.push(...receiver.events());
        receiver.releaseInput();
        lent.fill(0xee);
      }
    };
    const request = client.send(new Request({ host: "example.com", target: "/" }));
    if (role === SERVER) {
      // A client's frames right behind its request (made by a frame-level client: ours waits for the answer).
      const framer = new Connection(CLIENT);
      const frames = concatBytes([request, framer.send(new TextMessage({ data: "early" })), framer.send(new BytesMessage({ data: new Uint8Array(200).fill(9) }))]);
      feed(frames, request.length - 3);
      // The bytes after the request head wait for the accept (copies of the lent reads).
      server.send(new AcceptConnection({}));
      kept.push(...server.events());
    } else {
      server.receiveData(request);
      [...server.events()];
      const reply = concatBytes([
        server.send(new AcceptConnection({})),
        server.send(new TextMessage({ data: "early" })),
        server.send(new BytesMessage({ data: new Uint8Array(200).fill(9) })),
      ]);
      feed(reply, reply.length - 150);
    }
    const brief = kept.map((e) => (e instanceof TextMessage ? e.data : e instanceof BytesMessage ? `${e.data.length}:${e.data.every((b) => b === 9)}` : e.type));
    t.same(brief.filter((b) => b !== "Request" && b !== "AcceptConnection"), ["early", "200:true"], `${role === CLIENT ? "client" : "server"}: nothing of the lent array kept`);
  }
  t.throws(() => new WSConnection(CLIENT, { borrowedInput: "yes" as unknown as boolean }), { code: "WS_ERR_INVALID_OPTION" });
});
