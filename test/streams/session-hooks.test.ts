// The session's hooks for other transports and the Node server: a session
// over an already open Connection (HTTP/2, RFC 8441), WebSocketSession.send,
// pre-framed writes for a broadcast, and the outbound byte count.
import t from "tap";
import { Connection } from "../../src/protocol/frames/connection.ts";
import { LocalProtocolError } from "../../src/protocol/errors.ts";
import { TextMessage } from "../../src/protocol/events.ts";
import { ConnectionType } from "../../src/protocol/types.ts";
import { openEstablishedSession } from "../../src/streams/session/session.ts";
import { WebSocketError } from "../../src/streams/websocket-stream.ts";
import { memoryPair } from "./_helpers.ts";

const FAST = { closeTimeout: 2000, pingInterval: null } as const;

function pair() {
  const { client, server } = memoryPair();
  const c = openEstablishedSession(client, new Connection(ConnectionType.CLIENT), { protocol: "chat", extensions: "", role: "client" }, FAST);
  const s = openEstablishedSession(server, new Connection(ConnectionType.SERVER), { protocol: "chat", extensions: "" }, FAST);
  return { c, s };
}

t.test("a session over an established Connection opens at once and exchanges messages both ways", async (t) => {
  const { c, s } = pair();
  const [co, so] = await Promise.all([c.opened, s.opened]);
  t.equal(co.protocol, "chat");
  t.equal(so.extensions, "");
  await c.send("hello");
  await s.send(new Uint8Array([1, 2, 3]));
  const sr = so.readable.getReader();
  const cr = co.readable.getReader();
  t.equal((await sr.read()).value, "hello");
  t.same((await cr.read()).value, new Uint8Array([1, 2, 3]));
  c.close({ closeCode: 1000, reason: "bye" });
  t.same(await s.closed, { closeCode: 1000, reason: "bye" });
  t.same(await c.closed, { closeCode: 1000, reason: "bye" });
});

t.test("writeFrames writes pre-built frames in order with the session's writes, only while open", async (t) => {
  const { c, s } = pair();
  const [co, so] = await Promise.all([c.opened, s.opened]);
  // A frame built once by a separate server-side Connection (unmasked, no extensions).
  const frame = new Connection(ConnectionType.SERVER).send(new TextMessage({ data: "broadcast" }));
  const writer = so.writable.getWriter();
  await writer.write("first");
  t.equal(s.writeFrames(frame), true);
  await s.send("last");
  t.type(s.bufferedAmount, "number");
  t.ok(s.bufferedAmount >= 0);
  const reader = co.readable.getReader();
  t.same([(await reader.read()).value, (await reader.read()).value, (await reader.read()).value], ["first", "broadcast", "last"]);
  s.close();
  t.equal(s.writeFrames(frame), false, "nothing is written once closing");
  await t.rejects(s.send("late"), WebSocketError);
  await c.closed;
  await s.closed;
  t.equal(s.bufferedAmount, 0);
});

t.test("send() refuses what is not a string or bytes, and a role that does not match the connection", async (t) => {
  const { c, s } = pair();
  await Promise.all([c.opened, s.opened]);
  await t.rejects(c.send(42 as unknown as string), LocalProtocolError);
  const { server } = memoryPair();
  t.throws(() => openEstablishedSession(server, new Connection(ConnectionType.SERVER), { protocol: "", extensions: "", role: "client" }), LocalProtocolError);
  c.close();
  await Promise.all([c.closed, s.closed]);
});
