// The conformance harness itself: the raw frame codec against RFC 6455 §5.7's
// examples, the extension-header parser, the node:zlib deflate against RFC
// 7692 §7.2.3's examples, and the whole raw peer + corpus + verdict logic
// against `ws` (which passes Autobahn), so a harness bug cannot pass for a
// bug of ours or hide one.
import t, { type Test } from "tap";
import { CASES, isValidPrefix, kuhnVectors, pmdCount, selectCases } from "./corpus.ts";
import { RawDeflate } from "./raw-deflate.ts";
import { encodeFrame, FrameReader, isValidUtf8, type RawFrame } from "./raw-frame.ts";
import { acceptKey, parseExtensions } from "./raw-handshake.ts";
import { FuzzingServer, runCases, serverTarget, type CaseResult } from "./runner.ts";
import { startWsEchoServer, wsEchoClient } from "./ws-peers.ts";

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ""), "hex");
const KEY = hex("37fa213d");

/** Feed `bytes` whole and split at every offset; every way must give the same frames. */
function readAllWays(bytes: Buffer, expectMasked: boolean): RawFrame[][] {
  const outs: RawFrame[][] = [];
  for (let cut = 0; cut <= bytes.length; cut++) {
    const r = new FrameReader({ expectMasked });
    outs.push([...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))]);
  }
  const bytewise = new FrameReader({ expectMasked });
  outs.push([...bytes].flatMap((b) => bytewise.push(Buffer.from([b]))));
  return outs;
}

t.test("raw frame codec: RFC 6455 §5.7 examples, both directions, split at every offset", async (t) => {
  const fixtures: Array<[string, Parameters<typeof encodeFrame>[0], string]> = [
    ["unmasked text Hello", { opcode: 1, payload: "Hello" }, "810548656c6c6f"],
    ["masked text Hello", { opcode: 1, payload: "Hello", mask: KEY }, "818537fa213d7f9f4d5158"],
    ["fragment Hel", { opcode: 1, payload: "Hel", fin: false }, "010348656c"],
    ["fragment lo", { opcode: 0, payload: "lo" }, "80026c6f"],
    ["unmasked ping Hello", { opcode: 9, payload: "Hello" }, "890548656c6c6f"],
    ["masked pong Hello", { opcode: 10, payload: "Hello", mask: KEY }, "8a8537fa213d7f9f4d5158"],
  ];
  for (const [name, spec, wire] of fixtures) {
    t.equal(encodeFrame(spec).toString("hex"), wire, `encode ${name}`);
    for (const frames of readAllWays(hex(wire), spec.mask !== undefined)) {
      t.equal(frames.length, 1);
      t.equal(frames[0]!.payload.toString(), String(spec.payload));
      t.equal(frames[0]!.opcode, spec.opcode);
      t.equal(frames[0]!.fin, spec.fin ?? true);
    }
  }
  t.equal(encodeFrame({ opcode: 2, payload: Buffer.alloc(256) }).subarray(0, 4).toString("hex"), "827e0100", "256 bytes: 16-bit length");
  t.equal(encodeFrame({ opcode: 2, payload: Buffer.alloc(65536) }).subarray(0, 10).toString("hex"), "827f0000000000010000", "64 KiB: 64-bit length");
  t.equal(encodeFrame({ opcode: 1, payload: "x", lengthEncoding: 16 }).toString("hex"), "817e000178", "forced non-minimal length");
  const big = Buffer.alloc(70_000, 7);
  const masked = encodeFrame({ opcode: 2, payload: big, mask: KEY });
  const r = new FrameReader({ expectMasked: true });
  const frames: RawFrame[] = [];
  for (let i = 0; i < masked.length; i += 999) frames.push(...r.push(masked.subarray(i, i + 999)));
  t.ok(frames.length === 1 && frames[0]!.payload.equals(big), "a 70,000-byte masked frame in 999-byte chunks");
});

t.test("raw frame reader: records the peer's framing faults", async (t) => {
  const cases: Array<[string, string, boolean, RegExp]> = [
    ["reserved opcode", "8300", false, /reserved opcode 3/],
    ["fragmented ping", "0900", false, /fragmented control/],
    ["ping of 126 bytes", "897e007e", false, /control frame with payload length 126/],
    ["RSV1 without an extension", "c100", false, /RSV/],
    ["masked frame from a server", "818037fa213d", false, /masked frame from a server/],
    ["unmasked frame from a client", "8100", true, /unmasked frame from a client/],
    ["non-minimal 16-bit length", "817e0005" + "68656c6c6f", false, /non-minimal 16-bit/],
  ];
  for (const [name, wire, expectMasked, re] of cases) {
    const r = new FrameReader({ expectMasked });
    t.same(r.push(hex(wire)), [], name);
    t.match(r.violation, re, name);
  }
  const r = new FrameReader({ expectMasked: false, allowedRsv: 4 });
  t.equal(r.push(hex("c100")).length, 1, "RSV1 allowed with deflate");
  const p = new FrameReader({ expectMasked: false, allowedRsv: 4 });
  p.push(hex("c900"));
  t.match(p.violation, /RSV1 on opcode 9/);
});

