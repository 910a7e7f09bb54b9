/**
 * A chat room on `WebSocketServer`:
 *
 *   npx tsx examples/chat-server.ts --port 8080 [--host 127.0.0.1]
 *
 * Prints `listening on ws://HOST:PORT/chat` once ready. WebSockets are
 * accepted on `/chat` only (other paths get 404); every text message is
 * broadcast to everyone as `user N: text` (framed once for all of them),
 * joins and leaves are announced. Plain HTTP beside it: `GET /` is a page
 * that joins the room from a browser, `GET /health` says how many are
 * connected. On SIGTERM or SIGINT every connection is closed with 1001
 * (going away), waiting at most 5 seconds, and the process exits 0.
 */
import { parseArgs } from "node:util";
import { WebSocketServer } from "../src/node/index.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
  },
});
if (values.port === undefined || !/^\d+$/.test(values.port)) {
  process.stderr.write("usage: chat-server.ts --port N [--host H]\n");
  process.exit(2);
}

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>chat</title>
<pre id="log"></pre>
<input id="line" autofocus placeholder="say something">
<script>
  const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/chat");
  ws.onmessage = (e) => { log.textContent += e.data + "\\n"; };
  line.onkeydown = (e) => { if (e.key === "Enter" && line.value) { ws.send(line.value); line.value = ""; } };
</script>
`;

let nextUser = 1;

const server: WebSocketServer = new WebSocketServer({
  port: Number(values.port),
  host: values.host,
  path: "/chat",
  maxMessageSize: 64 * 1024,
  handleHttp: (request): Response => {
    const { pathname } = new URL(request.url);
    if (pathname === "/") return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
    if (pathname === "/health") return Response.json({ connections: server.connections.size });
    return new Response("not found\n", { status: 404 });
  },
  onSession: (session) => {
    const name = `user ${nextUser++}`;
    server.broadcast(`* ${name} joined`, { except: session });
    void (async () => {
      try {
        const reader = (await session.opened).readable.getReader();
        for (let next = await reader.read(); !next.done; next = await reader.read()) {
          if (typeof next.value === "string") server.broadcast(`${name}: ${next.value}`);
        }
      } catch {
        // A connection that failed: it leaves like any other.
      }
      server.broadcast(`* ${name} left`);
    })();
  },
});

const { address, port } = await server.listening;
process.stdout.write(`listening on ws://${address.includes(":") ? `[${address}]` : address}:${port}/chat\n`);

const shutDown = async (): Promise<void> => {
  await server.close({ closeCode: 1001, reason: "server shutting down", timeout: 5000 });
  process.exit(0);
};
process.once("SIGTERM", () => void shutDown());
process.once("SIGINT", () => void shutDown());
