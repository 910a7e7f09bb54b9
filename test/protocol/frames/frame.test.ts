// src/protocol/frames/frame.ts: header layout, length rules, masking, the builder
// and the incremental reader. Wire fixtures are hex strings next to the frame
// they mean, checked both ways (build and parse), parsed whole and split at
// every byte offset, for the role that may receive them (and refused by the
// other role).
import t from "tap";
import {
  FrameReader,
  ParseFailed,
  buildFrame,
  buildFrameHeader,
  buildUnmaskedFrame,
  frameHeaderLength,
  isKnownOpcode,
  xorMask,
  type FramePiece,
  type FrameReaderHooks,
} from "../../../src/protocol/frames/frame.ts";
import { Opcode } from "../../../src/protocol/types.ts";
import { fromHex, toHex } from "../../helpers/vectors.ts";

const NO_HOOKS: FrameReaderHooks = { validateHeader() {}, admitFrame() {} };
/** Hooks that refuse any RSV bit, as a connection without extensions does. */
const STRICT_HOOKS: FrameReaderHooks = {
  validateHeader(_opcode, rsv) {
    if (rsv !== 0) throw new ParseFailed("Reserved bit set unexpectedly");
  },
  admitFrame() {},
};

interface Fixture {
  name: string;
  hex: string;
  firstByte: number; // FIN | RSV | opcode
  payloadHex: string;
  key: string | null; // masking key hex; masked frames are what a server receives
}

const x = (n: number, byte = "78"): string => byte.repeat(n);

const FIXTURES: Fixture[] = [
  // RFC 6455 §5.7 examples.
  { name: "unmasked text Hello", hex: "810548656c6c6f", firstByte: 0x81, payloadHex: "48656c6c6f", key: null },
  {
    name: "masked text Hello",
    hex: "818537fa213d7f9f4d5158",
    firstByte: 0x81,
    payloadHex: "48656c6c6f",
    key: "37fa213d",
  },
  { name: "first fragment Hel", hex: "010348656c", firstByte: 0x01, payloadHex: "48656c", key: null },
  { name: "last fragment lo", hex: "80026c6f", firstByte: 0x80, payloadHex: "6c6f", key: null },
  {
    name: "unmasked ping Hello",
    hex: "890548656c6c6f",
    firstByte: 0x89,
    payloadHex: "48656c6c6f",
    key: null,
  },
  {
    name: "masked pong Hello",
    hex: "8a8537fa213d7f9f4d5158",
    firstByte: 0x8a,
    payloadHex: "48656c6c6f",
    key: "37fa213d",
  },
  { name: "empty binary", hex: "8200", firstByte: 0x82, payloadHex: "", key: null },
  { name: "empty masked close", hex: "888001020304", firstByte: 0x88, payloadHex: "", key: "01020304" },
  { name: "close 1000 bye", hex: "880503e8627965", firstByte: 0x88, payloadHex: "03e8627965", key: null },
  { name: "binary 125 bytes (7-bit length)", hex: "827d" + x(125), firstByte: 0x82, payloadHex: x(125), key: null },
  {
    name: "binary 126 bytes (16-bit length)",
    hex: "827e007e" + x(126),
    firstByte: 0x82,
    payloadHex: x(126),
    key: null,
  },
  {
    name: "binary 65535 bytes (16-bit length)",
    hex: "827effff" + x(65535, "ab"),
    firstByte: 0x82,
    payloadHex: x(65535, "ab"),
    key: null,
  },
  {
    name: "binary 65536 bytes (64-bit length)",
    hex: "827f0000000000010000" + x(65536, "cd"),
    firstByte: 0x82,
    payloadHex: x(65536, "cd"),
    key: null,
  },
  {
    name: "masked binary 300 bytes, key 00010203",
    hex: "82fe012c00010203" + maskHex(x(300, "ab"), "00010203"),
    firstByte: 0x82,
    payloadHex: x(300, "ab"),
    key: "00010203",
  },
];

function maskHex(payloadHex: string, keyHex: string): string {
  const p = fromHex(payloadHex);
  const k = fromHex(keyHex);
  for (let i = 0; i < p.length; i++) p[i] = p[i]! ^ k[i & 3]!;
  return toHex(p);
}

