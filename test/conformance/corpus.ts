/**
 * The conformance corpus: Autobahn|Testsuite's case sections 1-7, 9, 10, 12
 * and 13 (Autobahn's case catalogue), rewritten as
 * scripts for the raw peer, plus a few extra cases the brief asks for
 * (marked `extra`): wrong masking direction, 64-bit lengths with the top bit
 * set, slow 1-byte fragments, and every 6.5-6.23 UTF-8 vector split at every
 * position.
 *
 * Each case says what it sends (its `run` script, which plays the same for
 * either role: the raw peer masks when it is the client), what the endpoint
 * under test must do (`expect`: the ordered list of messages, pings, pongs
 * and timeout markers per verdict label, or a predicate), and how the
 * session must end (`close`, with Autobahn's closedByMe / closeCode /
 * requireClean rules).
 *
 * Timing differs from Autobahn in one way: waits that only matter when the
 * endpoint misbehaves end as soon as the expected thing happens (a close, an
 * echo), so a conforming endpoint runs the corpus in seconds; the fixed
 * pauses that matter (6.4 fail-fast, 5.19) keep their meaning.
 * @module
 */
import { closePayload, OP } from "./raw-frame.ts";
import type { FrameSpec } from "./raw-frame.ts";
import type { ExtensionItem } from "./raw-handshake.ts";
import type { RawPeer, Received } from "./raw-peer.ts";
import { payload, type PayloadName } from "./payloads.ts";

/** A verdict label, as Autobahn names them. */
export type Label = "OK" | "NON-STRICT";

/** What the endpoint must do, in order; or a predicate over the run. */
export type Expectation = Received[] | ((received: Received[], env: CaseEnv) => boolean);

/** How the session must end (Autobahn's `expectedClose`). */
export interface CloseExpectation {
  /** Must the raw peer be the one that starts the close? */
  closedByMe: boolean;
  /** Codes allowed in the endpoint's close frame (no close frame is acceptable too). */
  codes: number[];
  requireClean: boolean;
  /** A wrong-endpoint close fails the case outright (the UTF-8 cases). */
  wrongEndpointFatal?: boolean;
  /** WRONG CODE fails the case outright (the 7.x close cases). */
  wrongCodeFatal?: boolean;
}

/** permessage-deflate negotiation of a case (sections 12 and 13). */
export interface DeflateSetup {
  /** The offer the raw peer makes when it plays the client. */
  clientOffer: string;
  /** How the raw peer answers the endpoint's offers when it plays the server. */
  serverAccept: (offers: ExtensionItem[]) => ExtensionItem | null;
}

/** What a running case may use besides the peer. */
export interface CaseEnv {
  /** The raw peer's role: "client" tests a server, "server" tests a client. */
  readonly role: "client" | "server";
  /** Longest wait for a fail-fast reaction (6.4, the split cases). */
  readonly failFastMs: number;
  /** Autobahn-sized sections 12/13 (1000 messages per case) instead of the budgeted counts. */
  readonly full: boolean;
  /** Bytes per 12/13 case when not `full` (the message count follows, between 4 and `pmdMaxCount`). */
  readonly pmdBudget: number;
  /** Most messages per 12/13 case when not `full`. */
  readonly pmdMaxCount: number;
  /** Problems found by the script itself (bulk cases compare echoes as they come). */
  readonly failures: string[];
  /** Free-form facts for the report (latencies, counts). */
  readonly notes: string[];
  /** Set by bulk scripts once every echo was checked. */
  completed: boolean;
  /** Which connection of a multi-connection case this is (0-based). */
  readonly connection: number;
}

/** One conformance case. */
export interface ConformanceCase {
  /** Autobahn's id ("1.1.1"); extras carry a suffix or a number past Autobahn's. */
  id: string;
  /** The report table it belongs to ("1" ... "13"). */
  group: string;
  /** What is sent and what must be observed. */
  title: string;
  /** Not one of Autobahn's 517 cases. */
  extra?: boolean;
  deflate?: DeflateSetup;
  /** Autobahn's kill_after / case timeout: the longest the case may take when the endpoint misbehaves. */
  timeoutMs: number;
  run(peer: RawPeer, env: CaseEnv): Promise<void>;
  expect: Partial<Record<Label, Expectation>>;
  close: CloseExpectation;
  /** Reported, never judged (7.1.6, 7.13.x). */
  informational?: boolean;
  /** Open several connections (the split cases): run() is called once per connection index. */
  connections?: number;
}

// ---- helpers ---------------------------------------------------------------------------

// Autobahn uses 1 s; a longer bound only costs time when the endpoint misbehaves (and keeps loaded machines from flaking).
const KILL = 10_000;
const NORMAL: CloseExpectation = { closedByMe: true, codes: [1000], requireClean: true };
const fail = (codes = [1002], extra: Partial<CloseExpectation> = {}): CloseExpectation => ({
  closedByMe: false,
  codes,
  requireClean: false,
  ...extra,
});

const text = (s: string | Buffer): Received => ({ kind: "message", binary: false, data: Buffer.from(s) });
const bin = (b: Buffer | string): Received => ({ kind: "message", binary: true, data: Buffer.from(b) });
const pong = (p: string | Buffer = ""): Received => ({ kind: "pong", payload: Buffer.from(p) });
const tmo = (tag: string): Received => ({ kind: "timeout", tag });
const hex = (h: string): Buffer => Buffer.from(h, "hex");
const rep = (pattern: string | number, len: number): Buffer => {
  const out = Buffer.alloc(len);
  if (typeof pattern === "number") return out.fill(pattern);
  return out.fill(pattern, 0, len, "latin1");
};

type Spec = Omit<FrameSpec, "mask">;
const T = (payload: string | Buffer, fin = true, rsv = 0): Spec => ({ opcode: OP.TEXT, payload, fin, rsv });
const B = (payload: string | Buffer, fin = true, rsv = 0): Spec => ({ opcode: OP.BINARY, payload, fin, rsv });
const C = (payload: string | Buffer, fin = true): Spec => ({ opcode: OP.CONTINUATION, payload, fin });
const P = (payload: string | Buffer = "", fin = true): Spec => ({ opcode: OP.PING, payload, fin });
const G = (payload: string | Buffer = "", fin = true): Spec => ({ opcode: OP.PONG, payload, fin });
const X = (code: number | null = 1000, reason: string | Buffer = ""): Spec => ({
  opcode: OP.CLOSE,
  payload: closePayload(code, reason),
});

/** Send frames one after another, each as its own write with the given pacing. */
async function each(peer: RawPeer, frames: Spec[], pacing: { chop?: number; sync?: boolean; delayMs?: number } = {}): Promise<void> {
  for (const f of frames) await peer.sendFrame(f, pacing);
}

/** Autobahn's three ways to put a sequence of frames on the wire. */
type Mode = "one" | "sync" | "chop1";
async function sendAs(peer: RawPeer, frames: Spec[], mode: Mode): Promise<void> {
  if (mode === "one") await peer.sendFrames(frames);
  else if (mode === "sync") await each(peer, frames, { sync: true });
  else await each(peer, frames, { chop: 1, sync: true });
}

const cases: ConformanceCase[] = [];
function add(c: ConformanceCase): void {
  cases.push(c);
}

// ---- 1. Framing ------------------------------------------------------------------------

