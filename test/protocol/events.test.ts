// Events: classes with a literal `type`, a closed union that narrows, and
// `instanceof` as wsproto's isinstance. Part of this file is checked by the
// type checker (npm test type-checks tests): the inline `new Message(...)`
// passed where an Event is expected, and the exhaustive switch.
import t from "tap";
import {
  AcceptConnection,
  BytesMessage,
  CloseConnection,
  Connection,
  ConnectionType,
  EVENT_TYPES,
  LocalProtocolError,
  Message,
  Ping,
  Pong,
  RejectConnection,
  RejectData,
  Request,
  TextMessage,
  assertNever,
} from "../../src/index.ts";
import type { Event } from "../../src/index.ts";

function describe(ev: Event): string {
  switch (ev.type) {
    case "Request":
      return ev.host;
    case "AcceptConnection":
      return String(ev.subprotocol);
    case "RejectConnection":
      return String(ev.statusCode);
    case "RejectData":
      return String(ev.data.length);
    case "CloseConnection":
      return `${ev.code} ${ev.origin}`;
    case "TextMessage": {
      const s: string = ev.data; // narrowed to string
      return s;
    }
    case "BytesMessage": {
      const b: Uint8Array = ev.data; // narrowed to bytes
      return String(b.length);
    }
    case "Message":
      return typeof ev.data;
    case "Ping":
    case "Pong":
      return String(ev.payload.length);
    default:
      return assertNever(ev);
  }
}

t.test("every event class has type = its class name, and the switch covers them", async (t) => {
  const all: Event[] = [
    new Request({ host: "h", target: "/" }),
    new AcceptConnection(),
    new RejectConnection(),
    new RejectData({ data: new Uint8Array(2) }),
    new CloseConnection({ code: 1000 }),
    new Message({ data: "m" }),
    new TextMessage({ data: "t" }),
    new BytesMessage({ data: new Uint8Array(1) }),
    new Ping(),
    new Pong(),
  ];
  t.same(
    all.map((e) => e.type),
    [...EVENT_TYPES],
  );
  for (const e of all) t.equal(e.type, e.constructor.name);
  t.same(all.map(describe), ["h", "null", "400", "2", "1000 local", "string", "t", "1", "0", "0"]);
});

t.test("TextMessage and BytesMessage are Messages at run time", async (t) => {
  t.ok(new TextMessage({ data: "x" }) instanceof Message);
  t.ok(new BytesMessage({ data: new Uint8Array() }) instanceof Message);
  t.notOk(new Message({ data: "x" }) instanceof TextMessage);
});

t.test("a plain Message written inline where an Event is expected", async (t) => {
  const conn = new Connection(ConnectionType.SERVER);
  t.same([...conn.send(new Message({ data: "x" }))], [0x81, 0x01, 0x78], "string -> TEXT");
  t.same([...conn.send(new Message({ data: new Uint8Array([7]) }))], [0x82, 0x01, 0x07], "bytes -> BINARY");
});

t.test("defaults and response()", async (t) => {
  const close = new CloseConnection({ code: 1001, reason: "bye", origin: "remote" });
  const reply = close.response();
  t.same([reply.code, reply.reason, reply.origin], [1001, "bye", "local"]);
  const ping = new Ping({ payload: new Uint8Array([1]) });
  t.same([...ping.response().payload], [1]);
  t.same(new RejectConnection(), { type: "RejectConnection", statusCode: 400, headers: [], hasBody: false });
  t.equal(new RejectData({ data: new Uint8Array() }).bodyFinished, true);
});

t.test("assertNever on a non-event raises LocalProtocolError, not TypeError", async (t) => {
  t.throws(() => assertNever({ type: "Bogus" } as never), LocalProtocolError);
  const conn = new Connection(ConnectionType.SERVER);
  t.throws(() => conn.send({ type: "Bogus" } as unknown as Event), LocalProtocolError);
});
