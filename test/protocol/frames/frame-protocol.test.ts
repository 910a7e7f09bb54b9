// src/protocol/frames/frame-protocol.ts: extension hook calls, RSV claiming, limits,
// fragmentation, incremental UTF-8, close payloads, and the send side.
import t from "tap";
import { LocalProtocolError } from "../../../src/protocol/errors.ts";
import { CloseConnection, type Event } from "../../../src/protocol/events.ts";
import { Extension, type FrameProtocolView, type RsvBits } from "../../../src/protocol/extensions/extension.ts";
import { FrameProtocol, type ReceivedEvent } from "../../../src/protocol/frames/frame-protocol.ts";
import { isSendableCloseCode } from "../../../src/protocol/close-codes.ts";
import { buildFrame } from "../../../src/protocol/frames/frame.ts";
import { resolveOptions, type ConnectionOptions } from "../../../src/protocol/options.ts";
import { sequentialRandom } from "../../../src/protocol/bytes/random.ts";
import { Opcode } from "../../../src/protocol/types.ts";
import { briefEvents as summary, decodeFrames, fromHex, toHex } from "../../helpers/vectors.ts";

function proto(client: boolean, extensions: Extension[] = [], options: ConnectionOptions = {}): FrameProtocol {
  return new FrameProtocol(client, extensions, resolveOptions({ random: sequentialRandom(), ...options }));
}

function drain(p: FrameProtocol): ReceivedEvent[] {
  const out: ReceivedEvent[] = [];
  for (let e = p.nextEvent(); e !== null; e = p.nextEvent()) out.push(e);
  return out;
}

/** A server-side (unmasked) frame: what a client receives. */
function frame(firstByte: number, payload: Uint8Array | string): Uint8Array {
  return buildFrame(firstByte, typeof payload === "string" ? new TextEncoder().encode(payload) : payload, null);
}

class Recorder extends Extension {
  readonly name: string;
  readonly log: string[];
  claim: RsvBits = { rsv1: false, rsv2: false, rsv3: false };
  headerResult: number | null = null;
  payloadResult: number | null = null;
  completeResult: Uint8Array | number | null = null;
  outboundRsv: RsvBits | null = null;
  throwIn: string | null = null;
  constructor(name: string, log: string[]) {
    super();
    this.name = name;
    this.log = log;
  }
  override enabled(): boolean {
    return true;
  }
  override frameInboundHeader(proto: FrameProtocolView, opcode: Opcode, rsv: RsvBits, length: number): RsvBits | number {
    this.log.push(`${this.name}.header(${proto.client},${opcode},${+rsv.rsv1}${+rsv.rsv2}${+rsv.rsv3},${length})`);
    if (this.throwIn === "header") throw new Error("boom");
    return this.headerResult ?? this.claim;
  }
  override frameInboundPayloadData(_proto: FrameProtocolView, data: Uint8Array): Uint8Array | number {
    this.log.push(`${this.name}.payload(${toHex(data)})`);
    if (this.throwIn === "payload") throw new Error("boom");
    if (this.payloadResult !== null) return this.payloadResult;
    return Uint8Array.from([...data, 0x2d]); // append "-" so the chaining is visible
  }
  override frameInboundComplete(_proto: FrameProtocolView, fin: boolean): Uint8Array | number | null {
    this.log.push(`${this.name}.complete(${fin})`);
    return this.completeResult;
  }
  override frameOutbound(
    proto: FrameProtocolView,
    opcode: Opcode,
    rsv: RsvBits,
    data: Uint8Array,
    fin: boolean,
  ): [RsvBits, Uint8Array] {
    this.log.push(`${this.name}.outbound(${proto.client},${opcode},${+rsv.rsv1}${+rsv.rsv2}${+rsv.rsv3},${toHex(data)},${fin})`);
    return [this.outboundRsv ?? rsv, Uint8Array.from([...data, 0x2b])];
  }
}

