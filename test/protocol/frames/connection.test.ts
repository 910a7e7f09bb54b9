// src/protocol/frames/connection.ts: Connection end to end, for both roles, with a
// client and a server wired together in memory.
import t from "tap";
import { Connection } from "../../../src/protocol/frames/connection.ts";
import { ASSEMBLE_AHEAD_MAX } from "../../../src/protocol/frames/frame-reader.ts";
import { concatBytes } from "../../../src/protocol/bytes/encoding.ts";
import { LocalProtocolError } from "../../../src/protocol/errors.ts";
import {
  AcceptConnection,
  BytesMessage,
  CloseConnection,
  Message,
  Ping,
  Pong,
  Request,
  TextMessage,
  type Event,
} from "../../../src/protocol/events.ts";
import { Extension } from "../../../src/protocol/extensions/extension.ts";
import { PerMessageDeflate } from "../../../src/protocol/extensions/permessage-deflate.ts";
import { sequentialRandom } from "../../../src/protocol/bytes/random.ts";
import { ConnectionState, ConnectionType } from "../../../src/protocol/types.ts";
import { briefEvents as brief, fromHex, toHex } from "../../helpers/vectors.ts";

const { OPEN, LOCAL_CLOSING, REMOTE_CLOSING, CLOSED } = ConnectionState;
const ROLES = [ConnectionType.CLIENT, ConnectionType.SERVER] as const;
const roleName = (r: ConnectionType): string => (r === ConnectionType.CLIENT ? "client" : "server");
const other = (r: ConnectionType): ConnectionType =>
  r === ConnectionType.CLIENT ? ConnectionType.SERVER : ConnectionType.CLIENT;

function pair(role: ConnectionType): [Connection, Connection] {
  return [new Connection(role, { random: sequentialRandom() }), new Connection(other(role), { random: sequentialRandom(100) })];
}

const pull = (c: Connection): Event[] => [...c.events()];

t.test("messages, pings and pongs in both directions, for both roles", async (t) => {
  for (const role of ROLES) {
    const [a, b] = pair(role);
    t.equal(a.client, role === ConnectionType.CLIENT);
    t.equal(a.state, OPEN);
    b.receiveData(a.send(new TextMessage({ data: "hello \u20ac" })));
    b.receiveData(a.send(new BytesMessage({ data: fromHex("00ff") })));
    // (Built first: inline in send(), TypeScript infers Message's type parameter from the Event union.)
    const plainText = new Message({ data: "plain text" });
    const plainBytes = new Message({ data: fromHex("01") });
    b.receiveData(a.send(plainText));
    b.receiveData(a.send(plainBytes));
    b.receiveData(a.send(new TextMessage({ data: "frag", messageFinished: false })));
    b.receiveData(a.send(new Ping({ payload: fromHex("7070") })));
    b.receiveData(a.send(new TextMessage({ data: "ment" })));
    const events = pull(b);
    t.same(
      brief(events),
      [
        ["text", "hello \u20ac", true, true],
        ["bytes", "00ff", true, true],
        ["text", "plain text", true, true],
        ["bytes", "01", true, true],
        ["text", "frag", true, false],
        ["Ping", "7070"],
        ["text", "ment", true, true],
      ],
      roleName(role),
    );
    t.ok(events[0] instanceof TextMessage && events[0] instanceof Message, "instanceof works");
    const ping = events[5] as Ping;
    a.receiveData(b.send(ping.response()));
    a.receiveData(b.send(new Pong())); // unsolicited
    t.same(brief(pull(a)), [
      ["Pong", "7070"],
      ["Pong", ""],
    ]);
  }
});

t.test("closing handshake started by either side, with a unicode reason", async (t) => {
  for (const role of ROLES) {
    const [a, b] = pair(role);
    b.receiveData(a.send(new CloseConnection({ code: 1001, reason: "au revoir \u00e9" })));
    t.equal(a.state, LOCAL_CLOSING);
    t.throws(() => a.send(new TextMessage({ data: "late" })), { code: "WS_ERR_INVALID_STATE" });
    t.equal(b.state, OPEN, "not before the close is pulled");
    const [close] = pull(b);
    t.same(brief([close!]), [["close", 1001, "au revoir \u00e9", "remote"]]);
    t.equal(b.state, REMOTE_CLOSING);
    a.receiveData(b.send((close as CloseConnection).response()));
    t.equal(b.state, CLOSED);
    t.same(brief(pull(a)), [["close", 1001, "au revoir \u00e9", "remote"]]);
    t.equal(a.state, CLOSED);
    t.throws(() => a.receiveData(fromHex("8100")), { code: "WS_ERR_CONNECTION_CLOSED", message: "Connection already closed." });
    t.throws(() => b.send(new CloseConnection({ code: 1000 })), { code: "WS_ERR_INVALID_STATE" });
  }
});