t.test("raw handshake and extension parsing", async (t) => {
  // RFC 6455 §1.3's example key.
  t.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const items = parseExtensions('permessage-deflate; client_max_window_bits; server_max_window_bits="10", x-foo;a=1 , permessage-deflate');
  t.equal(items.length, 3);
  t.same([...items[0]!.params], [["client_max_window_bits", null], ["server_max_window_bits", "10"]]);
  t.same([...items[1]!.params], [["a", "1"]]);
  t.equal(items[2]!.params.size, 0);
  t.same(parseExtensions(null), []);
  t.same(parseExtensions(" , ,"), []);
});

t.test("raw deflate: RFC 7692 §7.2.3 examples and the agreed windows", async (t) => {
  const params = { clientNoContextTakeover: false, serverNoContextTakeover: false, clientMaxWindowBits: 15, serverMaxWindowBits: 15 };
  const server = new RawDeflate("server", params);
  const client = new RawDeflate("client", params);
  t.teardown(() => {
    server.close();
    client.close();
  });
  const first = await server.compress(Buffer.from("Hello"));
  t.equal(first.toString("hex"), "f248cdc9c90700", "§7.2.3.1: Hello");
  const second = await server.compress(Buffer.from("Hello"));
  t.equal(second.toString("hex"), "f200110000", "§7.2.3.2: Hello again, with the context");
  t.equal((await client.decompress(first)).toString(), "Hello");
  t.equal((await client.decompress(second)).toString(), "Hello");
  t.equal((await client.decompress(hex("f248cdc9c90700"))).toString(), "Hello", "§7.2.3.1 from another compressor (context kept)");
  // A peer that promised no context takeover but kept it is caught.
  const strict = new RawDeflate("client", { ...params, serverNoContextTakeover: true });
  const lax = new RawDeflate("server", params);
  await strict.decompress(await lax.compress(Buffer.from("Hello Hello Hello")));
  await t.rejects(strict.decompress(await lax.compress(Buffer.from("Hello Hello Hello"))), "back-reference into a dropped window");
  strict.close();
  lax.close();
});

t.test("corpus shape", async (t) => {
  const autobahn = CASES.filter((c) => !c.extra);
  t.equal(autobahn.length, 517, "Autobahn's 517 cases");
  const count = (prefix: string): number => autobahn.filter((c) => c.id.startsWith(prefix)).length;
  t.same(
    ["1.", "2.", "3.", "4.", "5.", "6.", "7.", "9.", "10.", "12.", "13."].map(count),
    [16, 11, 7, 10, 20, 145, 37, 54, 1, 90, 126],
    "per-section counts as autobahn-cases.md lists them",
  );
  t.equal(new Set(CASES.map((c) => c.id)).size, CASES.length, "ids are unique");
  const vectors = kuhnVectors().flatMap(([, , v]) => v);
  t.equal(vectors.length, 132, "6.5-6.23 hold 132 vectors");
  for (const [valid, bytes] of vectors) t.equal(isValidUtf8(bytes), valid, `${bytes.toString("hex")} ${valid ? "valid" : "invalid"}`);
  t.notOk(isValidPrefix(hex("eda0")), "a surrogate prefix fails at once in the WHATWG decoder");
  t.ok(isValidPrefix(hex("f490").subarray(0, 1)), "F4 alone may still start a valid sequence");
  t.equal(pmdCount(16, true), 1000);
  t.equal(pmdCount(131072, false), 4);
  t.same(selectCases(["6.4.*"]).map((c) => c.id), ["6.4.1", "6.4.2", "6.4.3", "6.4.4"]);
  t.same(selectCases(["12.*.[1234]$"]).length, 20, "Autobahn-style regex tails work");
});

// Sections 1-7 and 10 and a slice of 9, 12 and 13 against ws: everything
// passes except what ws is known to do (UTF-8 checked per message, so the
// fail-fast cases are NON-STRICT).
const BASELINE = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.1.*", "6.2.*", "6.3.*", "6.4.*", "6.5.*", "6.12.*", "6.20.*", "6.22.*", "7.*", "9.7.4", "9.8.4", "10.*", "12.1.[1234]$", "12.2.1[1-2]$", "13.[3567].[12]$"];
const WS_NON_STRICT = new Set(["6.4.1", "6.4.2", "6.4.3", "6.4.4"]);

function checkBaseline(t: Test, results: CaseResult[]): void {
  for (const r of results) {
    const expected = r.id.startsWith("7.1.6") || r.id.startsWith("7.13") ? "INFORMATIONAL" : WS_NON_STRICT.has(r.id) ? "NON-STRICT" : "OK";
    t.equal(r.verdict, expected, `${r.id} ${r.verdict}${r.detail ? `: ${r.detail}` : ""}`);
  }
}

t.test("the raw peer against ws as a server (its Autobahn verdicts)", async (t) => {
  const srv = await startWsEchoServer();
  t.teardown(() => srv.stop());
  const results = await runCases(selectCases(BASELINE, ["*/split"]), serverTarget("127.0.0.1", srv.port), { failFastMs: 300, pmdBudget: 32 * 1024 });
  t.ok(results.length > 150);
  checkBaseline(t, results);
});

t.test("the raw peer against ws as a client (its Autobahn verdicts)", async (t) => {
  const fuzzer = new FuzzingServer(wsEchoClient);
  await fuzzer.listen();
  t.teardown(() => fuzzer.close());
  const results = await runCases(selectCases(BASELINE, ["*/split"]), fuzzer, { failFastMs: 300, pmdBudget: 32 * 1024 });
  checkBaseline(t, results);
});
