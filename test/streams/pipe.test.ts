// readable.pipeTo(writable) between sessions' own streams (pipe.ts): the
// direct path (no WHATWG pipeTo machinery) for an echo and a relay, its
// back-pressure, how it ends (close, failure, preventClose), and the cases
// that fall back to the streams implementation's own pipeTo.
import t from "tap";
import { acceptWebSocket, connectWebSocket, type WebSocketSession } from "../../src/streams/sessions.ts";
import { memoryPair, sleep } from "./_helpers.ts";

const FAST = { closeTimeout: 2000, handshakeTimeout: 2000 } as const;

/** Counts calls of the platform's own ReadableStream.prototype.pipeTo while `run` runs. */
async function countNativePipes(run: () => Promise<void>): Promise<number> {
  const proto = ReadableStream.prototype;
  const original = proto.pipeTo;
  let calls = 0;
  proto.pipeTo = function (this: ReadableStream, ...args: Parameters<typeof original>) {
    calls++;
    return original.apply(this, args);
  } as typeof original;
  try {
    await run();
  } finally {
    proto.pipeTo = original;
  }
  return calls;
}

/** A connected client and server over an in-memory pair (no compression: bytes on the wire are what is sent). */
async function connected(serverOptions: object = {}): Promise<{
  client: WebSocketSession;
  server: WebSocketSession;
  pair: ReturnType<typeof memoryPair>;
}> {
  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, { ...FAST, ...serverOptions });
  const client = connectWebSocket(pair.client, { ...FAST, host: "h", extensions: [] });
  await Promise.all([server.opened, client.opened]);
  return { client, server, pair };
}

const message = (i: number, size: number): Uint8Array => new Uint8Array(size).fill(i & 0xff);

t.test("an echo pipes directly: both streams locked, every message back in order, a clean close resolves the pipe", async (t) => {
  let piped!: Promise<void>;
  const calls = await countNativePipes(async () => {
    const { client, server } = await connected();
    const s = await server.opened;
    piped = s.readable.pipeTo(s.writable);
    t.ok(s.readable.locked && s.writable.locked, "the pipe holds both locks");
    t.throws(() => s.writable.getWriter(), TypeError, "nobody else may write meanwhile");
    const c = await client.opened;
    const writer = c.writable.getWriter();
    const reader = c.readable.getReader();
    const sent: Array<string | Uint8Array> = ["hello", "", "ünïcödé ✓", new Uint8Array([1, 2, 3]), message(7, 70_000)];
    for (const m of sent) void writer.write(m);
    for (const m of sent) t.same((await reader.read()).value, m);
    writer.releaseLock();
    client.close({ closeCode: 1000, reason: "bye" });
    t.same(await server.closed, { closeCode: 1000, reason: "bye" });
    await piped;
  });
  t.equal(calls, 0, "the platform's pipeTo never ran");
});

t.test("a relay: one session's readable into another session's writable, closing forward", async (t) => {
  const a = await connected();
  const b = await connected();
  const calls = await countNativePipes(async () => {
    const from = await a.server.opened;
    const to = await b.client.opened;
    const piped = from.readable.pipeTo(to.writable);
    const writer = (await a.client.opened).writable.getWriter();
    const reader = (await b.server.opened).readable.getReader();
    for (let i = 0; i < 50; i++) void writer.write(i % 2 === 0 ? `text ${i}` : message(i, 1000 + i));
    for (let i = 0; i < 50; i++) t.same((await reader.read()).value, i % 2 === 0 ? `text ${i}` : message(i, 1000 + i));
    a.client.close({ closeCode: 1000 });
    await piped;
    // The source's clean end closed the destination: b's client sent its close.
    await b.server.closed;
    await b.client.closed;
  });
  t.equal(calls, 0, "the platform's pipeTo never ran");
});