t.test("the state moves when the close event is yielded, not when bytes arrive (wsproto #181)", async (t) => {
  const c = new Connection(ConnectionType.CLIENT);
  c.receiveData(fromHex("810161880203e8"));
  t.equal(c.state, OPEN);
  const gen = c.events();
  t.same(brief([gen.next().value as Event]), [["text", "a", true, true]]);
  t.equal(c.state, OPEN);
  gen.next();
  t.equal(c.state, REMOTE_CLOSING);
  t.ok(gen.next().done);
});

t.test("received data is still delivered in LOCAL_CLOSING; discarded in REMOTE_CLOSING", async (t) => {
  const s = new Connection(ConnectionType.SERVER);
  s.send(new CloseConnection({ code: 1000 }));
  s.receiveData(fromHex("818137fa213d56")); // masked "a"
  t.same(brief(pull(s)), [["text", "a", true, true]]);
  const c = new Connection(ConnectionType.CLIENT);
  c.receiveData(fromHex("8800"));
  pull(c);
  t.equal(c.state, REMOTE_CLOSING);
  c.receiveData(fromHex("810162"));
  t.same(pull(c), []);
});

t.test("a protocol error: CloseConnection(protocol-error), state unchanged, parser dead, reply with response()", async (t) => {
  for (const role of ROLES) {
    const c = new Connection(role, { random: sequentialRandom() });
    const bad = role === ConnectionType.CLIENT ? "8300" : "8380";
    c.receiveData(fromHex(bad));
    const events = pull(c);
    t.same(brief(events), [["close", 1002, "Invalid opcode 0x3", "protocol-error"]]);
    t.equal(c.state, OPEN);
    const reply = c.send((events[0] as CloseConnection).response());
    t.equal(reply[0], 0x88);
    t.equal(c.state, LOCAL_CLOSING);
    // The peer's close can never be parsed now: LOCAL_CLOSING until the transport ends.
    c.receiveData(role === ConnectionType.CLIENT ? fromHex("880203e8") : fromHex("88820000000003e8"));
    t.same(pull(c), []);
    c.receiveData(null);
    t.same(brief(pull(c)), [["close", 1006, null, "abnormal"]]);
    t.equal(c.state, CLOSED);
  }
});

t.test("end of stream: buffered events first, then 1006 (deviation from wsproto's ordering quirk)", async (t) => {
  const c = new Connection(ConnectionType.CLIENT);
  c.receiveData(fromHex("810161"));
  c.receiveData(fromHex("8203616263"));
  c.receiveData(fromHex("820461")); // 1 of 4 payload bytes
  c.receiveData(null);
  t.equal(c.state, CLOSED, "CLOSED at once");
  t.same(brief(pull(c)), [
    ["text", "a", true, true],
    ["bytes", "616263", true, true],
    ["bytes", "61", false, false],
    ["close", 1006, null, "abnormal"],
  ]);
  c.receiveData(null);
  t.same(brief(pull(c)), [["close", 1006, null, "abnormal"]], "again: another 1006, no error");
  t.same(pull(c), []);
});

t.test("end of stream in every state ends CLOSED; a close frame parsed after it leaves CLOSED", async (t) => {
  const open = new Connection(ConnectionType.CLIENT);
  open.receiveData(fromHex("880203e8"));
  open.receiveData(null);
  t.same(brief(pull(open)), [
    ["close", 1000, "", "remote"],
    ["close", 1006, null, "abnormal"],
  ]);
  t.equal(open.state, CLOSED);
  const local = new Connection(ConnectionType.SERVER);
  local.send(new CloseConnection({ code: 1000 }));
  local.receiveData(null);
  t.equal(local.state, CLOSED);
  const remote = new Connection(ConnectionType.CLIENT);
  remote.receiveData(fromHex("8800"));
  pull(remote);
  remote.receiveData(null);
  t.equal(remote.state, CLOSED);
  t.same(brief(pull(remote)), [["close", 1006, null, "abnormal"]]);
});

