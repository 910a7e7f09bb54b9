// PerMessageDeflate on its own: options, offer/accept/finalize tables, and
// the frame hooks driven directly (as the frame layer drives them).
import t, { type Test } from "tap";
import zlib from "node:zlib";
import { PerMessageDeflate, SUPPORTED_EXTENSIONS } from "../../../src/protocol/extensions/permessage-deflate.ts";
import type { DeflateCodec, DeflaterOptions, InflaterOptions } from "../../../src/protocol/extensions/deflate-codec.ts";
import { pakoCodec } from "../../../src/protocol/extensions/pako-codec.ts";
import { NO_RSV, type FrameProtocolView, type RsvBits } from "../../../src/protocol/extensions/extension.ts";
import { LocalProtocolError, RemoteProtocolError } from "../../../src/protocol/errors.ts";
import { Opcode } from "../../../src/protocol/types.ts";

const hex = (u: Uint8Array): string => Buffer.from(u).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (u: Uint8Array): string => new TextDecoder().decode(u);
const RSV1: RsvBits = { rsv1: true, rsv2: false, rsv3: false };
const CLIENT: FrameProtocolView = { client: true, maxMessageSize: 64 << 20 };
const SERVER: FrameProtocolView = { client: false, maxMessageSize: 64 << 20 };
const TAIL = Buffer.from([0, 0, 0xff, 0xff]);

function negotiatedClient(response = "permessage-deflate", options = {}): PerMessageDeflate {
  const ext = new PerMessageDeflate(options).fork();
  ext.offer();
  ext.finalize(response);
  return ext;
}
function negotiatedServer(offer = "permessage-deflate", options = {}): PerMessageDeflate {
  const ext = new PerMessageDeflate(options).fork();
  if (ext.accept(offer) === null) throw new Error(`declined ${offer}`);
  return ext;
}

interface Received {
  data: Uint8Array;
  code: number | null;
}
/** Drive the inbound hooks for one frame, as the frame layer does. */
function receiveFrame(
  ext: PerMessageDeflate,
  proto: FrameProtocolView,
  opcode: Opcode,
  rsv: RsvBits,
  payload: Uint8Array,
  fin: boolean,
  chunk = payload.length || 1,
): Received {
  const h = ext.frameInboundHeader(proto, opcode, rsv, payload.length);
  if (typeof h === "number") return { data: new Uint8Array(0), code: h };
  const parts: Uint8Array[] = [];
  for (let at = 0; at < payload.length; at += chunk) {
    const out = ext.frameInboundPayloadData(proto, payload.subarray(at, at + chunk));
    if (typeof out === "number") return { data: new Uint8Array(Buffer.concat(parts)), code: out };
    parts.push(out);
  }
  const end = ext.frameInboundComplete(proto, fin);
  if (typeof end === "number") return { data: new Uint8Array(Buffer.concat(parts)), code: end };
  if (end) parts.push(end);
  return { data: new Uint8Array(Buffer.concat(parts)), code: null };
}
function send(ext: PerMessageDeflate, proto: FrameProtocolView, opcode: Opcode, data: Uint8Array, fin = true): [RsvBits, Uint8Array] {
  return ext.frameOutbound(proto, opcode, NO_RSV, data, fin);
}

/** A codec that records what the extension asks of pako. */
function spyCodec(): DeflateCodec & { deflaters: DeflaterOptions[]; inflaters: InflaterOptions[] } {
  const deflaters: DeflaterOptions[] = [];
  const inflaters: InflaterOptions[] = [];
  return {
    name: "spy",
    deflaters,
    inflaters,
    createDeflater(o) {
      deflaters.push(o);
      return pakoCodec.createDeflater(o);
    },
    createInflater(o) {
      inflaters.push(o);
      return pakoCodec.createInflater(o);
    },
  };
}

function throwsCode(t: Test, fn: () => unknown, cls: typeof LocalProtocolError | typeof RemoteProtocolError, code: string, message: string): void {
  try {
    fn();
    t.fail(`${message}: did not throw`);
  } catch (e) {
    t.ok(e instanceof cls, `${message}: ${cls.name}`);
    t.equal((e as { code?: string }).code, code, `${message}: code ${code}`);
    if (e instanceof RemoteProtocolError) t.equal(e.eventHint, null, `${message}: no event hint`);
  }
}

t.test("options: defaults, validation with LocalProtocolError", async (t) => {
  const ext = new PerMessageDeflate();
  t.equal(ext.name, "permessage-deflate");
  t.equal(ext.clientMaxWindowBits, 15);
  t.equal(ext.serverMaxWindowBits, 15);
  t.equal(ext.clientNoContextTakeover, false);
  t.equal(ext.serverNoContextTakeover, false);
  t.equal(ext.level, 6);
  t.equal(ext.memLevel, 8);
  t.equal(ext.threshold, 0);
  t.equal(ext.codec, pakoCodec);
  t.equal(ext.enabled(), false);
  t.equal(String(ext), "<PerMessageDeflate client_max_window_bits=15; server_max_window_bits=15>");
  t.equal(
    String(new PerMessageDeflate({ clientNoContextTakeover: true, serverNoContextTakeover: true, clientMaxWindowBits: 9, serverMaxWindowBits: null })),
    "<PerMessageDeflate client_max_window_bits=9; client_no_context_takeover; server_max_window_bits=15; server_no_context_takeover>",
  );
  t.equal(new PerMessageDeflate({ clientMaxWindowBits: 8, serverMaxWindowBits: 8 }).serverMaxWindowBits, 8, "8 is a valid configuration");
  const bad: Array<Record<string, unknown>> = [
    { clientMaxWindowBits: 7 },
    { clientMaxWindowBits: 16 },
    { serverMaxWindowBits: 9.5 },
    { serverMaxWindowBits: "10" },
    { clientNoContextTakeover: "yes" },
    { level: 10 },
    { level: -2 },
    { memLevel: 0 },
    { memLevel: 10 },
    { threshold: -1 },
    { threshold: Number.NaN },
  ];
  for (const options of bad) {
    throwsCode(t, () => new PerMessageDeflate(options as never), LocalProtocolError, "WS_ERR_INVALID_OPTION", JSON.stringify(options));
  }
  // wsproto's validated attribute assignment, before negotiation only.
  const assigned = new PerMessageDeflate();
  assigned.clientMaxWindowBits = 10;
  assigned.serverNoContextTakeover = true;
  t.equal(assigned.offer(), "client_max_window_bits=10; server_max_window_bits=15; server_no_context_takeover");
  t.equal(assigned.fork().clientMaxWindowBits, 10, "a fork has the assigned configuration");
  throwsCode(t, () => (assigned.serverMaxWindowBits = 16), LocalProtocolError, "WS_ERR_INVALID_OPTION", "assigning 16");
  t.equal(assigned.serverMaxWindowBits, 15, "a refused assignment changes nothing");
  const agreed = assigned.fork();
  agreed.accept("permessage-deflate");
  throwsCode(t, () => (agreed.clientNoContextTakeover = true), LocalProtocolError, "WS_ERR_PMD_NEGOTIATED", "assigning after negotiation");
  t.equal(SUPPORTED_EXTENSIONS["permessage-deflate"], PerMessageDeflate);
  const Ctor = SUPPORTED_EXTENSIONS["permessage-deflate"]!;
  t.ok(new Ctor() instanceof PerMessageDeflate);
});

