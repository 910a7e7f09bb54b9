// Loopback TCP servers for the Node tests that check what sessions keep
// (recycle.test.ts, lent-reads.test.ts).
import { createServer, type Server } from "node:net";
import { fromNodeSocket } from "../../src/node/index.ts";
import { acceptWebSocket, type WebSocketSession } from "../../src/streams/sessions.ts";

/** Short handshake and close timeouts: a test that fails does not wait long. */
export const FAST = { closeTimeout: 2000, handshakeTimeout: 2000 } as const;

/** Listen on a free loopback port; resolves with the port. */
export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

/** A TCP server accepting sessions with `options` (no extensions unless given); `onSession` gets each. Closed at teardown. */
export async function serve(
  t: { teardown(fn: () => unknown): void },
  options: object,
  onSession: (ws: WebSocketSession) => void,
): Promise<number> {
  const sessions: WebSocketSession[] = [];
  const server = createServer((socket) => {
    const ws = acceptWebSocket(fromNodeSocket(socket), { ...FAST, extensions: [], ...options });
    sessions.push(ws);
    ws.closed.catch(() => {});
    onSession(ws);
  });
  const port = await listen(server);
  t.teardown(() => {
    for (const s of sessions) s.close();
    server.close();
  });
  return port;
}