t.test("an empty chunk is a no-op in every state (only null is end of stream)", async (t) => {
  const c = new Connection(ConnectionType.CLIENT);
  c.receiveData(new Uint8Array(0));
  t.equal(c.state, OPEN);
  t.same(pull(c), []);
  c.receiveData(null);
  pull(c);
  c.receiveData(new Uint8Array(0));
  t.equal(c.state, CLOSED);
  t.same(pull(c), []);
});

t.test("misuse raises LocalProtocolError with a code and changes nothing", async (t) => {
  const c = new Connection(ConnectionType.SERVER);
  t.throws(() => c.receiveData("text" as unknown as Uint8Array), { code: "WS_ERR_INVALID_DATA_TYPE" });
  t.throws(() => c.receiveData([1, 2] as unknown as Uint8Array), LocalProtocolError);
  t.throws(() => c.send({ type: "Nope" } as unknown as Event), { code: "WS_ERR_UNKNOWN_EVENT" });
  t.throws(() => c.send(null as unknown as Event), { code: "WS_ERR_UNKNOWN_EVENT" });
  t.throws(() => c.send(new Request({ host: "h", target: "/" })), {
    code: "WS_ERR_INVALID_STATE",
    message: "Event Request cannot be sent in state ConnectionState.OPEN.",
  });
  t.throws(() => c.send(new AcceptConnection()), { code: "WS_ERR_INVALID_STATE" });
  t.throws(() => c.send(new TextMessage({ data: 5 as unknown as string })), { code: "WS_ERR_INVALID_DATA_TYPE" });
  t.throws(() => c.send(new CloseConnection({ code: 1006 })), { code: "WS_ERR_INVALID_CLOSE_CODE" });
  t.equal(c.state, OPEN, "a refused close leaves the state alone");
  t.throws(() => new Connection(3 as ConnectionType), { code: "WS_ERR_INVALID_CONNECTION_TYPE" });
  t.throws(() => new Connection(ConnectionType.CLIENT, { maxMessageSize: -1 }), { code: "WS_ERR_INVALID_OPTION" });
});

t.test("trailingData is fed at construction; only enabled extensions are used", async (t) => {
  class Toggle extends Extension {
    readonly name = "x-toggle";
    constructor(private readonly on: boolean) {
      super();
    }
    override enabled(): boolean {
      return this.on;
    }
    override frameInboundHeader(): { rsv1: boolean; rsv2: boolean; rsv3: boolean } {
      return { rsv1: false, rsv2: false, rsv3: true };
    }
  }
  const on = new Toggle(true);
  const off = new Toggle(false);
  const c = new Connection(ConnectionType.CLIENT, { extensions: [off, on], trailingData: fromHex("910161") });
  t.same(c.extensions, [on]);
  t.same(brief(pull(c)), [["text", "a", true, true]], "RSV3 claimed by the enabled extension");
  const d = new Connection(ConnectionType.CLIENT, { extensions: [off], trailingData: fromHex("910161") });
  t.same(d.extensions, []);
  t.same(brief(pull(d)), [["close", 1002, "Reserved bit set unexpectedly", "protocol-error"]]);
});

t.test("a client masks (sequential RNG gives the vectors' keys); a server does not", async (t) => {
  const c = new Connection(ConnectionType.CLIENT, { random: sequentialRandom() });
  t.equal(toHex(c.send(new TextMessage({ data: "Hello" }))), "81850001020348646e6f6f");
  t.equal(toHex(c.send(new Ping())), "898004050607");
  const s = new Connection(ConnectionType.SERVER);
  t.equal(toHex(s.send(new TextMessage({ data: "Hello" }))), "810548656c6c6f");
});

t.test("the default random source gives different keys per frame", async (t) => {
  const c = new Connection(ConnectionType.CLIENT);
  const keys = new Set<string>();
  for (let i = 0; i < 50; i++) keys.add(toHex(c.send(new Ping()).subarray(2, 6)));
  t.ok(keys.size > 45, `${keys.size} distinct keys of 50`);
});

