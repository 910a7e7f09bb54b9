// Property tests (fast-check) for the frame layer:
// 1. any sequence of events one side sends, fed to the other side in any
//    chunking (and pulled at any points), yields the same messages, pings,
//    pongs and close, for both roles, with and without permessage-deflate;
// 2. random bytes and mutated valid streams never make receiveData/events
//    raise (nothing but LocalProtocolError is even allowed), always end, and
//    respect maxFrameSize/maxMessageSize.
import t from "tap";
import fc from "fast-check";
import { Connection } from "../../../src/protocol/frames/connection.ts";
import { LocalProtocolError } from "../../../src/protocol/errors.ts";
import { BytesMessage, CloseConnection, Ping, Pong, TextMessage, type Event } from "../../../src/protocol/events.ts";
import { PerMessageDeflate } from "../../../src/protocol/extensions/permessage-deflate.ts";
import type { Extension } from "../../../src/protocol/extensions/extension.ts";
import { ConnectionState, ConnectionType } from "../../../src/protocol/types.ts";
import { concatBytes } from "../../../src/protocol/bytes/encoding.ts";
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");

const NUM_RUNS = Number(process.env["PROPERTY_RUNS"] ?? 150);

type Op =
  | { kind: "text"; fragments: string[] }
  | { kind: "bytes"; fragments: Uint8Array[] }
  | { kind: "ping" | "pong"; payload: Uint8Array };

/** Operations to send; `big` allows fragments past 65535 bytes (64-bit lengths). */
const opsArb = (big: boolean): fc.Arbitrary<Op> => {
  const fragment = big
    ? fc.oneof(
        { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
        {
          weight: 1,
          arbitrary: fc.integer({ min: 100, max: 70000 }).map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 31) & 0xff)),
        },
      )
    : fc.uint8Array({ maxLength: 40 });
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("text" as const),
        fragments: fc.array(fc.string({ unit: "binary", maxLength: 40 }), { minLength: 1, maxLength: 4 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant("bytes" as const), fragments: fc.array(fragment, { minLength: 1, maxLength: 3 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constantFrom("ping" as const, "pong" as const), payload: fc.uint8Array({ maxLength: 125 }) }),
    },
  );
};
const opArb = opsArb(true);

const closeArb = fc.option(
  fc.record({
    code: fc.constantFrom(1000, 1001, 1003, 1008, 1011, 3000, 4999),
    reason: fc.string({ unit: "binary", maxLength: 60 }),
  }),
);

/** Send one operation (a ping, a pong, or a message in fragments), appending the bytes to `wire`. */
function sendOp(sender: Connection, op: Op, wire: Uint8Array[]): void {
  switch (op.kind) {
    case "ping":
      wire.push(sender.send(new Ping({ payload: op.payload })));
      return;
    case "pong":
      wire.push(sender.send(new Pong({ payload: op.payload })));
      return;
    case "text":
      op.fragments.forEach((data, i) => {
        wire.push(sender.send(new TextMessage({ data, messageFinished: i === op.fragments.length - 1 })));
      });
      return;
    case "bytes":
      op.fragments.forEach((data, i) => {
        wire.push(sender.send(new BytesMessage({ data, messageFinished: i === op.fragments.length - 1 })));
      });
      return;
  }
}

/** Split `bytes` at the given cut points (each taken modulo the length). */
function chunk(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (bytes.length ? c % (bytes.length + 1) : 0)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p < prev) continue;
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

const concat = (parts: Uint8Array[]): Uint8Array => concatBytes(parts);

/** What the receiving application sees: whole messages, pings, pongs, the close. */
type Outcome = Array<[string, string]>;

