// Interop peer: the server contract of README.md on Deno.serve +
// Deno.upgradeWebSocket. Deno's WebSocket can neither send fragments nor
// pings, so `frag:` is echoed whole and `ping:` answers `pong:unsupported`.
//   deno run -A deno-server.js --port 0
const args = Deno.args;
const port = Number(args[args.indexOf("--port") + 1] ?? 0);
const hostname = args.includes("--host") ? args[args.indexOf("--host") + 1] : "127.0.0.1";

const server = Deno.serve(
  {
    hostname,
    port,
    onListen: (addr) => console.log(`listening on ws://${addr.hostname}:${addr.port}/`),
  },
  (req) => {
    if ((req.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
      return new Response("websocket only\n", { status: 426 });
    }
    const offered = (req.headers.get("sec-websocket-protocol") ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const { socket, response } = Deno.upgradeWebSocket(req, offered.length ? { protocol: offered[0] } : {});
    socket.binaryType = "arraybuffer";
    socket.onmessage = (e) => {
      const data = e.data;
      if (typeof data === "string") {
        if (data === "info") return socket.send(JSON.stringify({ protocol: socket.protocol, extensions: socket.extensions }));
        if (data.startsWith("ping:")) return socket.send("pong:unsupported");
        if (data.startsWith("close:")) {
          const [, code, ...reason] = data.split(":");
          return socket.close(Number(code), reason.join(":"));
        }
      }
      socket.send(data);
    };
    socket.onerror = (e) => console.error("socket error:", e.message ?? e);
    return response;
  },
);

Deno.addSignalListener("SIGTERM", () => {
  void server.shutdown();
  Deno.exit(0);
});