t.test("limits surface as CloseConnection 1009 with origin protocol-error", async (t) => {
  const s = new Connection(ConnectionType.SERVER, { maxMessageSize: 3 });
  const c = new Connection(ConnectionType.CLIENT);
  s.receiveData(c.send(new BytesMessage({ data: new Uint8Array(4) })));
  t.same(brief(pull(s)), [["close", 1009, "Frame payload of 4 bytes exceeds maxFrameSize (3)", "protocol-error"]]);
  t.equal(s.state, OPEN);
  const s2 = new Connection(ConnectionType.SERVER, { maxMessageSize: 3, maxFrameSize: 100 });
  s2.receiveData(c.send(new BytesMessage({ data: new Uint8Array(2), messageFinished: false })));
  s2.receiveData(c.send(new BytesMessage({ data: new Uint8Array(2) })));
  t.same(brief(pull(s2)), [
    ["bytes", "0000", true, false],
    ["close", 1009, "Message of 4 bytes exceeds maxMessageSize (3)", "protocol-error"],
  ]);
});

t.test("wholeFramesUpTo and allocate: a frame read in several chunks comes out as one message, unmasked into the allocated array", async (t) => {
  const c = new Connection(ConnectionType.CLIENT);
  const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 13) & 0xff);
  const wire = c.send(new BytesMessage({ data }));
  const made: Uint8Array[] = [];
  const s = new Connection(ConnectionType.SERVER, {
    wholeFramesUpTo: 5000,
    allocate: (size) => {
      const out = new Uint8Array(size);
      made.push(out);
      return out;
    },
  });
  const events: Event[] = [];
  for (let at = 0; at < wire.length; at += 1000) {
    s.receiveData(wire.slice(at, at + 1000));
    events.push(...s.events());
  }
  t.equal(events.length, 1);
  const message = events[0] as BytesMessage;
  t.ok(message.messageFinished && message.frameFinished);
  t.equal(message.data, made[0], "the allocated array, not a copy");
  t.same(made.map((m) => m.length), [5000]);
  t.equal(toHex(message.data), toHex(data));
  // Without the option the same bytes stream out in pieces.
  const streamed = new Connection(ConnectionType.SERVER);
  let pieces = 0;
  for (let at = 0; at < wire.length; at += 1000) {
    streamed.receiveData(wire.slice(at, at + 1000));
    pieces += [...streamed.events()].length;
  }
  t.equal(pieces, 6, "one piece per chunk");
  t.throws(() => new Connection(ConnectionType.SERVER, { wholeFramesUpTo: -1 }), { code: "WS_ERR_INVALID_OPTION" });
  t.throws(() => new Connection(ConnectionType.SERVER, { allocate: 5 as unknown as () => Uint8Array }), { code: "WS_ERR_INVALID_OPTION" });
});

t.test("events() can be pulled in several passes; partial data per pass (wsproto §4.2)", async (t) => {
  const c = new Connection(ConnectionType.CLIENT);
  const bytes = fromHex("8206616263646566");
  c.receiveData(bytes.subarray(0, 4));
  t.same(brief(pull(c)), [["bytes", "6162", false, false]]);
  c.receiveData(bytes.subarray(4, 6));
  c.receiveData(bytes.subarray(6));
  t.same(brief(pull(c)), [["bytes", "63646566", true, true]], "two chunks merged into one event");
});

t.test("the RFC 6455 §5.7 examples for both roles", async (t) => {
  const client = new Connection(ConnectionType.CLIENT);
  client.receiveData(fromHex("810548656c6c6f" + "010348656c" + "80026c6f" + "890548656c6c6f"));
  t.same(brief(pull(client)), [
    ["text", "Hello", true, true],
    ["text", "Hel", true, false],
    ["text", "lo", true, true],
    ["Ping", "48656c6c6f"],
  ]);
  const server = new Connection(ConnectionType.SERVER);
  server.receiveData(fromHex("818537fa213d7f9f4d5158" + "8a8537fa213d7f9f4d5158"));
  t.same(brief(pull(server)), [
    ["text", "Hello", true, true],
    ["Pong", "48656c6c6f"],
  ]);
});

// Wire fixtures next to the event they mean: `from` sends `event` and gets
// exactly `hex` (with `key` as the masking key); the other role receives `hex`,
// whole and split at every byte offset, and gets `event` back.
interface WireFixture {
  from: "client" | "server";
  hex: string;
  key?: string;
  event: () => Event;
}

