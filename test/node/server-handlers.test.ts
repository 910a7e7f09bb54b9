// WebSocketServer owns the code it calls (issue 19, STYLE 15): onSession
// (a synchronous throw and a rejected promise), handleRequest, handleHttp and
// onMessage that fail close their session with 1011 (HTTP 500 before the
// upgrade), reach onError(error, context) (default: one line on stderr), and
// the process lives; an error that only reports the connection's own end
// (the peer vanished: 1006) escaping a handler is not reported. Real loopback
// TCP, `ws` as the client, raw sockets for peers that vanish.
import t, { type Test } from "tap";
import { once } from "node:events";
import { createConnection, type Socket } from "node:net";
import WebSocket from "ws";
import { WebSocketServer, type ServerErrorContext } from "../../src/node/index.ts";
import type { WebSocketSession } from "../../src/streams/sessions.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const FAST = { pingInterval: null, closeTimeout: 2000, handshakeTimeout: 5000 } as const;

interface Reported {
  error: unknown;
  context: ServerErrorContext;
}

async function serve(t: Test, options: Partial<ConstructorParameters<typeof WebSocketServer>[0]> = {}) {
  const reported: Reported[] = [];
  const server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    ...FAST,
    onError: (error, context) => reported.push({ error, context }),
    ...options,
  });
  t.teardown(() => server.close({ timeout: 500 }));
  const { port } = await server.listening;
  return { server, port, url: `ws://127.0.0.1:${port}/`, reported };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))),
  ]);
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A `ws` client: the close code it got, and what it received before. */
async function closeCodeOf(url: string, send?: string): Promise<number> {
  const ws = new WebSocket(url);
  ws.on("error", () => {});
  if (send !== undefined) ws.once("open", () => ws.send(send));
  const [code] = (await withTimeout(once(ws, "close"), 10_000, "ws close")) as [number];
  return code;
}

/** A raw client that completes the handshake, then writes `after` (if any) and is destroyed without a close frame. */
async function vanish(port: number, after?: Uint8Array): Promise<void> {
  const socket: Socket = createConnection(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let head = "";
  await withTimeout(
    new Promise<void>((resolve) => {
      socket.on("data", (chunk: Buffer) => {
        head += chunk.toString("latin1");
        if (head.includes("\r\n\r\n")) resolve();
      });
    }),
    10_000,
    "101",
  );
  if (after !== undefined) socket.write(after);
  await new Promise((resolve) => setTimeout(resolve, 20));
  socket.destroy();
}

/** The first bytes of a masked text frame announcing 100 bytes, and 10 of them: a client gone mid-message. */
const HALF_FRAME = new Uint8Array([0x81, 0x80 | 100, 1, 2, 3, 4, ...new Array<number>(10).fill(0x41)]);

t.test("onSession throws synchronously: 1011 to that client, onError with the context, the server goes on", async (t) => {
  let calls = 0;
  const { server, url, reported } = await serve(t, {
    onSession: () => {
      calls++;
      if (calls === 1) throw new Error("handler bug");
    },
  });
  t.equal(await closeCodeOf(url), 1011, "the failing session is closed with 1011");
  await until("reported", () => reported.length === 1);
  const [r] = reported;
  t.match((r!.error as Error).message, "handler bug");
  t.equal(r!.context.handler, "onSession");
  t.equal(r!.context.remoteAddress, "127.0.0.1", "the peer's address");
  t.type(r!.context.remotePort, "number");
  t.ok(r!.context.session, "the session");
  // The next client is served.
  const ws = new WebSocket(url);
  await once(ws, "open");
  t.equal(server.connections.size, 1, "a second session is open");
  ws.close(1000);
  await once(ws, "close");
  await until("connections back to 0", () => server.connections.size === 0);
  t.equal(reported.length, 1, "nothing else reported");
});

t.test("onSession rejects: 1011, onError once", async (t) => {
  const { url, reported } = await serve(t, {
    onSession: async (session) => {
      await session.opened;
      throw new TypeError("async bug");
    },
  });
  t.equal(await closeCodeOf(url), 1011);
  await until("reported", () => reported.length === 1);
  t.equal(reported[0]!.context.handler, "onSession");
  t.type(reported[0]!.error, TypeError);
});

t.test("the README's onSession read loop and the .d.ts for-await loop: clients vanishing mid-message are not failures", async (t) => {
  let ended = 0;
  const { server, port, reported } = await serve(t, {
    onSession: async (session) => {
      try {
        const reader = (await session.opened).readable.getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) server.broadcast(r.value, { except: session });
      } finally {
        ended++;
      }
    },
  });
  for (let i = 0; i < 5; i++) await vanish(port, HALF_FRAME);
  await vanish(port);
  await until("every loop ended", () => ended === 6);
  await until("connections back to 0", () => server.connections.size === 0);
  t.same(reported, [], "1006 escaping onSession is not reported");

  const second = await serve(t, {
    onSession: async (session) => {
      const { readable } = await session.opened;
      for await (const message of readable) second.server.broadcast(message, { except: session });
    },
  });
  for (let i = 0; i < 5; i++) await vanish(second.port, HALF_FRAME);
  await until("connections back to 0", () => second.server.connections.size === 0);
  // Give the rejected loops a turn to be reported, if they were.
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.same(second.reported, [], "nor from a for-await loop");
});