{
  const lens = [0, 125, 126, 127, 128, 65535, 65536];
  for (const [g, binary] of [[1, false], [2, true]] as const) {
    lens.forEach((len, i) => {
      const payload = binary ? rep(0xfe, len) : rep("*", len);
      add({
        id: `1.${g}.${i + 1}`,
        group: "1",
        title: `${binary ? "binary" : "text"} message, payload length ${len}; expect the echo, then a clean 1000 close`,
        timeoutMs: i < 5 ? KILL : 10_000,
        run: (p) => p.sendFrame(binary ? B(payload) : T(payload)),
        expect: { OK: [binary ? bin(payload) : text(payload)] },
        close: NORMAL,
      });
    });
    const payload = binary ? rep(0xfe, 65536) : rep("*", 65536);
    add({
      id: `1.${g}.8`,
      group: "1",
      title: `${binary ? "binary" : "text"} message of 65536 bytes written in 997-byte chops; expect the echo`,
      timeoutMs: 10_000,
      run: (p) => p.sendFrame(binary ? B(payload) : T(payload), { chop: 997 }),
      expect: { OK: [binary ? bin(payload) : text(payload)] },
      close: NORMAL,
    });
  }
  // Extras: delivery in very small chunks across the length-encoding boundaries.
  const small = rep("*", 127);
  add({
    id: "1.1.9",
    group: "1",
    extra: true,
    title: "text message of 127 bytes written one byte at a time; expect the echo",
    timeoutMs: KILL,
    run: (p) => p.sendFrame(T(small), { chop: 1 }),
    expect: { OK: [text(small)] },
    close: NORMAL,
  });
  const big = Buffer.alloc(65536 + 7);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  add({
    id: "1.2.9",
    group: "1",
    extra: true,
    title: "binary message of 65543 varied bytes (64-bit length) written in 13-byte chops; expect the echo",
    timeoutMs: 10_000,
    run: (p) => p.sendFrame(B(big), { chop: 13 }),
    expect: { OK: [bin(big)] },
    close: NORMAL,
  });
  add({
    id: "1.3.1",
    group: "1",
    extra: true,
    title: "a text frame masked the wrong way for its direction (a client frame unmasked, a server frame masked); expect fail 1002, no echo (RFC 6455 §5.1)",
    timeoutMs: KILL,
    run: (p) => p.sendRaw(wrongMask(p, T("Hello, world!"))),
    expect: { OK: [] },
    close: fail([1002]),
  });
  add({
    id: "1.3.2",
    group: "1",
    extra: true,
    title: "a binary frame whose 64-bit length has the most significant bit set; expect fail 1002 or 1009 (RFC 6455 §5.2)",
    timeoutMs: KILL,
    run: async (p) => {
      const head = Buffer.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 5]);
      await p.sendRaw(p.role === "client" ? Buffer.concat([Buffer.from([head[0]!, 0xff]), head.subarray(2), Buffer.alloc(4), Buffer.from("hello")]) : Buffer.concat([head, Buffer.from("hello")]));
    },
    expect: { OK: [] },
    close: fail([1002, 1009]),
  });
}

/** Encode `spec` masked the wrong way for the raw peer's role. */
function wrongMask(peer: RawPeer, spec: Spec): Buffer {
  const isClient = peer.role === "client";
  const p = typeof spec.payload === "string" ? Buffer.from(spec.payload) : Buffer.from(spec.payload ?? []);
  const head = Buffer.from([(spec.fin === false ? 0 : 0x80) | spec.opcode, p.length | (isClient ? 0 : 0x80)]);
  if (isClient) return Buffer.concat([head, p]);
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const masked = Buffer.from(p.map((b, i) => b ^ key[i & 3]!));
  return Buffer.concat([head, key, masked]);
}

// ---- 2. Pings and pongs ----------------------------------------------------------------

{
  const bin8 = hex("00fffefdfcfb00ff");
  const ping125 = rep(0xfe, 125);
  const ping126 = rep(0xfe, 126);
  const ten = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
  const list: Array<[string, string, (p: RawPeer) => Promise<void>, Received[], CloseExpectation?]> = [
    ["2.1", "ping without payload; expect a pong without payload", (p) => p.sendFrame(P()), [pong()]],
    ["2.2", 'ping "Hello, world!"; expect a pong with the same payload', (p) => p.sendFrame(P("Hello, world!")), [pong("Hello, world!")]],
    ["2.3", "ping with 8 binary bytes 00 ff fe fd fc fb 00 ff; expect the same pong", (p) => p.sendFrame(P(bin8)), [pong(bin8)]],
    ["2.4", "ping with 125 bytes (largest control payload); expect the same pong", (p) => p.sendFrame(P(ping125)), [pong(ping125)]],
    ["2.5", "ping with 126 bytes (too long for a control frame); expect fail 1002, no pong", (p) => p.sendFrame(P(ping126)), [], fail([1002])],
    ["2.6", "ping with 125 bytes written one byte at a time; expect the same pong", (p) => p.sendFrame(P(ping125), { chop: 1 }), [pong(ping125)]],
    ["2.7", "unsolicited pong without payload, then close 1000; expect nothing, a clean 1000 close", (p) => p.sendFrames([G(), X(1000)]), []],
    ["2.8", 'unsolicited pong "unsolicited pong payload", then close 1000; expect nothing', (p) => p.sendFrames([G("unsolicited pong payload"), X(1000)]), []],
    ["2.9", 'unsolicited pong, then ping "ping payload"; expect exactly one pong "ping payload"', (p) => p.sendFrames([G("unsolicited pong payload"), P("ping payload")]), [pong("ping payload")]],
    ["2.10", "10 pings payload-0..9 back to back; expect 10 pongs in order", (p) => p.sendFrames(ten.map((s) => P(s))), ten.map((s) => pong(s))],
    ["2.11", "10 pings payload-0..9, each written one byte at a time; expect 10 pongs in order", (p) => each(p, ten.map((s) => P(s)), { chop: 1, sync: true }), ten.map((s) => pong(s))],
  ];
  for (const [id, title, run, expected, close] of list) {
    add({ id, group: "2", title, timeoutMs: KILL, run, expect: { OK: expected }, close: close ?? NORMAL });
  }
}

// ---- 3. Reserved bits ------------------------------------------------------------------

{
  const hello = "Hello, world!";
  add({
    id: "3.1",
    group: "3",
    title: 'text "Hello, world!" with RSV=1; expect fail 1002, no echo',
    timeoutMs: KILL,
    run: (p) => p.sendFrame(T(hello, true, 1)),
    expect: { OK: [] },
    close: fail(),
  });
  const modes: Array<[string, number, Mode, string]> = [
    ["3.2", 2, "one", "in one write"],
    ["3.3", 3, "sync", "each frame flushed alone"],
    ["3.4", 4, "chop1", "one byte at a time"],
  ];
  for (const [id, rsv, mode, how] of modes) {
    add({
      id,
      group: "3",
      title: `text ok, text with RSV=${rsv}, ping (${how}); OK = echo of the first text then fail 1002 and no pong; NON-STRICT = nothing echoed`,
      timeoutMs: KILL,
      run: (p) => sendAs(p, [T(hello), T(hello, true, rsv), P(hello)], mode),
      expect: { OK: [text(hello)], "NON-STRICT": [] },
      close: fail(),
    });
  }
  add({
    id: "3.5",
    group: "3",
    title: "binary (8 bytes) with RSV=5; expect fail 1002",
    timeoutMs: KILL,
    run: (p) => p.sendFrame(B(hex("00fffefdfcfb00ff"), true, 5)),
    expect: { OK: [] },
    close: fail(),
  });
  add({
    id: "3.6",
    group: "3",
    title: 'binary "Hello, world!" with RSV=6; expect fail 1002',
    timeoutMs: KILL,
    run: (p) => p.sendFrame(B(hello, true, 6)),
    expect: { OK: [] },
    close: fail(),
  });
  add({
    id: "3.7",
    group: "3",
    title: "close (empty) with RSV=7; expect fail 1002",
    timeoutMs: KILL,
    run: (p) => p.sendFrame({ opcode: OP.CLOSE, rsv: 7 }),
    expect: { OK: [] },
    close: fail(),
  });
  add({
    id: "3.8",
    group: "3",
    extra: true,
    title: 'text FIN=0 "fragment1", continuation with RSV=1 "fragment2"; expect fail 1002, no echo',
    timeoutMs: KILL,
    run: (p) => each(p, [T("fragment1", false), { opcode: OP.CONTINUATION, payload: "fragment2", rsv: 4 }], { sync: true }),
    expect: { OK: [] },
    close: fail(),
  });
}

