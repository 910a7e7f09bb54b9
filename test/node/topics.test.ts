// Topics on WebSocketServer in one process (no Redis): subscribe,
// unsubscribe, publish to the subscribers only, counting and listing without
// a scan, topics forgotten when a session ends (closed or dropped), the
// backpressureLimit rules of broadcast (skip, or close with 1008), text and
// binary, compressed and plain subscribers side by side; and a backplane
// (an in-memory one linking two servers) that gives every subscriber of both
// servers each message once, in order, keeps local delivery when it fails,
// and is closed by the server's close(). The Topics class alone: its two
// maps stay mirrors of each other.
import t, { type Test } from "tap";
import { createConnection, type Socket } from "node:net";
import WebSocket from "ws";
import { WebSocketServer, Topics, type Backplane, type BackplaneHandler } from "../../src/node/index.ts";
import type { WebSocketSession } from "../../src/streams/sessions.ts";

const FAST = { pingInterval: null, closeTimeout: 2000, handshakeTimeout: 5000 } as const;

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function serve(t: Test, options: Partial<ConstructorParameters<typeof WebSocketServer>[0]> = {}) {
  const sessions: WebSocketSession[] = [];
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", ...FAST, onSession: (s) => void sessions.push(s), ...options });
  t.teardown(() => server.close({ timeout: 500 }));
  const { port } = await server.listening;
  return { server, port, url: `ws://127.0.0.1:${port}`, sessions };
}

interface Client {
  ws: WebSocket;
  messages: Array<string | Buffer>;
}

