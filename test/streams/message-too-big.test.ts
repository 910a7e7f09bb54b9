// What both ends see when a compressed message inflates past the receiver's
// maxMessageSize: a 1009 close whose reason names the limit (wsproto's
// internal "error in extension" never reaches the peer).
import t from "tap";
import { acceptWebSocket, connectWebSocket, WebSocketError } from "../../src/streams/index.ts";

t.test("a compressed message over maxMessageSize: 1009 with a reason naming the limit, on both ends", async (t) => {
  const a = new TransformStream<Uint8Array, Uint8Array>();
  const b = new TransformStream<Uint8Array, Uint8Array>();
  const server = acceptWebSocket({ readable: a.readable, writable: b.writable }, { maxMessageSize: 1000 });
  const client = connectWebSocket({ readable: b.readable, writable: a.writable }, { host: "h" });
  const [, c] = await Promise.all([server.opened, client.opened]);
  t.match(c.extensions, /^permessage-deflate/, "compression is on");
  // 100 kB of one letter compresses to a few hundred bytes: only inflating finds it too big.
  await c.writable.getWriter().write("a".repeat(100_000));
  const reason = "Message exceeds maxMessageSize (1000) once decoded by permessage-deflate";
  const serverEnd = await server.closed.then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(serverEnd instanceof WebSocketError, "the server's closed rejects");
  t.match(serverEnd, { closeCode: 1009, reason, message: reason, code: "WS_ERR_PROTOCOL" }, "with the code and the reason");
  // The client receives the close frame the server sent.
  const clientEnd = await client.closed.then(
    (info) => info,
    (e: unknown) => e,
  );
  t.match(clientEnd, { closeCode: 1009, reason }, "the peer reads 1009 and the same reason");
});
