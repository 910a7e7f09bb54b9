// src/protocol/auto-reply.ts: the one automatic-reply policy, every
// (event, state, policy) combination checked against the RFC's rules.
import t from "tap";
import { autoReply } from "../../src/protocol/auto-reply.ts";
import { CloseConnection, Ping, Pong, TextMessage, type Event } from "../../src/protocol/events.ts";
import { ConnectionState } from "../../src/protocol/types.ts";

const payload = new Uint8Array([1, 2, 3]);
const EVENTS: Array<[string, Event]> = [
  ["ping", new Ping({ payload })],
  ["pong", new Pong({ payload })],
  ["text", new TextMessage({ data: "x" })],
  ["remote close", new CloseConnection({ code: 1001, reason: "bye", origin: "remote" })],
  ["protocol error", new CloseConnection({ code: 1002, reason: "bad", origin: "protocol-error" })],
  ["local close", new CloseConnection({ code: 1000 })],
];

t.test("every event, state and policy", async (t) => {
  for (const [what, event] of EVENTS) {
    for (const state of Object.values(ConnectionState)) {
      for (const autoPong of [true, false]) {
        for (const autoCloseReply of [true, false]) {
          const reply = autoReply(event, state, { autoPong, autoCloseReply });
          const label = `${what} in ${state}, autoPong=${autoPong}, autoCloseReply=${autoCloseReply}`;
          if (what === "ping" && autoPong && state === ConnectionState.OPEN) {
            t.ok(reply instanceof Pong && reply.payload === payload, `${label}: the pong carries the ping's payload`);
          } else if (what === "remote close" && autoCloseReply && state === ConnectionState.REMOTE_CLOSING) {
            t.ok(reply instanceof CloseConnection && reply.code === 1001 && reply.reason === "bye", `${label}: the close reply`);
          } else if (what === "protocol error" && autoCloseReply && state === ConnectionState.OPEN) {
            t.ok(reply instanceof CloseConnection && reply.code === 1002, `${label}: the close code to fail with`);
          } else {
            t.equal(reply, null, `${label}: no reply`);
          }
        }
      }
    }
  }
});