async function open(t: Test, url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(url, options);
  const messages: Array<string | Buffer> = [];
  ws.on("message", (data: Buffer, isBinary) => messages.push(isBinary ? data : data.toString()));
  ws.on("error", () => {});
  t.teardown(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return { ws, messages };
}

/** Open `count` clients and return them with their server-side sessions, in the same order. */
async function clients(t: Test, env: Awaited<ReturnType<typeof serve>>, count: number, options: WebSocket.ClientOptions = {}) {
  const out: Array<Client & { session: WebSocketSession }> = [];
  for (let i = 0; i < count; i++) {
    const before = env.sessions.length;
    const client = await open(t, env.url, options);
    await until("the session", () => env.sessions.length > before);
    out.push({ ...client, session: env.sessions[before]! });
  }
  return out;
}

/** A raw client that completes the handshake, then never reads. */
async function stuckClient(t: Test, port: number): Promise<Socket> {
  const socket = createConnection(port, "127.0.0.1");
  t.teardown(() => socket.destroy());
  socket.write(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  await new Promise<void>((resolve) => {
    let head = "";
    const onData = (chunk: Buffer): void => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      socket.pause();
      resolve();
    };
    socket.on("data", onData);
  });
  return socket;
}

t.test("subscribe, publish to the subscribers only, unsubscribe; counts and lists; except", async (t) => {
  const env = await serve(t);
  const { server } = env;
  const [a, b, c] = await clients(t, env, 3);
  server.subscribe(a!.session, "news");
  server.subscribe(a!.session, "news"); // again: nothing changes
  server.subscribe(b!.session, "news");
  server.subscribe(b!.session, "sport");
  t.equal(server.subscriberCount("news"), 2);
  t.equal(server.subscriberCount("sport"), 1);
  t.equal(server.subscriberCount("nobody"), 0);
  t.same([...server.subscribers("news")], [a!.session, b!.session]);
  t.same([...server.topicsOf(b!.session)], ["news", "sport"]);
  t.same([...server.topicsOf(c!.session)], []);

  t.equal(server.publish("news", "headline"), 2, "written to the two subscribers");
  t.equal(server.publish("sport", new Uint8Array([1, 2, 3])), 1);
  t.equal(server.publish("nobody", "into the void"), 0);
  t.equal(server.publish("news", "not to a", { except: a!.session }), 1, "except leaves the sender out");
  server.unsubscribe(b!.session, "news");
  server.unsubscribe(b!.session, "news"); // again: nothing changes
  server.unsubscribe(c!.session, "news"); // never subscribed: nothing changes
  t.equal(server.subscriberCount("news"), 1);
  t.equal(server.publish("news", "only a"), 1);
  await until("a's messages", () => a!.messages.length === 2);
  await until("b's messages", () => b!.messages.length === 3);
  t.same(a!.messages, ["headline", "only a"]);
  t.same(b!.messages, ["headline", Buffer.from([1, 2, 3]), "not to a"]);
  t.same(c!.messages, [], "no topic, no message");
  t.throws(() => server.publish("news", "\ud800"), { code: "WS_ERR_INVALID_UTF16" }, "a lone surrogate throws, nothing is sent");
});

t.test("a session's topics are forgotten when it ends: closed cleanly or dropped", async (t) => {
  const env = await serve(t);
  const { server } = env;
  const [a, b, c] = await clients(t, env, 3);
  for (const topic of ["x", "y", "z"]) {
    server.subscribe(a!.session, topic);
    server.subscribe(b!.session, topic);
  }
  server.subscribe(c!.session, "x");
  a!.ws.close(1000);
  b!.ws.terminate(); // no close frame
  await until("both ended", () => server.connections.size === 1);
  await until("forgotten", () => server.subscriberCount("y") === 0);
  for (const topic of ["y", "z"]) t.equal(server.subscriberCount(topic), 0, `${topic}: no subscriber left (and no empty set kept)`);
  t.same([...server.subscribers("x")], [c!.session]);
  t.same([...server.topicsOf(a!.session)], []);
  t.same([...server.topicsOf(b!.session)], []);
  t.equal(server.publish("x", "still here"), 1);
});

t.test("1,000 subscribers get one 1 KiB publish; compressed and plain subscribers side by side decode the same message", async (t) => {
  const env = await serve(t);
  const { server } = env;
  const plain: Client[] = [];
  for (let batch = 0; batch < 10; batch++) {
    plain.push(...(await Promise.all(Array.from({ length: 100 }, () => open(t, env.url, { perMessageDeflate: false })))));
  }
  await until("1,000 sessions", () => env.sessions.length === 1000);
  for (const session of env.sessions) server.subscribe(session, "all");
  const compressed = await clients(t, env, 3); // ws offers permessage-deflate
  for (const { session } of compressed) server.subscribe(session, "all");
  const payload = new Uint8Array(1024).map((_, i) => i & 0xff);
  t.equal(server.publish("all", payload), 1003);
  const text = "topic ".repeat(500); // 3,000 bytes: over the compression threshold
  t.equal(server.publish("all", text), 1003);
  await until("every message", () => [...plain, ...compressed].every((c) => c.messages.length === 2), 30_000);
  const everyone = [...plain, ...compressed];
  t.ok(everyone.every((c) => Buffer.compare(c.messages[0] as Buffer, Buffer.from(payload)) === 0), "every subscriber got the same 1 KiB");
  t.ok(everyone.every((c) => c.messages[1] === text), "every subscriber got the same text");
});

t.test("backpressureLimit: a subscriber that never reads is skipped (or closed with 1008), the others get everything", async (t) => {
  for (const closeOnBackpressureLimit of [false, true]) {
    await t.test(`closeOnBackpressureLimit: ${closeOnBackpressureLimit}`, async (t) => {
      const limit = 64 * 1024;
      const env = await serve(t, { backpressureLimit: limit, closeOnBackpressureLimit, closeTimeout: 300 });
      const { server } = env;
      const [good] = await clients(t, env, 1, { perMessageDeflate: false });
      await stuckClient(t, env.port);
      await until("2 sessions", () => env.sessions.length === 2);
      for (const session of env.sessions) server.subscribe(session, "feed");
      const message = new Uint8Array(16 * 1024);
      let skipped = 0;
      let sent = 0;
      for (let i = 0; i < 2000 && skipped < 20; i++) {
        if (server.publish("feed", message) < 2) skipped++;
        sent++;
        await new Promise((resolve) => setImmediate(resolve));
      }
      t.ok(skipped >= 20, `the stuck subscriber was left out (${skipped} of ${sent})`);
      await until("the good subscriber got everything", () => good!.messages.length === sent, 30_000);
      if (closeOnBackpressureLimit) {
        await until("the stuck one closed", () => server.subscriberCount("feed") === 1);
        t.equal(server.subscriberCount("feed"), 1, "closed, and forgotten");
      } else {
        t.equal(server.subscriberCount("feed"), 2, "skipped, still subscribed");
      }
    });
  }
});

/** Backplanes that reach each other in memory: each delivers what the others publish, in order, never its own. */
function linkedBackplanes(count: number) {
  const handlers: Array<BackplaneHandler | null> = Array.from({ length: count }, () => null);
  const log = { published: 0, closed: 0, fail: false };
  const planes = handlers.map(
    (_, index): Backplane => ({
      async publish(topic, data, binary) {
        log.published++;
        if (log.fail) throw new Error("backplane down");
        const copy = data.slice();
        queueMicrotask(() => handlers.forEach((h, i) => i !== index && h?.(topic, copy, binary)));
      },
      async subscribe(handler) {
        handlers[index] = handler;
      },
      async close() {
        log.closed++;
        handlers[index] = null;
      },
    }),
  );
  return { planes, log };
}

t.test("a backplane links two servers: every subscriber of both gets each message once, in order", async (t) => {
  const { planes, log } = linkedBackplanes(2);
  const errors: unknown[] = [];
  const one = await serve(t, { backplane: planes[0]!, onError: (e) => void errors.push(e) });
  const two = await serve(t, { backplane: planes[1]! });
  const ones = await clients(t, one, 2);
  const twos = await clients(t, two, 2);
  for (const { session } of ones) one.server.subscribe(session, "chat");
  for (const { session } of twos) two.server.subscribe(session, "chat");
  const [other] = await clients(t, two, 1);
  two.server.subscribe(other!.session, "elsewhere");
  const sent: string[] = [];
  for (let i = 0; i < 50; i++) {
    sent.push(`one ${i}`, `two ${i}`);
    t.equal(one.server.publish("chat", `one ${i}`), 2, "local deliveries only are counted");
    two.server.publish("chat", `two ${i}`);
  }
  one.server.publish("chat", new Uint8Array([0xff]));
  const everyone = [...ones, ...twos];
  await until("every message everywhere", () => everyone.every((c) => c.messages.length === 101));
  for (const [i, c] of everyone.entries()) {
    const texts = c.messages.filter((m): m is string => typeof m === "string");
    t.same(new Set(texts).size, 100, `client ${i}: each message once`);
    t.same(texts.filter((m) => m.startsWith("one")), sent.filter((m) => m.startsWith("one")), `client ${i}: one's messages in order`);
    t.same(texts.filter((m) => m.startsWith("two")), sent.filter((m) => m.startsWith("two")), `client ${i}: two's messages in order`);
    t.same(c.messages.filter((m) => typeof m !== "string"), [Buffer.from([0xff])], `client ${i}: binary stays binary`);
  }
  t.same(other!.messages, [], "another topic's subscriber got nothing");

  // The backplane fails: local subscribers are still served, the failure is reported.
  log.fail = true;
  t.equal(one.server.publish("chat", "local only"), 2);
  await until("local delivery", () => ones.every((c) => c.messages.at(-1) === "local only"));
  await until("reported", () => errors.length === 1);
  t.match(errors[0], { message: "backplane down" }, "the failure went to onError");
  t.equal(twos[0]!.messages.length, 101, "the other server did not get it");

  await one.server.close({ timeout: 500 });
  await two.server.close({ timeout: 500 });
  t.equal(log.closed, 2, "close() closed each server's backplane");
  const published = log.published;
  one.server.publish("chat", "after close");
  t.equal(log.published, published, "nothing goes to a closed backplane");
});

t.test("Topics alone: its two maps stay mirrors of each other through any sequence", async (t) => {
  const ends: Array<() => void> = [];
  const session = (): WebSocketSession => {
    let end!: () => void;
    const closed = new Promise<void>((resolve) => (end = resolve));
    ends.push(end);
    return { closed } as unknown as WebSocketSession;
  };
  const delivered: Array<[number, string | Uint8Array]> = [];
  const topics = new Topics({ deliver: (targets, message) => (delivered.push([targets.size, message]), targets.size) });
  const sessions = Array.from({ length: 5 }, session);
  const names = ["a", "b", "c"];
  let seed = 7;
  const random = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const check = (): boolean => {
    for (const s of sessions) for (const name of topics.topicsOf(s)) if (!topics.subscribers(name).has(s)) return false;
    for (const name of topics.topics()) {
      if (topics.subscriberCount(name) === 0) return false;
      for (const s of topics.subscribers(name)) if (!topics.topicsOf(s).has(name)) return false;
    }
    return true;
  };
  let mirrored = true;
  for (let i = 0; i < 500; i++) {
    const s = sessions[random(5)]!;
    const name = names[random(3)]!;
    if (random(2) === 0) topics.subscribe(s, name);
    else topics.unsubscribe(s, name);
    mirrored &&= check();
  }
  t.ok(mirrored, "after every one of 500 random subscribes and unsubscribes");
  for (const s of sessions) topics.subscribe(s, "a");
  t.equal(topics.publish("a", "x"), 5);
  ends.forEach((end) => end());
  await new Promise((resolve) => setImmediate(resolve));
  t.same([...topics.topics()], [], "every session ended: no topic left");
  t.ok(check());
  t.equal(topics.publish("a", "y"), 0, "no subscriber, no delivery");
  t.same(delivered, [[5, "x"]], "deliver is not called for a topic without subscribers");
});
