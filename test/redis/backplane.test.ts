// The Redis backplane against a real redis-server (Debian's), started here
// on a unix socket in a temporary folder and killed by pid: three server
// processes (test/redis/fixtures/topic-server.ts), two subscribed clients on
// each, publishes from each: every subscriber gets every message once, in
// the order each publisher sent. Then Redis is stopped: every server keeps
// serving its own subscribers and reports the outage, none crashes; Redis
// is started again on the same socket: delivery across processes resumes.
// A message published on the channel by another program (not a wsproto
// server) reaches the subscribers as text.
import t, { type Test } from "tap";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { createClient } from "redis";
import { BIN, explain, startPeer, tsx, type Peer } from "../helpers/process.ts";
import { redisBackplane } from "../../src/redis/index.ts";

const REDIS = "/usr/bin/redis-server";
const PUBLISHES = 40;

t.ok(existsSync(REDIS), "redis-server is installed (Debian's redis-server package, in .ci/run)");

/** Resolve once `check()` is true; fail with `what()` after `ms`. */
async function until(check: () => boolean, what: () => string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function startRedis(t: Test, dir: string, socket: string): Promise<Peer> {
  return startPeer(
    t,
    REDIS,
    ["--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", dir],
    { ready: /ready to accept connections/i, timeoutMs: 60_000 },
  );
}

interface Client {
  readonly name: string;
  readonly ws: WebSocket;
  readonly messages: string[];
}

async function openClient(t: Test, url: string, name: string, topics: string[]): Promise<Client> {
  const ws = new WebSocket(url);
  const messages: string[] = [];
  ws.on("message", (data, isBinary) => messages.push(isBinary ? `binary ${data.toString()}` : data.toString()));
  ws.on("error", () => {});
  t.teardown(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  for (const topic of topics) ws.send(`sub ${topic}`);
  const client = { name, ws, messages };
  await until(
    () => topics.every((topic) => messages.includes(`subscribed ${topic}`)),
    () => `${name} subscribed`,
  );
  return client;
}

/** The messages `client` got that start with `tag`, by publisher: publisher -> sequence numbers, in arrival order. */
function byPublisher(client: Client, tag: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of client.messages) {
    if (!m.startsWith(tag)) continue;
    const [publisher, n] = m.slice(tag.length).split(":");
    const list = out.get(publisher!) ?? [];
    list.push(Number(n));
    out.set(publisher!, list);
  }
  return out;
}

t.test("three processes through redis-server: once each, in order; Redis stopped and restarted: no crash, delivery resumes", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "wsproto-redis-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, "redis.sock");
  let redis = await startRedis(t, dir, socket);

  const names = ["A", "B", "C"];
  const servers = new Map<string, Peer>();
  for (const name of names) servers.set(name, await startPeer(t, BIN.node, tsx("test/redis/fixtures/topic-server.ts", socket), { timeoutMs: 60_000 }));
  const clients: Client[] = [];
  for (const name of names) {
    for (const i of [1, 2]) clients.push(await openClient(t, servers.get(name)!.url, `${name}${i}`, ["chat"]));
  }
  const bystander = await openClient(t, servers.get("B")!.url, "B-other", ["other"]);
  const publisher = (name: string): Client => clients.find((c) => c.name === `${name}1`)!;

  // Publishes from every process at once, interleaved.
  for (let i = 0; i < PUBLISHES; i++) {
    for (const name of names) publisher(name).ws.send(`pub chat m ${name}:${i}`);
  }
  const expected = names.length * PUBLISHES;
  await until(
    () => clients.every((c) => byPublisher(c, "m ").size === names.length && [...byPublisher(c, "m ").values()].every((l) => l.length >= PUBLISHES)),
    () => clients.map((c) => `${c.name}: ${c.messages.length}`).join(", "),
  );
  const inOrder = Array.from({ length: PUBLISHES }, (_, i) => i);
  for (const c of clients) {
    const got = byPublisher(c, "m ");
    let count = 0;
    for (const name of names) {
      t.same(got.get(name), inOrder, `${c.name} got ${name}'s messages once each, in order`);
      count += got.get(name)?.length ?? 0;
    }
    t.equal(count, expected, `${c.name}: ${expected} messages, no more`);
  }
  publisher("C").ws.send("pub other m C:0");
  await until(() => bystander.messages.length === 2, () => `bystander: ${bystander.messages.join("|")}`);
  t.same(bystander.messages, ["subscribed other", "m C:0"], "a subscriber of another topic got only that topic's message");

  // A program that is not a wsproto server publishes on the channel.
  const outsider = createClient({ socket: { path: socket, tls: false } });
  outsider.on("error", () => {});
  await outsider.connect();
  await outsider.publish("wsproto:chat", "m outsider:0");
  await outsider.close();
  await until(() => clients.every((c) => c.messages.includes("m outsider:0")), () => "the outsider's message everywhere");
  t.pass("a plain PUBLISH from another program reaches every subscriber as text");

  // Redis goes away.
  await redis.kill();
  publisher("A").ws.send("pub chat down A:0");
  const local = clients.filter((c) => c.name.startsWith("A"));
  await until(() => local.every((c) => c.messages.includes("down A:0")), () => "A's subscribers served while Redis is down");
  t.pass("while Redis is down, a process still serves its own subscribers");
  for (const [name, server] of servers) {
    await until(
      () => server.stdout().includes("backplane-error WS_ERR_BACKPLANE_DOWN"),
      () => explain(`${name} reports the outage`, server),
    );
  }
  t.pass("every process reported the outage (WS_ERR_BACKPLANE_DOWN)");

  // Redis comes back on the same socket: node-redis reconnects and subscribes again.
  redis = await startRedis(t, dir, socket);
  let probe = 0;
  const probed = (c: Client): boolean => names.every((name) => c.messages.some((m) => m.startsWith(`probe ${name}:`)));
  await until(
    () => {
      if (clients.every(probed)) return true;
      if (probe % 10 === 0) for (const name of names) publisher(name).ws.send(`pub chat probe ${name}:${probe / 10}`);
      probe++;
      return false;
    },
    () => explain("delivery across processes resumes", servers.get("A")!),
    30_000,
  );
  t.pass("after the restart, every process's messages reach every process again");

  for (let i = 0; i < PUBLISHES; i++) {
    for (const name of names) publisher(name).ws.send(`pub chat after ${name}:${i}`);
  }
  await until(
    () => clients.every((c) => [...byPublisher(c, "after ").values()].reduce((n, l) => n + l.length, 0) >= expected),
    () => clients.map((c) => `${c.name}: ${c.messages.length}`).join(", "),
  );
  for (const c of clients) {
    const got = byPublisher(c, "after ");
    t.ok(names.every((name) => JSON.stringify(got.get(name)) === JSON.stringify(inOrder)), `${c.name}: after the restart, once each, in order`);
    t.equal(new Set(c.messages).size, c.messages.length, `${c.name}: no message arrived twice, across the whole test`);
    t.notOk(c.messages.some((m) => m.startsWith("binary ")), `${c.name}: text arrived as text`);
  }
  for (const [name, server] of servers) t.equal(server.child.exitCode, null, `${name} is still running`);
});