function expected(ops: Op[], close: { code: number; reason: string } | null): Outcome {
  const out: Outcome = [];
  for (const op of ops) {
    if (op.kind === "text") out.push(["text", op.fragments.join("")]);
    else if (op.kind === "bytes") out.push(["bytes", toHex(concat(op.fragments))]);
    else out.push([op.kind, toHex(op.payload)]);
  }
  if (close) {
    const reasonBytes = new TextEncoder().encode(close.reason);
    // The reason is cut to 123 bytes at a character boundary.
    let end = Math.min(123, reasonBytes.length);
    while (end < reasonBytes.length && end > 0 && (reasonBytes[end]! & 0xc0) === 0x80) end--;
    out.push(["close", `${close.code} ${new TextDecoder().decode(reasonBytes.subarray(0, end))}`]);
  }
  return out;
}

class Assembler {
  readonly outcome: Outcome = [];
  #text = "";
  #bytes: Uint8Array[] = [];
  #kind: "text" | "bytes" | null = null;
  problems: string[] = [];
  take(event: Event): void {
    if (event instanceof TextMessage || event instanceof BytesMessage) {
      const kind = event instanceof TextMessage ? "text" : "bytes";
      if (this.#kind !== null && this.#kind !== kind) this.problems.push("kind changed mid-message");
      this.#kind = kind;
      if (typeof event.data === "string") this.#text += event.data;
      else this.#bytes.push(event.data.slice());
      if (event.messageFinished) {
        this.outcome.push(kind === "text" ? ["text", this.#text] : ["bytes", toHex(concat(this.#bytes))]);
        this.#text = "";
        this.#bytes = [];
        this.#kind = null;
      }
    } else if (event instanceof Ping) this.outcome.push(["ping", toHex(event.payload)]);
    else if (event instanceof Pong) this.outcome.push(["pong", toHex(event.payload)]);
    else if (event instanceof CloseConnection) {
      if (event.origin !== "remote") this.problems.push(`unexpected close ${event.code} ${event.reason}`);
      this.outcome.push(["close", `${event.code} ${event.reason}`]);
    } else this.problems.push(`unexpected ${event.type}`);
  }
}

function pmdPair(senderIsClient: boolean): [Extension[], Extension[]] {
  const c = new PerMessageDeflate();
  c.finalize("permessage-deflate");
  const s = new PerMessageDeflate();
  s.accept("permessage-deflate");
  return senderIsClient ? [[c], [s]] : [[s], [c]];
}

t.test("any sequence of sent events arrives intact in any chunking, both roles", async (t) => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.boolean(),
      fc.array(opArb, { maxLength: 8 }),
      closeArb,
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.array(fc.boolean(), { maxLength: 12 }),
      (senderIsClient, deflate, ops, close, cuts, pulls) => {
        const [sendExt, recvExt] = deflate ? pmdPair(senderIsClient) : [[], []];
        const sender = new Connection(senderIsClient ? ConnectionType.CLIENT : ConnectionType.SERVER, { extensions: sendExt });
        const receiver = new Connection(senderIsClient ? ConnectionType.SERVER : ConnectionType.CLIENT, {
          extensions: recvExt,
        });
        const wire: Uint8Array[] = [];
        for (const op of ops) sendOp(sender, op, wire);
        if (close) wire.push(sender.send(new CloseConnection(close)));
        const assembler = new Assembler();
        chunk(concat(wire), cuts).forEach((piece, i) => {
          receiver.receiveData(piece);
          if (pulls[i] ?? false) for (const e of receiver.events()) assembler.take(e);
        });
        for (const e of receiver.events()) assembler.take(e);
        const want = expected(ops, close);
        if (assembler.problems.length) throw new Error(assembler.problems.join("; "));
        if (JSON.stringify(assembler.outcome) !== JSON.stringify(want)) {
          throw new Error(`got ${JSON.stringify(assembler.outcome).slice(0, 300)}\nwant ${JSON.stringify(want).slice(0, 300)}`);
        }
        if (close && receiver.state !== ConnectionState.REMOTE_CLOSING) throw new Error("close did not move the state");
      },
    ),
    { numRuns: NUM_RUNS },
  );
  t.pass("round trips held");
});

