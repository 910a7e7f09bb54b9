// src/protocol/state.ts as Connection uses it: every (state, event type) pair
// is tried on a Connection in that state, for both roles. An allowed pair
// returns bytes and moves as the transition table says; any other raises a
// LocalProtocolError and changes nothing (not the state, not the outbound
// message state, not the random stream). The expected matrix is written out
// here from wsproto's spec (§2.1, §2.2), independently of the table.
import t from "tap";
import { Connection } from "../../src/protocol/frames/connection.ts";
import { LocalProtocolError } from "../../src/protocol/errors.ts";
import {
  AcceptConnection,
  BytesMessage,
  CloseConnection,
  EVENT_TYPES,
  Message,
  Ping,
  Pong,
  RejectConnection,
  RejectData,
  Request,
  TextMessage,
  type Event,
} from "../../src/protocol/events.ts";
import { sequentialRandom } from "../../src/protocol/bytes/random.ts";
import { CONNECTION_SEND_ALLOWED, CONNECTION_TRANSITIONS, HANDSHAKE_TRANSITIONS, transition } from "../../src/protocol/state.ts";
import { ConnectionState, ConnectionType, connectionStateName } from "../../src/protocol/types.ts";
import { fromHex, toHex } from "../helpers/vectors.ts";

const { CONNECTING, OPEN, LOCAL_CLOSING, REMOTE_CLOSING, CLOSED, REJECTING } = ConnectionState;
const FRAME_STATES = [OPEN, LOCAL_CLOSING, REMOTE_CLOSING, CLOSED] as const;
type FrameState = (typeof FRAME_STATES)[number];

const SAMPLES: Record<Event["type"], () => Event> = {
  Request: () => new Request({ host: "example.com", target: "/" }),
  AcceptConnection: () => new AcceptConnection(),
  RejectConnection: () => new RejectConnection(),
  RejectData: () => new RejectData({ data: fromHex("00") }),
  CloseConnection: () => new CloseConnection({ code: 1000, reason: "bye" }),
  Message: () => new Message({ data: "m" }),
  TextMessage: () => new TextMessage({ data: "t" }),
  BytesMessage: () => new BytesMessage({ data: fromHex("0b") }),
  Ping: () => new Ping({ payload: fromHex("70") }),
  Pong: () => new Pong({ payload: fromHex("71") }),
};

// wsproto 1.2 §2.2, frame-level columns: what may be sent in each state.
const DATA = ["Message", "TextMessage", "BytesMessage", "Ping", "Pong"];
const EXPECTED_ALLOWED: Record<FrameState, string[]> = {
  [OPEN]: [...DATA, "CloseConnection"],
  [LOCAL_CLOSING]: [],
  [REMOTE_CLOSING]: ["CloseConnection"],
  [CLOSED]: [],
};
// wsproto 1.2 §2.1: where sending a close leads.
const AFTER_SEND_CLOSE: Partial<Record<FrameState, ConnectionState>> = { [OPEN]: LOCAL_CLOSING, [REMOTE_CLOSING]: CLOSED };

/** A connection brought into `state` through its public API (a route per state). */
function inState(role: ConnectionType, state: FrameState, route = 0): Connection {
  const c = new Connection(role, { random: sequentialRandom() });
  const closeFrame = role === ConnectionType.CLIENT ? "880203e8" : "88820000000003e8";
  switch (state) {
    case OPEN:
      break;
    case LOCAL_CLOSING:
      c.send(new CloseConnection({ code: 1000 }));
      break;
    case REMOTE_CLOSING:
      c.receiveData(fromHex(closeFrame));
      [...c.events()];
      break;
    case CLOSED:
      if (route === 0) {
        c.receiveData(null);
      } else if (route === 1) {
        c.send(new CloseConnection({ code: 1000 }));
        c.receiveData(fromHex(closeFrame));
        [...c.events()];
      } else {
        c.receiveData(fromHex(closeFrame));
        [...c.events()];
        c.send(new CloseConnection({ code: 1000 }));
      }
      break;
  }
  if (c.state !== state) throw new Error(`could not reach ${connectionStateName(state)}`);
  return c;
}

t.test("the send table is wsproto's matrix", async (t) => {
  for (const state of FRAME_STATES) {
    const allowed = [...(CONNECTION_SEND_ALLOWED[state] ?? [])].sort();
    t.same(allowed, [...EXPECTED_ALLOWED[state]].sort(), connectionStateName(state));
  }
  for (const state of [CONNECTING, REJECTING]) t.equal(CONNECTION_SEND_ALLOWED[state], undefined);
});