/** Feed `chunks` to a reader and collect every piece (payloads copied). */
function readAll(client: boolean, chunks: Uint8Array[], hooks = STRICT_HOOKS): FramePiece[] {
  const reader = new FrameReader(client, hooks);
  const pieces: FramePiece[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (;;) {
      const piece = {} as FramePiece;
      if (!reader.next(piece)) break;
      pieces.push({ ...piece, payload: piece.payload.slice() });
    }
  }
  return pieces;
}

function joinPayloads(pieces: FramePiece[]): string {
  return pieces.map((p) => toHex(p.payload)).join("");
}

t.test("fixtures build to their bytes", async (t) => {
  for (const f of FIXTURES) {
    const built = buildFrame(f.firstByte, fromHex(f.payloadHex), f.key === null ? null : fromHex(f.key));
    t.equal(toHex(built), f.hex, f.name);
    t.equal(built.length, frameHeaderLength(f.payloadHex.length / 2, f.key !== null) + f.payloadHex.length / 2);
  }
});

t.test("fixtures parse back, whole and split at every offset", async (t) => {
  for (const f of FIXTURES) {
    const client = f.key === null; // unmasked frames go to a client, masked ones to a server
    const len = f.hex.length / 2;
    // Splitting a 64 KiB frame at every offset is slow for little gain: sample those.
    const step = len > 1000 ? 997 : 1;
    let ok = true;
    for (let cut = 0; cut <= len; cut += step) {
      const bytes = fromHex(f.hex);
      const pieces = readAll(client, [bytes.subarray(0, cut), bytes.subarray(cut)]);
      const first = pieces[0];
      if (
        first === undefined ||
        joinPayloads(pieces) !== f.payloadHex ||
        first.opcode !== (f.firstByte & 0x0f) ||
        first.fin !== ((f.firstByte & 0x80) !== 0) ||
        first.rsv !== (f.firstByte & 0x70) ||
        !pieces[pieces.length - 1]!.frameFinished ||
        pieces.slice(0, -1).some((p) => p.frameFinished) ||
        pieces.slice(1).some((p) => p.opcode !== Opcode.CONTINUATION)
      ) {
        ok = false;
        t.fail(`${f.name}: split at ${cut}`);
        break;
      }
    }
    if (ok) t.pass(`${f.name}: parsed at every split`);
    // Byte by byte: one piece per payload byte for data frames, one piece for control frames.
    if (len < 400) {
      const bytes = fromHex(f.hex);
      const chunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
      const pieces = readAll(client, chunks);
      t.equal(joinPayloads(pieces), f.payloadHex, `${f.name}: byte by byte`);
      if ((f.firstByte & 0x08) !== 0) t.equal(pieces.length, 1, `${f.name}: control frame delivered whole`);
    }
  }
});

t.test("fixtures are refused by the other role (RFC 6455 §5.1)", async (t) => {
  for (const f of FIXTURES) {
    const client = f.key !== null;
    t.throws(
      () => readAll(client, [fromHex(f.hex)]),
      { message: client ? "client received unexpected masked frame" : "server received unexpected unmasked frame" },
      f.name,
    );
  }
});

t.test("a piece from one chunk is a view of it; the key phase survives chunk boundaries", async (t) => {
  const hex = FIXTURES.find((f) => f.name.startsWith("masked binary 300"))!.hex;
  const bytes = fromHex(hex);
  const reader = new FrameReader(false, STRICT_HOOKS);
  reader.push(bytes.subarray(0, 8 + 101)); // header + key + 101 payload bytes
  const piece = {} as FramePiece;
  t.ok(reader.next(piece));
  t.equal(piece.payload.buffer, bytes.buffer, "same underlying buffer (no copy)");
  t.equal(piece.payload.byteOffset, 8);
  t.equal(toHex(piece.payload), x(101, "ab"), "unmasked in place");
  t.notOk(piece.frameFinished);
  reader.push(bytes.subarray(8 + 101, 8 + 150));
  reader.push(bytes.subarray(8 + 150)); // two chunks buffered: gathered into one piece
  t.ok(reader.next(piece));
  t.equal(toHex(piece.payload), x(199, "ab"), "phase 101 % 4 = 1 kept across the chunks");
  t.ok(piece.frameFinished);
  t.equal(reader.buffered, 0);
  t.notOk(reader.next(piece), "nothing more");
});