t.test("inbound hooks: list order, chained payloads, control frames too, complete appended", async (t) => {
  const log: string[] = [];
  const a = new Recorder("a", log);
  const b = new Recorder("b", log);
  b.completeResult = fromHex("21");
  const p = proto(true, [a, b]);
  p.receiveBytes(frame(0x01, "x"));
  p.receiveBytes(frame(0x89, "p"));
  p.receiveBytes(frame(0x80, "y"));
  t.same(summary(drain(p)), [
    ["text", "x--!", true, false],
    ["Ping", "702d2d21"],
    ["text", "y--!", true, true],
  ]);
  t.same(log.slice(0, 6), [
    "a.header(true,1,000,1)",
    "b.header(true,1,000,1)",
    "a.payload(78)",
    "b.payload(782d)",
    "a.complete(false)",
    "b.complete(false)",
  ]);
  t.same(log.slice(6, 12), [
    "a.header(true,9,000,1)",
    "b.header(true,9,000,1)",
    "a.payload(70)",
    "b.payload(702d)",
    "a.complete(true)",
    "b.complete(true)",
  ]);
});

t.test("complete hook runs when the frame's payload is complete, not per piece", async (t) => {
  const log: string[] = [];
  const a = new Recorder("a", log);
  const p = proto(true, [a]);
  const bytes = frame(0x82, fromHex("010203"));
  p.receiveBytes(bytes.subarray(0, 3));
  drain(p);
  p.receiveBytes(bytes.subarray(3));
  drain(p);
  t.same(log, ["a.header(true,2,000,3)", "a.payload(01)", "a.payload(0203)", "a.complete(true)"]);
});

t.test("RSV bits: claimed by an extension pass, unclaimed fail", async (t) => {
  const log: string[] = [];
  const a = new Recorder("a", log);
  a.claim = { rsv1: true, rsv2: false, rsv3: false };
  const p = proto(true, [a]);
  p.receiveBytes(frame(0xc1, "z"));
  t.same(summary(drain(p)), [["text", "z-", true, true]]);
  p.receiveBytes(frame(0xe1, "z")); // RSV1 + RSV2
  t.same(summary(drain(p)), [["close", 1002, "Reserved bit set unexpectedly", "protocol-error"]]);
  t.same(log.at(-1), "a.header(true,1,110,1)", "the hook saw both bits");
});

t.test("a hook returning a close code fails the connection with it (error in extension)", async (t) => {
  for (const where of ["header", "payload", "complete"] as const) {
    const a = new Recorder("a", []);
    if (where === "header") a.headerResult = 1010;
    if (where === "payload") a.payloadResult = 1007;
    if (where === "complete") a.completeResult = 1003;
    const p = proto(true, [a]);
    p.receiveBytes(frame(0x81, "q"));
    p.receiveBytes(frame(0x81, "r"));
    const code = where === "header" ? 1010 : where === "payload" ? 1007 : 1003;
    t.same(summary(drain(p)), [["close", code, "error in extension", "protocol-error"]], where);
    t.ok(p.finished, `${where}: parser ended`);
  }
});

t.test("a hook returning 1009 (a message too big once decoded) says which limit, in every hook", async (t) => {
  for (const where of ["header", "payload", "complete"] as const) {
    const a = new Recorder("x-squeeze", []);
    if (where === "header") a.headerResult = 1009;
    if (where === "payload") a.payloadResult = 1009;
    if (where === "complete") a.completeResult = 1009;
    const p = proto(true, [a], { maxMessageSize: 4096 });
    p.receiveBytes(frame(0x81, "q"));
    t.same(
      summary(drain(p)),
      [["close", 1009, "Message exceeds maxMessageSize (4096) once decoded by x-squeeze", "protocol-error"]],
      where,
    );
  }
});

t.test("a hook that throws fails the connection with 1011 instead of escaping", async (t) => {
  for (const where of ["header", "payload"]) {
    const a = new Recorder("a", []);
    a.throwIn = where;
    const p = proto(true, [a]);
    p.receiveBytes(frame(0x81, "q"));
    t.same(summary(drain(p)), [["close", 1011, "error in extension: boom", "protocol-error"]], where);
  }
});

t.test("outbound hooks: reverse list order, every frame (control too), RSV into the header", async (t) => {
  const log: string[] = [];
  const a = new Recorder("a", log);
  const b = new Recorder("b", log);
  a.outboundRsv = { rsv1: true, rsv2: false, rsv3: false };
  const p = proto(false, [a, b]);
  const bytes = p.sendData("x", false);
  t.same(log, ["b.outbound(false,1,000,78,false)", "a.outbound(false,1,000,782b,false)"]);
  t.equal(toHex(bytes), "4103782b2b", "RSV1 set, FIN clear, payload transformed twice");
  log.length = 0;
  t.equal(toHex(p.ping(fromHex("70"))), "c903702b2b");
  t.same(log, ["b.outbound(false,9,000,70,true)", "a.outbound(false,9,000,702b,true)"]);
  log.length = 0;
  t.equal(toHex(p.sendData("y", true)), "c003792b2b", "continuation");
  t.equal(log[0], "b.outbound(false,0,000,79,true)");
});