// ---- 4. Opcodes ------------------------------------------------------------------------

for (const [sub, base] of [[1, 3], [2, 11]] as const) {
  const kind = sub === 1 ? "data" : "control";
  add({
    id: `4.${sub}.1`,
    group: "4",
    title: `reserved ${kind} opcode ${base}, empty; expect fail 1002`,
    timeoutMs: KILL,
    run: (p) => p.sendFrame({ opcode: base }),
    expect: { OK: [] },
    close: fail(),
  });
  add({
    id: `4.${sub}.2`,
    group: "4",
    title: `reserved ${kind} opcode ${base + 1} with payload; expect fail 1002`,
    timeoutMs: KILL,
    run: (p) => p.sendFrame({ opcode: base + 1, payload: "reserved opcode payload" }),
    expect: { OK: [] },
    close: fail(),
  });
  const modes: Array<[number, number, string, Mode]> = [
    [3, base + 2, "", "one"],
    [4, base + 3, "reserved opcode payload", "one"],
    [5, base + 4, "reserved opcode payload", "chop1"],
  ];
  for (const [n, opcode, payload, mode] of modes) {
    add({
      id: `4.${sub}.${n}`,
      group: "4",
      title: `text "Hello, world!", reserved opcode ${opcode}${payload ? " with payload" : ""}, ping${mode === "chop1" ? " (one byte at a time)" : ""}; OK = echo then fail 1002, no pong; NON-STRICT = nothing echoed`,
      timeoutMs: KILL,
      run: (p) => sendAs(p, [T("Hello, world!"), { opcode, payload }, P("Hello, world!")], mode),
      expect: { OK: [text("Hello, world!")], "NON-STRICT": [] },
      close: fail(),
    });
  }
}

// ---- 5. Fragmentation ------------------------------------------------------------------

{
  add({
    id: "5.1",
    group: "5",
    title: 'ping FIN=0 "fragment1" + continuation "fragment2"; expect fail 1002 (fragmented control frame)',
    timeoutMs: KILL,
    run: (p) => p.sendFrames([P("fragment1", false), C("fragment2")]),
    expect: { OK: [] },
    close: fail(),
  });
  add({
    id: "5.2",
    group: "5",
    title: 'pong FIN=0 "fragment1" + continuation "fragment2"; expect fail 1002',
    timeoutMs: KILL,
    run: (p) => p.sendFrames([G("fragment1", false), C("fragment2")]),
    expect: { OK: [] },
    close: fail(),
  });
  const modes: Array<[Mode, string]> = [["one", "one write"], ["sync", "each frame flushed alone"], ["chop1", "one byte at a time"]];
  modes.forEach(([mode, how], i) => {
    add({
      id: `5.${3 + i}`,
      group: "5",
      title: `text FIN=0 "fragment1" + continuation "fragment2" (${how}); expect one text "fragment1fragment2"`,
      timeoutMs: KILL,
      run: (p) => sendAs(p, [T("fragment1", false), C("fragment2")], mode),
      expect: { OK: [text("fragment1fragment2")] },
      close: NORMAL,
    });
  });
  modes.forEach(([mode, how], i) => {
    add({
      id: `5.${6 + i}`,
      group: "5",
      title: `text FIN=0, ping "ping payload", continuation FIN=1 (${how}); expect the pong first, then the joined text`,
      timeoutMs: KILL,
      run: (p) => sendAs(p, [T("fragment1", false), P("ping payload"), C("fragment2")], mode),
      expect: { OK: [pong("ping payload"), text("fragment1fragment2")] },
      close: NORMAL,
    });
  });
  for (const [start, fin] of [[9, true], [12, false]] as const) {
    modes.forEach(([mode, how], i) => {
      add({
        id: `5.${start + i}`,
        group: "5",
        title: `continuation FIN=${fin ? 1 : 0} with nothing to continue, then text "Hello, world!" (${how}); expect fail 1002, nothing echoed`,
        timeoutMs: KILL,
        run: (p) => sendAs(p, [C("non-continuation payload", fin), T("Hello, world!")], mode),
        expect: { OK: [] },
        close: fail(),
      });
    });
  }
  add({
    id: "5.15",
    group: "5",
    title: 'text FIN=0 "fragment1", continuation FIN=1 "fragment2", continuation FIN=0 "fragment3" (nothing to continue), text "fragment4"; OK = first message echoed then fail 1002; NON-STRICT = nothing echoed',
    timeoutMs: KILL,
    run: (p) => each(p, [T("fragment1", false), C("fragment2"), C("fragment3", false), T("fragment4")], { sync: true }),
    expect: { OK: [text("fragment1fragment2")], "NON-STRICT": [] },
    close: fail(),
  });
  add({
    id: "5.16",
    group: "5",
    title: "twice: continuation FIN=0, text FIN=0, continuation FIN=1; expect fail 1002",
    timeoutMs: KILL,
    run: (p) => each(p, [C("fragment1", false), T("fragment2", false), C("fragment3"), C("fragment1", false), T("fragment2", false), C("fragment3")], { sync: true }),
    expect: { OK: [] },
    close: fail(),
  });
  add({
    id: "5.17",
    group: "5",
    title: "twice: continuation FIN=1, text FIN=0, continuation FIN=1; expect fail 1002",
    timeoutMs: KILL,
    run: (p) => each(p, [C("fragment1"), T("fragment2", false), C("fragment3"), C("fragment1"), T("fragment2", false), C("fragment3")], { sync: true }),
    expect: { OK: [] },
    close: fail(),
  });
  add({
    id: "5.18",
    group: "5",
    title: 'text FIN=0 "fragment1", then text FIN=1 "fragment2" (a new message mid-message); expect fail 1002',
    timeoutMs: KILL,
    run: (p) => each(p, [T("fragment1", false), T("fragment2")], { sync: true }),
    expect: { OK: [] },
    close: fail(),
  });
  for (const [id, sync] of [["5.19", false], ["5.20", true]] as const) {
    add({
      id,
      group: "5",
      title: `text FIN=0, continuation, ping "pongme 1!", pause, continuation x2, ping "pongme 2!", last continuation${sync ? " (each frame flushed alone)" : ""}; expect pong 1 before the message ends, pong 2, then "fragment1..5"`,
      timeoutMs: KILL,
      run: async (p) => {
        const pacing = sync ? { sync: true } : {};
        await each(p, [T("fragment1", false), C("fragment2", false), P("pongme 1!")], pacing);
        // Autobahn pauses 1 s here; the pong must come while the message is still open.
        await p.waitFor(() => p.received.length >= 1, 1000);
        await each(p, [C("fragment3", false), C("fragment4", false), P("pongme 2!"), C("fragment5")], pacing);
      },
      expect: { OK: [pong("pongme 1!"), pong("pongme 2!"), text("fragment1fragment2fragment3fragment4fragment5")] },
      close: NORMAL,
    });
  }
  // Extras: fragments from 1 byte up, sent slowly, with control frames between them.
  const hello = "Hello, fragmented world!";
  add({
    id: "5.21",
    group: "5",
    extra: true,
    title: `text "${hello}" in 1-byte fragments, one every 2 ms; expect the joined text`,
    timeoutMs: KILL,
    run: async (p) => {
      const b = Buffer.from(hello);
      const frames = [...b].map((byte, i) => (i === 0 ? T(Buffer.from([byte]), false) : C(Buffer.from([byte]), i === b.length - 1)));
      await each(p, frames, { delayMs: 2 });
    },
    expect: { OK: [text(hello)] },
    close: NORMAL,
  });
  const growing = Buffer.alloc(1000);
  for (let i = 0; i < growing.length; i++) growing[i] = (i * 7 + 3) & 0xff;
  add({
    id: "5.22",
    group: "5",
    extra: true,
    title: "binary message of 1000 bytes in fragments of 1, 2, 3, ... bytes, one every 1 ms; expect the joined message",
    timeoutMs: 10_000,
    run: async (p) => {
      const frames: Spec[] = [];
      for (let off = 0, size = 1; off < growing.length; off += size, size++) {
        const end = Math.min(growing.length, off + size);
        frames.push(off === 0 ? B(growing.subarray(off, end), false) : C(growing.subarray(off, end), end === growing.length));
      }
      await each(p, frames, { delayMs: 1 });
    },
    expect: { OK: [bin(growing)] },
    close: NORMAL,
  });
  const kosme = Buffer.from("κόσμε ".repeat(8));
  add({
    id: "5.23",
    group: "5",
    extra: true,
    title: "multi-byte text split into fragments of 1..7 bytes (ending inside code points), a ping after every third, written one byte at a time with pauses; expect the pongs in order and the text",
    timeoutMs: 10_000,
    run: async (p) => {
      let off = 0;
      let n = 0;
      while (off < kosme.length) {
        const size = (n % 7) + 1;
        const end = Math.min(kosme.length, off + size);
        const chunk = kosme.subarray(off, end);
        await p.sendFrame(off === 0 ? T(chunk, false) : C(chunk, end === kosme.length), { chop: 1, delayMs: 1 });
        if (n % 3 === 2 && end < kosme.length) await p.sendFrame(P(`ping ${n}`), { sync: true });
        off = end;
        n++;
      }
    },
    expect: {
      OK: (() => {
        const out: Received[] = [];
        let off = 0;
        let n = 0;
        while (off < kosme.length) {
          const end = Math.min(kosme.length, off + (n % 7) + 1);
          if (n % 3 === 2 && end < kosme.length) out.push(pong(`ping ${n}`));
          off = end;
          n++;
        }
        out.push(text(kosme));
        return out;
      })(),
    },
    close: NORMAL,
  });
  add({
    id: "5.24",
    group: "5",
    extra: true,
    title: "binary message of 3 empty fragments and one 1-byte fragment with a pong between; expect the 1-byte message",
    timeoutMs: KILL,
    run: (p) => each(p, [B("", false), C("", false), G("x"), C("", false), C(hex("ab"))], { sync: true }),
    expect: { OK: [bin(hex("ab"))] },
    close: NORMAL,
  });
}