t.test("while Redis is down, what waits for it stays under bufferLimit; the rest is dropped, counted and reported once; afterwards it flows again", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "wsproto-redis-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, "redis.sock");
  let redis = await startRedis(t, dir, socket);
  const connect = async () => {
    const client = createClient({ socket: { path: socket, tls: false } });
    t.teardown(() => void client.close().catch(() => client.destroy()));
    return client.connect();
  };
  const sender = await connect();
  const receiver = await connect();
  const errors: Array<{ code?: string }> = [];
  const limit = 16 * 1024;
  const out = await redisBackplane(sender, { bufferLimit: limit, onError: (e) => void errors.push(e as { code?: string }) });
  const into = await redisBackplane(receiver);
  t.teardown(() => out.close());
  t.teardown(() => into.close());
  const received: string[] = [];
  await into.subscribe((topic, data, binary) => received.push(`${topic} ${binary} ${Buffer.from(data).toString()}`));
  const outGot: string[] = [];
  await out.subscribe((topic, data, binary) => outGot.push(`${topic} ${binary} ${Buffer.from(data).toString("hex")}`));

  await out.publish("t", Buffer.from("before"), false);
  await until(() => received.length === 1, () => "the first message");
  t.same(received, ["t false before"]);
  await receiver.publish("wsproto:raw", Buffer.from([0xff, 0xfe]));
  await until(() => outGot.length === 1, () => "another program's message");
  t.same(outGot, ["raw true fffe"], "another program's bytes that are not UTF-8 arrive as binary; a backplane never receives its own messages");
  received.length = 0;

  await redis.kill();
  await until(() => errors.length > 0 && !out.connected, () => "the outage noticed");
  const kib = new Uint8Array(1024);
  let maxPending = 0;
  const publishes: Array<Promise<void>> = [];
  for (let i = 0; i < 1000; i++) {
    publishes.push(out.publish("t", kib, true));
    maxPending = Math.max(maxPending, out.pendingBytes);
  }
  t.ok(maxPending <= limit, `at most bufferLimit bytes wait for Redis (${maxPending} <= ${limit})`);
  t.ok(out.dropped >= 1000 - limit / 1024, `the rest was dropped and counted (${out.dropped})`);
  t.same(
    errors.map((e) => e.code),
    ["WS_ERR_BACKPLANE_DOWN", "WS_ERR_BACKPLANE_DROPPED"],
    "the outage and the drops, each reported once",
  );

  redis = await startRedis(t, dir, socket);
  await until(() => out.connected && into.connected, () => "both reconnected", 30_000);
  await Promise.all(publishes); // the queued ones went out (or failed: counted)
  received.length = 0;
  for (let i = 0; i < 20; i++) await out.publish("t", Buffer.from(`after ${i}`), false);
  await until(() => received.some((m) => m === "t false after 19"), () => `after the restart: ${received.length} received`);
  const after = received.filter((m) => m.includes("after"));
  t.same(after, Array.from({ length: 20 }, (_, i) => `t false after ${i}`), "after the restart: every message, in order");
  t.ok(received.every((m) => m.startsWith("t true") || m.includes("after")), "nothing else but the queued binary ones");
});