t.test("the view given to hooks carries client and maxMessageSize", async (t) => {
  let seen: FrameProtocolView | undefined;
  class Peek extends Recorder {
    override frameInboundHeader(proto: FrameProtocolView, opcode: Opcode, rsv: RsvBits, length: number): RsvBits | number {
      seen = proto;
      return super.frameInboundHeader(proto, opcode, rsv, length);
    }
  }
  const p = proto(true, [new Peek("p", [])], { maxMessageSize: 1234 });
  p.receiveBytes(frame(0x82, "a"));
  drain(p);
  t.same({ client: seen?.client, maxMessageSize: seen?.maxMessageSize }, { client: true, maxMessageSize: 1234 });
});

t.test("maxFrameSize: refused from the header, before the payload arrives (1009)", async (t) => {
  const p = proto(true, [], { maxFrameSize: 10, maxMessageSize: 100 });
  p.receiveBytes(fromHex("820b")); // 11-byte binary frame, header only
  t.same(summary(drain(p)), [["close", 1009, "Frame payload of 11 bytes exceeds maxFrameSize (10)", "protocol-error"]]);
  const ok = proto(true, [], { maxFrameSize: 10 });
  ok.receiveBytes(frame(0x82, new Uint8Array(10)));
  t.equal(drain(ok).length, 1, "exactly the limit is fine");
});

t.test("maxMessageSize: counted across fragments (1009)", async (t) => {
  const p = proto(true, [], { maxMessageSize: 5 });
  p.receiveBytes(frame(0x01, "abc"));
  p.receiveBytes(frame(0x89, "ping")); // control frames do not count
  p.receiveBytes(frame(0x80, "def"));
  t.same(summary(drain(p)), [
    ["text", "abc", true, false],
    ["Ping", "70696e67"],
    ["close", 1009, "Message of 6 bytes exceeds maxMessageSize (5)", "protocol-error"],
  ]);
  const q = proto(true, [], { maxMessageSize: 6 });
  q.receiveBytes(frame(0x01, "abc"));
  q.receiveBytes(frame(0x80, "def"));
  q.receiveBytes(frame(0x82, "ghijkl")); // a new message starts from zero
  t.same(summary(drain(q)).length, 3);
});

t.test("maxMessageSize: counted after extension transforms", async (t) => {
  const a = new Recorder("a", []); // appends one byte per piece
  const p = proto(true, [a], { maxMessageSize: 4 });
  p.receiveBytes(frame(0x82, "abc")); // 3 bytes on the wire, 4 after the hook: fine
  p.receiveBytes(frame(0x82, "abcd")); // 5 after the hook
  t.same(summary(drain(p)), [
    ["bytes", "6162632d", true, true],
    ["close", 1009, "Message of 5 bytes exceeds maxMessageSize (4)", "protocol-error"],
  ]);
});

t.test("lengths past 2^53 fail with 1009 even without limits", async (t) => {
  const p = proto(true, [], { maxFrameSize: Infinity, maxMessageSize: Infinity });
  p.receiveBytes(fromHex("827f0020000000000000")); // 2^53
  t.same(summary(drain(p)), [["close", 1009, "Frame payload of more than 9007199254740991 bytes", "protocol-error"]]);
  const q = proto(true, [], { maxFrameSize: Infinity, maxMessageSize: Infinity });
  q.receiveBytes(fromHex("827f0000010000000000616263")); // 2^40: streams
  t.same(summary(drain(q)), [["bytes", "616263", false, false]]);
});