t.test("offer(): as wsproto makes it", async (t) => {
  t.equal(new PerMessageDeflate().offer(), "client_max_window_bits=15; server_max_window_bits=15");
  t.equal(
    new PerMessageDeflate({ clientMaxWindowBits: 10, serverMaxWindowBits: 8, clientNoContextTakeover: true, serverNoContextTakeover: true }).offer(),
    "client_max_window_bits=10; server_max_window_bits=8; client_no_context_takeover; server_no_context_takeover",
    "a client may ask the server for 8 bits: it only inflates with them",
  );
  throwsCode(t, () => new PerMessageDeflate({ clientMaxWindowBits: 8 }).offer(), LocalProtocolError, "WS_ERR_PMD_WINDOW_BITS", "a client cannot deflate with 8 bits");
});

t.test("offers are read with the header grammar's tokenizer (quotes, optional whitespace)", async (t) => {
  t.equal(new PerMessageDeflate().fork().accept("permessage-deflate"), "");
  t.equal(
    new PerMessageDeflate().fork().accept(' permessage-deflate ;client_max_window_bits = "10" ;  server_no_context_takeover\t'),
    "server_no_context_takeover; client_max_window_bits=10",
  );
  const p = "permessage-deflate";
  const bits = "client_max_window_bits";
  for (const bad of ["", ";", `${p};`, `${p}; =1`, `${p}; ${bits}=`, `${p}; ${bits}="open`, `${p} y`, `${p}; ${bits} 10`, `${p};; ${bits}`, `${p}; ${bits}=1 0`, `${p}; ${bits}="\\`, `${p}, ${p}`]) {
    t.equal(new PerMessageDeflate().fork().accept(bad), null, JSON.stringify(bad));
  }
  // Not one item, or not valid header syntax: the client fails the connection.
  for (const bad of ["permessage-deflate, permessage-deflate", 'permessage-deflate; server_max_window_bits="1 0"']) {
    t.throws(() => new PerMessageDeflate().fork().finalize(bad), RemoteProtocolError, JSON.stringify(bad));
  }
});

