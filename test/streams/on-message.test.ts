// The `onMessage` option: messages to a callback instead of `readable`, its
// back-pressure (a pending promise stops reading), its failures (1011), with
// fragments, and over real TCP through acceptNodeUpgrade.
import t from "tap";
import { createServer } from "node:http";
import { acceptWebSocket, connectWebSocket, WebSocketError, type MessageChunk } from "../../src/streams/sessions.ts";
import { acceptNodeUpgrade, connectNodeWebSocket } from "../../src/node/index.ts";
import { memoryPair, rejection, sleep } from "./_helpers.ts";

const FAST = { closeTimeout: 2000, handshakeTimeout: 2000 } as const;

const bytes = (i: number, size: number): Uint8Array => {
  const out = new Uint8Array(size);
  for (let j = 0; j < size; j++) out[j] = (i * 31 + j * 7) & 0xff;
  return out;
};

t.test("an echo through onMessage: every message back in order; the readable delivers nothing and ends with the session", async (t) => {
  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, { ...FAST, onMessage: (message, ws) => ws.send(message) });
  const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
  const [s, c] = await Promise.all([server.opened, client.opened]);
  const writer = c.writable.getWriter();
  const reader = c.readable.getReader();
  const sent: Array<string | Uint8Array> = ["hello", "", "ünïcödé ✓", new Uint8Array([1, 2, 3]), bytes(1, 100_000)];
  for (const m of sent) void writer.write(m);
  for (const m of sent) t.same((await reader.read()).value, m);
  client.close({ closeCode: 1000, reason: "bye" });
  t.same(await server.closed, { closeCode: 1000, reason: "bye" });
  const after = await s.readable.getReader().read();
  t.same(after, { done: true, value: undefined }, "the readable got no message and is closed");
});

t.test("a pending promise from onMessage stops reading; every message still arrives, in order, one at a time", async (t) => {
  const pair = memoryPair();
  const got: Uint8Array[] = [];
  let release: (() => void) | null = null;
  let concurrent = 0;
  let maxConcurrent = 0;
  const server = acceptWebSocket(pair.server, {
    ...FAST,
    onMessage: (message) => {
      got.push(message as Uint8Array);
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      return new Promise<void>((resolve) => {
        release = () => {
          concurrent--;
          resolve();
        };
      });
    },
  });
  const client = connectWebSocket(pair.client, { ...FAST, host: "h", extensions: [] });
  const [, c] = await Promise.all([server.opened, client.opened]);
  const writer = c.writable.getWriter();
  const COUNT = 100;
  const SIZE = 64 * 1024;
  for (let i = 0; i < COUNT; i++) void writer.write(bytes(i, SIZE)).catch(() => {});
  await sleep(200);
  t.equal(got.length, 1, "one message delivered while its promise is pending");
  const pulled = pair.toServer.pulled();
  t.ok(pulled < 2 * 1024 * 1024, `the server read ${pulled} of ${COUNT * SIZE} bytes meanwhile`);
  while (got.length < COUNT) {
    const r = release as (() => void) | null;
    if (r === null) {
      await sleep(1);
      continue;
    }
    release = null;
    r();
    await sleep(0);
  }
  (release as (() => void) | null)?.();
  t.equal(maxConcurrent, 1, "never two at once");
  t.ok(
    got.every((m, i) => m.byteLength === SIZE && m[0] === bytes(i, 1)[0] && m[SIZE - 1] === bytes(i, SIZE)[SIZE - 1]),
    "in order and intact",
  );
  client.close({ closeCode: 1000 });
  await Promise.all([client.closed, server.closed]);
});

t.test("onMessage throwing or rejecting fails the connection with 1011", async (t) => {
  for (const how of ["throw", "reject"] as const) {
    const pair = memoryPair();
    const boom = new Error(`boom (${how})`);
    const server = acceptWebSocket(pair.server, {
      ...FAST,
      onMessage: () => {
        if (how === "throw") throw boom;
        return Promise.reject(boom);
      },
    });
    const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
    const [, c] = await Promise.all([server.opened, client.opened]);
    await c.writable.getWriter().write("hi");
    const error = await rejection<WebSocketError>(server.closed);
    t.equal(error.code, "WS_ERR_MESSAGE_HANDLER", how);
    t.equal(error.closeCode, 1011);
    t.equal(error.cause, boom, "the handler's error is the cause");
    // For the peer it is a clean closing handshake with 1011.
    t.same(await client.closed, { closeCode: 1011, reason: "Internal error" }, `${how}: the peer was told 1011`);
  }
});

t.test("onMessage with fragments: true gets the pieces as they come", async (t) => {
  const pair = memoryPair();
  const pieces: MessageChunk[] = [];
  const server = acceptWebSocket(pair.server, { ...FAST, fragments: true, onMessage: (piece) => void pieces.push(piece) });
  const client = connectWebSocket(pair.client, { ...FAST, host: "h", extensions: [] });
  await Promise.all([server.opened, client.opened]);
  const { TextMessage } = await import("../../src/protocol/events.ts");
  const c = await client.opened;
  const writer = c.writable.getWriter();
  await writer.write(new TextMessage({ data: "ab", frameFinished: true, messageFinished: false }));
  await writer.write(new TextMessage({ data: "cd", frameFinished: true, messageFinished: true }));
  await sleep(20);
  t.same(
    pieces.map((p) => [p.data, p.messageFinished]),
    [
      ["ab", false],
      ["cd", true],
    ],
  );
  client.close({ closeCode: 1000 });
  await Promise.all([client.closed, server.closed]);
});

t.test("over TCP: acceptNodeUpgrade with onMessage echoes to connectNodeWebSocket, compressed", async (t) => {
  const server = createServer();
  server.on("upgrade", (req, socket, head) => {
    const ws = acceptNodeUpgrade(req, socket, head, { onMessage: (message, session) => session.send(message) });
    ws.closed.catch(() => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => server.close());
  const ws = connectNodeWebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`);
  const { readable, writable, extensions } = await ws.opened;
  t.match(extensions, /permessage-deflate/);
  const writer = writable.getWriter();
  const reader = readable.getReader();
  const big = "x".repeat(300_000);
  for (const m of ["one", big, "three"]) void writer.write(m);
  t.equal((await reader.read()).value, "one");
  t.equal((await reader.read()).value, big);
  t.equal((await reader.read()).value, "three");
  ws.close({ closeCode: 1000 });
  t.same(await ws.closed, { closeCode: 1000, reason: "" });
});
