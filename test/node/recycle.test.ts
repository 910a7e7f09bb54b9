// Reused arrays (streams/session/messages.ts): a large frame the socket took
// whole, or a message a direct pipe wrote on unseen, holds the next array of
// its size that the application will not see. Reuse must never show: every
// message the application keeps stays intact (and none is ever a reused
// array), frames the socket still holds are never written over (a peer that
// stops reading), and only arrays the session's allocator made are reused.
import t from "tap";
import { connectNodeWebSocket } from "../../src/node/index.ts";
import type { WebSocketSession } from "../../src/streams/sessions.ts";
import { allocateRecycled, recycle, reuseArrays } from "../../src/streams/session/messages.ts";
import { sleep } from "../streams/_helpers.ts";
import { FAST, serve } from "./_tcp.ts";

const SIZE = 256 * 1024;

/** Message `i`: every byte depends on `i` and its position, so a byte from another message or frame shows. */
function message(i: number, size = SIZE): Uint8Array {
  const out = new Uint8Array(size);
  for (let p = 0; p < size; p++) out[p] = (p * 31 + i * 7 + (p >>> 8)) & 0xff;
  return out;
}

/** The first index at which `got` is not message `i`, or -1. */
function firstDifference(got: Uint8Array, i: number): number {
  const want = message(i, got.byteLength);
  for (let p = 0; p < got.byteLength; p++) if (got[p] !== want[p]) return p;
  return -1;
}

/**
 * A receiver that stops on the first message until `release()` (its
 * `onMessage` holds the session's reading meanwhile) and resolves `done`
 * once `count` messages arrived.
 */
function stalledReceiver(count: number): {
  received: Uint8Array[];
  onMessage: (m: unknown) => Promise<void>;
  release: () => void;
  done: Promise<void>;
} {
  const received: Uint8Array[] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let all!: () => void;
  const done = new Promise<void>((resolve) => (all = resolve));
  const onMessage = async (m: unknown): Promise<void> => {
    received.push(m as Uint8Array);
    if (received.length === 1) await held;
    if (received.length === count) all();
  };
  return { received, onMessage, release, done };
}

/** The indexes of the messages that are not message `i` (at their index). */
function corrupted(messages: Uint8Array[]): number[] {
  return messages.map((m, i) => (firstDifference(m, i) === -1 ? -1 : i)).filter((i) => i !== -1);
}



/** `allocateRecycled(size)` with reuse on, as transmit does for a frame (and inbound for a piped message). */
function frameArray(size: number): Uint8Array {
  const previous = reuseArrays(true);
  try {
    return allocateRecycled(size);
  } finally {
    reuseArrays(previous);
  }
}

t.test("the allocator reuses only frames it made, only for frames of exactly their size, each once", async (t) => {
  const a = frameArray(SIZE);
  recycle(a);
  t.ok(allocateRecycled(SIZE) !== a, "a received message's array is always fresh");
  const b = frameArray(SIZE);
  t.ok(b === a, "the frame given back is the next frame of its size");
  t.ok(frameArray(SIZE) !== a, "and only once");
  recycle(b);
  t.ok(frameArray(SIZE + 1) !== b, "another size gets a fresh array");
  t.ok(frameArray(SIZE) === b, "the spare waited for its size");
  const message = allocateRecycled(SIZE);
  recycle(message);
  t.ok(frameArray(SIZE) !== message, "a message's array is never taken back");
  const foreign = new Uint8Array(SIZE);
  recycle(foreign);
  t.ok(frameArray(SIZE) !== foreign, "nor an array the allocator did not make");
  const small = frameArray(1024);
  recycle(small);
  t.ok(frameArray(1024) !== small, "small frames are not kept (the frame slab serves them)");
  const [x, y, z] = [frameArray(SIZE), frameArray(SIZE + 14), frameArray(SIZE + 8)];
  recycle(x);
  recycle(y);
  t.ok(frameArray(SIZE) === x, "two sizes are kept side by side (an echo's messages and frames)");
  t.ok(frameArray(SIZE + 14) === y, "...both of them");
  recycle(x);
  recycle(y);
  recycle(z);
  t.ok(frameArray(SIZE + 8) === z, "a third size pushes out the older of the two");
  t.ok(frameArray(SIZE + 14) === y, "and keeps the newer");
  t.ok(frameArray(SIZE) !== x, "the older is gone");
  t.equal(reuseArrays(false), false, "reuse is off again after each use");
});