t.test("every (state, event type) pair on a Connection, both roles", async (t) => {
  for (const role of [ConnectionType.CLIENT, ConnectionType.SERVER]) {
    for (const state of FRAME_STATES) {
      for (const route of state === CLOSED ? [0, 1, 2] : [0]) {
        for (const type of EVENT_TYPES) {
          const name = `${role === ConnectionType.CLIENT ? "client" : "server"} ${connectionStateName(state)}${
            route ? ` (route ${route})` : ""
          } send ${type}`;
          const c = inState(role, state, route);
          const twin = inState(role, state, route);
          const allowed = EXPECTED_ALLOWED[state].includes(type);
          let bytes: Uint8Array | undefined;
          let error: unknown;
          try {
            bytes = c.send(SAMPLES[type]());
          } catch (e) {
            error = e;
          }
          if (allowed) {
            t.ok(bytes instanceof Uint8Array && bytes.length >= 2, `${name}: bytes`);
            const want = type === "CloseConnection" ? AFTER_SEND_CLOSE[state] : state;
            t.equal(c.state, want, `${name}: state`);
            if (type === "CloseConnection") {
              t.equal(c.state, transition(CONNECTION_TRANSITIONS, state, "send-close"), `${name}: as the table says`);
            }
          } else {
            t.ok(error instanceof LocalProtocolError, `${name}: LocalProtocolError`);
            t.equal((error as LocalProtocolError).code, "WS_ERR_INVALID_STATE", `${name}: code`);
            t.equal(
              (error as Error).message,
              `Event ${type} cannot be sent in state ConnectionState.${connectionStateName(state)}.`,
              `${name}: message`,
            );
            t.equal(c.state, state, `${name}: state unchanged`);
            // Nothing else changed either: the next allowed send is byte-identical to the twin's.
            const probe = EXPECTED_ALLOWED[state].includes("Ping")
              ? () => new Ping()
              : EXPECTED_ALLOWED[state].includes("CloseConnection")
                ? () => new CloseConnection({ code: 1000 })
                : null;
            if (probe) t.equal(toHex(c.send(probe())), toHex(twin.send(probe())), `${name}: nothing else changed`);
          }
        }
      }
    }
  }
});

t.test("a message left open, then a refused send: the open message is intact", async (t) => {
  const c = new Connection(ConnectionType.SERVER);
  c.send(new TextMessage({ data: "a", messageFinished: false }));
  t.throws(() => c.send(new BytesMessage({ data: fromHex("00") })), { code: "WS_ERR_DATA_TYPE_MISMATCH" });
  t.throws(() => c.send(new Request({ host: "h", target: "/" })), { code: "WS_ERR_INVALID_STATE" });
  t.equal(toHex(c.send(new TextMessage({ data: "b" }))), "800162", "still a continuation");
});

t.test("receive-side triggers in every state", async (t) => {
  for (const role of [ConnectionType.CLIENT, ConnectionType.SERVER]) {
    const closeFrame = role === ConnectionType.CLIENT ? "880203e8" : "88820000000003e8";
    for (const state of FRAME_STATES) {
      const name = `${role === ConnectionType.CLIENT ? "client" : "server"} ${connectionStateName(state)}`;
      // End of stream: CLOSED from anywhere, as the table says.
      const eof = inState(role, state);
      eof.receiveData(null);
      t.equal(eof.state, transition(CONNECTION_TRANSITIONS, state, "transport-eof"), `${name}: eof`);
      t.equal(eof.state, CLOSED);
      // A close frame from the peer.
      const c = inState(role, state);
      if (state === CLOSED) {
        t.throws(() => c.receiveData(fromHex(closeFrame)), { code: "WS_ERR_CONNECTION_CLOSED" }, `${name}: bytes`);
        continue;
      }
      c.receiveData(fromHex(closeFrame));
      const events = [...c.events()];
      if (state === REMOTE_CLOSING) {
        t.same(events, [], `${name}: bytes after the peer's close are ignored`);
        t.equal(c.state, REMOTE_CLOSING);
      } else {
        t.equal(events.length, 1, `${name}: close event`);
        t.equal(c.state, transition(CONNECTION_TRANSITIONS, state, "receive-close"), `${name}: receive-close`);
      }
    }
  }
});

t.test("the tables: frame states only in the connection table, handshake states only in the handshake one", async (t) => {
  for (const state of [CONNECTING, REJECTING]) t.equal(CONNECTION_TRANSITIONS[state], undefined);
  t.equal(transition(CONNECTION_TRANSITIONS, CLOSED, "send-close"), undefined);
  t.equal(transition(CONNECTION_TRANSITIONS, LOCAL_CLOSING, "send-close"), undefined);
  t.equal(transition(CONNECTION_TRANSITIONS, CLOSED, "receive-close"), undefined);
  t.equal(transition(HANDSHAKE_TRANSITIONS, OPEN, "send-close"), undefined);
});