// ---- 6. UTF-8 handling -----------------------------------------------------------------

const UTF8_FAIL = (): CloseExpectation => fail([1007], { wrongEndpointFatal: true });
const KOSME = hex("cebae1bdb9cf83cebcceb5");

{
  add({ id: "6.1.1", group: "6", title: "empty text message; expect the echo", timeoutMs: KILL, run: (p) => p.sendFrame(T("")), expect: { OK: [text("")] }, close: NORMAL });
  add({
    id: "6.1.2",
    group: "6",
    title: "text message in three empty fragments; expect an empty echo",
    timeoutMs: KILL,
    run: (p) => p.sendFrames([T("", false), C("", false), C("")]),
    expect: { OK: [text("")] },
    close: NORMAL,
  });
  add({
    id: "6.1.3",
    group: "6",
    title: 'text: empty fragment, "middle frame payload", empty fragment; expect "middle frame payload"',
    timeoutMs: KILL,
    run: (p) => p.sendFrames([T("", false), C("middle frame payload", false), C("")]),
    expect: { OK: [text("middle frame payload")] },
    close: NORMAL,
  });
  const greeting = Buffer.from("Hello-µ@ßöäüàá-UTF-8!!");
  const bytewise = (b: Buffer): Spec[] => [...b].map((x, i) => (i === 0 ? T(Buffer.from([x]), b.length === 1) : C(Buffer.from([x]), i === b.length - 1)));
  add({ id: "6.2.1", group: "6", title: "valid multi-byte text in one frame; expect the echo", timeoutMs: KILL, run: (p) => p.sendFrame(T(greeting)), expect: { OK: [text(greeting)] }, close: NORMAL });
  add({
    id: "6.2.2",
    group: "6",
    title: "valid multi-byte text in two fragments split on a code point boundary; expect the echo",
    timeoutMs: KILL,
    run: (p) => each(p, [T(greeting.subarray(0, 12), false), C(greeting.subarray(12))], { sync: true }),
    expect: { OK: [text(greeting)] },
    close: NORMAL,
  });
  add({
    id: "6.2.3",
    group: "6",
    title: "valid multi-byte text one byte per frame (frames end inside code points); expect the echo",
    timeoutMs: KILL,
    run: (p) => p.sendFrames(bytewise(greeting)),
    expect: { OK: [text(greeting)] },
    close: NORMAL,
  });
  add({
    id: "6.2.4",
    group: "6",
    title: "κόσμε one byte per frame; expect the echo",
    timeoutMs: KILL,
    run: (p) => p.sendFrames(bytewise(KOSME)),
    expect: { OK: [text(KOSME)] },
    close: NORMAL,
  });
  const bad = Buffer.concat([KOSME, hex("eda080"), Buffer.from("edited")]);
  add({ id: "6.3.1", group: "6", title: "κόσμε + ED A0 80 (a surrogate) + edited in one frame; expect fail 1007", timeoutMs: KILL, run: (p) => p.sendFrame(T(bad)), expect: { OK: [] }, close: UTF8_FAIL() });
  add({ id: "6.3.2", group: "6", title: "the same, one byte per frame; expect fail 1007", timeoutMs: KILL, run: (p) => p.sendFrames(bytewise(bad)), expect: { OK: [] }, close: UTF8_FAIL() });

  // 6.4 fail-fast: the bad byte arrives mid-message; the close must come before the rest is sent.
  const parts41 = [KOSME, hex("f4908080"), Buffer.from("edited")];
  const parts42 = [Buffer.concat([KOSME, hex("f4")]), hex("90"), Buffer.concat([hex("8080"), Buffer.from("edited")])];
  const failFast = (parts: Buffer[], oneFrame: boolean) => async (p: RawPeer, env: CaseEnv): Promise<void> => {
    const [a, b, c] = parts as [Buffer, Buffer, Buffer];
    let pieces: Buffer[];
    if (oneFrame) {
      const frame = encodeForPeer(p, T(Buffer.concat([a, b, c])));
      const head = frame.length - a.length - b.length - c.length;
      pieces = [frame.subarray(0, head + a.length), frame.subarray(head + a.length, head + a.length + b.length), frame.subarray(head + a.length + b.length)];
    } else {
      pieces = [encodeForPeer(p, T(a, false)), encodeForPeer(p, C(b, false)), encodeForPeer(p, C(c))];
    }
    await p.sendRaw(pieces[0]!);
    // The valid first part must not fail the connection ("timeout A").
    await p.timeout("A", 100);
    if (!p.isOpen) return;
    const sentBad = Date.now();
    await p.sendRaw(pieces[1]!);
    await p.timeout("B", env.failFastMs);
    const closedAt = p.closeReceived?.at ?? p.tcpClosedAt;
    if (closedAt !== null && closedAt !== undefined) env.notes.push(`failed ${closedAt - sentBad} ms after the invalid byte`);
    if (!p.isOpen) return;
    await p.sendRaw(pieces[2]!);
  };
  const ff: Array<[string, Buffer[], boolean, string]> = [
    ["6.4.1", parts41, false, "three frames: κόσμε | F4 90 80 80 (U+110000) | edited"],
    ["6.4.2", parts42, false, "three frames: κόσμε F4 | 90 | 80 80 edited"],
    ["6.4.3", parts41, true, "one frame in three chops: κόσμε | F4 90 80 80 | edited"],
    ["6.4.4", parts42, true, "one frame in three chops: κόσμε F4 | 90 | 80 80 edited"],
  ];
  for (const [id, parts, oneFrame, how] of ff) {
    add({
      id,
      group: "6",
      title: `fail-fast, ${how}, pausing after each part; OK = fail 1007 right after the invalid part, before the rest is sent; NON-STRICT = only at the end`,
      timeoutMs: KILL,
      run: failFast(parts, oneFrame),
      expect: { OK: [tmo("A")], "NON-STRICT": [tmo("A"), tmo("B")] },
      close: UTF8_FAIL(),
    });
  }

  // 6.5-6.23: Markus Kuhn's UTF-8 decoder stress test, one single-frame message each.
  for (const [sub, title, vectors] of kuhnVectors()) {
    vectors.forEach(([valid, bytes], j) => {
      const id = `6.${sub}.${j + 1}`;
      add({
        id,
        group: "6",
        title: `${title}: text ${bytes.toString("hex") || "(empty)"} in one frame; expect ${valid ? "the echo" : "fail 1007"}`,
        timeoutMs: KILL,
        run: (p) => p.sendFrame(T(bytes)),
        expect: { OK: valid ? [text(bytes)] : [] },
        close: valid ? NORMAL : UTF8_FAIL(),
      });
    });
  }
}