t.test("wholeFramesUpTo: frames up to the limit come out whole from any split, larger ones in pieces; allocate makes gathered payloads", async (t) => {
  const hex = FIXTURES.find((f) => f.name.startsWith("masked binary 300"))!.hex;
  const bytes = fromHex(hex);
  for (const [limit, whole] of [
    [300, true],
    [1 << 20, true],
    [299, false],
  ] as const) {
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const sizes: number[] = [];
      const reader = new FrameReader(false, STRICT_HOOKS, {
        wholeFramesUpTo: limit,
        allocate: (size) => {
          sizes.push(size);
          return new Uint8Array(size);
        },
      });
      const pieces: string[] = [];
      const piece = {} as FramePiece;
      for (const chunk of [bytes.slice(0, cut), bytes.slice(cut)]) {
        reader.push(chunk);
        while (reader.next(piece)) pieces.push(toHex(piece.payload));
      }
      t.equal(pieces.join(""), x(300, "ab"), `limit ${limit}, cut ${cut}: payload`);
      if (whole) {
        t.equal(pieces.length, 1, `limit ${limit}, cut ${cut}: one piece`);
        // Gathered (from two chunks) through allocate, unless it all sat in the second chunk.
        t.same(sizes, cut > 8 ? [300] : [], `limit ${limit}, cut ${cut}: allocations`);
      } else if (cut > 8 && cut < bytes.length) {
        t.equal(pieces.length, 2, `limit ${limit}, cut ${cut}: streamed`);
        t.same(sizes, [], "pieces are views, nothing allocated");
      }
    }
  }
  // The allocator's array is the payload handed out; a wrong one is caller misuse.
  let made: Uint8Array | null = null;
  const reader = new FrameReader(false, STRICT_HOOKS, { wholeFramesUpTo: 300, allocate: (size) => (made = new Uint8Array(size)) });
  reader.push(bytes.slice(0, 100));
  reader.push(bytes.slice(100));
  const piece = {} as FramePiece;
  t.ok(reader.next(piece));
  t.equal(piece.payload, made);
  const bad = new FrameReader(false, STRICT_HOOKS, { wholeFramesUpTo: 300, allocate: (size) => new Uint8Array(size - 1) });
  bad.push(bytes.slice(0, 100));
  bad.push(bytes.slice(100));
  t.throws(() => bad.next(piece), { name: "LocalProtocolError", code: "WS_ERR_INVALID_OPTION" });
  // Without the option the frame streams.
  const streamed = readAll(false, [bytes.slice(0, 50), bytes.slice(50)]);
  t.equal(streamed.length, 2);
  // Text frames stream whatever the limit (UTF-8 errors fail fast), binary
  // continuation frames come out whole, a ping between them too.
  const textFrame = Uint8Array.of(0x01, 0x06, ...new TextEncoder().encode("abcdef")); // TEXT, not FIN
  const binFirst = Uint8Array.of(0x02, 0x04, 1, 2, 3, 4); // BINARY, not FIN
  const ping = Uint8Array.of(0x89, 0x01, 9);
  const binCont = Uint8Array.of(0x80, 0x04, 5, 6, 7, 8); // CONTINUATION, FIN
  const client = (chunks: Uint8Array[]): string[] => {
    const r = new FrameReader(true, NO_HOOKS, { wholeFramesUpTo: 1000 });
    const out: string[] = [];
    for (const c of chunks) {
      r.push(c);
      while (r.next(piece)) out.push(`${piece.opcode}:${toHex(piece.payload)}`);
    }
    return out;
  };
  const split = (b: Uint8Array, at: number): Uint8Array[] => [b.slice(0, at), b.slice(at)];
  t.same(client(split(textFrame, 4)), ["1:6162", "0:63646566"], "text streams");
  t.same(client([...split(binFirst, 3), ...split(ping, 2), ...split(binCont, 4)]), ["2:01020304", "9:09", "0:05060708"], "binary whole");
  t.same(client([...split(textFrame, 8), ...split(binCont, 3)]), ["1:616263646566", "0:05", "0:060708"], "a continuation of text streams");
});

t.test("several frames in one chunk; pieces never cross a frame", async (t) => {
  const hex = "010161" + "890170" + "800162" + "8a00";
  const pieces = readAll(true, [fromHex(hex)]);
  t.same(
    pieces.map((p) => [p.opcode, p.fin, toHex(p.payload), p.frameFinished]),
    [
      [Opcode.TEXT, false, "61", true],
      [Opcode.PING, true, "70", true],
      [Opcode.CONTINUATION, true, "62", true],
      [Opcode.PONG, true, "", true],
    ],
  );
});