t.test("with borrowedInput, a chunk overwritten after each releaseInput() loses nothing (any chunking, any pulls, whole frames or pieces)", async (t) => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      fc.array(opArb, { maxLength: 8 }),
      closeArb,
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.array(fc.nat({ max: 3 }), { maxLength: 12 }),
      (senderIsClient, deflate, whole, ops, close, cuts, pulls) => {
        const [sendExt, recvExt] = deflate ? pmdPair(senderIsClient) : [[], []];
        const sender = new Connection(senderIsClient ? ConnectionType.CLIENT : ConnectionType.SERVER, { extensions: sendExt });
        const receiver = new Connection(senderIsClient ? ConnectionType.SERVER : ConnectionType.CLIENT, {
          extensions: recvExt,
          borrowedInput: true,
          wholeFramesUpTo: whole ? 1 << 20 : 0,
        });
        const wire: Uint8Array[] = [];
        for (const op of ops) sendOp(sender, op, wire);
        if (close) wire.push(sender.send(new CloseConnection(close)));
        const pieces = chunk(concat(wire), cuts);
        // One array lent for every read, as a transport reading into one buffer does.
        const lent = new Uint8Array(Math.max(1, ...pieces.map((p) => p.length)));
        // Events are kept as they came (no copy) and read only at the end, after every overwrite.
        const kept: Event[] = [];
        pieces.forEach((piece, i) => {
          lent.set(piece);
          receiver.receiveData(lent.subarray(0, piece.length));
          // 0: none now; 1, 2: that many; 3: all of them.
          const want = pulls[i] ?? 3;
          for (let n = 0; want === 3 || n < want; n++) {
            const event = receiver.nextEvent();
            if (event === null) break;
            kept.push(event);
          }
          receiver.releaseInput();
          lent.fill(0xee);
        });
        for (let e = receiver.nextEvent(); e !== null; e = receiver.nextEvent()) kept.push(e);
        const assembler = new Assembler();
        for (const e of kept) assembler.take(e);
        const want = expected(ops, close);
        if (assembler.problems.length) throw new Error(assembler.problems.join("; "));
        if (JSON.stringify(assembler.outcome) !== JSON.stringify(want)) {
          throw new Error(`got ${JSON.stringify(assembler.outcome).slice(0, 300)}\nwant ${JSON.stringify(want).slice(0, 300)}`);
        }
      },
    ),
    { numRuns: NUM_RUNS },
  );
  t.pass("lent chunks were never kept");
});

interface Limits {
  maxFrameSize: number;
  maxMessageSize: number;
}

/** Feed bytes in chunks, pulling now and then; return what went wrong (nothing, ideally). */
function feedHostile(role: ConnectionType, bytes: Uint8Array, cuts: number[], limits: Limits, deflate: boolean): string[] {
  const problems: string[] = [];
  const ext: Extension[] = [];
  if (deflate) {
    const pmd = new PerMessageDeflate();
    if (role === ConnectionType.CLIENT) pmd.finalize("permessage-deflate");
    else pmd.accept("permessage-deflate");
    ext.push(pmd);
  }
  const conn = new Connection(role, { ...limits, extensions: ext });
  let messageBytes = 0;
  let events = 0;
  const pull = (): void => {
    for (const e of conn.events()) {
      events++;
      if (e instanceof TextMessage || e instanceof BytesMessage) {
        const n = typeof e.data === "string" ? new TextEncoder().encode(e.data).length : e.data.length;
        messageBytes += n;
        if (messageBytes > limits.maxMessageSize) problems.push(`message of ${messageBytes} bytes passed the limit`);
        if (e.messageFinished) messageBytes = 0;
      }
      if (e instanceof CloseConnection && e.origin === "protocol-error" && ![1002, 1007, 1009, 1011].includes(e.code)) {
        problems.push(`odd protocol-error code ${e.code}`);
      }
      if (events > bytes.length * 2 + 10) {
        problems.push("too many events");
        return;
      }
    }
  };
  const guard = (fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      // A LocalProtocolError is the only thing receiveData may raise (bytes
      // once CLOSED), and no input here reaches CLOSED before the end.
      problems.push(`${error instanceof LocalProtocolError ? "LocalProtocolError" : "escaped"}: ${String(error)}`);
    }
  };
  for (const piece of chunk(bytes, cuts)) {
    guard(() => conn.receiveData(piece));
    guard(pull);
  }
  guard(() => conn.receiveData(null));
  guard(pull);
  if (conn.state !== ConnectionState.CLOSED) problems.push("not CLOSED after end of stream");
  return problems;
}

