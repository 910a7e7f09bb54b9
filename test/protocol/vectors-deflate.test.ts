// Every pmd_* vector of the wsproto 1.2 conformance file, run against
// Connection (receive/send vectors) and serverExtensionsHandshake (the
// negotiation table). Compressed bytes are compared by inflating, with the
// compressed stream of each case inflated as a whole (messages refer back
// into earlier ones). Where the project deliberately does better the recorded
// expectation is patched, and the better behaviour is asserted explicitly.
import t from "tap";
import zlib from "node:zlib";
import {
  checkDeviationsExist,
  decodeFrames,
  findVector,
  fromHex,
  loadVectors,
  runVector,
  toHex,
  type CompareCompressed,
  type Deviation,
  type ExtensionSpec,
  type Json,
  type MakeExtension,
  type TapLike,
} from "../helpers/vectors.ts";
import { PerMessageDeflate } from "../../src/protocol/extensions/permessage-deflate.ts";
import type { PerMessageDeflateOptions } from "../../src/protocol/extensions/pmd-params.ts";
import { pakoCodec } from "../../src/protocol/extensions/pako-codec.ts";
import { serverExtensionsHandshake } from "../../src/protocol/handshake/negotiation.ts";
import { Connection } from "../../src/protocol/frames/connection.ts";
import { BytesMessage, CloseConnection, Ping, TextMessage } from "../../src/protocol/events.ts";
import { ConnectionType } from "../../src/protocol/types.ts";
import type { Extension } from "../../src/protocol/extensions/extension.ts";

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const camel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const options = (init: Json | undefined): PerMessageDeflateOptions => {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(init ?? {})) o[camel(k)] = v;
  return o as PerMessageDeflateOptions;
};

/** PerMessageDeflate from a vector's `{ name, init, finalize?, accept? }`. */
const makePmd: MakeExtension = (spec: ExtensionSpec) => {
  if (spec.name !== "permessage-deflate") throw new Error(`unknown extension ${spec.name}`);
  // wsproto keeps its compressor between messages: the "high" memory preset
  // (the default "medium" compresses each message on its own, see README).
  const ext = new PerMessageDeflate({ memory: "high", ...options(spec.init) }).fork();
  if (spec.finalize !== undefined) ext.finalize(spec.finalize);
  if (spec.accept !== undefined && ext.accept(spec.accept) === null) throw new Error(`declined ${spec.accept}`);
  return ext;
};

const pmdToJson = (ext: Extension): Json =>
  ext instanceof PerMessageDeflate
    ? {
        name: ext.name,
        enabled: ext.enabled(),
        client_max_window_bits: ext.clientMaxWindowBits,
        server_max_window_bits: ext.serverMaxWindowBits,
        client_no_context_takeover: ext.clientNoContextTakeover,
        server_no_context_takeover: ext.serverNoContextTakeover,
      }
    : { name: ext.name, enabled: ext.enabled() };

/** The compressed payloads sent so far in one case (ours and wsproto's), with their tails. */
const streams = new WeakMap<TapLike, { ours: Buffer[]; theirs: Buffer[] }>();
const inflateAll = (parts: Buffer[]): string =>
  toHex(zlib.inflateRawSync(Buffer.concat(parts), { finishFlush: zlib.constants.Z_SYNC_FLUSH }));

/**
 * zlib-dependent sends: the same frame headers and masks, and payloads that
 * inflate to the same bytes given everything sent before in the case. For
 * these short messages pako's output is byte-identical to zlib's, which is
 * asserted too.
 */
const compareCompressed: CompareCompressed = (tt, { expect, actual }) => {
  if (expect.bytes_hex === undefined) throw new Error("a zlib-dependent send without bytes_hex");
  const want = decodeFrames(fromHex(expect.bytes_hex));
  const got = decodeFrames(actual);
  tt.equal(got.length, want.length, "number of frames");
  let state = streams.get(tt);
  if (state === undefined) streams.set(tt, (state = { ours: [], theirs: [] }));
  let compressed = false;
  want.forEach((w, i) => {
    const g = got[i];
    if (g === undefined) return;
    for (const k of ["fin", "rsv1", "rsv2", "rsv3", "opcode", "masked", "mask_hex"] as const) tt.same(g[k], w[k], `frame ${i} ${k}`);
    if (w.opcode >= 8) {
      tt.equal(toHex(g.payload), toHex(w.payload), `frame ${i} control payload`);
      return;
    }
    if (w.rsv1 || w.opcode === 0) compressed = true;
    state.ours.push(Buffer.from(g.payload));
    state.theirs.push(Buffer.from(w.payload));
    if (w.fin) {
      state.ours.push(TAIL);
      state.theirs.push(TAIL);
    }
  });
  if (compressed) tt.equal(inflateAll(state.ours), inflateAll(state.theirs), "the payloads inflate to the same bytes");
  tt.equal(toHex(actual), expect.bytes_hex, "and pako's output is byte-identical to zlib's");
};