const WIRE: WireFixture[] = [
  { from: "server", hex: "810548656c6c6f", event: () => new TextMessage({ data: "Hello" }) },
  { from: "client", hex: "818537fa213d7f9f4d5158", key: "37fa213d", event: () => new TextMessage({ data: "Hello" }) },
  { from: "server", hex: "8100", event: () => new TextMessage({ data: "" }) },
  { from: "server", hex: "810be282ac20e282ac20e282ac", event: () => new TextMessage({ data: "\u20ac \u20ac \u20ac" }) },
  { from: "server", hex: "010348656c", event: () => new TextMessage({ data: "Hel", messageFinished: false }) },
  { from: "server", hex: "82030001ff", event: () => new BytesMessage({ data: fromHex("0001ff") }) },
  { from: "client", hex: "82830a0b0c0d0a0af3", key: "0a0b0c0d", event: () => new BytesMessage({ data: fromHex("0001ff") }) },
  { from: "server", hex: "827e007e" + "78".repeat(126), event: () => new BytesMessage({ data: new Uint8Array(126).fill(0x78) }) },
  { from: "server", hex: "89026869", event: () => new Ping({ payload: fromHex("6869") }) },
  { from: "client", hex: "8982000102036868", key: "00010203", event: () => new Ping({ payload: fromHex("6869") }) },
  { from: "server", hex: "8a00", event: () => new Pong() },
  { from: "server", hex: "880503e8627965", event: () => new CloseConnection({ code: 1000, reason: "bye" }) },
  { from: "client", hex: "88850001020303e9607a65", key: "00010203", event: () => new CloseConnection({ code: 1000, reason: "bye" }) },
  { from: "server", hex: "88020fa0", event: () => new CloseConnection({ code: 4000 }) },
  { from: "client", hex: "888000010203", key: "00010203", event: () => new CloseConnection({ code: 1005 }) },
];

/** Merge a run of message pieces into one, keeping the last piece's flags. */
function merged(events: Event[]): unknown[] {
  const out: unknown[] = [];
  for (const [kind, ...rest] of brief(events) as Array<[string, ...unknown[]]>) {
    const last = out[out.length - 1] as unknown[] | undefined;
    if ((kind === "text" || kind === "bytes") && last && last[0] === kind && last[3] === false && last[2] === false) {
      last[1] = String(last[1]) + String(rest[0]);
      last[2] = rest[1];
      last[3] = rest[2];
    } else {
      out.push([kind, ...rest]);
    }
  }
  return out;
}

t.test("wire fixtures, both ways, whole and split at every offset", async (t) => {
  for (const f of WIRE) {
    const senderType = f.from === "client" ? ConnectionType.CLIENT : ConnectionType.SERVER;
    const key = f.key === undefined ? undefined : fromHex(f.key);
    const random = key ? (buf: Uint8Array): void => buf.forEach((_, i) => (buf[i] = key[i & 3]!)) : undefined;
    const sender = new Connection(senderType, random ? { random } : {});
    const event = f.event();
    t.equal(toHex(sender.send(event)), f.hex, `${f.from} sends ${f.hex}`);
    const want = brief([event]).map((e) => {
      const row = e as unknown[];
      // A received close carries "" for no reason, and 1005 has no reason at all.
      return row[0] === "close" ? ["close", row[1], row[2] ?? "", "remote"] : row;
    });
    let bad = 0;
    for (let cut = 0; cut <= f.hex.length / 2; cut++) {
      const bytes = fromHex(f.hex);
      const receiver = new Connection(other(senderType));
      receiver.receiveData(bytes.subarray(0, cut));
      const got = pull(receiver);
      receiver.receiveData(bytes.subarray(cut));
      got.push(...pull(receiver));
      if (JSON.stringify(merged(got)) !== JSON.stringify(want)) {
        bad++;
        if (bad === 1) t.same(merged(got), want, `${f.hex} split at ${cut}`);
      }
    }
    t.equal(bad, 0, `${f.hex}: received as the event at every split`);
    // The sender's own role refuses it (RFC 6455 §5.1 masking direction).
    const wrong = new Connection(senderType);
    wrong.receiveData(fromHex(f.hex));
    t.match(pull(wrong), [{ type: "CloseConnection", code: 1002, origin: "protocol-error" }], `${f.hex} refused by a ${f.from}`);
  }
});