t.test("an echo over TCP (direct pipe), one at a time and in bursts: every message the client keeps stays intact", async (t) => {
  const port = await serve(t, {}, (ws) => {
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  });
  const client = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { ...FAST, extensions: [] });
  const { readable, writable } = await client.opened;
  const reader = readable.getReader();
  const writer = writable.getWriter();
  const kept: Uint8Array[] = [];
  for (let i = 0; i < 24; i++) {
    await writer.write(message(i));
    kept.push((await reader.read()).value as Uint8Array);
  }
  for (let burst = 0; burst < 3; burst++) {
    const base = kept.length;
    for (let i = 0; i < 16; i++) void writer.write(message(base + i));
    for (let i = 0; i < 16; i++) kept.push((await reader.read()).value as Uint8Array);
  }
  t.same(corrupted(kept), [], `all ${kept.length} messages intact after the whole exchange`);
  t.equal(new Set(kept.map((m) => m.buffer)).size, kept.length, "no two kept messages share memory");
  client.close({ closeCode: 1000 });
  await client.closed;
});

t.test("an onMessage echo over TCP: messages handed to the application are never reused", async (t) => {
  const seen: Uint8Array[] = [];
  const port = await serve(
    t,
    {
      onMessage: (m: Uint8Array, s: WebSocketSession) => {
        seen.push(m);
        return s.send(m);
      },
    },
    () => {},
  );
  const received: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  const client = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, {
    ...FAST,
    extensions: [],
    onMessage: (m) => {
      received.push(m as Uint8Array);
      wake?.();
    },
  });
  await client.opened;
  const count = 30;
  for (let i = 0; i < count; i++) {
    const arrived = new Promise<void>((resolve) => (wake = resolve));
    await client.send(message(i));
    await arrived;
  }
  t.same(corrupted(seen), [], "every message the server's handler kept is intact");
  t.same(corrupted(received), [], "every message the client's handler kept is intact");
  client.close({ closeCode: 1000 });
  await client.closed;
});

t.test("frames the socket still holds are not written over: a peer that stops reading, then reads everything", async (t) => {
  const count = 40;
  // The server stops reading after the first message: the client's socket buffer fills.
  const server = stalledReceiver(count);
  const port = await serve(t, { onMessage: server.onMessage }, () => {});
  const client = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { ...FAST, extensions: [] });
  await client.opened;
  // Sent without waiting (send() does not queue behind back-pressure): the
  // socket soon holds frames it has not sent (its bufferedAmount is not 0)
  // while the next frames of the same size are built.
  for (let i = 0; i < count; i++) void client.send(message(i)).catch(() => {});
  await sleep(200);
  t.ok(client.bufferedAmount > 0 || server.received.length < count, "the client's socket holds frames the server has not read");
  server.release();
  await server.done;
  t.same(corrupted(server.received), [], `all ${count} messages arrived intact`);
  client.close({ closeCode: 1000 });
  await client.closed;
});

t.test("a direct pipe's messages are not reused while the socket still holds them: a client that stops reading its echoes", async (t) => {
  const port = await serve(t, {}, (ws) => {
    ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  });
  const count = 40;
  // The client stops reading after the first echo: the server's echoes back up in its socket.
  const receiver = stalledReceiver(count);
  const client = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { ...FAST, extensions: [], onMessage: receiver.onMessage });
  await client.opened;
  for (let i = 0; i < count; i++) void client.send(message(i)).catch(() => {});
  await sleep(300);
  t.ok(receiver.received.length < count, "the echoes wait in the server's socket while the client does not read");
  // Meanwhile another connection to the same server echoes messages of the
  // same size, one at a time: its piped messages would take any array given
  // back too early (one still in the first connection's socket).
  const other = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { ...FAST, extensions: [] });
  const o = await other.opened;
  const writer = o.writable.getWriter();
  const reader = o.readable.getReader();
  const echoed: Uint8Array[] = [];
  for (let i = 0; i < 20; i++) {
    await writer.write(message(i));
    echoed.push((await reader.read()).value as Uint8Array);
  }
  t.same(corrupted(echoed), [], "the other connection's echoes are intact");
  other.close({ closeCode: 1000 });
  receiver.release();
  await receiver.done;
  t.same(corrupted(receiver.received), [], `all ${count} echoes arrived intact`);
  client.close({ closeCode: 1000 });
  await client.closed;
});
