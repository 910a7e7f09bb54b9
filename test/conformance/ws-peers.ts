/**
 * Reference endpoints built on `ws` (which passes Autobahn), used to
 * validate the raw peer and the corpus themselves: a harness bug must show up
 * against `ws` before a verdict against our code is trusted.
 * @module
 */
import { WebSocket, WebSocketServer } from "ws";

/** An in-process `ws` echo server on loopback. Resolves with its port and a stop function. */
export async function startWsEchoServer(): Promise<{ port: number; stop: () => Promise<void> }> {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: { threshold: 0 },
    maxPayload: 64 * 1024 * 1024,
    // ws >= 8.21 limits a message to 16,384 fragments by default (Autobahn 9.3.1 sends 65,536).
    ...({ maxFragments: 0 } as object),
  });
  wss.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => wss.once("listening", resolve));
  const addr = wss.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** A `ws` echo client: connect to `url`, echo every message, resolve when closed. */
export function wsEchoClient(url: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, {
      perMessageDeflate: { threshold: 0 },
      maxPayload: 64 * 1024 * 1024,
      ...({ maxFragments: 0 } as object),
    });
    ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    ws.on("error", () => {});
    ws.on("close", () => resolve());
  });
}
