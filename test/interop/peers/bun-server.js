// Interop peer: the server contract of README.md on Bun.serve (uWebSockets
// inside). Bun cannot send fragments, so `frag:` is echoed whole.
//   bun bun-server.js --port 0 [--no-deflate]
const args = process.argv.slice(2);
const port = Number(args[args.indexOf("--port") + 1] ?? 0);
const hostname = args.includes("--host") ? args[args.indexOf("--host") + 1] : "127.0.0.1";
const deflate = !args.includes("--no-deflate");

const server = Bun.serve({
  hostname,
  port,
  fetch(req, server) {
    const offered = (req.headers.get("sec-websocket-protocol") ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const protocol = offered[0] ?? "";
    const wantsDeflate = /permessage-deflate/i.test(req.headers.get("sec-websocket-extensions") ?? "");
    const headers = protocol ? { "Sec-WebSocket-Protocol": protocol } : {};
    const data = { protocol, extensions: deflate && wantsDeflate ? "permessage-deflate" : "", pings: new Map() };
    if (server.upgrade(req, { headers, data })) return undefined;
    return new Response("websocket only\n", { status: 426 });
  },
  websocket: {
    perMessageDeflate: deflate,
    maxPayloadLength: 64 * 1024 * 1024,
    backpressureLimit: 64 * 1024 * 1024,
    message(ws, message) {
      if (typeof message === "string") {
        if (message === "info") return void ws.send(JSON.stringify({ protocol: ws.data.protocol, extensions: ws.data.extensions }));
        if (message.startsWith("ping:")) {
          ws.data.pending = message.slice(5);
          return void ws.ping(message.slice(5));
        }
        if (message.startsWith("close:")) {
          const [, code, ...reason] = message.split(":");
          return void ws.close(Number(code), reason.join(":"));
        }
      }
      ws.send(message);
    },
    pong(ws, data) {
      const payload = new TextDecoder().decode(data);
      if (payload === ws.data.pending) ws.send("pong:" + payload);
    },
  },
});

console.log(`listening on ws://${server.hostname}:${server.port}/`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
