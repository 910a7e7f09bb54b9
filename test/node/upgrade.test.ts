// acceptNodeUpgrade over real loopback (src/node/upgrade.ts; the session owns the handlers):
// handleRequest / handleHttp failures answer 500, onMessage / onPing / onPong
// failures close with 1011, each is reported to onError(error, context) (by
// default one line on stderr naming the peer), a throwing onError is contained, and an error
// that only reports the connection's end is not reported. The peer's address
// reaches session.peer (acceptNodeUpgrade, and fromNodeSocket users through
// peerAddress). The async 'upgrade' listener of acceptNodeUpgrade's own doc
// comment, extracted from the source and run in a child process, survives
// clients that vanish at every point.
import t from "tap";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Duplex } from "node:stream";
import WebSocket from "ws";
import { acceptNodeUpgrade, fromNodeSocket, peerAddress, type NodeUpgradeOptions } from "../../src/node/index.ts";
import { acceptWebSocket, WebSocketError, type HandlerContext, type WebSocketSession } from "../../src/streams/sessions.ts";
import { BIN, ROOT, startPeer, tsx } from "../helpers/process.ts";

type Report = { error: unknown; context: HandlerContext };

/** An HTTP server whose upgrades go to acceptNodeUpgrade with `options`; reports are collected. */
async function upgradeServer(t: { teardown(fn: () => unknown): void }, options: NodeUpgradeOptions = {}) {
  const reports: Report[] = [];
  const sessions: WebSocketSession[] = [];
  const server: Server = createServer();
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sessions.push(
      acceptNodeUpgrade(req, socket, head, {
        pingInterval: null,
        onError: (error, context) => reports.push({ error, context }),
        ...options,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}/`, port, reports, sessions };
}

/** A `ws` client: resolves with the HTTP status of a refused upgrade, or the close code of an accepted one. */
function wsOutcome(url: string, act: (ws: WebSocket) => void = () => {}): Promise<{ status?: number; code?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on("unexpected-response", (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.on("open", () => act(ws));
    ws.on("close", (code) => resolve({ code }));
    ws.on("error", () => {});
  });
}

t.test("handleRequest: a throw or a rejection answers 500 and is reported with its context", async (t) => {
  let calls = 0;
  const server = await upgradeServer(t, {
    handleRequest: () => {
      calls++;
      if (calls === 1) throw new Error("sync boom");
      return Promise.reject(new Error("async boom"));
    },
  });
  t.same(await wsOutcome(server.url), { status: 500 }, "a synchronous throw: 500");
  t.same(await wsOutcome(server.url), { status: 500 }, "a rejection: 500");
  t.equal(server.reports.length, 2);
  t.same(
    server.reports.map((r) => [(r.error as Error).message, r.context.handler, r.context.peer?.address]),
    [
      ["sync boom", "handleRequest", "127.0.0.1"],
      ["async boom", "handleRequest", "127.0.0.1"],
    ],
  );
  const error = await server.sessions[1]!.opened.then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(error instanceof WebSocketError && (error.cause as Error).message === "async boom", "opened rejects with the cause");
});

t.test("handleHttp: a throw answers 500 and is reported", async (t) => {
  const server = await upgradeServer(t, {
    handleHttp: () => {
      throw new Error("http boom");
    },
  });
  // An 'upgrade' to another protocol is plain HTTP for the WebSocket endpoint.
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port: server.port, path: "/", headers: { connection: "upgrade", upgrade: "h2c" } });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
  t.equal(status, 500);
  t.same(
    server.reports.map((r) => [(r.error as Error).message, r.context.handler]),
    [["http boom", "handleHttp"]],
  );
});

t.test("onMessage: a throw or a rejection closes with 1011 and is reported; the connection's own end is not", async (t) => {
  const server = await upgradeServer(t, {
    onMessage: (message) => {
      if (message === "throw") throw new Error("message boom");
      if (message === "reject") return Promise.reject(new Error("message rejection"));
      return undefined;
    },
  });
  t.same(await wsOutcome(server.url, (ws) => ws.send("throw")), { code: 1011 });
  t.same(await wsOutcome(server.url, (ws) => ws.send("reject")), { code: 1011 });
  await Promise.allSettled(server.sessions.map((s) => s.closed));
  t.same(
    server.reports.map((r) => [(r.error as Error).message, r.context.handler, r.context.peer?.address]),
    [
      ["message boom", "onMessage", "127.0.0.1"],
      ["message rejection", "onMessage", "127.0.0.1"],
    ],
  );

  // A handler whose send fails because the peer left: the connection's end, not an application failure.
  const quiet = await upgradeServer(t, {
    onMessage: async (_message, session) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await session.send("too late");
    },
  });
  await new Promise<void>((resolve) => {
    const ws = new WebSocket(quiet.url);
    ws.on("open", () => {
      ws.send("hi");
      ws.terminate();
    });
    ws.on("close", () => resolve());
    ws.on("error", () => {});
  });
  await Promise.allSettled(quiet.sessions.map((s) => s.closed));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(quiet.reports, [], "nothing reported for a send after the peer vanished");
});

t.test("onPing / onPong: a throw closes with 1011 and is reported; a throwing onError goes to stderr", async (t) => {
  const server = await upgradeServer(t, {
    onPing: () => {
      throw new Error("ping boom");
    },
  });
  t.same(await wsOutcome(server.url, (ws) => ws.ping("x")), { code: 1011 });
  t.same(
    server.reports.map((r) => [(r.error as Error).message, r.context.handler]),
    [["ping boom", "onPing"]],
  );

  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void lines.push(args.join(" "));
  t.teardown(() => (console.error = original));
  const loud = await upgradeServer(t, {
    onPong: () => {
      throw new Error("pong boom");
    },
    onError: () => {
      throw new Error("onError boom");
    },
  });
  t.same(await wsOutcome(loud.url, (ws) => ws.pong("y")), { code: 1011 });
  console.error = original;
  t.equal(lines.length, 2, "two lines on stderr: onError's failure, and the failure it was given");
  t.match(lines[0], /^wsproto: onError failed \(peer 127\.0\.0\.1:\d+\): Error: onError boom$/);
  t.match(lines[1], /^wsproto: onPong failed \(peer 127\.0\.0\.1:\d+\): Error: pong boom$/);
});

t.test("without onError: one line on stderr naming the handler and the peer", async (t) => {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void lines.push(args.join(" "));
  t.teardown(() => (console.error = original));
  const server = createServer();
  server.on("upgrade", (req, socket, head) => {
    acceptNodeUpgrade(req, socket, head, {
      pingInterval: null,
      handleRequest: () => {
        throw new Error("no access");
      },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  t.same(await wsOutcome(`ws://127.0.0.1:${port}/`), { status: 500 });
  console.error = original;
  t.equal(lines.length, 1);
  t.match(lines[0], /^wsproto: handleRequest failed \(peer 127\.0\.0\.1:\d+\): Error: no access$/);
});

t.test("peer: session.peer is the client's address and port (acceptNodeUpgrade, and fromNodeSocket through peerAddress)", async (t) => {
  const server = await upgradeServer(t);
  let localPort = 0;
  const ws = new WebSocket(server.url);
  await new Promise<void>((resolve, reject) => {
    ws.on("open", () => {
      localPort = (ws as unknown as { _socket: Socket })._socket.localPort ?? 0;
      resolve();
    });
    ws.on("error", reject);
  });
  await server.sessions[0]!.opened;
  t.same(server.sessions[0]!.peer, { address: "127.0.0.1", port: localPort, family: "IPv4" });
  ws.close();

  // A bare TCP server accepting over fromNodeSocket passes the peer itself.
  const tcp = createNetServer();
  const accepted: WebSocketSession[] = [];
  tcp.on("connection", (socket) => {
    accepted.push(acceptWebSocket(fromNodeSocket(socket), { peer: peerAddress(socket), pingInterval: null }));
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => tcp.close(() => resolve())));
  const client = new WebSocket(`ws://127.0.0.1:${(tcp.address() as AddressInfo).port}/`);
  await new Promise<void>((resolve, reject) => {
    client.on("open", () => resolve());
    client.on("error", reject);
  });
  await accepted[0]!.opened;
  t.equal(accepted[0]!.peer?.address, "127.0.0.1");
  t.equal(accepted[0]!.peer?.family, "IPv4");
  client.close();
  await accepted[0]!.closed;
  t.equal(peerAddress(new (await import("node:stream")).PassThrough()), null, "not a TCP socket: null");
});

/** The code block of acceptNodeUpgrade's own @example, as written in the source. */
function docExample(): string {
  const source = readFileSync(`${ROOT}src/node/upgrade.ts`, "utf8");
  const at = source.indexOf("export function acceptNodeUpgrade(");
  const doc = source.slice(source.lastIndexOf("/**", at), at);
  const block = /```ts\n([\s\S]*?)```/.exec(doc.replace(/^ \* ?/gm, ""));
  if (block === null) throw new Error("acceptNodeUpgrade has no @example block");
  return block[1]!;
}

t.test("the doc comment's 'upgrade' listener survives clients that vanish at every point", async (t) => {
  const dir = `${ROOT}.test-tmp/upgrade-example`;
  mkdirSync(dir, { recursive: true });
  const program =
    docExample().replace(`from "wsproto/node"`, `from ${JSON.stringify(`${ROOT}src/node/index.ts`)}`) +
    `\nserver.listen(0, "127.0.0.1", () => console.log("listening on ws://127.0.0.1:" + (server.address() as { port: number }).port + "/"));\n`;
  writeFileSync(`${dir}/example.ts`, program);
  const peer = await startPeer(t, BIN.node, tsx(`${dir}/example.ts`));

  const upgrade =
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  // A masked TEXT frame "hello", and the first 3 bytes of a frame header.
  const frame = Buffer.from([0x81, 0x85, 1, 2, 3, 4, 0x68 ^ 1, 0x65 ^ 2, 0x6c ^ 3, 0x6c ^ 4, 0x6f ^ 1]);
  const cuts: Array<[string, (socket: Socket) => void]> = [
    ["mid-request", (s) => s.write(upgrade.slice(0, 40))],
    ["after the request", (s) => s.write(upgrade)],
    ["inside a frame header", (s) => s.write(Buffer.concat([Buffer.from(upgrade), frame.subarray(0, 3)]))],
    ["inside a payload", (s) => s.write(Buffer.concat([Buffer.from(upgrade), frame.subarray(0, 8)]))],
    ["after a whole message", (s) => s.write(Buffer.concat([Buffer.from(upgrade), frame]))],
  ];
  for (const [name, act] of cuts) {
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const socket = netConnect(peer.port, "127.0.0.1", () => {
          act(socket);
          setTimeout(() => {
            socket.resetAndDestroy();
            resolve();
          }, 30);
        });
        socket.on("error", () => resolve());
      });
    }
    t.pass(`vanished ${name} (x5)`);
  }
  // Still serving: a real client gets its echo.
  const echoed = await new Promise<string>((resolve, reject) => {
    const ws = new WebSocket(peer.url);
    ws.on("open", () => ws.send("still here"));
    ws.on("message", (data) => {
      resolve(String(data));
      ws.close();
    });
    ws.on("error", reject);
  });
  t.equal(echoed, "still here");
  t.equal(peer.child.exitCode, null, "the process is alive");
  t.notMatch(peer.stderr(), /Unhandled|uncaught|Error/i, "nothing crashed or was reported as a crash");
});