/** Serialize a frame as the raw peer would send it (masked when it is the client). */
function encodeForPeer(peer: RawPeer, spec: Spec): Buffer {
  return peer.encode(spec);
}

/** The vectors of 6.5-6.23 ([valid, bytes]), grouped as Autobahn numbers them. */
export function kuhnVectors(): Array<[number, string, Array<[boolean, Buffer]>]> {
  const groups: Array<[string, Array<[boolean, Buffer]>]> = [];
  const v = (valid: boolean, h: string): [boolean, Buffer] => [valid, hex(h)];
  groups.push([
    "Some valid UTF-8 sequences",
    [v(true, "68656c6c6f24776f726c64"), v(true, "68656c6c6fc2a2776f726c64"), v(true, "68656c6c6fe282ac776f726c64"), v(true, "68656c6c6ff0a4ada2776f726c64"), [true, KOSME]],
  ]);
  groups.push([
    "All prefixes of a valid UTF-8 string that contains multi-byte code points",
    Array.from({ length: KOSME.length }, (_, i): [boolean, Buffer] => {
      const prefix = KOSME.subarray(0, i + 1);
      return [new Set([2, 5, 7, 9, 11]).has(i + 1), prefix];
    }),
  ]);
  groups.push(["First possible sequence of a certain length", [v(true, "00"), v(true, "c280"), v(true, "e0a080"), v(true, "f0908080")]]);
  groups.push(["First possible sequence length 5/6 (invalid codepoints)", [v(false, "f888808080"), v(false, "fc8480808080")]]);
  groups.push(["Last possible sequence of a certain length", [v(true, "7f"), v(true, "dfbf"), v(true, "efbfbf"), v(true, "f48fbfbf")]]);
  groups.push(["Last possible sequence length 4/5/6 (invalid codepoints)", [v(false, "f7bfbfbf"), v(false, "fbbfbfbfbf"), v(false, "fdbfbfbfbfbf")]]);
  groups.push(["Other boundary conditions", [v(true, "ed9fbf"), v(true, "ee8080"), v(true, "efbfbd"), v(true, "f48fbfbf"), v(false, "f4908080")]]);
  const cont: Array<[boolean, Buffer]> = ["80", "bf", "80bf", "80bf80", "80bf80bf", "80bf80bf80", "80bf80bf80bf"].map((h) => v(false, h));
  cont.push([false, Buffer.from(Array.from({ length: 0xbf - 0x80 }, (_, i) => 0x80 + i))]);
  groups.push(["Unexpected continuation bytes", cont]);
  const lonely: Array<[boolean, Buffer]> = (
    [
      [0xc0, 0xdf],
      [0xe0, 0xef],
      [0xf0, 0xf7],
      [0xf8, 0xfb],
      [0xfc, 0xfd],
    ] as const
  ).map(([lo, hi]) => {
    const bytes: number[] = [];
    for (let i = lo; i < hi; i++) bytes.push(i, 0x20);
    return [false, Buffer.from(bytes)];
  });
  groups.push(["Lonely start characters", lonely]);
  const missing = ["c0", "e080", "f08080", "f8808080", "fc80808080", "df", "efbf", "f7bfbf", "fbbfbfbf", "fdbfbfbfbf"];
  groups.push(["Sequences with last continuation byte missing", missing.map((h) => v(false, h))]);
  groups.push(["Concatenation of incomplete sequences", [v(false, missing.join(""))]]);
  groups.push(["Impossible bytes", [v(false, "fe"), v(false, "ff"), v(false, "fefeffff")]]);
  groups.push(["Examples of an overlong ASCII character", ["c0af", "e080af", "f08080af", "f8808080af", "fc80808080af"].map((h) => v(false, h))]);
  groups.push(["Maximum overlong sequences", ["c1bf", "e09fbf", "f08fbfbf", "f887bfbfbf", "fc83bfbfbfbf"].map((h) => v(false, h))]);
  groups.push(["Overlong representation of the NUL character", ["c080", "e08080", "f0808080", "f880808080", "fc8080808080"].map((h) => v(false, h))]);
  const singles = ["eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf"];
  groups.push(["Single UTF-16 surrogates", singles.map((h) => v(false, h))]);
  const pairs = ["eda080edb080", "eda080edbfbf", "edadbfedb080", "edadbfedbfbf", "edae80edb080", "edae80edbfbf", "edafbfedb080", "edafbfedbfbf"];
  groups.push(["Paired UTF-16 surrogates", pairs.map((h) => v(false, h))]);
  const nonchars: Array<[boolean, Buffer]> = [v(true, "efbfbe"), v(true, "efbfbf")];
  for (const z1 of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
    for (const z2 of [0x8f, 0x9f, 0xaf, 0xbf]) {
      if (z1 === 0xf4 && z2 !== 0x8f) continue; // beyond U+10FFFF
      for (const z3 of [0xbe, 0xbf]) {
        if (z1 === 0xf0 && z2 === 0x8f) continue; // overlong
        nonchars.push([true, Buffer.from([z1, z2, 0xbf, z3])]);
      }
    }
  }
  groups.push(["Non-character code points (valid UTF-8)", nonchars]);
  groups.push(["Unicode specials (i.e. replacement char)", ["efbfb9", "efbfba", "efbfbb", "efbfbc", "efbfbd", "efbfbe", "efbfbf"].map((h) => v(true, h))]);
  return groups.map(([title, vectors], i) => [5 + i, title, vectors]);
}