t.test("sendParts: a server's large binary message is [header, the caller's bytes]; anything else is [send(event)]", async (t) => {
  const big = Uint8Array.from({ length: 70000 }, (_, i) => i & 0xff);
  const join = (parts: Uint8Array[]): string => parts.map(toHex).join("");
  // Unmasked (server), no extension, >= 16 KiB: the payload is not copied.
  const s = new Connection(ConnectionType.SERVER);
  const parts = s.sendParts(new BytesMessage({ data: big }));
  t.equal(parts.length, 2);
  t.equal(parts[1], big, "the payload part is the event's own array");
  t.equal(join(parts), toHex(new Connection(ConnectionType.SERVER).send(new BytesMessage({ data: big }))), "same bytes as send()");
  t.equal(toHex(parts[0]!), "827f0000000000011170", "8-byte length header");
  // A fragmented message keeps its opcodes: BINARY, then CONTINUATION (a plain Message too).
  const first = s.sendParts(new BytesMessage({ data: big.subarray(0, 20000), messageFinished: false }));
  t.equal(toHex(first[0]!), "027e4e20");
  t.equal(first[1]!.byteOffset, 0);
  t.throws(() => s.sendParts(new TextMessage({ data: "x" })), { code: "WS_ERR_DATA_TYPE_MISMATCH" }, "text inside a binary message");
  const last = s.sendParts(new Message({ data: big.subarray(0, 16384) }));
  t.equal(toHex(last[0]!), "807e4000");
  // Small payloads, text, a client's (masked) frames, control frames: one part, as send() gives.
  t.equal(s.sendParts(new BytesMessage({ data: big.subarray(0, 100) })).length, 1);
  t.equal(toHex(s.sendParts(new TextMessage({ data: "Hello" }))[0]!), "810548656c6c6f");
  t.equal(s.sendParts(new TextMessage({ data: "é".repeat(20000) })).length, 1);
  const c = new Connection(ConnectionType.CLIENT, { random: sequentialRandom() });
  const masked = c.sendParts(new BytesMessage({ data: big }));
  t.equal(masked.length, 1);
  t.equal(
    toHex(masked[0]!),
    toHex(new Connection(ConnectionType.CLIENT, { random: sequentialRandom() }).send(new BytesMessage({ data: big }))),
  );
  t.equal(s.sendParts(new Ping()).length, 1);
  // With an extension the payload may be transformed: one part.
  class Passthrough extends Extension {
    readonly name = "x-pass";
    override enabled(): boolean {
      return true;
    }
  }
  const x = new Connection(ConnectionType.SERVER, { extensions: [new Passthrough()] });
  t.equal(x.sendParts(new BytesMessage({ data: big })).length, 1);
  // Same state rules as send(): refused after our close, and nothing changes.
  s.send(new CloseConnection({ code: 1000 }));
  t.throws(() => s.sendParts(new BytesMessage({ data: big })), LocalProtocolError);
  t.equal(s.state, LOCAL_CLOSING);
  t.throws(() => s.sendParts(new Request({ host: "h", target: "/" })), LocalProtocolError);
  // The bytes parse back as one message on the other side.
  const srv = new Connection(ConnectionType.SERVER);
  const cli = new Connection(ConnectionType.CLIENT);
  for (const part of srv.sendParts(new BytesMessage({ data: big }))) cli.receiveData(part.slice());
  const got = pull(cli);
  t.equal(got.length, 1);
  t.equal(toHex((got[0] as BytesMessage).data), toHex(big));
});

t.test("Message.compress: false reaches the extension through send() and sendParts()", async (t) => {
  const make = (compress?: boolean): Uint8Array => {
    const ext = new PerMessageDeflate().fork();
    ext.accept("permessage-deflate");
    const conn = new Connection(ConnectionType.SERVER, { extensions: [ext] });
    const options = compress === undefined ? { data: "x".repeat(100) } : { data: "x".repeat(100), compress };
    return conn.send(new TextMessage(options));
  };
  t.equal(make()[0]! & 0x40, 0x40, "compressed by default");
  t.equal(make(true)[0]! & 0x40, 0x40, "compress: true is the default policy");
  t.equal(make(false)[0]! & 0x40, 0, "compress: false: RSV1 clear");
  t.equal(make(false).byteLength, 102, "payload as is");
  t.notOk("compress" in new TextMessage({ data: "a" }), "no field unless given (events compare as wsproto's)");
});

