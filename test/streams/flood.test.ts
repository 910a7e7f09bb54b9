// Over real loopback TCP with the Node adapter: a peer floods 256 MiB while
// the application reads nothing; the process must buffer less than 8 MiB;
// then the application reads everything, and nothing is lost or reordered.
import t from "tap";
import { createServer, type Socket } from "node:net";
import { WSConnection } from "../../src/protocol/ws-connection.ts";
import { AcceptConnection } from "../../src/protocol/events.ts";
import { ConnectionType } from "../../src/protocol/types.ts";
import { connectNodeWebSocket } from "../../src/node/index.ts";
import { liveBytes, sleep } from "./_helpers.ts";

const MESSAGE = 64 * 1024;
const TOTAL = 256 * 1024 * 1024;
const COUNT = TOTAL / MESSAGE;

/** An unmasked server BINARY frame of MESSAGE bytes whose payload starts with its sequence number. */
function frame(seq: number): Buffer {
  const out = Buffer.allocUnsafe(10 + MESSAGE);
  out[0] = 0x82; // FIN + BINARY
  out[1] = 127; // RFC 6455 §5.2: 64-bit extended length follows
  out.writeBigUInt64BE(BigInt(MESSAGE), 2);
  out.fill(seq & 0xff, 10);
  out.writeUInt32BE(seq, 10);
  return out;
}

t.test("a 256 MiB flood is held back by back-pressure, then delivered whole and in order", async (t) => {
  let peerSent = 0;
  let peerDone = false;
  const server = createServer((socket: Socket) => {
    // The peer: a bare WSConnection for the handshake, then raw frames,
    // written as fast as the socket takes them (it respects 'drain', so its
    // own buffering stays at one frame).
    const conn = new WSConnection(ConnectionType.SERVER);
    socket.on("data", (chunk: Buffer) => {
      conn.receiveData(chunk);
      for (const event of conn.events()) {
        if (event.type === "CloseConnection") {
          socket.end(conn.send(event.response()));
          continue;
        }
        if (event.type !== "Request") continue;
        socket.write(conn.send(new AcceptConnection()));
        void (async () => {
          for (let seq = 0; seq < COUNT; seq++) {
            const ok = socket.write(frame(seq));
            peerSent += MESSAGE;
            if (!ok) await new Promise((r) => socket.once("drain", r));
          }
          peerDone = true;
        })();
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;

  const ws = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, { extensions: [], pingInterval: null });
  const { readable } = await ws.opened;
  const baseline = await liveBytes();

  // Read nothing until the peer is stuck (no progress for 300 ms).
  let last = -1;
  while (peerSent !== last) {
    last = peerSent;
    await sleep(300);
  }
  t.notOk(peerDone, `the peer is blocked after ${(peerSent / 1048576).toFixed(1)} MiB`);
  const held = (await liveBytes()) - baseline;
  t.ok(held < 8 * 1024 * 1024, `the process holds ${(held / 1048576).toFixed(2)} MiB while the application reads nothing`);

  // Now read everything.
  const reader = readable.getReader();
  let n = 0;
  let ok = true;
  while (n < COUNT) {
    const { value, done } = await reader.read();
    if (done) break;
    const bytes = value as Uint8Array;
    if (bytes.byteLength !== MESSAGE || Buffer.from(bytes.buffer, bytes.byteOffset, 4).readUInt32BE(0) !== n) ok = false;
    if (bytes[MESSAGE - 1] !== (n & 0xff)) ok = false;
    n++;
  }
  t.equal(n, COUNT, "all 4096 messages of 64 KiB arrive");
  t.ok(ok, "none lost, corrupted or reordered");
  t.ok(peerDone, "the peer finished");
  ws.close({ closeCode: 1000 });
  t.same(await ws.closed, { closeCode: 1000, reason: "" }, "then a clean close");
});