t.test("header checks, in wsproto's order (spec §4.1)", async (t) => {
  const cases: Array<[string, boolean, string, string]> = [
    // [hex, client, message, why]
    ["8300", true, "Invalid opcode 0x3", "reserved data opcode"],
    ["8b00", true, "Invalid opcode 0xb", "reserved control opcode, lower-case hex"],
    ["f300", true, "Invalid opcode 0x3", "opcode checked before RSV"],
    ["0900", true, "Invalid attempt to fragment control frame", "control frame with FIN=0"],
    ["097e", true, "Invalid attempt to fragment control frame", "fragmentation checked before length"],
    ["897e", true, "Control frame with payload len > 125", "decided from two bytes"],
    ["88ff", false, "Control frame with payload len > 125", "before the mask check too"],
    ["827e007d", true, "Payload length used 2 bytes when 1 would have sufficed", "16-bit 125"],
    ["827e0000", true, "Payload length used 2 bytes when 1 would have sufficed", "16-bit 0"],
    ["827f000000000000ffff", true, "Payload length used 8 bytes when 2 would have sufficed", "64-bit 65535"],
    ["827f8000000000000000", true, "8-byte payload length with non-zero MSB", "64-bit MSB"],
    ["c100", true, "Reserved bit set unexpectedly", "RSV1"],
    ["a100", true, "Reserved bit set unexpectedly", "RSV2"],
    ["9100", true, "Reserved bit set unexpectedly", "RSV3"],
    ["c180", true, "Reserved bit set unexpectedly", "RSV checked before the mask"],
    ["8180", true, "client received unexpected masked frame", "masked to a client"],
    ["8100", false, "server received unexpected unmasked frame", "unmasked to a server"],
  ];
  for (const [hex, client, message, why] of cases) {
    t.throws(() => readAll(client, [fromHex(hex)]), { message, closeCode: 1002 }, `${why}: ${hex}`);
  }
});

t.test("incomplete headers wait without consuming", async (t) => {
  for (const hex of ["82", "827e", "827e00", "827f00000000000100", "8285", "828501020304"]) {
    const reader = new FrameReader(false, STRICT_HOOKS);
    reader.push(fromHex(hex));
    t.notOk(reader.next({} as FramePiece), `${hex}: needs more`);
  }
  // The 16-bit length arriving in two pieces, then the key in three.
  const pieces = readAll(false, ["82", "fe", "00", "7e", "01", "0203", "04", x(126, "00")].map(fromHex));
  t.equal(joinPayloads(pieces), maskHex(x(126, "00"), "01020304"));
});

t.test("hooks: validateHeader sees opcode, rsv and length before the mask check; admitFrame after", async (t) => {
  const calls: string[] = [];
  const hooks: FrameReaderHooks = {
    validateHeader(opcode, rsv, length) {
      calls.push(`validate ${opcode} ${rsv} ${length}`);
    },
    admitFrame(opcode, length) {
      calls.push(`admit ${opcode} ${length}`);
    },
  };
  readAll(true, [fromHex("c1026869")], hooks);
  t.same(calls, ["validate 1 64 2", "admit 1 2"]);
  calls.length = 0;
  t.throws(() => readAll(true, [fromHex("c1826869")], hooks), { message: "client received unexpected masked frame" });
  t.same(calls, ["validate 1 64 2"], "admitFrame not reached when the mask check fails");
  calls.length = 0;
  // Header split before the key: hooks run exactly once per frame.
  const reader = new FrameReader(false, hooks);
  reader.push(fromHex("8182"));
  t.notOk(reader.next({} as FramePiece));
  reader.push(fromHex("0102"));
  t.notOk(reader.next({} as FramePiece));
  reader.push(fromHex("03046b6b"));
  t.ok(reader.next({} as FramePiece));
  t.same(calls, ["validate 1 0 2", "admit 1 2"]);
});

