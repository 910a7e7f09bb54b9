// examples/cluster.ts as users run it, against a real redis-server (on a
// unix socket in a temporary folder, killed by pid): two workers on one
// port, clients on both, a message sent on one worker reaches the room's
// members on both once; the health route answers from a worker; SIGHUP
// restarts the workers one by one (their clients get 1012 Service Restart,
// new clients land on the new workers and the rooms still span them);
// SIGTERM ends everything with exit code 0.
import t, { type Test } from "tap";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { BIN, explain, startPeer, tsx, type Peer } from "../helpers/process.ts";

const REDIS = "/usr/bin/redis-server";

async function until(check: () => boolean, what: () => string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Member {
  ws: WebSocket;
  worker: number;
  messages: string[];
  closeCode: number | null;
}

async function join_(t: Test, url: string, room: string): Promise<Member> {
  const ws = new WebSocket(`${url}?room=${room}`);
  ws.on("error", () => {});
  t.teardown(() => ws.terminate());
  const member: Member = { ws, worker: 0, messages: [], closeCode: null };
  ws.on("close", (code) => (member.closeCode = code));
  await new Promise<void>((resolve, reject) => {
    ws.on("message", (data: Buffer) => {
      const text = data.toString();
      if (member.worker === 0) {
        const welcome = JSON.parse(text) as { type: string; worker: number; room: string };
        member.worker = welcome.worker;
        resolve();
      } else {
        member.messages.push(text);
      }
    });
    ws.once("error", reject);
  });
  return member;
}

/** Members in `room` until at least two workers have one (the cluster spreads connections round-robin). */
async function membersOnTwoWorkers(t: Test, url: string, room: string): Promise<Member[]> {
  const members: Member[] = [];
  for (let i = 0; i < 20 && new Set(members.map((m) => m.worker)).size < 2; i++) members.push(await join_(t, url, room));
  return members;
}

t.test("examples/cluster.ts: two workers, one port, rooms across workers through Redis; health; rolling restart with 1012; SIGTERM", async (t) => {
  t.ok(existsSync(REDIS), "redis-server is installed");
  const dir = mkdtempSync(join(tmpdir(), "wsproto-cluster-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, "redis.sock");
  await startPeer(t, REDIS, ["--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", dir], {
    ready: /ready to accept connections/i,
  });
  const cluster: Peer = await startPeer(t, BIN.node, tsx("examples/cluster.ts"), {
    env: { PORT: "0", HOST: "127.0.0.1", WORKERS: "2", REDIS_SOCKET: socket },
    timeoutMs: 60_000,
  });

  const members = await membersOnTwoWorkers(t, cluster.url, "lobby");
  const workers = new Set(members.map((m) => m.worker));
  t.equal(workers.size, 2, explain("clients landed on both workers", cluster));
  const elsewhere = await join_(t, cluster.url, "elsewhere");

  const speak = async (round: string, group: Member[]): Promise<void> => {
    const speakers = [...new Map(group.map((m) => [m.worker, m])).values()]; // one per worker
    for (const [i, m] of speakers.entries()) m.ws.send(`${round} from ${i}`);
    const said = speakers.map((_, i) => `${round} from ${i}`);
    await until(
      () => group.every((m) => said.every((s) => m.messages.includes(s))),
      () => explain(`${round}: every member heard every worker`, cluster),
    );
    for (const m of group) t.same(m.messages.filter((s) => s.startsWith(round)).sort(), said.sort(), `${round}: worker ${m.worker}'s member got each once`);
  };
  await speak("first", members);
  t.same(elsewhere.messages, [], "another room heard nothing");

  const health = await fetch(`${cluster.url.replace(/^ws:/, "http:")}health`);
  t.equal(health.status, 200);
  const body = (await health.json()) as { status: string; worker: number; redis: boolean };
  t.match(body, { status: "ok", redis: true }, "the health route answers from a worker");
  t.ok(workers.has(body.worker), "with its pid");

  // Rolling restart: every old connection gets 1012, new ones land on new workers.
  process.kill(cluster.pid, "SIGHUP");
  await until(() => cluster.stdout().includes("rolling restart done"), () => explain("the rolling restart", cluster), 60_000);
  await until(() => [...members, elsewhere].every((m) => m.closeCode !== null), () => "every old client closed");
  t.same(new Set([...members, elsewhere].map((m) => m.closeCode)), new Set([1012]), "every old client got 1012 Service Restart");
  const after = await membersOnTwoWorkers(t, cluster.url, "lobby");
  t.equal(new Set(after.map((m) => m.worker)).size, 2, "new clients land on two workers");
  t.ok(after.every((m) => !workers.has(m.worker)), "both workers are new");
  await speak("second", after);

  const status = await cluster.kill(10_000);
  t.same(status, { code: 0, signal: null }, explain("SIGTERM: the primary exits 0 once the workers have", cluster));
});
