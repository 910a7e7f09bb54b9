/**
 * Every connection state transition, in tables (h11's `_state.py` is the
 * model). Nothing else assigns a state: callers ask {@link transition} for the
 * next state and an illegal (state, trigger) pair yields `undefined`, which the
 * caller turns into a `LocalProtocolError` without changing anything.
 *
 * Invariants: the tables are the only place a next state is written; a test
 * walks every (state, trigger) pair.
 * @module
 */
import { ConnectionState } from "./types.ts";

const { CONNECTING, OPEN, REMOTE_CLOSING, LOCAL_CLOSING, CLOSED, REJECTING } = ConnectionState;

/** What can move a connection from one state to another. */
export type Trigger =
  // frame layer (Connection)
  | "send-close" // the application sent a CloseConnection
  | "receive-close" // a close frame from the peer was yielded by events()
  | "transport-eof" // receiveData(null)
  // handshake (H11Handshake), client side
  | "client-receive-101" // a valid 101 Switching Protocols
  | "client-receive-rejection" // a final (>= 200) response head
  | "client-rejection-body-end" // the rejection body ended
  // handshake, server side
  | "server-send-accept"
  | "server-send-reject-no-body"
  | "server-send-reject-with-body"
  | "server-send-reject-data-end";

type Table = Readonly<Partial<Record<ConnectionState, Readonly<Partial<Record<Trigger, ConnectionState>>>>>>;

/** The frame layer (a `Connection`, born OPEN). */
export const CONNECTION_TRANSITIONS: Table = {
  [OPEN]: { "send-close": LOCAL_CLOSING, "receive-close": REMOTE_CLOSING, "transport-eof": CLOSED },
  [LOCAL_CLOSING]: { "receive-close": CLOSED, "transport-eof": CLOSED },
  [REMOTE_CLOSING]: { "send-close": CLOSED, "transport-eof": CLOSED },
  [CLOSED]: { "transport-eof": CLOSED },
};

/** The HTTP/1.1 upgrade handshake (an `H11Handshake`, born CONNECTING). */
export const HANDSHAKE_TRANSITIONS: Table = {
  [CONNECTING]: {
    "client-receive-101": OPEN,
    "client-receive-rejection": REJECTING,
    "server-send-accept": OPEN,
    "server-send-reject-no-body": CLOSED,
    "server-send-reject-with-body": REJECTING,
  },
  [REJECTING]: {
    "client-rejection-body-end": CLOSED,
    "server-send-reject-data-end": CLOSED,
  },
};

/** The state `trigger` leads to from `state` in `table`, or `undefined` if illegal. */
export function transition(table: Table, state: ConnectionState, trigger: Trigger): ConnectionState | undefined {
  return table[state]?.[trigger];
}

/**
 * Which event types may be sent in which frame-layer state (RFC 6455 §5.5.1:
 * nothing but a close reply after a close was received; nothing after our close).
 */
export const CONNECTION_SEND_ALLOWED: Readonly<Partial<Record<ConnectionState, ReadonlySet<string>>>> = {
  [OPEN]: new Set(["Message", "TextMessage", "BytesMessage", "Ping", "Pong", "CloseConnection"]),
  [REMOTE_CLOSING]: new Set(["CloseConnection"]),
};