// Extras: every 6.5-6.23 vector split at every position into two fragments.
for (const [sub, title, vectors] of kuhnVectors()) {
  vectors.forEach(([valid, bytes], j) => {
    if (bytes.length < 2) return;
    add({
      id: `6.${sub}.${j + 1}/split`,
      group: "6",
      extra: true,
      title: `${title}: ${bytes.toString("hex")} as two fragments, split at each of ${bytes.length - 1} positions (one connection each); expect ${valid ? "the echo" : "fail 1007, before the second fragment when the first is already invalid"}`,
      timeoutMs: KILL,
      connections: bytes.length - 1,
      run: async (p, env) => {
        const at = env.connection + 1;
        const first = bytes.subarray(0, at);
        await p.sendFrame(T(first, false), { sync: true });
        if (!valid && !isValidPrefix(first)) {
          // Fail-fast: the first fragment alone is already invalid.
          await p.timeout("first fragment accepted", env.failFastMs);
          if (!p.isOpen) return;
        }
        await p.sendFrame(C(bytes.subarray(at)));
      },
      expect: { OK: valid ? [text(bytes)] : [], "NON-STRICT": valid ? [text(bytes)] : [tmo("first fragment accepted")] },
      close: valid ? NORMAL : UTF8_FAIL(),
    });
  });
}