t.test("accept(): the server's choice", async (t) => {
  // [server options, offer, response (null = declined), agreed client bits, agreed server bits, cnct, snct]
  const table: Array<[Record<string, unknown>, string, string | null, number?, number?, boolean?, boolean?]> = [
    [{}, "permessage-deflate", "", 15, 15, false, false],
    [{}, "permessage-deflate; client_max_window_bits", "client_max_window_bits=15", 15, 15],
    [{}, "permessage-deflate; client_max_window_bits=10", "client_max_window_bits=10", 10, 15],
    [{}, 'permessage-deflate; client_max_window_bits="10"', "client_max_window_bits=10", 10, 15],
    [{}, "permessage-deflate; server_max_window_bits=12", "server_max_window_bits=12", 15, 12],
    [{}, "permessage-deflate; server_max_window_bits", "server_max_window_bits=15", 15, 15],
    [{}, "permessage-deflate; client_no_context_takeover", "client_no_context_takeover", 15, 15, true, false],
    [{}, "permessage-deflate; server_no_context_takeover", "server_no_context_takeover", 15, 15, false, true],
    [{}, "permessage-deflate; client_max_window_bits=15; server_max_window_bits=15", "client_max_window_bits=15; server_max_window_bits=15", 15, 15],
    [{}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits", "client_no_context_takeover; server_no_context_takeover; client_max_window_bits=15; server_max_window_bits=10", 15, 10, true, true],
    // Window bits 8: accepted where we only inflate, declined where we deflate.
    [{}, "permessage-deflate; client_max_window_bits=8", "client_max_window_bits=8", 8, 15],
    [{}, "permessage-deflate; server_max_window_bits=8", null],
    [{ serverMaxWindowBits: 8 }, "permessage-deflate", null],
    [{ serverMaxWindowBits: 8 }, "permessage-deflate; server_max_window_bits=12", null],
    // Out of range, malformed, unknown, repeated: declined (RFC 7692 §7).
    [{}, "permessage-deflate; client_max_window_bits=16", null],
    [{}, "permessage-deflate; client_max_window_bits=7", null],
    [{}, "permessage-deflate; client_max_window_bits=09", null],
    [{}, "permessage-deflate; client_max_window_bits=abc", null],
    [{}, "permessage-deflate; server_max_window_bits=1e1", null],
    [{}, "permessage-deflate; unknown_param=1", null],
    [{}, "permessage-deflate; client_no_context_takeover; client_no_context_takeover", null],
    [{}, "permessage-deflate; server_max_window_bits=10; server_max_window_bits=11", null],
    [{}, "permessage-deflate; server_no_context_takeover=1", null],
    [{}, "permessage-deflate; client_max_window_bits=10,", null],
    [{}, "permessage-deflate; x=", null],
    // The server's configuration.
    [{ clientMaxWindowBits: 9, serverNoContextTakeover: true, serverMaxWindowBits: 10 }, "permessage-deflate", "server_no_context_takeover", 15, 10, false, true],
    [{ clientMaxWindowBits: 9 }, "permessage-deflate; client_max_window_bits", "client_max_window_bits=9", 9, 15],
    [{ clientMaxWindowBits: 9 }, "permessage-deflate; client_max_window_bits=10", "client_max_window_bits=9", 9, 15],
    [{ clientMaxWindowBits: 12 }, "permessage-deflate; client_max_window_bits=10", "client_max_window_bits=10", 10, 15],
    [{ serverMaxWindowBits: 10 }, "permessage-deflate; server_max_window_bits=12", "server_max_window_bits=10", 15, 10],
    [{ serverMaxWindowBits: 12 }, "permessage-deflate; server_max_window_bits=10", "server_max_window_bits=10", 15, 10],
    [{ clientNoContextTakeover: true }, "permessage-deflate", "client_no_context_takeover", 15, 15, true, false],
  ];
  for (const [options, offer, response, cBits, sBits, cnct = false, snct = false] of table) {
    const configured = new PerMessageDeflate(options);
    const ext = configured.fork();
    const label = `${JSON.stringify(options)} ${offer}`;
    t.equal(ext.accept(offer), response, label);
    t.equal(ext.enabled(), response !== null, `${label}: enabled`);
    if (response !== null) {
      t.same(
        [ext.clientMaxWindowBits, ext.serverMaxWindowBits, ext.clientNoContextTakeover, ext.serverNoContextTakeover],
        [cBits, sBits, cnct, snct],
        `${label}: agreed parameters`,
      );
    }
    t.equal(configured.enabled(), false, `${label}: the configured object is untouched`);
  }
});

t.test("accept(): several offers; a declined one changes nothing, flags are not sticky", async (t) => {
  const ext = new PerMessageDeflate().fork();
  t.equal(ext.accept("permessage-deflate; client_no_context_takeover; server_max_window_bits=8"), null);
  t.equal(ext.enabled(), false);
  t.equal(ext.accept("permessage-deflate"), "", "the earlier declined offer's flag does not leak into this answer");
  t.equal(ext.clientNoContextTakeover, false);
  t.equal(ext.accept("permessage-deflate; server_max_window_bits=99"), null);
  t.equal(ext.enabled(), true, "a later declined offer leaves the accepted one in force");
  t.equal(ext.accept("permessage-deflate; server_no_context_takeover"), "server_no_context_takeover");
  t.equal(ext.serverNoContextTakeover, true, "a later accepted offer replaces it (wsproto's order)");
});

t.test("fork(): a fresh, unnegotiated copy with the same configuration", async (t) => {
  const codec = spyCodec();
  const configured = new PerMessageDeflate({ clientMaxWindowBits: 11, serverNoContextTakeover: true, level: 1, memLevel: 9, threshold: 10, codec });
  const a = configured.fork();
  const b = a.fork();
  t.not(a, configured);
  t.ok(a instanceof PerMessageDeflate);
  a.accept("permessage-deflate; client_max_window_bits");
  t.equal(a.enabled(), true);
  t.equal(b.enabled(), false, "a fork of a negotiated copy is not negotiated");
  for (const x of [a, b, configured]) {
    t.same([x.level, x.memLevel, x.threshold, x.codec], [1, 9, 10, codec]);
  }
  t.equal(b.clientMaxWindowBits, 11);
  t.equal(configured.enabled(), false);
  class Custom extends PerMessageDeflate {}
  t.ok(new Custom({ level: 2 }).fork() instanceof Custom, "a subclass forks into itself");
  t.equal(new Custom({ level: 2 }).fork().level, 2);
});

t.test("accept(): an offer for another extension is declined", async (t) => {
  t.equal(new PerMessageDeflate().fork().accept("x-webkit-deflate-frame"), null);
  t.equal(new PerMessageDeflate().fork().accept("PerMessage-Deflate"), "", "names compare case-insensitively");
});

t.test("finalize(): the client applies a valid response", async (t) => {
  // [client options, response, agreed client bits, agreed server bits, cnct, snct]
  const table: Array<[Record<string, unknown>, string, number, number, boolean, boolean]> = [
    [{}, "permessage-deflate", 15, 15, false, false],
    [{}, "permessage-deflate; server_no_context_takeover; client_max_window_bits=10", 10, 15, false, true],
    [{}, 'permessage-deflate; client_max_window_bits="12"; server_max_window_bits=9', 12, 9, false, false],
    [{}, "permessage-deflate; server_max_window_bits=8", 15, 8, false, false],
    [{}, "permessage-deflate; client_no_context_takeover", 15, 15, true, false],
    [{ clientMaxWindowBits: 10 }, "permessage-deflate; client_max_window_bits=12", 10, 15, false, false],
    [{ clientMaxWindowBits: 10 }, "permessage-deflate", 10, 15, false, false],
    [{ serverMaxWindowBits: 10 }, "permessage-deflate; server_max_window_bits=10", 15, 10, false, false],
    [{ serverMaxWindowBits: 10 }, "permessage-deflate", 15, 15, false, false],
    [{ clientNoContextTakeover: true }, "permessage-deflate", 15, 15, true, false],
    [{}, "PerMessage-Deflate;Server_No_Context_Takeover", 15, 15, false, true],
  ];
  for (const [options, response, cBits, sBits, cnct, snct] of table) {
    const ext = new PerMessageDeflate(options).fork();
    ext.offer();
    ext.finalize(response);
    t.equal(ext.enabled(), true, response);
    t.same(
      [ext.clientMaxWindowBits, ext.serverMaxWindowBits, ext.clientNoContextTakeover, ext.serverNoContextTakeover],
      [cBits, sBits, cnct, snct],
      `${JSON.stringify(options)} ${response}`,
    );
  }
});

t.test("finalize(): an unacceptable response is a RemoteProtocolError with no hint", async (t) => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{}, "permessage-deflate; unknown=1"],
    [{}, "permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
    [{}, "permessage-deflate; client_no_context_takeover=1"],
    [{}, "permessage-deflate; server_max_window_bits"],
    [{}, "permessage-deflate; server_max_window_bits=16"],
    [{}, "permessage-deflate; server_max_window_bits=010"],
    [{}, "permessage-deflate; client_max_window_bits"],
    [{}, "permessage-deflate; client_max_window_bits=abc"],
    [{}, "permessage-deflate; client_max_window_bits=8"],
    [{ serverMaxWindowBits: 10 }, "permessage-deflate; server_max_window_bits=11"],
    [{}, "permessage-deflate; client_max_window_bits=10 x"],
    [{}, "x-webkit-deflate-frame"],
    [{}, ""],
  ];
  for (const [options, response] of bad) {
    const ext = new PerMessageDeflate(options).fork();
    ext.offer();
    throwsCode(t, () => ext.finalize(response), RemoteProtocolError, "WS_ERR_PMD_NEGOTIATION", JSON.stringify(response));
    t.equal(ext.enabled(), false, `${response}: not enabled`);
  }
  // RFC 7692 §7.1.2.2: a client that did not offer client_max_window_bits
  // must fail when the response carries it.
  class BareOffer extends PerMessageDeflate {
    override offer(): string {
      return "";
    }
  }
  const bare = new BareOffer();
  bare.finalize("permessage-deflate; server_no_context_takeover");
  t.equal(bare.enabled(), true, "a bare offer accepts a plain response");
  throwsCode(t, () => new BareOffer().finalize("permessage-deflate; client_max_window_bits=10"), RemoteProtocolError, "WS_ERR_PMD_NEGOTIATION", "not offered");
});

