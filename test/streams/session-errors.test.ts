// What the user sees when things go wrong around a session, message by
// message (issue 11 part 4): a throwing handleRequest, a server that closes
// before answering, and operations after close(). Over loopback TCP.
import t from "tap";
import { createServer, type Socket } from "node:net";
import { LocalProtocolError } from "../../src/protocol/errors.ts";
import { connectNodeWebSocket, fromNodeSocket } from "../../src/node/index.ts";
import { acceptWebSocket, WebSocketError, type AcceptWebSocketOptions, type WebSocketSession } from "../../src/streams/sessions.ts";
import type { Teardown } from "../helpers/process.ts";
import { rejection } from "./_helpers.ts";

const QUIET = { pingInterval: null, closeTimeout: 2000, handshakeTimeout: 5000 } as const;

async function serve(t: Teardown, onSocket: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    t.teardown(() => socket.destroy());
    onSocket(socket);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => server.close());
  return (server.address() as { port: number }).port;
}

async function pair(t: Teardown, options: AcceptWebSocketOptions = {}): Promise<{ client: WebSocketSession; server: WebSocketSession }> {
  let resolve!: (s: WebSocketSession) => void;
  const session = new Promise<WebSocketSession>((r) => (resolve = r));
  const port = await serve(t, (socket) => resolve(acceptWebSocket(fromNodeSocket(socket), { ...QUIET, ...options })));
  const client = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, QUIET);
  return { client, server: await session };
}

t.test("an exception in handleRequest: the client gets a 500, the application gets the exception (onError and closed's cause)", async (t) => {
  const boom = new Error("boom");
  const seen: unknown[] = [];
  const { client, server } = await pair(t, {
    handleRequest: () => {
      throw boom;
    },
    onError: (error) => seen.push(error),
  });
  const atClient = await rejection<WebSocketError>(client.opened);
  t.equal(atClient.status, 500);
  t.equal(atClient.message, "The server rejected the WebSocket with HTTP 500");
  const atServer = await rejection<WebSocketError>(server.closed);
  t.equal(atServer.message, "The opening handshake was rejected with HTTP 500");
  t.equal(atServer.cause, boom, "closed rejects with the exception as its cause");
  t.equal((await rejection<WebSocketError>(server.opened)).cause, boom, "so does opened");
  t.same(seen, [boom], "onError got it once");
});

t.test("a server that closes before answering: the client's error says so", async (t) => {
  for (const sendFirst of ["", "HTTP/1.1 101 Switching"]) {
    const port = await serve(t, (socket) => {
      socket.once("data", () => socket.end(sendFirst));
    });
    const client = connectNodeWebSocket(`ws://127.0.0.1:${port}/`, QUIET);
    const error = await rejection<WebSocketError>(client.opened);
    t.equal(error.message, "The server closed the connection before answering the opening handshake", JSON.stringify(sendFirst));
    t.equal(error.code, "WS_ERR_ABNORMAL_CLOSURE");
    t.equal(error.closeCode, 1006);
  }
});

t.test("one vocabulary for using a closing or closed session: write, send and ping say the same", async (t) => {
  const CLOSING = "Cannot send: the WebSocket is closing (the closing handshake has started)";
  const CLOSED = "Cannot send: the WebSocket is closed";
  const { client, server } = await pair(t);
  const [{ writable }] = await Promise.all([client.opened, server.opened]);
  const writer = writable.getWriter();
  client.close();
  // Closing: the closing handshake has started.
  for (const [what, pending] of [
    ["writer.write", writer.write("late")],
    ["send", client.send("late")],
    ["ping", client.ping()],
  ] as const) {
    const error = await rejection<WebSocketError>(pending as Promise<unknown>);
    t.type(error, WebSocketError, `${what} while closing`);
    t.equal(error.message, CLOSING, `${what} while closing`);
    t.equal(error.code, "WS_ERR_CLOSING", `${what} while closing`);
  }
  await client.closed;
  // Closed: the session has ended.
  const { writable: serverWritable } = await server.opened;
  await server.closed;
  for (const [what, pending] of [
    ["send", client.send("later")],
    ["ping", client.ping()],
    ["writer.write", serverWritable.getWriter().write("after")],
  ] as const) {
    const error = await rejection<WebSocketError>(pending as Promise<unknown>);
    t.type(error, WebSocketError, `${what} once closed`);
    t.equal(error.message, CLOSED, `${what} once closed`);
    t.equal(error.code, "WS_ERR_CLOSED", `${what} once closed`);
  }
  t.doesNotThrow(() => client.close(), "close() again does nothing");
  t.doesNotThrow(() => server.close({ closeCode: 1000 }), "close() after the end does nothing");
});

t.test("send() and ping() rejections nobody awaits crash nothing", async (t) => {
  const { client, server } = await pair(t);
  await Promise.all([client.opened, server.opened]);
  let unhandled = 0;
  const count = (): void => {
    unhandled++;
  };
  process.on("unhandledRejection", count);
  t.teardown(() => {
    process.off("unhandledRejection", count);
  });
  client.close();
  void client.send("while closing");
  void client.ping();
  await client.closed;
  void client.send("once closed");
  void client.ping();
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(unhandled, 0, "no unhandled rejection");
});

t.test("a write of the wrong type over TCP: the write rejects, the peer gets 1011, closed rejects", async (t) => {
  const { client, server } = await pair(t);
  const [{ writable }] = await Promise.all([client.opened, server.opened]);
  const writer = writable.getWriter();
  await writer.write("before");
  const error = await rejection<WebSocketError>(writer.write(Symbol("nope") as unknown as string));
  t.type(error, LocalProtocolError);
  t.equal(error.message, "A WebSocket message must be a string, bytes or a Message, got symbol");
  const failed = await rejection<WebSocketError>(client.closed);
  t.equal(failed.closeCode, 1011);
  t.equal(failed.reason, "invalid message type written");
  t.same(await server.closed, { closeCode: 1011, reason: "invalid message type written" });
  const reader = (await server.opened).readable.getReader();
  t.equal((await reader.read()).value, "before", "what was written before still arrived");
});