const limitsArb: fc.Arbitrary<Limits> = fc.record({
  maxFrameSize: fc.integer({ min: 0, max: 200 }),
  maxMessageSize: fc.integer({ min: 0, max: 300 }),
});

t.test("random bytes never raise, never hang, and respect the limits", async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom(ConnectionType.CLIENT, ConnectionType.SERVER),
      fc.uint8Array({ maxLength: 400 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      limitsArb,
      fc.boolean(),
      (role, bytes, cuts, limits, deflate) => {
        const problems = feedHostile(role, bytes, cuts, limits, deflate);
        if (problems.length) throw new Error(problems.join("; "));
      },
    ),
    { numRuns: NUM_RUNS * 2 },
  );
  t.pass("held");
});

/** A plausible stream: frames with the right masking for `role` to receive. */
const validStreamArb = (role: ConnectionType): fc.Arbitrary<Uint8Array> =>
  fc.array(opsArb(false), { maxLength: 6 }).map((ops) => {
    const sender = new Connection(role === ConnectionType.CLIENT ? ConnectionType.SERVER : ConnectionType.CLIENT);
    const wire: Uint8Array[] = [];
    for (const op of ops) sendOp(sender, op, wire);
    return concat(wire);
  });

const mutationArb = fc.array(
  fc.record({ at: fc.nat(), kind: fc.constantFrom("flip", "set", "insert", "delete"), value: fc.integer({ min: 0, max: 255 }) }),
  { minLength: 1, maxLength: 6 },
);

function mutate(bytes: Uint8Array, mutations: Array<{ at: number; kind: string; value: number }>): Uint8Array {
  const arr = [...bytes];
  for (const m of mutations) {
    const i = arr.length ? m.at % arr.length : 0;
    if (m.kind === "flip" && arr.length) arr[i] = arr[i]! ^ (1 << (m.value & 7));
    else if (m.kind === "set" && arr.length) arr[i] = m.value;
    else if (m.kind === "insert") arr.splice(i, 0, m.value);
    else if (m.kind === "delete") arr.splice(i, 1);
  }
  return Uint8Array.from(arr);
}

t.test("mutated valid streams never raise, never hang, and respect the limits", async (t) => {
  for (const role of [ConnectionType.CLIENT, ConnectionType.SERVER]) {
    fc.assert(
      fc.property(
        validStreamArb(role),
        mutationArb,
        fc.array(fc.nat(), { maxLength: 8 }),
        limitsArb,
        fc.boolean(),
        (bytes, mutations, cuts, limits, deflate) => {
          const problems = feedHostile(role, mutate(bytes, mutations), cuts, limits, deflate);
          if (problems.length) throw new Error(problems.join("; "));
        },
      ),
      { numRuns: NUM_RUNS },
    );
  }
  t.pass("held");
});

t.test("a hostile huge declared length does not buffer: memory stays bounded", async (t) => {
  // 64-bit length of 2^40 with no limit: pieces stream out; nothing accumulates inside.
  const conn = new Connection(ConnectionType.CLIENT, { maxFrameSize: Infinity, maxMessageSize: Infinity });
  conn.receiveData(Uint8Array.from([0x82, 0x7f, 0, 0, 1, 0, 0, 0, 0, 0]));
  let total = 0;
  for (let i = 0; i < 64; i++) {
    conn.receiveData(new Uint8Array(65536));
    for (const e of conn.events()) if (e instanceof BytesMessage) total += e.data.length;
  }
  t.equal(total, 64 * 65536, "every byte handed out as it came");
});
