// Graceful shutdown under load (issue 19's campaign): a WebSocketServer with
// 300 clients, some of them in the middle of sending, some that never answer
// the close (silent raw sockets), some that vanish while the server closes.
// close() resolves within its timeout, every client that answers sees 1001,
// the silent ones are dropped, `connections` is back at 0, and nothing is
// reported as an application failure.
import t from "tap";
import { once } from "node:events";
import { createConnection, type Socket } from "node:net";
import WebSocket from "ws";
import { WebSocketServer } from "../../src/node/index.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

async function silent(port: number): Promise<Socket> {
  const socket = createConnection(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await once(socket, "data");
  socket.pause(); // reads nothing, answers nothing
  return socket;
}

t.test("close() with 300 clients: 1001 to those that answer, the silent ones dropped, connections back at 0", async (t) => {
  const reported: unknown[] = [];
  const wss = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    pingInterval: null,
    onSession: async (session) => {
      const { readable } = await session.opened;
      for await (const message of readable) wss.broadcast(message, { except: session });
    },
    onError: (error) => reported.push(error),
  });
  const { port } = await wss.listening;
  const clients: WebSocket[] = [];
  for (let i = 0; i < 250; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.on("error", () => {});
    ws.on("message", () => {});
    clients.push(ws);
  }
  await Promise.all(clients.map((ws) => once(ws, "open")));
  const silentOnes = await Promise.all(Array.from({ length: 50 }, () => silent(port)));
  t.teardown(() => silentOnes.forEach((s) => s.destroy()));
  while (wss.connections.size < 300) await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal(wss.connections.size, 300, "300 open");
  const codes = clients.map((ws) => once(ws, "close").then(([code]) => code as number));
  // Traffic in flight, and ten clients that vanish while the server closes.
  for (const ws of clients.slice(0, 100)) ws.send("x".repeat(1000));
  const closing = wss.close({ closeCode: 1001, reason: "restart", timeout: 1000 });
  for (const ws of clients.slice(240)) ws.terminate();
  await closing;
  t.equal(wss.connections.size, 0, "connections back at 0 once close() resolved");
  const seen = await Promise.all(codes);
  t.equal(seen.slice(0, 240).filter((c) => c === 1001).length, 240, "every client that answered saw 1001");
  t.same(reported, [], "nothing reported as an application failure");
  // The silent ones: the server dropped them after the timeout (their sockets end).
  await Promise.all(silentOnes.map((s) => (s.closed ? Promise.resolve() : (s.resume(), once(s, "close")))));
  t.pass("the 50 silent clients were dropped");
});