t.test("fragmentation rules (RFC 6455 §5.4)", async (t) => {
  const cases: Array<[string, string[], unknown[]]> = [
    ["continuation first", ["800161"], [["close", 1002, "unexpected CONTINUATION", "protocol-error"]]],
    [
      "text during text",
      ["010161", "810162"],
      [
        ["text", "a", true, false],
        ["close", 1002, "expected CONTINUATION, got <Opcode.TEXT: 1>", "protocol-error"],
      ],
    ],
    [
      "binary during text",
      ["010161", "820162"],
      [
        ["text", "a", true, false],
        ["close", 1002, "expected CONTINUATION, got <Opcode.BINARY: 2>", "protocol-error"],
      ],
    ],
    [
      "pings and pongs between fragments",
      ["020161", "8900", "0001 62".replace(" ", ""), "8a0171", "800163"],
      [
        ["bytes", "61", true, false],
        ["Ping", ""],
        ["bytes", "62", true, false],
        ["Pong", "71"],
        ["bytes", "63", true, true],
      ],
    ],
  ];
  for (const [name, hexes, want] of cases) {
    const p = proto(true);
    for (const h of hexes) p.receiveBytes(fromHex(h));
    t.same(summary(drain(p)), want, name);
  }
});

t.test("UTF-8 split across frames and chunks at every byte offset", async (t) => {
  const text = "h\u00e9llo w\u00f6rld \u20ac \u{1d11e}!";
  const utf8 = new TextEncoder().encode(text);
  let bad = 0;
  for (let cut = 0; cut <= utf8.length; cut++) {
    // Two frames split at `cut`, each frame also fed in two chunks.
    const f1 = frame(0x01, utf8.subarray(0, cut));
    const f2 = frame(0x80, utf8.subarray(cut));
    const p = proto(true);
    const received: string[] = [];
    for (const chunk of [f1.subarray(0, 3), f1.subarray(3), f2.subarray(0, 2), f2.subarray(2)]) {
      p.receiveBytes(chunk);
      for (const e of drain(p)) {
        if (e.type !== "TextMessage") bad++;
        else received.push(e.data);
      }
    }
    if (received.join("") !== text) bad++;
  }
  t.equal(bad, 0);
});

t.test("UTF-8 fails fast: an invalid byte fails at once, even in a non-final fragment (1007)", async (t) => {
  const cases: Array<[string, string]> = [
    ["0102c328", "invalid continuation"],
    ["0101ff", "impossible byte"],
    ["0102f490", "beyond U+10FFFF"],
    ["0102e080", "overlong prefix"],
    ["0102eda0", "surrogate prefix"],
  ];
  for (const [hex, why] of cases) {
    const p = proto(true);
    p.receiveBytes(fromHex(hex));
    const events = drain(p);
    t.equal(events.length, 1, why);
    t.match(events[0], { type: "CloseConnection", code: 1007, origin: "protocol-error" }, why);
  }
  // Valid pieces before the bad byte were delivered.
  const p = proto(true);
  p.receiveBytes(fromHex("010461"));
  t.same(summary(drain(p)), [["text", "a", false, false]]);
  p.receiveBytes(fromHex("62ff"));
  t.same(summary(drain(p)), [["close", 1007, "Invalid UTF-8 in TEXT message", "protocol-error"]]);
});

t.test("UTF-8 truncated at the end of the message fails there (1007)", async (t) => {
  const p = proto(true);
  p.receiveBytes(fromHex("0101e2"));
  t.same(summary(drain(p)), [["text", "", true, false]], "a partial sequence waits");
  p.receiveBytes(fromHex("800182"));
  t.same(summary(drain(p)), [["close", 1007, "Invalid UTF-8 in TEXT message", "protocol-error"]]);
});

t.test("a BOM at the start of a text message is data, and the decoder is fresh per message", async (t) => {
  const p = proto(true);
  p.receiveBytes(frame(0x81, fromHex("efbbbf41")));
  p.receiveBytes(frame(0x81, fromHex("efbbbf42")));
  t.same(summary(drain(p)), [
    ["text", "\ufeffA", true, true],
    ["text", "\ufeffB", true, true],
  ]);
});

t.test("binary messages are not UTF-8 checked", async (t) => {
  const p = proto(true);
  p.receiveBytes(frame(0x82, fromHex("fffe")));
  t.same(summary(drain(p)), [["bytes", "fffe", true, true]]);
});

