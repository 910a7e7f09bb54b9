// Sends in flight when the peer vanishes (issue 19): 200 messages of 64 KiB
// to a raw peer that completes the handshake, reads nothing, and then
// vanishes (a reset: it has unread data). No send may resolve after the
// peer was gone, and every send settles: those the transport took before
// resolve, the others reject with a WebSocketError. Binary messages of 16 KiB
// and more without compression take the zero-copy path (the payload is
// written as it is, not copied into a frame), text messages the copying
// path; both are checked, on WebSocketServer and on the bare TCP path.
import t from "tap";
import { once } from "node:events";
import { createConnection, createServer, type Socket } from "node:net";
import { fromNodeSocket, WebSocketServer } from "../../src/node/index.ts";
import { acceptWebSocket, type WebSocketSession } from "../../src/streams/sessions.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const SESSION = { pingInterval: null, closeTimeout: 1000 } as const;
const COUNT = 200;
const SIZE = 64 * 1024;

/** A raw client that completes the handshake and then reads nothing. */
async function silentPeer(port: number): Promise<Socket> {
  const socket = createConnection(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let head = "";
  await new Promise<void>((resolve) => {
    socket.on("data", (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (head.includes("\r\n\r\n")) resolve();
    });
  });
  socket.pause();
  return socket;
}

interface Outcome {
  resolvedBefore: number;
  resolvedAfter: number;
  rejected: number;
  codes: string[];
}

/** Send COUNT messages without awaiting them, let the buffers fill, make the peer vanish, and sort the outcomes. */
async function flood(session: WebSocketSession, peer: Socket, binary: boolean): Promise<Outcome> {
  await session.opened;
  let goneAt = Infinity;
  const outcome: Outcome = { resolvedBefore: 0, resolvedAfter: 0, rejected: 0, codes: [] };
  const payload = binary ? new Uint8Array(SIZE).fill(1) : "t".repeat(SIZE);
  const sends = Array.from({ length: COUNT }, () =>
    session.send(payload).then(
      () => {
        if (performance.now() > goneAt) outcome.resolvedAfter++;
        else outcome.resolvedBefore++;
      },
      (error: unknown) => {
        outcome.rejected++;
        const code = (error as { name?: string; code?: string }).name + " " + String((error as { code?: string }).code);
        if (!outcome.codes.includes(code)) outcome.codes.push(code);
      },
    ),
  );
  // Let the socket buffers fill (the peer reads nothing), then the peer goes.
  await new Promise((resolve) => setTimeout(resolve, 200));
  goneAt = performance.now();
  peer.resetAndDestroy();
  await Promise.all(sends);
  await session.closed.catch(() => {});
  return outcome;
}

for (const path of ["WebSocketServer", "acceptWebSocket over TCP"] as const) {
  for (const binary of [true, false]) {
    t.test(`${path}: ${COUNT} × 64 KiB ${binary ? "binary (zero-copy path)" : "text"} to a peer that reads nothing, then vanishes`, async (t) => {
      let session!: Promise<WebSocketSession>;
      let port: number;
      if (path === "WebSocketServer") {
        let give!: (s: WebSocketSession) => void;
        session = new Promise((resolve) => (give = resolve));
        const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", ...SESSION, onSession: (s) => give(s) });
        t.teardown(() => wss.close({ timeout: 500 }));
        port = (await wss.listening).port;
      } else {
        const server = createServer({ allowHalfOpen: true }, (socket) => give(acceptWebSocket(fromNodeSocket(socket), SESSION)));
        let give!: (s: WebSocketSession) => void;
        session = new Promise((resolve) => (give = resolve));
        server.listen(0, "127.0.0.1");
        await once(server, "listening");
        t.teardown(() => server.close());
        port = (server.address() as { port: number }).port;
      }
      const peer = await silentPeer(port);
      const outcome = await flood(await session, peer, binary);
      t.equal(outcome.resolvedBefore + outcome.resolvedAfter + outcome.rejected, COUNT, "every send settled");
      t.ok(outcome.rejected > 0, `the sends the peer never took reject (${outcome.rejected}; ${outcome.resolvedBefore} resolved before it went)`);
      t.equal(outcome.resolvedAfter, 0, "no send resolved after the peer was gone");
      t.same(
        outcome.codes.filter((c) => !c.startsWith("WebSocketError ")),
        [],
        `rejections are WebSocketErrors with a code (${outcome.codes.join(", ")})`,
      );
    });
  }
}