t.test("a throwing onSession while the application has an uncaughtException handler still closes with 1011", async (t) => {
  const seen: unknown[] = [];
  const handler = (error: unknown): void => void seen.push(error);
  process.on("uncaughtException", handler);
  t.teardown(() => void process.off("uncaughtException", handler));
  const { url, reported } = await serve(t, {
    onSession: () => {
      throw new Error("thrown");
    },
  });
  t.equal(await closeCodeOf(url), 1011);
  await until("reported", () => reported.length === 1);
  t.same(seen, [], "nothing reached the process");
});

t.test("handleRequest throws (sync or async): HTTP 500, onError with handler handleRequest", async (t) => {
  const { url, reported } = await serve(t, {
    handleRequest: async (request) => {
      if (request.target === "/async") {
        await new Promise((resolve) => setTimeout(resolve, 1));
        throw new Error("async decide");
      }
      throw new Error("sync decide");
    },
  });
  for (const path of ["", "async"]) {
    const ws = new WebSocket(url + path);
    ws.on("error", () => {});
    const [, res] = (await withTimeout(once(ws, "unexpected-response"), 10_000, "500")) as [unknown, { statusCode: number }];
    t.equal(res.statusCode, 500, `/${path}: 500`);
    ws.terminate();
  }
  await until("reported", () => reported.length === 2);
  t.same(
    reported.map((r) => [r.context.handler, (r.error as Error).message, r.context.remoteAddress]),
    [
      ["handleRequest", "sync decide", "127.0.0.1"],
      ["handleRequest", "async decide", "127.0.0.1"],
    ],
  );
});

t.test("handleHttp throws: 500, onError with handler handleHttp and the peer's address", async (t) => {
  const { port, reported } = await serve(t, {
    handleHttp: () => {
      throw new Error("page broke");
    },
  });
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  t.equal(response.status, 500);
  await response.text();
  t.equal(reported.length, 1);
  t.equal(reported[0]!.context.handler, "handleHttp");
  t.equal(reported[0]!.context.remoteAddress, "127.0.0.1");
});

t.test("onMessage throws: 1011 and onError; onMessage sending to a peer that vanished: nothing reported", async (t) => {
  const { server, url, port, reported } = await serve(t, {
    onMessage: (message, session) => {
      if (message === "boom") throw new Error("message handler bug");
      return session.send(message);
    },
  });
  t.equal(await closeCodeOf(url, "boom"), 1011);
  await until("reported", () => reported.length === 1);
  t.equal(reported[0]!.context.handler, "onMessage");
  t.match((reported[0]!.error as Error).message, "message handler bug");
  t.ok(reported[0]!.context.session, "with the session");
  for (let i = 0; i < 5; i++) await vanish(port, HALF_FRAME);
  await until("connections back to 0", () => server.connections.size === 0);
  t.equal(reported.length, 1, "vanished peers are not reported");
});

t.test("default onError: one line on stderr naming the handler and the peer; a throwing onError does not reach the process", async (t) => {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  t.teardown(() => void (process.stderr.write = write));
  const sessions: WebSocketSession[] = [];
  const server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    ...FAST,
    onSession: (session) => {
      sessions.push(session);
      throw new Error("unlogged\nbug");
    },
  });
  t.teardown(() => server.close({ timeout: 500 }));
  const { port } = await server.listening;
  t.equal(await closeCodeOf(`ws://127.0.0.1:${port}/`), 1011);
  await until("a line", () => lines.length > 0);
  t.equal(lines.length, 1, "one write");
  t.match(lines[0], /^wsproto: onSession failed for 127\.0\.0\.1:\d+: Error: unlogged bug\n$/, "one line");

  lines.length = 0;
  const throwing = await serve(t, {
    onSession: () => {
      throw new Error("first");
    },
    onError: () => {
      throw new Error("onError broke too");
    },
  });
  t.equal(await closeCodeOf(throwing.url), 1011);
  await until("a line", () => lines.length > 0);
  t.match(lines[0], /^wsproto: onError failed for 127\.0\.0\.1:\d+: Error: onError broke too\n$/, "the onError failure is written instead");
});

t.test("onSession's third argument: the request's URL, its headers by name, the peer", async (t) => {
  let seen: { url: string; cookie: string | null; host: string | null; address: string | undefined; same: boolean } | null = null;
  const { url } = await serve(t, {
    onSession: (session, _request, info) => {
      seen = {
        url: info.url.href,
        cookie: info.headers.get("cookie"),
        host: info.headers.get("host"),
        address: info.peer?.address,
        same: info.peer === session.peer,
      };
      session.close();
    },
  });
  const client = new WebSocket(`${url}room?name=ada`, { headers: { Cookie: "token=abc" } });
  await once(client, "close");
  t.ok(seen, "onSession ran");
  const { port } = new URL(url);
  t.same(seen, { url: `ws://127.0.0.1:${port}/room?name=ada`, cookie: "token=abc", host: `127.0.0.1:${port}`, address: "127.0.0.1", same: true });
});
