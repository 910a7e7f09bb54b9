// The command-line programs: examples/echo-server.ts and examples/client.ts,
// each run as its own process on loopback, against each other and against
// `ws` as an independent peer.
import t from "tap";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import { BIN, runPeer, says, startPeer, tsx } from "../helpers/process.ts";

t.test("client.ts sends stdin lines to echo-server.ts and prints the echoes", async (t) => {
  const server = await startPeer(t, BIN.node, tsx("examples/echo-server.ts", "--port", "0"));
  t.match(server.url, /^ws:\/\/127\.0\.0\.1:\d+\/$/, "announces ws://127.0.0.1:PORT/ (default host)");
  const input = "hello\nwörld ✓\n\n" + "x".repeat(100000) + "\nlast line\n";
  const r = await runPeer(t, BIN.node, tsx("examples/client.ts", server.url + "some/path?q=1", "--deflate", "--subprotocol", "chat"), {
    stdin: input,
    timeoutMs: 30000,
  });
  t.equal(r.code, 0, says(r.code === 0, "the client exits 0 after the close handshake", r));
  t.equal(r.stdout, input, "every line came back, in order, one per line");
  t.match(r.stderr, /subprotocol chat/, "the server took the offered subprotocol");
  t.match(r.stderr, /permessage-deflate/, "the server accepted permessage-deflate");
  const status = await server.kill();
  t.equal(status.code, 0, "echo-server exits 0 on SIGTERM");
  t.match(server.stderr(), /closed 1000/, "the server logged the clean close");
});

t.test("echo-server.ts keeps message types, answers pings, echoes close codes (ws as client)", async (t) => {
  const server = await startPeer(t, BIN.node, tsx("examples/echo-server.ts", "--port", "0", "--quiet"));
  const ws = new WebSocket(server.url, { perMessageDeflate: true });
  const received: Array<{ data: Buffer; isBinary: boolean }> = [];
  ws.on("message", (data: Buffer, isBinary: boolean) => received.push({ data, isBinary }));
  await once(ws, "open");
  t.match(ws.extensions, /permessage-deflate/, "deflate accepted when offered");
  ws.send("text ✓");
  ws.send(Buffer.from([0, 1, 2, 255]));
  const pong = once(ws, "pong");
  ws.ping("are you there");
  t.equal(String((await pong)[0]), "are you there", "ping answered with its payload");
  ws.close(4321, "custom");
  const [code, reason] = (await once(ws, "close")) as [number, Buffer];
  t.equal(code, 4321, "the close handshake echoes the code");
  t.equal(reason.toString(), "custom", "and the reason");
  t.same(
    received.map((m) => [m.isBinary, m.isBinary ? [...m.data] : m.data.toString()]),
    [
      [false, "text ✓"],
      [true, [0, 1, 2, 255]],
    ],
    "text came back as text, binary as binary",
  );
});

t.test("echo-server.ts closes open connections with 1001 on SIGTERM and exits 0", async (t) => {
  const server = await startPeer(t, BIN.node, tsx("examples/echo-server.ts", "--port", "0", "--quiet"));
  const ws = new WebSocket(server.url);
  await once(ws, "open");
  const closed = once(ws, "close");
  const status = await server.kill();
  const [code] = (await closed) as [number];
  t.equal(code, 1001, "the client saw 1001 going away");
  t.equal(status.code, 0, "the server exited 0");
});