t.test("a relay whose far end does not read stops reading its source; a slow reader then gets every message", async (t) => {
  const a = await connected();
  const b = await connected({ readableHighWaterMark: 64 * 1024 });
  const from = await a.server.opened;
  const piped = from.readable.pipeTo((await b.client.opened).writable);
  const writer = (await a.client.opened).writable.getWriter();
  const COUNT = 200;
  const SIZE = 64 * 1024;
  for (let i = 0; i < COUNT; i++) void writer.write(message(i, SIZE)).catch(() => {});
  await sleep(300);
  const pulled = a.pair.toServer.pulled();
  t.ok(pulled < 2 * 1024 * 1024, `the relay read ${pulled} of ${COUNT * SIZE} bytes while its far end did not read`);
  const reader = (await b.server.opened).readable.getReader();
  for (let i = 0; i < COUNT; i++) {
    const { value } = await reader.read();
    if (!(value instanceof Uint8Array) || value.byteLength !== SIZE || value[0] !== (i & 0xff) || value[SIZE - 1] !== (i & 0xff)) {
      t.fail(`message ${i} arrived wrong`);
      return;
    }
  }
  t.pass(`all ${COUNT} messages arrived in order`);
  a.client.close({ closeCode: 1000 });
  await piped;
  await Promise.all([a.server.closed, b.server.closed]);
});

t.test("the destination failing cancels the source and rejects the pipe", async (t) => {
  const a = await connected();
  const b = await connected();
  const piped = (await a.server.opened).readable.pipeTo((await b.client.opened).writable);
  b.pair.toServer.kill(new Error("link cut"));
  b.pair.toClient.kill(new Error("link cut"));
  await t.rejects(piped, "the pipe rejects with the destination's failure");
  await t.rejects(b.client.closed, "the destination session failed");
  // The source was cancelled: its session closed (it tells its peer).
  await a.server.closed.catch(() => {});
  await a.client.closed.catch(() => {});
  t.pass("the source's session ended");
});

t.test("preventClose: the source's end leaves the destination open and unlocked", async (t) => {
  const a = await connected();
  const b = await connected();
  const to = await b.client.opened;
  const piped = (await a.server.opened).readable.pipeTo(to.writable, { preventClose: true });
  const reader = (await b.server.opened).readable.getReader();
  const writer = (await a.client.opened).writable.getWriter();
  await writer.write("through the relay");
  t.equal((await reader.read()).value, "through the relay");
  a.client.close({ closeCode: 1000 });
  await piped;
  t.notOk(to.writable.locked, "the destination's lock is released");
  const after = to.writable.getWriter();
  await after.write("still open");
  t.equal((await reader.read()).value, "still open");
  b.client.close({ closeCode: 1000 });
  await Promise.all([b.client.closed, b.server.closed]);
});

t.test("the platform's pipeTo runs where the direct path could be told apart: a signal, messages already queued", async (t) => {
  const { client, server } = await connected();
  const s = await server.opened;
  const c = await client.opened;
  const writer = c.writable.getWriter();
  const reader = c.readable.getReader();
  // Three messages reach the server's readable before anyone pipes it.
  for (const m of ["one", "two", "three"]) await writer.write(m);
  await sleep(20);
  let piped!: Promise<void>;
  const queued = await countNativePipes(async () => {
    piped = s.readable.pipeTo(s.writable);
  });
  t.equal(queued, 1, "queued messages: the platform's pipeTo");
  await writer.write("four");
  const got = [];
  for (let i = 0; i < 4; i++) got.push((await reader.read()).value);
  t.same(got, ["one", "two", "three", "four"], "in order");
  client.close({ closeCode: 1000 });
  await piped;

  const other = await connected();
  const controller = new AbortController();
  let signalled!: Promise<void>;
  const withSignal = await countNativePipes(async () => {
    const o = await other.server.opened;
    signalled = o.readable.pipeTo(o.writable, { signal: controller.signal });
  });
  t.equal(withSignal, 1, "a signal: the platform's pipeTo");
  controller.abort(new Error("stop"));
  await t.rejects(signalled, { message: "stop" });
  await other.client.closed.catch(() => {});
});