t.test("received close payloads (spec §4.8)", async (t) => {
  const table: Array<[string, unknown]> = [
    ["", [1005, "", "remote"]],
    ["03", [1002, "CLOSE with 1 byte payload", "protocol-error"]],
    ["03e7", [1002, "CLOSE with invalid code", "protocol-error"]],
    ["03e8", [1000, "", "remote"]],
    ["03e8c3a9", [1000, "\u00e9", "remote"]],
    ["03e9", [1001, "", "remote"]],
    ["03ea", [1002, "", "remote"]],
    ["03eb", [1003, "", "remote"]],
    ["03ec", [1002, "CLOSE with unknown reserved code", "protocol-error"]],
    ["03ed", [1002, "remote CLOSE with local-only reason", "protocol-error"]],
    ["03ee", [1002, "remote CLOSE with local-only reason", "protocol-error"]],
    ["03ef", [1007, "", "remote"]],
    ["03f3", [1011, "", "remote"]],
    ["03f5", [1013, "", "remote"]],
    ["03f6", [1002, "CLOSE with unknown reserved code", "protocol-error"]],
    ["03f7", [1002, "remote CLOSE with local-only reason", "protocol-error"]],
    ["03f8", [1002, "CLOSE with unknown reserved code", "protocol-error"]],
    ["0bb7", [1002, "CLOSE with unknown reserved code", "protocol-error"]],
    ["0bb8", [3000, "", "remote"]],
    ["1387", [4999, "", "remote"]],
    ["1388", [1002, "CLOSE with invalid code", "protocol-error"]],
    ["ffff", [1002, "CLOSE with invalid code", "protocol-error"]],
    ["03e8ff", [1007, "Error decoding CLOSE reason: invalid UTF-8", "protocol-error"]],
    ["03e8e282", [1007, "Error decoding CLOSE reason: invalid UTF-8", "protocol-error"]],
  ];
  for (const [hex, want] of table) {
    for (const client of [true, false]) {
      const p = proto(client);
      const payload = fromHex(hex);
      p.receiveBytes(buildFrame(0x88, payload, client ? null : fromHex("0a0b0c0d")));
      p.receiveBytes(frame(0x81, "after")); // never parsed
      const events = drain(p);
      t.same(
        events.map((e) => (e instanceof CloseConnection ? [e.code, e.reason, e.origin] : e.type)),
        [want],
        `${client ? "client" : "server"} close ${hex || "(empty)"}`,
      );
      t.ok(p.finished, "nothing is parsed after a close or an error");
    }
  }
});

t.test("send: opcode from the data type, continuation, type mismatch", async (t) => {
  const p = proto(false);
  t.equal(toHex(p.sendData("a", false)), "010161");
  t.equal(toHex(p.sendData("b", false)), "000162");
  t.throws(() => p.sendData(fromHex("63"), true), { code: "WS_ERR_DATA_TYPE_MISMATCH" });
  t.equal(toHex(p.sendData("c", true)), "800163", "the mismatch changed nothing");
  t.equal(toHex(p.sendData(fromHex("00"), true)), "820100", "a new message");
  t.equal(toHex(p.sendData("", true)), "8100", "empty message");
  for (const bad of [42, null, undefined, {}, new ArrayBuffer(2), [1, 2]]) {
    t.throws(() => p.sendData(bad, true), { code: "WS_ERR_INVALID_DATA_TYPE", message: "Must provide bytes or text" });
  }
});

t.test("send: lone surrogates are refused rather than replaced with U+FFFD", async (t) => {
  const p = proto(false);
  for (const s of ["\ud800", "a\udc00b", "\udbff\ud800", "x\ud83d"]) {
    t.throws(() => p.sendData(s, true), LocalProtocolError, JSON.stringify(s));
    t.throws(() => p.close(1000, s), { code: "WS_ERR_INVALID_UTF16" });
  }
  t.equal(toHex(p.sendData("\ud83d\ude00", true)), "8104f09f9880", "a surrogate pair is fine");
});

t.test("send: control payloads up to 125 bytes; pings and pongs take bytes only", async (t) => {
  const p = proto(false);
  t.equal(p.ping(new Uint8Array(125)).length, 127);
  t.throws(() => p.ping(new Uint8Array(126)), { code: "WS_ERR_CONTROL_PAYLOAD_TOO_LONG" });
  t.throws(() => p.pong(new Uint8Array(126)), { code: "WS_ERR_CONTROL_PAYLOAD_TOO_LONG" });
  t.throws(() => p.ping("hi"), { code: "WS_ERR_INVALID_DATA_TYPE" });
  t.throws(() => p.pong(null), { code: "WS_ERR_INVALID_DATA_TYPE" });
});

