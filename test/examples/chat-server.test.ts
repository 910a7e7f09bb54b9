// examples/chat-server.ts as its own process on loopback, with `ws` clients:
// messages broadcast to everyone, joins announced, the page and the health
// check from handleHttp, 404 off the WebSocket path, and a graceful
// shutdown on SIGTERM (every client sees 1001, the process exits 0).
import t from "tap";
import { once } from "node:events";
import WebSocket from "ws";
import { BIN, startPeer, tsx } from "../helpers/process.ts";

function collect(ws: WebSocket): string[] {
  const got: string[] = [];
  ws.on("message", (data: Buffer) => got.push(data.toString()));
  return got;
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

t.test("chat-server.ts: broadcast, a page and a health check beside, 1001 on SIGTERM", async (t) => {
  const server = await startPeer(t, BIN.node, tsx("examples/chat-server.ts", "--port", "0"));
  t.match(server.url, /^ws:\/\/127\.0\.0\.1:\d+\/chat$/);
  const http = `http://127.0.0.1:${server.port}`;

  const clients: WebSocket[] = [];
  const logs: string[][] = [];
  for (let i = 0; i < 3; i++) {
    const ws = new WebSocket(server.url);
    logs.push(collect(ws));
    clients.push(ws);
    await once(ws, "open");
  }
  await until("the joins", () => logs[0]!.includes("* user 3 joined"));
  t.ok(logs[0]!.includes("* user 2 joined"), "the first client saw the others join");

  clients[0]!.send("hello room");
  clients[2]!.send("hi!");
  await until("both messages everywhere", () => logs.every((log) => log.includes("user 1: hello room") && log.includes("user 3: hi!")));
  t.pass("every client got both messages, the senders included");

  const page = await fetch(`${http}/`);
  t.equal(page.status, 200);
  t.match(await page.text(), /<title>chat<\/title>/, "the page from handleHttp");
  const health = await fetch(`${http}/health`);
  t.same(await health.json(), { connections: 3 }, "the health check counts the connections");

  const elsewhere = new WebSocket(`ws://127.0.0.1:${server.port}/other`);
  elsewhere.on("error", () => {}); // the refused handshake
  const [, response] = (await once(elsewhere, "unexpected-response")) as [unknown, { statusCode: number; resume(): void }];
  t.equal(response.statusCode, 404, "WebSockets only on /chat");
  response.resume();

  clients[1]!.close(1000);
  await until("the leave", () => logs[0]!.includes("* user 2 left"));

  const closes = [clients[0]!, clients[2]!].map((ws) => once(ws, "close") as Promise<[number, Buffer]>);
  const status = await server.kill();
  const codes = await Promise.all(closes);
  t.same(codes.map(([code]) => code), [1001, 1001], "every client saw 1001 going away");
  t.equal(codes[0]![1].toString(), "server shutting down");
  t.equal(status.code, 0, "the server exited 0");
});