t.test("64-bit lengths beyond 2^32 and 2^53 reach admitFrame as numbers", async (t) => {
  const seen: number[] = [];
  const hooks: FrameReaderHooks = {
    validateHeader() {},
    admitFrame(_opcode, length) {
      seen.push(length);
    },
  };
  readAll(true, [fromHex("827f0000000100000000")], hooks);
  readAll(true, [fromHex("827f7fffffffffffffff")], hooks);
  t.equal(seen[0], 2 ** 32);
  t.ok(seen[1]! > Number.MAX_SAFE_INTEGER, "a length past 2^53 is visible as such to the owner");
});

t.test("zero-length data frames come out at once, control frames only whole", async (t) => {
  const reader = new FrameReader(true, STRICT_HOOKS);
  const piece = {} as FramePiece;
  reader.push(fromHex("0100"));
  t.ok(reader.next(piece));
  t.equal(piece.payload.length, 0);
  t.ok(piece.frameFinished);
  reader.push(fromHex("8904616263"));
  t.notOk(reader.next(piece), "ping waits for its 4th byte");
  reader.push(fromHex("64"));
  t.ok(reader.next(piece));
  t.equal(toHex(piece.payload), "61626364");
});

t.test("clear() drops everything buffered", async (t) => {
  const reader = new FrameReader(true, STRICT_HOOKS);
  reader.push(fromHex("8102"));
  reader.push(fromHex("61"));
  reader.clear();
  t.equal(reader.buffered, 0);
  t.notOk(reader.next({} as FramePiece));
});

t.test("xorMask matches a byte loop for every length, alignment and phase", async (t) => {
  const key = fromHex("a1b2c3d4");
  let bad = 0;
  for (const len of [0, 1, 3, 4, 5, 31, 32, 33, 63, 64, 65, 100, 257, 1000]) {
    for (let offset = 0; offset < 4; offset++) {
      for (let phase = 0; phase < 4; phase++) {
        const backing = new Uint8Array(len + 8);
        for (let i = 0; i < backing.length; i++) backing[i] = (i * 37 + 11) & 0xff;
        const view = backing.subarray(offset, offset + len);
        const want = Uint8Array.from(view, (b, i) => b ^ key[(phase + i) & 3]!);
        const before = backing.slice();
        xorMask(view, 0, len, key, phase);
        if (toHex(view) !== toHex(want)) bad++;
        // Bytes outside the view are untouched.
        if (toHex(backing.subarray(0, offset)) !== toHex(before.subarray(0, offset))) bad++;
        if (toHex(backing.subarray(offset + len)) !== toHex(before.subarray(offset + len))) bad++;
      }
    }
  }
  t.equal(bad, 0);
  // A sub-range of a buffer, with a phase.
  const buf = new Uint8Array(80).fill(0);
  xorMask(buf, 10, 70, key, 2);
  t.equal(buf[9], 0);
  t.equal(buf[10], key[2]);
  t.equal(buf[11], key[3]);
  t.equal(buf[12], key[0]);
  t.equal(buf[69], key[(2 + 59) & 3]);
  t.equal(buf[70], 0);
});

t.test("masking twice restores the payload (RFC 6455 §5.3 is an involution)", async (t) => {
  const payload = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
  const framed = buildFrame(0x82, payload, fromHex("deadbeef"));
  const body = framed.subarray(8);
  t.notSame(toHex(body), toHex(payload));
  xorMask(body, 0, body.length, fromHex("deadbeef"), 0);
  t.equal(toHex(body), toHex(payload));
  t.equal(toHex(payload.subarray(0, 4)), "00010203", "the caller's payload is not modified");
});

t.test("small helpers", async (t) => {
  t.same(
    [0, 1, 2, 3, 7, 8, 9, 10, 11, 15].map(isKnownOpcode),
    [true, true, true, false, false, true, true, true, false, false],
  );
  t.same(
    [0, 125, 126, 65535, 65536].map((n) => frameHeaderLength(n, false)),
    [2, 2, 4, 4, 10],
  );
  t.equal(frameHeaderLength(65536, true), 14);
  const e = new ParseFailed("x");
  t.equal(e.closeCode, 1002);
  t.equal(new ParseFailed("y", 1009).closeCode, 1009);
});