/** The 2nd message of pmd_server_window_config_bug, as the client meant it (inflated with a 15-bit window). */
function windowBugSecondMessage(): string {
  const v = findVector("pmd_server_window_config_bug");
  const receives = v.steps!.filter((s) => s.op === "receive").map((s) => decodeFrames(fromHex(s.data_hex!))[0]!.payload);
  const first = zlib.inflateRawSync(Buffer.concat([receives[0]!, TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const both = zlib.inflateRawSync(Buffer.concat([receives[0]!, TAIL, receives[1]!, TAIL]), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  return toHex(both.subarray(first.length));
}

export const PMD_DEVIATIONS: Deviation[] = [
  {
    id: "pmd_interleaved_control_bug",
    why: "a control frame between fragments of a compressed message leaves the rest compressed: the whole message is decompressed",
    patch: (steps) => {
      steps[1]!.expect.events = [
        { type: "TextMessage", data: "", frame_finished: true, message_finished: false },
        { type: "Ping", payload_hex: "70" },
        { type: "TextMessage", data: "Hello world", frame_finished: true, message_finished: true },
      ];
      return steps;
    },
  },
  {
    id: "pmd_server_window_config_bug",
    why: "a server never inflates with a window the handshake did not agree: unannounced, the client's window is 15 bits",
    patch: (steps) => {
      steps[3]!.expect.events = [
        { type: "BytesMessage", data_hex: windowBugSecondMessage(), frame_finished: true, message_finished: true },
      ];
      return steps;
    },
  },
];

const vectors = loadVectors().vectors.filter((v) => v.id.startsWith("pmd_"));

t.test("the permessage-deflate vectors are all here", async (t) => {
  t.same(
    vectors.map((v) => v.id),
    ["pmd_receive", "pmd_send", "pmd_errors", "pmd_interleaved_control_bug", "pmd_server_window_config_bug", "pmd_server_negotiation_table"],
  );
  checkDeviationsExist(t, PMD_DEVIATIONS);
});

for (const vector of vectors.filter((v) => v.setup?.kind !== "function")) {
  t.test(vector.id, async (t) => {
    runVector(t, vector, {
      makeExtension: makePmd,
      extensionToJson: pmdToJson,
      compareCompressed,
      deviations: PMD_DEVIATIONS,
    });
  });
}

t.test("pmd_interleaved_control_bug, fixed: split at every offset, for TEXT and BINARY", async (t) => {
  const wire = fromHex("4100890170800df248cdc9c95728cf2fca490100");
  for (const binary of [false, true]) {
    const bytes = Uint8Array.from(wire);
    if (binary) bytes[0] = 0x42;
    for (let cut = 0; cut <= bytes.length; cut++) {
      const conn = new Connection(ConnectionType.CLIENT, { extensions: [makePmd({ name: "permessage-deflate", finalize: "permessage-deflate" }, "client")] });
      conn.receiveData(bytes.subarray(0, cut));
      const events = [...conn.events()];
      conn.receiveData(bytes.subarray(cut));
      events.push(...conn.events());
      const data = events.filter((e) => e instanceof TextMessage || e instanceof BytesMessage);
      const joined = data.map((e) => (typeof e.data === "string" ? e.data : Buffer.from(e.data).toString())).join("");
      const ok = joined === "Hello world" && events.some((e) => e instanceof Ping) && !events.some((e) => e instanceof CloseConnection);
      if (!ok) t.fail(`${binary ? "binary" : "text"} cut at ${cut}: ${events.map((e) => e.type).join(",")} ${JSON.stringify(joined)}`);
    }
  }
  t.pass("decoded at every split");
});

t.test("pmd_server_window_config_bug, fixed: the second message needs more than the configured 9-bit window", async (t) => {
  const v = findVector("pmd_server_window_config_bug");
  const payloads = v.steps!.filter((s) => s.op === "receive").map((s) => decodeFrames(fromHex(s.data_hex!))[0]!.payload);
  // Inflated message by message (zlib only checks distances against the
  // window across calls), a 9-bit window fails on the second message.
  const nine = pakoCodec.createInflater({ windowBits: 9 });
  t.type(nine.inflate(Buffer.concat([payloads[0]!, TAIL]), Infinity), Uint8Array, "the first message alone is fine");
  t.equal(nine.inflate(Buffer.concat([payloads[1]!, TAIL]), Infinity), "invalid-data", "a 9-bit window cannot decode the second");
  t.ok(windowBugSecondMessage().length > 0);
  // And when the client offered client_max_window_bits, the configured 9 is announced.
  const fork = new PerMessageDeflate({ clientMaxWindowBits: 9 }).fork();
  t.equal(serverExtensionsHandshake(["permessage-deflate; client_max_window_bits"], [fork]), "permessage-deflate; client_max_window_bits=9");
});

// ---- pmd_server_negotiation_table ---------------------------------------------

interface TableDeviation {
  offers: string[];
  init?: Json;
  why: string;
  expect: Json;
}
const disabled = (o: Json = {}): Json => ({
  name: "permessage-deflate",
  enabled: false,
  client_max_window_bits: 15,
  server_max_window_bits: 15,
  client_no_context_takeover: false,
  server_no_context_takeover: false,
  ...o,
});

/** Rows where the project deliberately differs (matched by offers and server_init). */
const TABLE_DEVIATIONS: TableDeviation[] = [
  {
    offers: ["x-webkit-deflate-frame", "permessage-deflate; unknown_param=1"],
    why: "RFC 7692 §7: a server MUST decline an offer with a parameter not defined for offers (wsproto ignores it)",
    expect: { header_value: null, extension_after: disabled() },
  },
  {
    offers: ["permessage-deflate"],
    init: { client_max_window_bits: 9, server_no_context_takeover: true, server_max_window_bits: 10 },
    why: "pmd_server_window_config_bug: the client was not told of 9 bits, so it may use 15 and the server inflates with 15",
    expect: {
      header_value: "permessage-deflate; server_no_context_takeover",
      extension_after: { ...disabled({ enabled: true, server_max_window_bits: 10, server_no_context_takeover: true }) },
    },
  },
  {
    offers: ["permessage-deflate; client_max_window_bits=10"],
    init: { client_max_window_bits: 9 },
    why: "RFC 7692 §7.1.2.2: the server may answer with a smaller value than offered; it answers with its configured 9 (wsproto ignores its configuration and answers 10)",
    expect: {
      header_value: "permessage-deflate; client_max_window_bits=9",
      extension_after: disabled({ enabled: true, client_max_window_bits: 9 }),
    },
  },
  {
    offers: ["permessage-deflate; client_max_window_bits=abc"],
    why: "an invalid value declines the offer (wsproto raises ValueError)",
    expect: { header_value: null, extension_after: disabled() },
  },
];

t.test("pmd_server_negotiation_table", async (t) => {
  const table = findVector("pmd_server_negotiation_table").table!;
  const used = new Set<TableDeviation>();
  for (const [i, row] of table.entries()) {
    const offers = row["offers"] as string[];
    const init = row["server_init"] as Json | undefined;
    const deviation = TABLE_DEVIATIONS.find((d) => JSON.stringify(d.offers) === JSON.stringify(offers) && JSON.stringify(d.init) === JSON.stringify(init));
    let expect = row["expect"] as Json;
    const label = `row ${i}: ${JSON.stringify(offers)}${init ? ` ${JSON.stringify(init)}` : ""}`;
    if (deviation) {
      used.add(deviation);
      t.notSame(deviation.expect, expect, `${label}: deviation (${deviation.why}) changes the recorded expectation`);
      expect = deviation.expect;
    }
    const configured = new PerMessageDeflate(options(init));
    const fork = configured.fork();
    let header: string | null;
    try {
      header = serverExtensionsHandshake(offers, [fork]);
    } catch (e) {
      t.fail(`${label}: threw ${String(e)}`);
      continue;
    }
    t.equal(header, expect["header_value"], `${label}: header value`);
    t.same(pmdToJson(fork), expect["extension_after"], `${label}: extension after`);
    t.equal(configured.enabled(), false, `${label}: the configured extension is untouched`);
  }
  t.equal(used.size, TABLE_DEVIATIONS.length, "every table deviation matched a row");
});