t.test("nextEvent() pulls the same events as events(), one at a time, including a close and the transport's end", async (t) => {
  for (const role of ROLES) {
    const wire: Uint8Array[] = [];
    const [a] = pair(role);
    wire.push(a.send(new TextMessage({ data: "one" })));
    wire.push(a.send(new Ping({ payload: new Uint8Array([1]) })));
    wire.push(a.send(new BytesMessage({ data: new Uint8Array([1, 2, 3]) })));
    wire.push(a.send(new CloseConnection({ code: 1000, reason: "bye" })));
    const run = (take: (c: Connection) => Event[]): { events: string; state: ConnectionState } => {
      const [, b] = pair(role);
      const seen: Event[] = [];
      for (const bytes of wire) {
        b.receiveData(bytes.slice()); // receiveData takes ownership (it unmasks in place)
        seen.push(...take(b));
      }
      b.receiveData(null);
      seen.push(...take(b));
      return { events: JSON.stringify(brief(seen)), state: b.state };
    };
    const viaGenerator = run(pull);
    const viaNext = run((c) => {
      const out: Event[] = [];
      for (let e = c.nextEvent(); e !== null; e = c.nextEvent()) out.push(e);
      t.equal(c.nextEvent(), null, "null again once drained");
      return out;
    });
    t.same(viaNext, viaGenerator, roleName(role));
    t.match(viaNext.events, /"close",1000,"bye","remote"\],\["close",1006/);
  }
});

t.test("borrowedInput: a whole frame up to 4 MiB gets its array at its first payload bytes; a larger one only once complete; both intact", async (t) => {
  const sizes: number[] = [];
  const allocate = (size: number): Uint8Array => {
    sizes.push(size);
    return new Uint8Array(size);
  };
  const receiver = (): Connection => new Connection(ConnectionType.SERVER, { borrowedInput: true, wholeFramesUpTo: Infinity, allocate });
  const sender = new Connection(ConnectionType.CLIENT, { random: sequentialRandom() });
  for (const size of [ASSEMBLE_AHEAD_MAX, ASSEMBLE_AHEAD_MAX + 1]) {
    sizes.length = 0;
    const data = Uint8Array.from({ length: size }, (_, i) => (i * 7 + (i >> 12)) & 0xff);
    const wire = sender.send(new BytesMessage({ data }));
    const s = receiver();
    const lent = new Uint8Array(65536);
    const events: Event[] = [];
    for (let at = 0; at < wire.length; at += lent.length) {
      const part = wire.subarray(at, at + lent.length);
      lent.set(part);
      s.receiveData(lent.subarray(0, part.length));
      events.push(...s.events());
      s.releaseInput();
      lent.fill(0xee);
      if (at === 0) {
        // After the first read: the 4 MiB frame has its array; the larger one has nothing reserved.
        t.same(sizes, size <= ASSEMBLE_AHEAD_MAX ? [size] : [], `${size}: reserved after the first read`);
      }
    }
    t.equal(events.length, 1, `${size}: one message`);
    const got = (events[0] as BytesMessage).data;
    t.ok(got.length === size && got.every((b, i) => b === data[i]), `${size}: intact`);
    t.same(sizes, [size], `${size}: one array of the payload's size`);
  }
});

t.test("borrowedInput: events left in the engine (not pulled before releaseInput()) survive the lent chunk's reuse", async (t) => {
  const sender = new Connection(ConnectionType.SERVER);
  const s = new Connection(ConnectionType.CLIENT, { borrowedInput: true });
  const wire = concatBytes([1, 2, 3].map((n) => sender.send(new BytesMessage({ data: new Uint8Array(10 * n).fill(n) }))));
  const lent = wire.slice();
  s.receiveData(lent);
  const first = s.nextEvent() as BytesMessage;
  s.releaseInput();
  lent.fill(0);
  const rest = pull(s) as BytesMessage[];
  t.same([first, ...rest].map((m) => [m.data.length, m.data.every((b) => b === m.data.length / 10)]), [
    [10, true],
    [20, true],
    [30, true],
  ]);
});