t.test("inbound: the RFC 7692 §7.2.3 frames, whole and split at every byte", async (t) => {
  for (let chunk = 1; chunk <= 8; chunk++) {
    const ext = negotiatedClient();
    t.same(receiveFrame(ext, CLIENT, Opcode.TEXT, RSV1, unhex("f248cdc9c90700"), true, chunk), { data: utf8("Hello"), code: null });
    t.same(receiveFrame(ext, CLIENT, Opcode.TEXT, RSV1, unhex("f200110000"), true, chunk), { data: utf8("Hello"), code: null }, "shared window");
    // §7.2.3.1 fragmented: "41 03 f2 48 cd" + "80 04 c9 c9 07 00"
    const a = receiveFrame(ext, CLIENT, Opcode.TEXT, RSV1, unhex("f248cd"), false, chunk);
    const b = receiveFrame(ext, CLIENT, Opcode.CONTINUATION, NO_RSV, unhex("c9c90700"), true, chunk);
    t.equal(text(a.data) + text(b.data), "Hello");
    t.same(receiveFrame(ext, CLIENT, Opcode.TEXT, NO_RSV, utf8("Hello"), true, chunk), { data: utf8("Hello"), code: null }, "uncompressed passes");
    t.same(receiveFrame(ext, CLIENT, Opcode.BINARY, RSV1, unhex("0005 00fa ff48 656c 6c6f 00"), true, chunk).data, utf8("Hello"), "stored block");
    t.same(receiveFrame(ext, CLIENT, Opcode.BINARY, RSV1, unhex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"), true, chunk).data, utf8("Hello"), "two blocks");
    t.same(receiveFrame(ext, CLIENT, Opcode.BINARY, RSV1, unhex("f3 48 cd c9 c9 07 00 00"), true, chunk).data, utf8("Hello"), "BFINAL");
    t.same(receiveFrame(ext, CLIENT, Opcode.TEXT, RSV1, unhex("f248cdc9c90700"), true, chunk).data, utf8("Hello"), "after BFINAL");
    t.same(receiveFrame(ext, CLIENT, Opcode.TEXT, RSV1, new Uint8Array(0), true, chunk).data, new Uint8Array(0), "empty compressed message");
  }
});

t.test("inbound: a control frame between compressed fragments (pmd_interleaved_control_bug, fixed)", async (t) => {
  // The vector's bytes: 41 00 | 89 01 70 | 80 0d f248cdc9c95728cf2fca490100
  const ext = negotiatedClient();
  const first = receiveFrame(ext, CLIENT, Opcode.TEXT, RSV1, new Uint8Array(0), false);
  const ping = receiveFrame(ext, CLIENT, Opcode.PING, NO_RSV, unhex("70"), true);
  const last = receiveFrame(ext, CLIENT, Opcode.CONTINUATION, NO_RSV, unhex("f248cdc9c95728cf2fca490100"), true);
  t.same(ping, { data: unhex("70"), code: null }, "the ping payload is untouched");
  t.equal(last.code, null);
  t.equal(text(first.data) + text(last.data), "Hello world", "the whole message is decompressed (wsproto: 1007)");
  // Every control opcode, and several of them.
  const ext2 = negotiatedClient();
  receiveFrame(ext2, CLIENT, Opcode.BINARY, RSV1, unhex("f248"), false);
  receiveFrame(ext2, CLIENT, Opcode.PONG, NO_RSV, new Uint8Array(0), true);
  receiveFrame(ext2, CLIENT, Opcode.PING, NO_RSV, utf8("x"), true);
  const rest = receiveFrame(ext2, CLIENT, Opcode.CONTINUATION, NO_RSV, unhex("cdc9c90700"), true);
  t.equal(text(rest.data), "ello");
  // A close frame's payload passes through untouched too.
  t.same(receiveFrame(ext2, CLIENT, Opcode.CLOSE, NO_RSV, unhex("03e8"), true), { data: unhex("03e8"), code: null });
});

t.test("inbound: RSV1 rules and errors (RFC 7692 §6.1, §7.2.2)", async (t) => {
  const ext = negotiatedClient();
  t.equal(ext.frameInboundHeader(CLIENT, Opcode.PING, RSV1, 0), 1002, "RSV1 on a ping");
  t.equal(ext.frameInboundHeader(CLIENT, Opcode.CLOSE, RSV1, 0), 1002, "RSV1 on a close");
  t.same(ext.frameInboundHeader(CLIENT, Opcode.TEXT, NO_RSV, 1), RSV1, "RSV1 is claimed");
  ext.frameInboundComplete(CLIENT, false);
  t.equal(ext.frameInboundHeader(CLIENT, Opcode.CONTINUATION, RSV1, 1), 1002, "RSV1 on a continuation");
  t.equal(receiveFrame(negotiatedClient(), CLIENT, Opcode.TEXT, RSV1, unhex("7878787878"), true).code, 1007, "garbage");
  t.equal(receiveFrame(negotiatedClient(), CLIENT, Opcode.TEXT, RSV1, unhex("07"), true).code, 1007, "reserved block type");
});

t.test("inbound: maxMessageSize bounds the inflated size across fragments (1009)", async (t) => {
  const payload = zlib.deflateRawSync(Buffer.alloc(100_000), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  const exact: FrameProtocolView = { client: true, maxMessageSize: 100_000 };
  t.equal(receiveFrame(negotiatedClient(), exact, Opcode.BINARY, RSV1, payload, true).data.length, 100_000, "exactly the limit");
  const small: FrameProtocolView = { client: true, maxMessageSize: 99_999 };
  t.equal(receiveFrame(negotiatedClient(), small, Opcode.BINARY, RSV1, payload, true).code, 1009, "one byte over");
  // Split over fragments: the total counts.
  const ext = negotiatedClient();
  const half = payload.length >> 1;
  const a = receiveFrame(ext, small, Opcode.BINARY, RSV1, payload.subarray(0, half), false);
  t.equal(a.code, null);
  const b = receiveFrame(ext, small, Opcode.CONTINUATION, NO_RSV, payload.subarray(half), true);
  t.equal(b.code, 1009, "the second fragment passes the message limit");
  // The count restarts with each message.
  const ext2 = negotiatedClient("permessage-deflate; server_no_context_takeover");
  for (let k = 0; k < 3; k++) t.equal(receiveFrame(ext2, exact, Opcode.BINARY, RSV1, payload, true).code, null, `message ${k}`);
});

t.test("outbound: RSV1 on the first frame only, control frames untouched, context takeover", async (t) => {
  // The "high" memory preset keeps the compressor's history (RFC 7692 §7.2.3.2 bytes).
  const ext = negotiatedServer("permessage-deflate", { memory: "high" });
  const [r1, p1] = send(ext, SERVER, Opcode.TEXT, utf8("Hello"));
  t.same([r1, hex(p1)], [RSV1, "f248cdc9c90700"]);
  t.equal(hex(send(ext, SERVER, Opcode.TEXT, utf8("Hello"))[1]), "f200110000");
  t.equal(hex(send(ext, SERVER, Opcode.TEXT, utf8("Hello"))[1]), "02130000");
  t.equal(hex(send(ext, SERVER, Opcode.BINARY, new Uint8Array(0))[1]), "00");
  const [rp, pp] = send(ext, SERVER, Opcode.PING, unhex("70"));
  t.same([rp, hex(pp)], [NO_RSV, "70"]);
  // Fragmented, with a ping between.
  const f = negotiatedServer();
  const [fr1, fp1] = send(f, SERVER, Opcode.TEXT, utf8("Hel"), false);
  send(f, SERVER, Opcode.PING, utf8("p"));
  const [fr2, fp2] = send(f, SERVER, Opcode.CONTINUATION, utf8("lo"), true);
  t.same([fr1, hex(fp1), fr2, hex(fp2)], [RSV1, "", NO_RSV, "f248cdc9c90700"]);
  // Other RSV bits given by the frame layer are kept.
  const [rx] = negotiatedServer().frameOutbound(SERVER, Opcode.TEXT, { rsv1: false, rsv2: true, rsv3: false }, utf8("x"), true);
  t.same(rx, { rsv1: true, rsv2: true, rsv3: false });
});

t.test("outbound: no context takeover per direction", async (t) => {
  const server = negotiatedServer("permessage-deflate; server_no_context_takeover");
  t.equal(hex(send(server, SERVER, Opcode.TEXT, utf8("Hello"))[1]), "f248cdc9c90700");
  t.equal(hex(send(server, SERVER, Opcode.TEXT, utf8("Hello"))[1]), "f248cdc9c90700", "the server starts afresh");
  const client = negotiatedClient("permessage-deflate; server_no_context_takeover", { memory: "high" });
  send(client, CLIENT, Opcode.TEXT, utf8("Hello"));
  t.equal(hex(send(client, CLIENT, Opcode.TEXT, utf8("Hello"))[1]), "f200110000", "the client keeps its context");
  const client2 = negotiatedClient("permessage-deflate; client_no_context_takeover", { memory: "high" });
  send(client2, CLIENT, Opcode.TEXT, utf8("Hello"));
  t.equal(hex(send(client2, CLIENT, Opcode.TEXT, utf8("Hello"))[1]), "f248cdc9c90700", "the client starts afresh");
  // And inbound: with server_no_context_takeover the client's inflater is
  // reset, so the same self-contained bytes decode every time.
  const rx = negotiatedClient("permessage-deflate; server_no_context_takeover");
  for (let k = 0; k < 3; k++) t.same(receiveFrame(rx, CLIENT, Opcode.TEXT, RSV1, unhex("f248cdc9c90700"), true).data, utf8("Hello"));
});

t.test("memory presets: \"medium\" and \"low\" release the compressor but prime the next one with the history sent", async (t) => {
  for (const memory of ["medium", "low", undefined] as const) {
    const ext = negotiatedServer("permessage-deflate", memory === undefined ? {} : { memory });
    t.equal(ext.memory, memory ?? "medium");
    t.equal(hex(send(ext, SERVER, Opcode.TEXT, utf8("Hello"))[1]), "f248cdc9c90700");
    t.equal(hex(send(ext, SERVER, Opcode.TEXT, utf8("Hello"))[1]), "f200110000", `${memory}: refers back under context takeover`);
    const fresh = negotiatedServer("permessage-deflate; server_no_context_takeover", memory === undefined ? {} : { memory });
    send(fresh, SERVER, Opcode.TEXT, utf8("Hello"));
    t.equal(hex(send(fresh, SERVER, Opcode.TEXT, utf8("Hello"))[1]), "f248cdc9c90700", `${memory}: afresh without it`);
    // An uncompressed message (below the threshold) is not history: the peer never saw it compressed.
    const th = negotiatedServer("permessage-deflate", { threshold: 4, ...(memory === undefined ? {} : { memory }) });
    send(th, SERVER, Opcode.TEXT, utf8("abc"));
    t.equal(hex(send(th, SERVER, Opcode.TEXT, utf8("Hello"))[1]), "f248cdc9c90700", `${memory}: no history from an uncompressed message`);
    // Each is still a valid continuation of one DEFLATE stream for a peer keeping its context.
    const rx = negotiatedClient("permessage-deflate");
    const big = utf8("The quick brown fox jumps over the lazy dog. ".repeat(2000));
    for (let k = 0; k < 3; k++) {
      const [, payload] = send(ext, SERVER, Opcode.BINARY, big);
      t.same(receiveFrame(rx, CLIENT, Opcode.BINARY, RSV1, payload, true).data, big, `${memory}: message ${k} round trip`);
    }
  }
  t.equal(new PerMessageDeflate({ memory: "low" }).memLevel, 5, "low: memLevel 5");
  t.equal(new PerMessageDeflate({ memory: "low", memLevel: 7 }).memLevel, 7, "an explicit memLevel wins");
  t.equal(new PerMessageDeflate().memLevel, 8);
  t.throws(() => new PerMessageDeflate({ memory: "huge" as "high" }), { code: "WS_ERR_INVALID_OPTION" });
  // "low" as a server caps a client's offered window at 12 bits (and a smaller offer stays).
  t.match(negotiatedServer("permessage-deflate; client_max_window_bits", { memory: "low" }).clientMaxWindowBits, 12);
  t.match(negotiatedServer("permessage-deflate; client_max_window_bits=10", { memory: "low" }).clientMaxWindowBits, 10);
  t.match(negotiatedServer("permessage-deflate", { memory: "low" }).clientMaxWindowBits, 15, "not offered: the client may use 15");
});

t.test("every preset's stream inflates with Node's zlib as one context-takeover stream (fragments, sizes around the history)", async (t) => {
  const { nodeZlibCodec } = await import("../../../src/node/zlib.ts");
  for (const codec of [pakoCodec, nodeZlibCodec]) {
    for (const memory of ["high", "medium", "low"] as const) {
      const ext = negotiatedServer("permessage-deflate", { memory, codec });
      const sent: Buffer[] = [];
      const wire: Buffer[] = [];
      let x = 7;
      for (let m = 0; m < 40; m++) {
        x = (x * 1103515245 + 12345) >>> 0;
        const size = [0, 1, 100, 2047, 2048, 2049, 8191, 8192, 8193, 20000][x % 10]!;
        const msg = Buffer.from(Array.from({ length: size }, (_, i) => "abcdefgh ijk"[(i * (m + 3) + (i >> 7)) % 12]!).join(""));
        sent.push(msg);
        // Some messages in three fragments.
        const parts = m % 3 === 0 ? [msg.subarray(0, size >> 2), msg.subarray(size >> 2, size >> 1), msg.subarray(size >> 1)] : [msg];
        parts.forEach((part, k) => {
          const [, payload] = send(ext, SERVER, k === 0 ? Opcode.TEXT : Opcode.CONTINUATION, part, k === parts.length - 1);
          wire.push(Buffer.from(payload));
        });
        wire.push(Buffer.from([0, 0, 0xff, 0xff]));
      }
      const back = zlib.inflateRawSync(Buffer.concat(wire), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      t.ok(back.equals(Buffer.concat(sent)), `${codec.name}, ${memory}`);
    }
  }
});

t.test("pooled compressors shared by interleaved connections: every connection's stream stays valid", async (t) => {
  const { nodeZlibCodec } = await import("../../../src/node/zlib.ts");
  for (const codec of [pakoCodec, nodeZlibCodec]) {
    for (const offer of ["permessage-deflate", "permessage-deflate; server_no_context_takeover"]) {
      // More connections than the pool keeps, sending in a pseudo-random interleaving.
      const conns = Array.from({ length: 7 }, () => ({ ext: negotiatedServer(offer, { codec }), sent: [] as Buffer[], wire: [] as Buffer[] }));
      let x = 11;
      for (let m = 0; m < 120; m++) {
        x = (x * 1103515245 + 12345) >>> 0;
        const c = conns[x % conns.length]!;
        const size = [5, 300, 5000, 9000][(x >>> 8) % 4]!;
        const msg = Buffer.from(Array.from({ length: size }, (_, i) => "lorem ipsum dolor "[(i + m) % 18]!).join(""));
        c.sent.push(msg);
        c.wire.push(Buffer.from(send(c.ext, SERVER, Opcode.TEXT, msg)[1]), Buffer.from([0, 0, 0xff, 0xff]));
      }
      conns.forEach((c, k) => {
        const inflate = (w: Buffer[]): Buffer => zlib.inflateRawSync(Buffer.concat(w), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
        if (offer.includes("no_context")) {
          // Each message on its own.
          for (let j = 0; j < c.sent.length; j++) {
            if (!inflate(c.wire.slice(2 * j, 2 * j + 2)).equals(c.sent[j]!)) t.fail(`${codec.name} conn ${k} message ${j} not self-contained`);
          }
        }
        if (!inflate(c.wire).equals(Buffer.concat(c.sent))) t.fail(`${codec.name} conn ${k} (${offer})`);
      });
      t.pass(`${codec.name}, ${offer}`);
    }
  }
});

t.test("compression state: made on the first compressed message, pooled between messages when not kept", async (t) => {
  // A counting codec per scenario (the pools are per codec object).
  const counting = (): { codec: DeflateCodec; made: { deflaters: number; inflaters: number } } => {
    const made = { deflaters: 0, inflaters: 0 };
    const codec: DeflateCodec = {
      name: "counting",
      createDeflater(options) {
        made.deflaters++;
        return pakoCodec.createDeflater(options);
      },
      createInflater(options) {
        made.inflaters++;
        return pakoCodec.createInflater(options);
      },
    };
    return { codec, made };
  };
  const data = utf8("compress me ".repeat(50));
  {
    // Twenty connections, one message each, one after the other: "medium" allocates at most the pool's four.
    const { codec, made } = counting();
    for (let k = 0; k < 20; k++) {
      const ext = negotiatedServer("permessage-deflate", { codec });
      t.equal(made.deflaters, Math.min(k, 4), "nothing allocated at negotiation");
      send(ext, SERVER, Opcode.TEXT, data);
    }
    t.equal(made.deflaters, 4, "medium: four compressors served twenty connections");
  }
  {
    // Two busy connections alternating keep one each (no reset, no priming).
    const { codec, made } = counting();
    const a = negotiatedServer("permessage-deflate", { codec });
    const b = negotiatedServer("permessage-deflate", { codec });
    for (let k = 0; k < 10; k++) {
      send(a, SERVER, Opcode.TEXT, data);
      send(b, SERVER, Opcode.TEXT, data);
    }
    t.equal(made.deflaters, 2);
  }
  {
    const { codec, made } = counting();
    for (let k = 0; k < 6; k++) send(negotiatedServer("permessage-deflate", { codec, memory: "high" }), SERVER, Opcode.TEXT, data);
    t.equal(made.deflaters, 6, "high: each connection keeps its own");
  }
  {
    // Inbound: under the peer's no context takeover the decompressor is released after each message.
    const { codec, made } = counting();
    const [, payload] = send(negotiatedServer("permessage-deflate"), SERVER, Opcode.TEXT, data);
    for (let k = 0; k < 5; k++) {
      const rx = negotiatedClient("permessage-deflate; server_no_context_takeover", { codec });
      t.same(receiveFrame(rx, CLIENT, Opcode.TEXT, RSV1, payload, true).data, data);
    }
    t.equal(made.inflaters, 1, "one decompressor served five connections");
    // Under context takeover it is kept (the peer may refer back).
    const keep = negotiatedClient("permessage-deflate", { codec });
    receiveFrame(keep, CLIENT, Opcode.TEXT, RSV1, payload, true);
    receiveFrame(keep, CLIENT, Opcode.TEXT, RSV1, payload, true);
    t.equal(made.inflaters, 1, "taken from the pool once, then kept");
  }
});

t.test("outbound: threshold decides before compressing, and the windows stay in step", async (t) => {
  const tx = negotiatedServer("permessage-deflate", { threshold: 16 });
  const rx = negotiatedClient("permessage-deflate");
  const msgs = ["a fairly long message that goes compressed", "short", "a fairly long message that goes compressed", "tiny", "a fairly long message that goes compressed!"];
  for (const m of msgs) {
    const [rsv, payload] = send(tx, SERVER, Opcode.TEXT, utf8(m));
    t.equal(rsv.rsv1, m.length >= 16, `${JSON.stringify(m)}: compressed=${rsv.rsv1}`);
    if (!rsv.rsv1) t.same(payload, utf8(m), "sent as is");
    const got = receiveFrame(rx, CLIENT, Opcode.TEXT, rsv, payload, true);
    t.same([got.code, text(got.data)], [null, m], "the peer decodes it");
  }
  // A small first fragment of a longer message is still compressed: the
  // total is unknown when the first frame goes out.
  const [r1] = send(tx, SERVER, Opcode.BINARY, utf8("ab"), false);
  const [r2] = send(tx, SERVER, Opcode.CONTINUATION, utf8("cd"), true);
  t.same([r1.rsv1, r2.rsv1], [true, false]);
  // With an infinite threshold single frames go out as they are; a
  // fragmented message is still compressed as a whole, and decodes.
  const never = negotiatedServer("permessage-deflate", { threshold: Infinity });
  const peer = negotiatedClient();
  const [s0, sp0] = send(never, SERVER, Opcode.TEXT, utf8("plain text, however long it is"));
  t.same([s0.rsv1, text(sp0)], [false, "plain text, however long it is"]);
  const [u1, up1] = send(never, SERVER, Opcode.BINARY, utf8("ab"), false);
  const [u2, up2] = send(never, SERVER, Opcode.CONTINUATION, utf8("cd"), true);
  t.same([u1.rsv1, u2.rsv1], [true, false]);
  const g1 = receiveFrame(peer, CLIENT, Opcode.BINARY, u1, up1, false);
  const g2 = receiveFrame(peer, CLIENT, Opcode.CONTINUATION, u2, up2, true);
  t.equal(text(g1.data) + text(g2.data), "abcd");
});

t.test("window sizes: the agreed windows are the ones used", async (t) => {
  // Client: deflate with the client window, inflate with the server window.
  const codec = spyCodec();
  const client = new PerMessageDeflate({ codec }).fork();
  client.offer();
  client.finalize("permessage-deflate; client_max_window_bits=10; server_max_window_bits=12");
  send(client, CLIENT, Opcode.TEXT, utf8("x"));
  receiveFrame(client, CLIENT, Opcode.TEXT, RSV1, unhex("f248cdc9c90700"), true);
  t.same(codec.deflaters, [{ windowBits: 10, level: 6, memLevel: 8 }]);
  t.same(codec.inflaters, [{ windowBits: 12 }]);
  // Server: an agreed 8-bit client window is inflated with 9 (zlib-based
  // peers deflate with 9 when asked for 8; a larger window is a superset).
  const codec2 = spyCodec();
  const server = new PerMessageDeflate({ codec: codec2, level: 9, memLevel: 4 }).fork();
  t.equal(server.accept("permessage-deflate; client_max_window_bits=8; server_max_window_bits=11"), "client_max_window_bits=8; server_max_window_bits=11");
  send(server, SERVER, Opcode.TEXT, utf8("x"));
  receiveFrame(server, SERVER, Opcode.TEXT, RSV1, unhex("f248cdc9c90700"), true);
  t.same(codec2.deflaters, [{ windowBits: 11, level: 9, memLevel: 4 }]);
  t.same(codec2.inflaters, [{ windowBits: 9 }]);
  // What Node's zlib sends when asked for an 8-bit window decodes.
  const m1 = Buffer.from("0123456789abcdef".repeat(40));
  const node = zlib.createDeflateRaw({ windowBits: 8 });
  const payloads: Buffer[] = [];
  for (const m of [m1, m1]) {
    const chunks: Buffer[] = [];
    const on = (c: Buffer): void => void chunks.push(c);
    node.on("data", on);
    node.write(m);
    await new Promise<void>((r) => node.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    node.off("data", on);
    payloads.push(Buffer.concat(chunks).subarray(0, -4));
  }
  node.close();
  const server8 = negotiatedServer("permessage-deflate; client_max_window_bits=8");
  for (const p of payloads) t.same(receiveFrame(server8, SERVER, Opcode.BINARY, RSV1, p, true), { data: new Uint8Array(m1), code: null });
});

t.test("pmd_server_window_config_bug, fixed: a server never inflates with a window it did not announce", async (t) => {
  // The server is configured with client_max_window_bits=9 but the client
  // did not offer the parameter: the server cannot constrain the client,
  // announces nothing, and inflates with 15.
  const server = negotiatedServer("permessage-deflate", { clientMaxWindowBits: 9 });
  t.equal(server.clientMaxWindowBits, 15);
  const block = Buffer.from(Array.from({ length: 3000 }, (_, k) => (k * 7919) % 251));
  const stream = zlib.deflateRawSync(Buffer.concat([block, Buffer.from("--"), block.subarray(0, 200)]), { windowBits: 15 });
  // One message carrying back-references ~3000 bytes back.
  const got = receiveFrame(server, SERVER, Opcode.BINARY, RSV1, new Uint8Array(stream), true);
  t.equal(got.code, null);
  t.equal(got.data.length, 3202);
  // And when the client did offer it, the configured value is announced and used.
  const codec = spyCodec();
  const told = new PerMessageDeflate({ clientMaxWindowBits: 9, codec }).fork();
  t.equal(told.accept("permessage-deflate; client_max_window_bits"), "client_max_window_bits=9");
  receiveFrame(told, SERVER, Opcode.TEXT, RSV1, unhex("f248cdc9c90700"), true);
  t.same(codec.inflaters, [{ windowBits: 9 }]);
});

t.test("misuse: hooks before negotiation throw LocalProtocolError", async (t) => {
  const ext = new PerMessageDeflate();
  throwsCode(t, () => ext.frameOutbound(CLIENT, Opcode.TEXT, NO_RSV, utf8("x"), true), LocalProtocolError, "WS_ERR_PMD_NOT_NEGOTIATED", "frameOutbound");
  ext.frameInboundHeader(CLIENT, Opcode.TEXT, RSV1, 1);
  throwsCode(t, () => ext.frameInboundPayloadData(CLIENT, utf8("x")), LocalProtocolError, "WS_ERR_PMD_NOT_NEGOTIATED", "frameInboundPayloadData");
});

t.test("a codec can be dropped in without touching the extension", async (t) => {
  // An 'engine' that stores data uncompressed in stored blocks: proves the
  // extension only talks to the interface.
  let deflaterCalls = 0;
  const stored: DeflateCodec = {
    name: "stored",
    createDeflater: () => ({
      compress(data, fin) {
        deflaterCalls++;
        if (!fin) throw new Error("unused here");
        const out = new Uint8Array(5 + data.length);
        out.set([0x00, data.length & 0xff, data.length >> 8, ~data.length & 0xff, (~data.length >> 8) & 0xff]);
        out.set(data, 5);
        return out;
      },
      reset() {},
    }),
    createInflater: pakoCodec.createInflater,
  };
  const tx = negotiatedServer("permessage-deflate", { codec: stored });
  const rx = negotiatedClient();
  const [rsv, payload] = send(tx, SERVER, Opcode.TEXT, utf8("Hello"));
  t.equal(hex(payload), "000500faff48656c6c6f");
  t.same(receiveFrame(rx, CLIENT, Opcode.TEXT, rsv, payload, true).data, utf8("Hello"));
  t.equal(deflaterCalls, 1);
  t.same(new Uint8Array(zlib.inflateRawSync(Buffer.concat([payload, TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH })), utf8("Hello"));
});

t.test("compress: false leaves a message uncompressed, decided before compressing (context stays in step)", async (t) => {
  const server = negotiatedServer("permessage-deflate");
  const client = negotiatedClient("permessage-deflate");
  const NO_COMPRESS: FrameProtocolView = { ...SERVER, compress: false };
  const big = utf8("hello hello hello hello hello hello");
  // 1: compressed; 2: asked uncompressed (fragmented: the continuation follows the first frame's choice); 3: compressed again.
  const [rsv1, first] = send(server, SERVER, Opcode.TEXT, big);
  t.ok(rsv1.rsv1, "default: compressed");
  const [rsv2, part] = send(server, NO_COMPRESS, Opcode.TEXT, big, false);
  t.notOk(rsv2.rsv1, "compress: false: no RSV1");
  t.same(part, big, "sent as is");
  const [rsv2b, rest] = send(server, SERVER, Opcode.CONTINUATION, big, true);
  t.notOk(rsv2b.rsv1);
  t.same(rest, big, "the continuation stays uncompressed");
  const [rsv3, third] = send(server, SERVER, Opcode.TEXT, big);
  t.ok(rsv3.rsv1, "the next message is compressed again");
  // The peer, using context takeover, inflates the third message with a window that saw only the first.
  t.equal(text(receiveFrame(client, CLIENT, Opcode.TEXT, RSV1, first, true).data), text(big));
  t.equal(text(receiveFrame(client, CLIENT, Opcode.TEXT, NO_RSV, big, false).data), text(big));
  t.equal(text(receiveFrame(client, CLIENT, Opcode.CONTINUATION, NO_RSV, big, true).data), text(big));
  t.equal(text(receiveFrame(client, CLIENT, Opcode.TEXT, RSV1, third, true).data), text(big), "windows in step");
});