t.test("built frames stay valid: small ones share a slab without overlapping, and are never written again", async (t) => {
  // Enough frames to fill several 64 KiB slabs, of sizes around the slab limit too.
  const sizes = [0, 1, 2, 3, 4, 5, 7, 8, 16, 17, 31, 32, 33, 125, 126, 1000, 4093, 8180, 8182, 8200, 70000];
  const built: Array<{ frame: Uint8Array; hex: string }> = [];
  for (let round = 0; round < 40; round++) {
    for (const size of sizes) {
      const payload = Uint8Array.from({ length: size }, (_, i) => (i * 31 + round) & 0xff);
      const key = round % 2 === 0 ? null : Uint8Array.of(round, 2, 3, 4);
      const frame = buildFrame(0x82, payload, key);
      built.push({ frame, hex: toHex(frame) });
    }
  }
  let changed = 0;
  for (const { frame, hex } of built) if (toHex(frame) !== hex) changed++;
  t.equal(changed, 0, `${built.length} frames unchanged after building all of them`);
  // Frames cut from one slab never overlap.
  const byBuffer = new Map<ArrayBufferLike, Array<[number, number]>>();
  for (const { frame } of built) {
    const ranges = byBuffer.get(frame.buffer) ?? [];
    ranges.push([frame.byteOffset, frame.byteOffset + frame.byteLength]);
    byBuffer.set(frame.buffer, ranges);
  }
  let overlaps = 0;
  let shared = 0;
  for (const ranges of byBuffer.values()) {
    if (ranges.length > 1) shared++;
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) if (ranges[i]![0] < ranges[i - 1]![1]) overlaps++;
  }
  t.equal(overlaps, 0, "no two frames share a byte");
  t.ok(shared > 0, "small frames share an ArrayBuffer");
  // A large frame has a buffer of its own.
  const large = built.find(({ frame }) => frame.byteLength > 70000)!.frame;
  t.equal(large.byteOffset, 0);
  t.equal(large.buffer.byteLength, large.byteLength);
});

t.test("unmasked frames (short ones copied a word per store): every length 0-300 at every payload alignment", async (t) => {
  let bad = 0;
  for (let len = 0; len <= 300; len++) {
    for (let offset = 0; offset < 4; offset++) {
      const backing = Uint8Array.from({ length: len + 8 }, (_, i) => (i * 37 + len) & 0xff);
      const payload = backing.subarray(offset, offset + len);
      const header = len <= 125 ? [0x82, len] : [0x82, 126, len >> 8, len & 0xff];
      const expected = toHex(Uint8Array.of(...header, ...payload));
      if (toHex(buildUnmaskedFrame(0x82, payload)) !== expected) bad++;
      if (toHex(buildFrame(0x82, payload, null)) !== expected) bad++;
    }
  }
  t.equal(bad, 0);
});

t.test("frames too large for the slab come from allocate when given (masked and unmasked)", async (t) => {
  const payload = Uint8Array.from({ length: 10000 }, (_, i) => i & 0xff);
  const key = Uint8Array.of(1, 2, 3, 4);
  for (const maskKey of [null, key]) {
    const made: Uint8Array[] = [];
    const allocate = (size: number): Uint8Array => {
      const out = new Uint8Array(size).fill(0xee); // not zero-filled, as Buffer.allocUnsafeSlow
      made.push(out);
      return out;
    };
    const frame = buildFrame(0x82, payload, maskKey, allocate);
    t.equal(frame, made[0], "the allocated array is the frame");
    t.equal(toHex(frame), toHex(buildFrame(0x82, payload, maskKey)), "same bytes as without it");
    t.equal(toHex(buildFrame(0x82, payload.subarray(0, 100), maskKey, allocate)).length, (maskKey ? 2 + 4 + 100 : 2 + 100) * 2);
    t.equal(made.length, 1, "small frames still come from the slab");
    t.throws(() => buildFrame(0x82, payload, maskKey, (size) => new Uint8Array(size + 1)), { code: "WS_ERR_INVALID_OPTION" });
  }
});

t.test("buildFrameHeader: the header of an unmasked frame, for a payload written after it", async (t) => {
  for (const len of [0, 5, 125, 126, 300, 65535, 65536, 70000]) {
    const payload = new Uint8Array(len).fill(0x61);
    const whole = buildFrame(0x82, payload, null);
    const header = buildFrameHeader(0x82, len);
    t.equal(toHex(header), toHex(whole.subarray(0, whole.length - len)), `length ${len}`);
  }
  t.equal(toHex(buildFrameHeader(0x02, 2 ** 32 + 5)), "027f0000000100000005", "lengths beyond 2^32");
});