/** True when `bytes` can still begin a valid UTF-8 string (WHATWG decoder, streaming). */
export function isValidPrefix(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

// ---- 7. Close handling -----------------------------------------------------------------

{
  const close1000 = { ...NORMAL, wrongCodeFatal: true };
  add({
    id: "7.1.1",
    group: "7",
    title: 'text "Hello World!"; expect the echo, then our close 1000 answered with 1000, clean',
    timeoutMs: KILL,
    run: (p) => p.sendFrame(T("Hello World!")),
    expect: { OK: [text("Hello World!")] },
    close: close1000,
  });
  add({
    id: "7.1.2",
    group: "7",
    title: "close 1000, then a second close; expect one 1000 answer, the extra frame ignored, clean",
    timeoutMs: KILL,
    run: (p) => p.sendFrames([X(1000), X(1000)]),
    expect: { OK: [] },
    close: close1000,
  });
  add({
    id: "7.1.3",
    group: "7",
    title: "close 1000, then a ping; expect no pong, a clean 1000 close",
    timeoutMs: KILL,
    run: (p) => p.sendFrames([X(1000), P("Hello World!")]),
    expect: { OK: [] },
    close: close1000,
  });
  add({
    id: "7.1.4",
    group: "7",
    title: "close 1000, then a text; expect nothing echoed, a clean 1000 close",
    timeoutMs: KILL,
    run: (p) => p.sendFrames([X(1000), T("Hello World!")]),
    expect: { OK: [] },
    close: close1000,
  });
  add({
    id: "7.1.5",
    group: "7",
    title: 'text FIN=0 "fragment1", close 1000, continuation "fragment2"; expect a normal 1000 answer (not 1002), clean',
    timeoutMs: KILL,
    run: (p) => p.sendFrames([T("fragment1", false), X(1000), C("fragment2")]),
    expect: { OK: [] },
    close: close1000,
  });
  const big = rep("BAsd7&jh23", 256 * 1024);
  add({
    id: "7.1.6",
    group: "7",
    title: 'a 256 KiB text, text "Hello World!", close 1000 and a ping back to back; informational (was the text echoed before the close?)',
    timeoutMs: KILL,
    informational: true,
    run: (p) => p.sendFrames([T(big), T("Hello World!"), X(1000), P()]),
    // OK: both texts echoed before the close was handled; NON-STRICT: the close was handled first.
    expect: {
      OK: [text(big), text("Hello World!")],
      "NON-STRICT": (received) => received.length < 2 && received.every((e, i) => e.kind === "message" && e.data.equals(i === 0 ? big : Buffer.from("Hello World!"))),
    },
    close: NORMAL,
  });
  const closeCases: Array<[string, string, Spec, CloseExpectation]> = [
    ["7.3.1", "empty close; expect an empty or 1000 answer, clean", X(null), { closedByMe: true, codes: [1000], requireClean: true, wrongCodeFatal: true }],
    ["7.3.2", "close with a 1-byte payload; expect 1002 or a drop", { opcode: OP.CLOSE, payload: hex("03") }, { closedByMe: true, codes: [1002], requireClean: false, wrongCodeFatal: true }],
    ["7.3.3", "close 1000 without reason; expect a clean 1000", X(1000), close1000],
    ["7.3.4", 'close 1000 "Hello World!"; expect a clean 1000', X(1000, "Hello World!"), close1000],
    ["7.3.5", "close 1000 with a 123-byte reason (125-byte payload); expect a clean 1000", X(1000, "*".repeat(123)), close1000],
    ["7.3.6", "close 1000 with a 124-byte reason (126-byte control payload); expect 1002 or a drop", X(1000, "*".repeat(124)), { closedByMe: true, codes: [1002], requireClean: false, wrongCodeFatal: true }],
    ["7.5.1", "close 1000 whose reason is invalid UTF-8 (κόσμε ED A0 80 edited); expect 1002/1007 or a drop", X(1000, Buffer.concat([KOSME, hex("eda080"), Buffer.from("edited")])), { closedByMe: true, codes: [1002, 1007], requireClean: false, wrongCodeFatal: true }],
  ];
  for (const [id, title, frame, close] of closeCases) {
    add({ id, group: "7", title, timeoutMs: KILL, run: (p) => p.sendFrame(frame), expect: { OK: [] }, close });
  }
  [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].forEach((code, i) => {
    add({
      id: `7.7.${i + 1}`,
      group: "7",
      title: `close with the valid code ${code}; expect a clean close answered with 1000 or ${code}`,
      timeoutMs: KILL,
      run: (p) => p.sendFrame(X(code)),
      expect: { OK: [] },
      close: { closedByMe: true, codes: [1000, code], requireClean: true, wrongCodeFatal: true },
    });
  });
  [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999].forEach((code, i) => {
    add({
      id: `7.9.${i + 1}`,
      group: "7",
      title: `close with the invalid code ${code}; expect 1002 or a drop`,
      timeoutMs: KILL,
      run: (p) => p.sendFrame(X(code)),
      expect: { OK: [] },
      close: { closedByMe: true, codes: [1002], requireClean: false, wrongCodeFatal: true },
    });
  });
  [5000, 65535].forEach((code, i) => {
    add({
      id: `7.13.${i + 1}`,
      group: "7",
      title: `close with code ${code} (outside every range); informational`,
      timeoutMs: KILL,
      informational: true,
      run: (p) => p.sendFrame(X(code)),
      expect: { OK: [] },
      close: { closedByMe: true, codes: [1000, 1002, code], requireClean: false },
    });
  });
}

// ---- 9. Limits and performance ---------------------------------------------------------

{
  const KiB = 1024;
  const MiB = 1024 * 1024;
  const sizes = [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB];
  const mb = (n: number): string => (n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`);
  const textTimeouts = [10, 10, 100, 100, 100, 100];
  const binTimeouts = [10, 10, 10, 10, 100, 100];
  for (const [g, binary] of [[1, false], [2, true]] as const) {
    sizes.forEach((size, i) => {
      add({
        id: `9.${g}.${i + 1}`,
        group: "9",
        title: `one ${binary ? "binary" : "text"} frame of ${mb(size)}; expect the echo`,
        timeoutMs: (binary ? binTimeouts : textTimeouts)[i]! * 1000,
        run: bulkEcho(() => (binary ? rep(0xfe, size) : rep("BAsd7&jh23", size)), binary, 1),
        expect: { OK: bulkOk },
        close: NORMAL,
      });
    });
  }
  const frags = [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB];
  for (const [g, binary] of [[3, false], [4, true]] as const) {
    frags.forEach((frag, i) => {
      add({
        id: `9.${g}.${i + 1}`,
        group: "9",
        title: `one 4 MiB ${binary ? "binary" : "text"} message in fragments of ${frag < KiB ? `${frag} B` : mb(frag)} (${(4 * MiB) / frag} frames); expect the echo`,
        timeoutMs: 100_000,
        run: bulkEcho(() => (binary ? rep(0xfe, 4 * MiB) : rep("*", 4 * MiB)), binary, 1, { fragmentSize: frag }),
        expect: { OK: bulkOk },
        close: NORMAL,
      });
    });
  }
  const chops = [64, 128, 256, 512, 1024, 2048];
  for (const [g, binary] of [[5, false], [6, true]] as const) {
    chops.forEach((chop, i) => {
      add({
        id: `9.${g}.${i + 1}`,
        group: "9",
        title: `one 1 MiB ${binary ? "binary" : "text"} frame written in ${chop}-byte chops; expect the echo`,
        timeoutMs: 100_000,
        run: bulkEcho(() => (binary ? rep(0xfe, MiB) : rep("BAsd7&jh23", MiB)), binary, 1, { chop }),
        expect: { OK: bulkOk },
        close: NORMAL,
      });
    });
  }
  const rt = [0, 16, 64, 256, 1024, 4096];
  const rtTimeouts = [60, 60, 60, 120, 240, 480];
  for (const [g, binary] of [[7, false], [8, true]] as const) {
    rt.forEach((size, i) => {
      add({
        id: `9.${g}.${i + 1}`,
        group: "9",
        title: `1000 ${binary ? "binary" : "text"} messages of ${size} bytes, each sent after the previous echo; expect every echo`,
        timeoutMs: rtTimeouts[i]! * 1000,
        run: bulkEcho(() => (binary ? rep(0xfe, size) : rep("*", size)), binary, 1000),
        expect: { OK: bulkOk },
        close: NORMAL,
      });
    });
  }
}

/** The run is judged by the script: every echo arrived intact. */
function bulkOk(_received: Received[], env: CaseEnv): boolean {
  return env.completed && env.failures.length === 0;
}

/**
 * Send `count` messages one after another, each after the previous echo
 * arrived, and compare every echo (type, length, bytes) as it comes.
 */
function bulkEcho(
  make: (i: number) => Buffer,
  binary: boolean,
  count: number,
  options: { fragmentSize?: number; chop?: number } = {},
) {
  return async (p: RawPeer, env: CaseEnv): Promise<void> => {
    p.keepLog = false;
    const started = Date.now();
    let bytes = 0;
    const cache = count > 1 ? make(0) : null;
    for (let i = 0; i < count; i++) {
      const msg = cache ?? make(i);
      await p.sendMessage(msg, { binary, ...options });
      const echo = await p.next(120_000);
      if (!checkEcho(echo, msg, binary, i, env)) return;
      bytes += msg.length;
    }
    env.completed = true;
    env.notes.push(`${count} message(s), ${(bytes / 1048576).toFixed(2)} MiB echoed in ${Date.now() - started} ms`);
  };
}

function checkEcho(echo: Received | null, msg: Buffer, binary: boolean, i: number, env: CaseEnv): boolean {
  if (echo === null) {
    env.failures.push(`message ${i}: no echo before the connection closed or within 120 s`);
    return false;
  }
  if (echo.kind !== "message") {
    env.failures.push(`message ${i}: got a ${echo.kind} instead of the echo`);
    return false;
  }
  if (echo.binary !== binary) {
    env.failures.push(`message ${i}: echoed as ${echo.binary ? "binary" : "text"}, sent as ${binary ? "binary" : "text"}`);
    return false;
  }
  if (echo.data.length !== msg.length) {
    env.failures.push(`message ${i}: echoed length ${echo.data.length}, sent ${msg.length}`);
    return false;
  }
  if (!echo.data.equals(msg)) {
    env.failures.push(`message ${i}: echoed bytes differ`);
    return false;
  }
  return true;
}

// ---- 10. Auto-fragmentation ------------------------------------------------------------

{
  const payload = rep("*", 65536);
  add({
    id: "10.1.1",
    group: "10",
    title: "a 64 KiB text message in frames of at most 1300 bytes (1 text + 50 continuations); expect the echo",
    timeoutMs: 10_000,
    run: (p) => p.sendMessage(payload, { binary: false, fragmentSize: 1300 }),
    expect: { OK: [text(payload)] },
    close: NORMAL,
  });
}

// ---- 12 / 13. permessage-deflate -------------------------------------------------------

/**
 * The payload corpora of sections 12/13 are generated in the repository
 * (`payloads.ts`: JSON, HTML, text, bitmap, PDF of the sizes and character
 * of Autobahn's files), so the corpus needs nothing outside the checkout.
 */
function testdata(file: PayloadName): Buffer {
  const b = payload(file);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Autobahn's 18 rows: payload length, auto-fragment size (0 = none). */
export const PMD_ROWS: Array<[number, number]> = [
  [16, 0], [64, 0], [256, 0], [1024, 0], [4096, 0], [8192, 0], [16384, 0], [32768, 0], [65536, 0], [131072, 0],
  [8192, 256], [16384, 256], [32768, 256], [65536, 256], [131072, 256], [131072, 1024], [131072, 4096], [131072, 32768],
];

/** Messages per 12/13 case: Autobahn sends 1000; a budgeted run sends about `budget` bytes per case. */
export function pmdCount(len: number, full: boolean, budget = 256 * 1024, maxCount = 200): number {
  if (full) return 1000;
  return Math.max(4, Math.min(maxCount, Math.round(budget / len)));
}

/** Slicer over a test file: the next LEN bytes (binary) or characters (text), wrapping around. */
function slicer(file: PayloadName, binary: boolean, len: number): () => Buffer {
  const data = testdata(file);
  if (binary) {
    let ptr = 0;
    return () => {
      const out = Buffer.allocUnsafe(len);
      let p = 0;
      while (p < len) {
        const take = Math.min(len - p, data.length - ptr);
        data.copy(out, p, ptr, ptr + take);
        p += take;
        ptr = (ptr + take) % data.length;
      }
      return out;
    };
  }
  const chars = Array.from(data.toString("utf8"));
  let ptr = 0;
  return () => {
    let s = "";
    for (let i = 0; i < len; i++) {
      s += chars[ptr]!;
      ptr = (ptr + 1) % chars.length;
    }
    return Buffer.from(s, "utf8");
  };
}

const param = (name: string, value: string | null = null): [string, string | null] => [name, value];

/** RFC 7692 acceptance by the raw server: echo what the client asked of the server, add the requests. */
function acceptOffer(offer: ExtensionItem, request: { noContext?: boolean; maxBits?: number } = {}): ExtensionItem {
  const params = new Map<string, string | null>();
  // RFC 7692 §7.1.1.1: server_no_context_takeover in the offer binds the server once accepted.
  if (offer.params.has("server_no_context_takeover")) params.set(...param("server_no_context_takeover"));
  const smwb = offer.params.get("server_max_window_bits");
  if (smwb !== undefined && smwb !== null) params.set(...param("server_max_window_bits", smwb));
  if (request.noContext) params.set(...param("client_no_context_takeover"));
  if (request.maxBits !== undefined) params.set(...param("client_max_window_bits", String(request.maxBits)));
  return { name: "permessage-deflate", params };
}

const firstPmd = (offers: ExtensionItem[]): ExtensionItem | undefined => offers.find((o) => o.name === "permessage-deflate");
const accept1 = (offers: ExtensionItem[]): ExtensionItem | null => {
  const o = firstPmd(offers);
  return o ? acceptOffer(o) : null;
};
const accept2 = (offers: ExtensionItem[]): ExtensionItem | null => {
  const o = firstPmd(offers);
  return o ? acceptOffer(o, { noContext: true }) : null;
};
const acceptBits = (bits: number, noContext: boolean) => (offers: ExtensionItem[]): ExtensionItem | null => {
  // RFC 7692 §7.1.2.2: a server may only send client_max_window_bits if the client offered it.
  const o = offers.find((x) => x.name === "permessage-deflate" && x.params.has("client_max_window_bits"));
  return o ? acceptOffer(o, { noContext, maxBits: bits }) : null;
};
const accept7 = (offers: ExtensionItem[]): ExtensionItem | null => acceptBits(9, true)(offers) ?? accept2(offers) ?? accept1(offers);

const PMD = "permessage-deflate";
const BASE_OFFER = `${PMD}; client_no_context_takeover; client_max_window_bits`;
export const PMD_PARAMS: Array<[string, string, DeflateSetup]> = [
  ["13.1", "offer no-context + max-bits / accept plainly", { clientOffer: BASE_OFFER, serverAccept: accept1 }],
  ["13.2", "offer + server_no_context_takeover / accept requesting client_no_context_takeover", { clientOffer: `${BASE_OFFER}; server_no_context_takeover`, serverAccept: accept2 }],
  ["13.3", "offer + server_max_window_bits=9 / accept with client_max_window_bits=9", { clientOffer: `${BASE_OFFER}; server_max_window_bits=9`, serverAccept: acceptBits(9, false) }],
  ["13.4", "offer + server_max_window_bits=15 / accept with client_max_window_bits=15", { clientOffer: `${BASE_OFFER}; server_max_window_bits=15`, serverAccept: acceptBits(15, false) }],
  ["13.5", "offer + server_no_context_takeover; server_max_window_bits=9 / accept with client_no_context_takeover; client_max_window_bits=9", { clientOffer: `${BASE_OFFER}; server_no_context_takeover; server_max_window_bits=9`, serverAccept: acceptBits(9, true) }],
  ["13.6", "offer + server_no_context_takeover; server_max_window_bits=15 / accept with client_no_context_takeover; client_max_window_bits=15", { clientOffer: `${BASE_OFFER}; server_no_context_takeover; server_max_window_bits=15`, serverAccept: acceptBits(15, true) }],
  ["13.7", "three offers (no-context + 9, no-context, plain) / accept the first that fits", {
    clientOffer: `${BASE_OFFER}; server_no_context_takeover; server_max_window_bits=9, ${BASE_OFFER}; server_no_context_takeover, ${BASE_OFFER}`,
    serverAccept: accept7,
  }],
];

/** Build the bulk compression cases of one 12.x / 13.x group. */
function pmdGroup(group: string, prefix: string, desc: string, file: PayloadName, binary: boolean, setup: DeflateSetup): void {
  PMD_ROWS.forEach(([len, frag], i) => {
    add({
      id: `${prefix}.${i + 1}`,
      group,
      title: `${desc}: ${binary ? "binary" : "text"} messages of ${len} ${binary ? "bytes" : "characters"} from ${file}${frag ? `, compressed then split into ${frag}-byte frames` : ""}, each after the previous echo; expect every echo intact`,
      deflate: setup,
      // Autobahn allows 480 s for 1000 messages on slow peers; 120 s is ample here and surfaces a stall sooner.
      timeoutMs: 120_000,
      run: async (p, env) => {
        if (!p.deflate) {
          env.failures.push("UNIMPLEMENTED: permessage-deflate was not negotiated");
          return;
        }
        p.keepLog = false;
        const next = slicer(file, binary, len);
        const count = pmdCount(len, env.full, env.pmdBudget, env.pmdMaxCount);
        const started = Date.now();
        for (let m = 0; m < count; m++) {
          const msg = next();
          await p.sendMessage(msg, frag ? { binary, fragmentSize: frag } : { binary });
          const echo = await p.next(120_000);
          if (!checkEcho(echo, msg, binary, m, env)) return;
        }
        env.completed = true;
        env.notes.push(`${count} messages in ${Date.now() - started} ms; ${describeParams(p)}`);
      },
      expect: { OK: bulkOk },
      close: NORMAL,
    });
  });
}

function describeParams(p: RawPeer): string {
  const d = p.deflate!.params;
  return `agreed c_nct=${d.clientNoContextTakeover} s_nct=${d.serverNoContextTakeover} c_mwb=${d.clientMaxWindowBits} s_mwb=${d.serverMaxWindowBits}`;
}

{
  const plain: DeflateSetup = { clientOffer: BASE_OFFER, serverAccept: accept1 };
  const sets: Array<[PayloadName, string, boolean]> = [
    ["corpus.json", "JSON", false],
    ["corpus.bmp", "bitmap", true],
    ["corpus.txt", "prose (text file sent as binary)", true],
    ["corpus.html", "HTML", false],
    ["corpus.pdf", "PDF", true],
  ];
  sets.forEach(([file, desc, binary], i) => pmdGroup("12", `12.${i + 1}`, desc, file, binary, plain));
  for (const [prefix, desc, setup] of PMD_PARAMS) pmdGroup("13", prefix, desc, "corpus.json", false, setup);
}

/** Every case, in Autobahn's order. */
export const CASES: readonly ConformanceCase[] = cases;

/** The report groups, in order, with Autobahn's section names. */
export const GROUPS: ReadonlyArray<[string, string]> = [
  ["1", "Framing"],
  ["2", "Pings/Pongs"],
  ["3", "Reserved bits"],
  ["4", "Opcodes"],
  ["5", "Fragmentation"],
  ["6", "UTF-8 handling"],
  ["7", "Close handling"],
  ["9", "Limits/Performance"],
  ["10", "Auto-fragmentation"],
  ["12", "permessage-deflate: payloads"],
  ["13", "permessage-deflate: parameters"],
];

/**
 * Select cases by Autobahn-style patterns: `.` literal, `*` anything,
 * anchored at the start ("6.4.*", "12.*.[1234]$" as a regex tail).
 */
export function selectCases(patterns: string[] | null, exclude: string[] = []): ConformanceCase[] {
  const toRe = (p: string): RegExp => new RegExp("^" + p.replace(/\./g, "\\.").replace(/\*/g, ".*"));
  const inc = patterns?.map(toRe) ?? null;
  const exc = exclude.map(toRe);
  return cases.filter((c) => (inc === null || inc.some((r) => r.test(c.id))) && !exc.some((r) => r.test(c.id)));
}