t.test("send: close codes a peer may receive, and only those", async (t) => {
  const ok = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 3000, 3999, 4000, 4999];
  const refused = [0, 999, 1004, 1005.5, 1006, 1014, 1015, 1016, 2000, 2999, 5000, 65535, 70000, -1, NaN, Infinity];
  for (const code of ok) t.ok(isSendableCloseCode(code), `${code} sendable`);
  for (const code of refused) t.notOk(isSendableCloseCode(code), `${code} refused`);
  const p = proto(false);
  for (const code of refused) t.throws(() => p.close(code, null), { code: "WS_ERR_INVALID_CLOSE_CODE" }, String(code));
  t.throws(() => p.close("1000", null), { code: "WS_ERR_INVALID_CLOSE_CODE" });
  t.throws(() => p.close(1000, 42), { code: "WS_ERR_INVALID_CLOSE_REASON" });
  t.equal(toHex(p.close(1005, null)), "8800", "1005: no status, empty payload");
  t.equal(toHex(p.close(1005, "")), "8800");
  t.throws(() => p.close(1005, "why"), { code: "WS_ERR_CLOSE_REASON_WITHOUT_CODE" });
  t.equal(toHex(p.close(4000, "")), "88020fa0");
});

t.test("send: the close reason is cut to 123 bytes at a character boundary", async (t) => {
  const p = proto(false);
  for (const [char, size] of [
    ["a", 1],
    ["\u00e9", 2],
    ["\u20ac", 3],
    ["\u{1d11e}", 4],
  ] as const) {
    for (let pad = 0; pad < 4; pad++) {
      const reason = "x".repeat(pad) + char.repeat(200);
      const bytes = p.close(1000, reason);
      const [f] = decodeFrames(bytes);
      const text = new TextDecoder("utf-8", { fatal: true }).decode(f!.payload.subarray(2));
      const expectedLen = pad + Math.floor((123 - pad) / size) * size;
      t.equal(f!.payload.length - 2, expectedLen, `${size}-byte chars after ${pad} pad`);
      t.ok(reason.startsWith(text), "a prefix of the reason");
    }
  }
});

t.test("send: a client masks every frame with the next 4 random bytes; a refused send uses none", async (t) => {
  let drawn = 0;
  const calls: number[] = [];
  const random = (buf: Uint8Array): void => {
    calls.push(buf.length);
    for (let i = 0; i < buf.length; i++) buf[i] = (drawn++ * 7) & 0xff;
  };
  const stream = (from: number): string => toHex(Uint8Array.from({ length: 4 }, (_, i) => ((from + i) * 7) & 0xff));
  const p = new FrameProtocol(true, [], resolveOptions({ random }));
  const f1 = decodeFrames(p.sendData("hi", true))[0]!;
  t.ok(f1.masked);
  t.equal(f1.mask_hex, stream(0), "bytes 0-3 of the random stream");
  t.equal(new TextDecoder().decode(f1.payload), "hi");
  t.throws(() => p.ping(new Uint8Array(200)));
  t.throws(() => p.close(1006, null));
  t.throws(() => p.sendData(7, true));
  const f2 = decodeFrames(p.close(1000, "bye"))[0]!;
  t.equal(f2.mask_hex, stream(4), "refused sends consumed no key: bytes 4-7");
  t.equal(toHex(f2.payload), "03e8627965");
  // Keys are drawn 256 bytes (64 frames) at a time, in stream order.
  for (let i = 2; i < 70; i++) {
    const f = decodeFrames(p.pong(new Uint8Array(0)))[0]!;
    if (f.mask_hex !== stream(i * 4)) t.fail(`frame ${i} key`);
  }
  t.same(calls, [256, 256], "two draws for 70 frames");
  // Large payloads go through the word-at-a-time path.
  const big = Uint8Array.from({ length: 70001 }, (_, i) => (i * 13) & 0xff);
  const f3 = decodeFrames(p.sendData(big, true))[0]!;
  t.equal(toHex(f3.payload), toHex(big));
  t.equal(big[1], 13, "the caller's data is not modified");
});

t.test("after the parser ends, received bytes are dropped, not buffered", async (t) => {
  const p = proto(true);
  p.receiveBytes(fromHex("8300"));
  drain(p);
  t.ok(p.finished);
  p.receiveBytes(new Uint8Array(1 << 20));
  t.same(drain(p), []);
});
