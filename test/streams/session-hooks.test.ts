// The session's hooks for the Node server: WebSocketSession.send, pre-framed
// writes for a broadcast, and the outbound byte count.
import t from "tap";
import { Connection } from "../../src/protocol/frames/connection.ts";
import { LocalProtocolError } from "../../src/protocol/errors.ts";
import { TextMessage } from "../../src/protocol/events.ts";
import { ConnectionType } from "../../src/protocol/types.ts";
import { acceptWebSocket, connectWebSocket } from "../../src/streams/session/session.ts";
import { WebSocketError } from "../../src/streams/sessions.ts";
import { memoryPair } from "./_helpers.ts";

const FAST = { closeTimeout: 2000, pingInterval: null } as const;

function pair() {
  const { client, server } = memoryPair();
  const c = connectWebSocket(client, { ...FAST, url: "ws://localhost/", protocols: ["chat"], extensions: [] });
  const s = acceptWebSocket(server, { ...FAST, protocols: ["chat"], extensions: [] });
  return { c, s };
}

t.test("a session pair exchanges messages both ways with send()", async (t) => {
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

t.test("send() refuses what is not a string or bytes", async (t) => {
  const { c, s } = pair();
  await Promise.all([c.opened, s.opened]);
  await t.rejects(c.send(42 as unknown as string), LocalProtocolError);
  c.close();
  await Promise.all([c.closed, s.closed]);
});