t.test("client.ts reports failures on stderr with a non-zero exit", async (t) => {
  // Nothing listens on a port we just freed.
  const probe = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(probe, "listening");
  const freePort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const refused = await runPeer(t, BIN.node, tsx("examples/client.ts", `ws://127.0.0.1:${freePort}/`), { stdin: "" });
  t.not(refused.code, 0, "refused connection: non-zero exit");
  t.match(refused.stderr, /client: /, "refused connection: a reason on stderr");

  const rejecting = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    verifyClient: (_info, cb) => cb(false, 401, "Unauthorized"),
  });
  await once(rejecting, "listening");
  t.teardown(() => new Promise<void>((resolve) => rejecting.close(() => resolve())));
  const url = `ws://127.0.0.1:${(rejecting.address() as AddressInfo).port}/`;
  const rejected = await runPeer(t, BIN.node, tsx("examples/client.ts", url), { stdin: "hello\n" });
  t.not(rejected.code, 0, "rejected handshake: non-zero exit");
  t.match(rejected.stderr, /rejected with HTTP 401/, "rejected handshake: the status on stderr");

  const bad = await runPeer(t, BIN.node, tsx("examples/client.ts", "ftp://127.0.0.1/"), { stdin: "" });
  t.not(bad.code, 0, "bad URL: non-zero exit");
  t.match(bad.stderr, /ws: or wss:/, "bad URL: the reason on stderr");

  // A server that closes with an error code while stdin is still open.
  const closing = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(closing, "listening");
  t.teardown(() => new Promise<void>((resolve) => closing.close(() => resolve())));
  closing.on("connection", (ws) => ws.close(4500, "go away"));
  const closingUrl = `ws://127.0.0.1:${(closing.address() as AddressInfo).port}/`;
  const p = await startPeer(t, BIN.node, tsx("examples/client.ts", closingUrl), { ready: /(connected)/, readyOn: "stderr" });
  const status = await p.exited;
  t.equal(status.code, 1, "server-initiated 4500 with stdin open: exit 1");
  t.match(p.stderr(), /4500 "go away"/, "the code and reason on stderr");
});

t.test("--help prints the usage and exits 0; a bad command line says what is wrong and exits 2 (no stack trace)", async (t) => {
  const cases: Array<[string, string[], number, RegExp, RegExp]> = [
    // [program, arguments, exit code, stdout, stderr]
    ["client.ts", ["--help"], 0, /^usage: client\.ts URL \[--deflate\] \[--subprotocol P\]\.\.\.\n\n[^]*--subprotocol P[^]*-h, --help/, /^$/],
    ["client.ts", ["-h"], 0, /^usage: client\.ts URL/, /^$/],
    ["client.ts", [], 2, /^$/, /^client: a URL is required\nusage: client\.ts URL .*\nTry 'client\.ts --help' for more\.\n$/],
    ["client.ts", ["--bogus", "ws://127.0.0.1:1/"], 2, /^$/, /^client: unknown option '--bogus'\nusage: /],
    ["client.ts", ["ws://127.0.0.1:1/", "ws://127.0.0.1:2/"], 2, /^$/, /^client: one URL expected, got 2: ws:\/\/127\.0\.0\.1:1\/ ws:\/\/127\.0\.0\.1:2\/\nusage: /],
    ["client.ts", ["ws://127.0.0.1:1/", "--subprotocol"], 2, /^$/, /^client: option '--subprotocol <value>' argument missing\nusage: /],
    ["client.ts", ["not a url"], 1, /^$/, /^client: Invalid WebSocket URL: not a url \(WS_ERR_INVALID_URL\)\n$/],
    ["echo-server.ts", ["--help"], 0, /^usage: echo-server\.ts --port N \[--host H\] \[--quiet\]\n\n[^]*--port N[^]*-h, --help/, /^$/],
    ["echo-server.ts", [], 2, /^$/, /^echo-server: --port is required\nusage: echo-server\.ts --port N .*\nTry 'echo-server\.ts --help' for more\.\n$/],
    ["echo-server.ts", ["--port", "http"], 2, /^$/, /^echo-server: --port must be a number from 0 to 65535, not "http"\nusage: /],
    ["echo-server.ts", ["--port", "65536"], 2, /^$/, /^echo-server: --port must be a number from 0 to 65535, not "65536"\nusage: /],
    ["echo-server.ts", ["--port", "0", "--verbose"], 2, /^$/, /^echo-server: unknown option '--verbose'\nusage: /],
  ];
  for (const [program, args, code, stdout, stderr] of cases) {
    const what = `${program} ${args.join(" ")}`.trim();
    const r = await runPeer(t, BIN.node, tsx(`examples/${program}`, ...args), { stdin: "", timeoutMs: 30000 });
    t.equal(r.code, code, says(r.code === code, `${what}: exit ${code}`, r));
    t.match(r.stdout, stdout, `${what}: standard output`);
    t.match(r.stderr, stderr, `${what}: standard error`);
    t.notMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
  }
});
