// WebSocketStream against python websockets (test/interop/peers/
// websocket_stream_server.py), following the web-platform-tests for
// WebSocketStream (websockets/stream/tentative: constructor, close,
// backpressure, abort), written here from the spec's steps. Loopback only;
// the peer is killed by pid; every wait is bounded; no timing assertions
// (where the wpt measure elapsed time, the peer reports what happened).
import t, { type Test } from "tap";
import { BIN, ROOT, explain, startPeer, type Peer } from "../helpers/process.ts";
import { WebSocketError, WebSocketStream } from "../../src/node/index.ts";

const PEER = `${ROOT}test/interop/peers/websocket_stream_server.py`;
const WAIT_MS = 60_000;

let peer!: Peer;
let BASE = "";
let ECHO = "";
let nextId = 0;
const id = (): string => `c${++nextId}`;

t.before(async () => {
  peer = await startPeer(t, BIN.python, [PEER, "--port", "0"]);
  BASE = peer.url.replace(/\/$/, "");
  ECHO = `${BASE}/echo`;
});

/** Resolves with the first match of `pattern` in the peer's stdout (waiting for it, bounded). */
function line(pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const m = pattern.exec(peer.stdout());
      if (m === null) return false;
      cleanup();
      resolve(m);
      return true;
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(explain(`no line ${pattern} from the peer within ${WAIT_MS} ms`, peer)));
    }, WAIT_MS);
    const onData = (): void => void check();
    function cleanup(): void {
      clearTimeout(timer);
      peer.child.stdout!.off("data", onData);
    }
    peer.child.stdout!.on("data", onData);
    check();
  });
}

/** A line to the peer's stdin (`release ID`, `read ID`). */
function tell(text: string): void {
  peer.child.stdin!.write(text + "\n");
}

/** Resolves after every pending I/O callback and microtask has run once. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Rejection of `promise` (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

function isDOMException(error: unknown, name: string): boolean {
  return error instanceof DOMException && error.name === name;
}

function throwsDOM(t: Test, name: string, fn: () => unknown, what: string): void {
  try {
    fn();
    t.fail(`${what}: did not throw`);
  } catch (error) {
    t.ok(isDOMException(error, name), `${what}: ${name} DOMException (${String(error)})`);
  }
}

function throwsType(t: Test, fn: () => unknown, what: string): void {
  try {
    fn();
    t.fail(`${what}: did not throw`);
  } catch (error) {
    t.ok(error instanceof TypeError, `${what}: TypeError (${String(error)})`);
  }
}

/** A WebSocketError as the spec has it: a DOMException named "WebSocketError" with closeCode and reason. */
function isWebSocketError(error: unknown): error is WebSocketError {
  return error instanceof WebSocketError && error instanceof DOMException && error.name === "WebSocketError";
}

t.test("constructor", async (t) => {
  throwsType(t, () => Reflect.construct(WebSocketStream, []), "no URL");
  throwsDOM(t, "SyntaxError", () => new WebSocketStream("invalid:"), "an invalid URL");
  throwsDOM(t, "SyntaxError", () => new WebSocketStream("/echo"), "a relative URL (no base URL outside a document)");
  for (const url of ["ftp://127.0.0.1/", "file:///tmp/x", "mailto:a@b.c", "data:text/plain,x"]) {
    throwsDOM(t, "SyntaxError", () => new WebSocketStream(url), `scheme of ${url}`);
  }
  throwsDOM(t, "SyntaxError", () => new WebSocketStream(`${ECHO}#frag`), "a fragment");
  throwsDOM(t, "SyntaxError", () => new WebSocketStream(`${ECHO}#`), "an empty fragment");
  throwsType(t, () => new WebSocketStream(ECHO, true as never), "options that are not a dictionary");
  throwsType(t, () => new WebSocketStream(ECHO, { protocols: "hi" as never }), "protocols not a sequence");
  throwsType(t, () => new WebSocketStream(ECHO, { signal: {} as never }), "signal not an AbortSignal");
  throwsType(t, () => new WebSocketStream(ECHO, { signal: null as never }), "signal null");
  throwsDOM(t, "SyntaxError", () => new WebSocketStream(ECHO, { protocols: ["chat", "chat"] }), "a duplicate protocol");
  for (const bad of ["", "a b", "a,b", "a/b", "caf\u00e9", "{x}", "a\tb"]) {
    throwsDOM(t, "SyntaxError", () => new WebSocketStream(ECHO, { protocols: [bad] }), `protocol ${JSON.stringify(bad)}`);
  }

  // Neither connects: an aborted signal stops the constructor after the URL steps.
  const aborted = AbortSignal.abort();
  t.equal(new WebSocketStream("http://example.com/x?y", { signal: aborted }).url, "ws://example.com/x?y", "http: becomes ws:");
  t.equal(new WebSocketStream("https://example.com", { signal: aborted }).url, "wss://example.com/", "https: becomes wss:, serialized");
  t.equal(String(new WebSocketStream("ws://example.com", { signal: aborted })), "[object WebSocketStream]", "toStringTag");

  const wss = new WebSocketStream(ECHO);
  t.equal(wss.url, ECHO, "url");
  const { readable, writable, protocol, extensions } = await wss.opened;
  // Brand checks: real WHATWG streams.
  t.doesNotThrow(() => ReadableStream.prototype.getReader.call(readable).releaseLock(), "readable is a ReadableStream");
  t.doesNotThrow(() => WritableStream.prototype.getWriter.call(writable).releaseLock(), "writable is a WritableStream");
  t.equal(typeof protocol, "string", "protocol is a string");
  t.equal(protocol, "", "no protocol offered, none agreed");
  t.match(extensions, /^permessage-deflate/, "extensions: the negotiated header value");
  t.same(Object.keys(await wss.opened), ["extensions", "protocol", "readable", "writable"], "opened is a WebSocketOpenInfo dictionary");
  wss.close();
  t.same(await wss.closed, { closeCode: 1005, reason: "" });
});

t.test("a protocol set in the constructor is offered and agreed", async (t) => {
  const wss = new WebSocketStream(`${BASE}/protocol`, { protocols: ["alpha", "beta"] });
  const { readable, protocol } = await wss.opened;
  t.equal(protocol, "alpha", "protocol");
  const { value } = await readable.getReader().read();
  t.equal(value, "alpha", "the peer agreed to the same");
  wss.close();
  await wss.closed;

  const fromSet = new WebSocketStream(`${BASE}/protocol`, { protocols: new Set(["omega", "beta"]) });
  t.equal((await fromSet.opened).protocol, "beta", "any iterable is a sequence");
  fromSet.close();
  await fromSet.closed;
});

t.test("messages: text as string, binary as Uint8Array, BufferSource accepted", async (t) => {
  const wss = new WebSocketStream(ECHO);
  const { readable, writable } = await wss.opened;
  const reader = readable.getReader();
  const writer = writable.getWriter();
  await writer.write("hello");
  t.equal((await reader.read()).value, "hello");
  await writer.write(new Uint8Array([1, 2, 3]));
  const bytes = (await reader.read()).value;
  t.ok(bytes instanceof Uint8Array, "binary is a Uint8Array");
  t.same([...(bytes as Uint8Array)], [1, 2, 3]);
  await writer.write(new Uint8Array([4, 5]).buffer);
  t.same([...((await reader.read()).value as Uint8Array)], [4, 5], "an ArrayBuffer is sent as binary");
  await writer.write(new DataView(new Uint8Array([6]).buffer));
  t.same([...((await reader.read()).value as Uint8Array)], [6], "a DataView is sent as binary");
  wss.close({ closeCode: 1000 });
  t.same(await wss.closed, { closeCode: 1000, reason: "" });
  t.same(await reader.read(), { value: undefined, done: true }, "the readable ends after a clean close");
});

t.test("connection failure rejects both promises with a WebSocketError", async (t) => {
  const wss = new WebSocketStream(`${BASE}/404`);
  const opened = await rejection(wss.opened);
  const closed = await rejection(wss.closed);
  t.ok(isWebSocketError(opened), `opened: ${String(opened)}`);
  t.ok(isWebSocketError(closed), `closed: ${String(closed)}`);
  const error = opened as WebSocketError;
  t.ok(error instanceof Error, "an Error too");
  t.equal(error.closeCode, 1006, "closeCode 1006 (no close frame)");
  t.equal(error.reason, "");
  t.equal(typeof error.code, "string", "code stays this project's string");
  t.equal(error.code, "WS_ERR_HANDSHAKE_REJECTED");
  t.equal(error.status, 404, "the HTTP status");

  // Nobody listening: refused.
  const port = await new Promise<number>((resolve) => {
    void import("node:net").then(({ createServer }) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const address = server.address() as { port: number };
        server.close(() => resolve(address.port));
      });
    });
  });
  const refused = new WebSocketStream(`ws://127.0.0.1:${port}/`);
  t.ok(isWebSocketError(await rejection(refused.opened)), "refused: opened rejects with a WebSocketError");
  t.ok(isWebSocketError(await rejection(refused.closed)), "refused: closed rejects with a WebSocketError");
});

t.test("close()", async (t) => {
  const closedWith = async (info: unknown): Promise<unknown> => {
    const wss = new WebSocketStream(ECHO);
    await wss.opened;
    wss.close(info as never);
    return wss.closed;
  };
  t.same(await closedWith({ closeCode: 3456, reason: "pizza" }), { closeCode: 3456, reason: "pizza" }, "code and reason reflected");
  t.same(await closedWith(undefined), { closeCode: 1005, reason: "" }, "no argument: an empty close frame");
  t.same(await closedWith(null), { closeCode: 1005, reason: "" }, "null is an empty dictionary");
  t.same(await closedWith({}), { closeCode: 1005, reason: "" }, "no code: an empty close frame");
  t.same(await closedWith({ reason: "" }), { closeCode: 1005, reason: "" }, "no code, empty reason: an empty close frame");
  t.same(await closedWith({ reason: "non-empty" }), { closeCode: 1000, reason: "non-empty" }, "a reason alone means 1000");
  t.same(await closedWith({ closeCode: 3000.9 }), { closeCode: 3000, reason: "" }, "[EnforceRange] truncates");
  t.same(await closedWith({ closeCode: "4000" }), { closeCode: 4000, reason: "" }, "closeCode through ToNumber");
  const longest = "\u00e9".repeat(61) + "a"; // 123 UTF-8 bytes
  t.same(await closedWith({ closeCode: 1000, reason: longest }), { closeCode: 1000, reason: longest }, "a 123-byte reason");

  const wss = new WebSocketStream(ECHO);
  await wss.opened;
  throwsType(t, () => wss.close(true as never), "close(true)");
  throwsType(t, () => wss.close(1000 as never), "close(1000)");
  throwsDOM(t, "SyntaxError", () => wss.close({ reason: ".".repeat(124) }), "a 124-byte reason");
  throwsDOM(t, "SyntaxError", () => wss.close({ reason: "\u00e9".repeat(62) }), "62 two-byte characters");
  for (const code of [0, 999, 1001, 1005, 1006, 1015, 2999, 5000, 65535]) {
    throwsDOM(t, "InvalidAccessError", () => wss.close({ closeCode: code }), `code ${code}`);
  }
  for (const code of [NaN, Infinity, -1, 65536, 1e10]) {
    throwsType(t, () => wss.close({ closeCode: code }), `code ${code} ([EnforceRange] unsigned short)`);
  }
  throwsType(t, () => wss.close({ closeCode: 1000n as never }), "a BigInt code");
  wss.close({ closeCode: 4001, reason: "after the failures" });
  wss.close({ closeCode: 4002, reason: "ignored: already closing" });
  t.same(await wss.closed, { closeCode: 4001, reason: "after the failures" }, "the failed calls changed nothing; a second close does nothing");
  t.doesNotThrow(() => wss.close(), "close() after closed does nothing");
});

t.test("close during the handshake rejects opened and closed", async (t) => {
  const wss = new WebSocketStream(ECHO);
  wss.close();
  const opened = await rejection(wss.opened);
  t.ok(isWebSocketError(opened), `opened: ${String(opened)}`);
  t.ok(isWebSocketError(await rejection(wss.closed)), "closed");

  const slowId = id();
  const slow = new WebSocketStream(`${BASE}/slow-handshake?id=${slowId}`);
  await line(new RegExp(`handshake ${slowId}\\b`));
  slow.close({ closeCode: 1000, reason: "never mind" });
  t.ok(isWebSocketError(await rejection(slow.opened)), "after the request was sent: opened rejects");
  t.ok(isWebSocketError(await rejection(slow.closed)), "after the request was sent: closed rejects");
});

t.test("closing the writable", async (t) => {
  const wss = new WebSocketStream(ECHO);
  const { writable } = await wss.opened;
  await writable.getWriter().close();
  t.same(await wss.closed, { closeCode: 1005, reason: "" }, "a clean close without a code");

  // writer.close() resolves only once the closing handshake has finished.
  const delayed = id();
  const slow = new WebSocketStream(`${BASE}/delayed-close?id=${delayed}`);
  const writer = (await slow.opened).writable.getWriter();
  await writer.write("before the close");
  let settled = false;
  const closing = writer.close().then(() => (settled = true));
  let closedSettled = false;
  void slow.closed.then(() => (closedSettled = true));
  await line(new RegExp(`close-received ${delayed} 1005\\b`));
  await turn();
  await turn();
  t.notOk(settled, "writer.close() is pending while the peer holds its close reply");
  t.notOk(closedSettled, "so is closed");
  tell(`release ${delayed}`);
  await closing;
  t.same(await slow.closed, { closeCode: 1005, reason: "" }, "then both resolve: a clean close");
});

t.test("close() waits for the peer's reply as well", async (t) => {
  const delayed = id();
  const wss = new WebSocketStream(`${BASE}/delayed-close?id=${delayed}`);
  await wss.opened;
  let settled = false;
  void wss.closed.then(() => (settled = true));
  wss.close({ closeCode: 3003, reason: "later" });
  await line(new RegExp(`close-received ${delayed} 3003\\b`));
  await turn();
  t.notOk(settled, "closed is pending while the peer holds its reply");
  tell(`release ${delayed}`);
  t.same(await wss.closed, { closeCode: 3003, reason: "later" });
});

for (const { method, stream } of [
  { method: "abort", stream: "writable" },
  { method: "cancel", stream: "readable" },
] as const) {
  t.test(`${method}() of the ${stream}: a clean close`, async (t) => {
    const closedAfter = async (reason?: unknown): Promise<unknown> => {
      const wss = new WebSocketStream(ECHO);
      const info = await wss.opened;
      const target = info[stream] as { abort?: (r?: unknown) => Promise<void>; cancel?: (r?: unknown) => Promise<void> };
      await (reason === undefined ? target[method]!() : target[method]!(reason));
      return wss.closed;
    };
    t.same(await closedAfter(), { closeCode: 1005, reason: "" }, "no reason: no code");
    t.same(await closedAfter({ closeCode: 4000, reason: "not to be used" }), { closeCode: 1005, reason: "" }, "a plain object is ignored");
    t.same(await closedAfter(new Error("an error")), { closeCode: 1005, reason: "" }, "another error is ignored");
    t.same(await closedAfter(new WebSocketError("", { closeCode: 4000 })), { closeCode: 4000, reason: "" }, "a WebSocketError's code");
    t.same(
      await closedAfter(new WebSocketError("", { closeCode: 3333, reason: "specified reason" })),
      { closeCode: 3333, reason: "specified reason" },
      "a WebSocketError's code and reason",
    );
    t.same(
      await closedAfter(new WebSocketError("", { reason: "specified reason" })),
      { closeCode: 1000, reason: "specified reason" },
      "a WebSocketError's reason alone: 1000",
    );
    t.same(await closedAfter(new WebSocketError("", { closeCode: 1000 })), { closeCode: 1000, reason: "" }, "1000");
    t.same(
      await closedAfter(new WebSocketError("unclean", { closeCode: 1006 })),
      { closeCode: 1005, reason: "" },
      "a code that may not be sent is discarded (an empty close frame instead)",
    );
  });
}

t.test("abort signal", async (t) => {
  const before = new AbortController();
  before.abort();
  const neverId = id();
  const never = new WebSocketStream(`${ECHO}?id=${neverId}`, { signal: before.signal });
  const opened = await rejection(never.opened);
  t.ok(isDOMException(opened, "AbortError"), `aborted before constructing: opened rejects with the reason (${String(opened)})`);
  t.equal(await rejection(never.closed), opened, "closed rejects with the same reason");
  t.doesNotThrow(() => never.close(), "close() does nothing");
  // A later connection's request is seen; the aborted one never was.
  const laterId = id();
  const later = new WebSocketStream(`${ECHO}?id=${laterId}`);
  await later.opened;
  await line(new RegExp(`request /echo\\?id=${laterId}\\b`));
  t.notMatch(peer.stdout(), new RegExp(`id=${neverId}\\b`), "no connection was made");
  later.close();
  await later.closed;

  const during = new AbortController();
  const slowId = id();
  const slow = new WebSocketStream(`${BASE}/slow-handshake?id=${slowId}`, { signal: during.signal });
  await line(new RegExp(`handshake ${slowId}\\b`));
  const reason = new Error("custom reason");
  during.abort(reason);
  t.equal(await rejection(slow.opened), reason, "aborted during the handshake: opened rejects with the signal's reason");
  t.equal(await rejection(slow.closed), reason, "and closed");

  const after = new AbortController();
  const wss = new WebSocketStream(ECHO, { signal: after.signal });
  const { readable, writable } = await wss.opened;
  after.abort();
  const writer = writable.getWriter();
  await writer.write("connected");
  t.equal((await readable.getReader().read()).value, "connected", "aborting after the handshake does nothing");
  wss.close();
  t.same(await wss.closed, { closeCode: 1005, reason: "" });
});

t.test("back-pressure on received messages: the peer is blocked while nobody reads", async (t) => {
  const count = 32;
  const size = 1 << 20;
  const sid = id();
  const wss = new WebSocketStream(`${BASE}/send-backpressure?id=${sid}&count=${count}&size=${size}`);
  const { readable } = await wss.opened;
  const [, blockedAt] = await line(new RegExp(`blocked ${sid} (\\d+)`));
  t.ok(Number(blockedAt) < count, `the peer's send ${blockedAt} of ${count} could not complete while nothing was read`);
  const reader = readable.getReader();
  for (let i = 0; i < count; i++) {
    const { value } = await reader.read();
    const bytes = value as Uint8Array;
    if (!(bytes instanceof Uint8Array) || bytes.byteLength !== size || bytes[0] !== i % 256) {
      t.fail(`message ${i} is not the one sent (${String(bytes?.byteLength)} bytes)`);
      break;
    }
  }
  await line(new RegExp(`sent-all ${sid}\\b`));
  t.pass("every message arrived once read; the peer's sends then completed");
  wss.close();
  t.same(await wss.closed, { closeCode: 1005, reason: "" });
});

t.test("back-pressure on sent messages: writes wait while the peer does not read", async (t) => {
  const count = 64;
  const size = 1 << 20;
  const rid = id();
  const wss = new WebSocketStream(`${BASE}/receive-backpressure?id=${rid}`);
  const { readable, writable } = await wss.opened;
  const writer = writable.getWriter();
  // Random bytes: permessage-deflate must not shrink them.
  const chunk = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) crypto.getRandomValues(chunk.subarray(offset, offset + 65536));
  let stalledAt = -1;
  for (let i = 0; i < count; i++) {
    const write = writer.write(chunk);
    if (stalledAt < 0) {
      // Not a timing assertion: how long to wait before deciding the write is held back.
      let timer: NodeJS.Timeout | undefined;
      const stalled = await Promise.race([
        write.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 2000))),
      ]);
      clearTimeout(timer);
      if (stalled) {
        stalledAt = i;
        tell(`read ${rid}`);
      }
    }
    await write;
  }
  t.ok(stalledAt >= 0 && stalledAt < count, `write ${stalledAt} of ${count} waited until the peer read`);
  await writer.write("end");
  const { value } = await readable.getReader().read();
  t.equal(value, `got ${count} ${count * size}`, "the peer got every message");
  wss.close();
  t.same(await wss.closed, { closeCode: 1005, reason: "" });
});

t.test("WebSocketStream.withOptions: the options beyond the spec, in their own bag", async (t) => {
  const wss = WebSocketStream.withOptions(`${BASE}/protocol`, { protocols: ["beta"] }, { extensions: [], maxMessageSize: 16 });
  const { readable, writable, protocol, extensions } = await wss.opened;
  t.equal(protocol, "beta", "the spec's options still apply");
  t.equal(extensions, "", "extensions: [] offers none");
  const reader = readable.getReader();
  t.equal((await reader.read()).value, "beta");
  const writer = writable.getWriter();
  await writer.write("x".repeat(32));
  const error = await rejection(wss.closed);
  t.ok(isWebSocketError(error), `a message over maxMessageSize fails the connection: ${String(error)}`);
  t.equal((error as WebSocketError).closeCode, 1009, "with 1009");
  throwsType(t, () => WebSocketStream.withOptions(ECHO, {}, 5 as never), "connectOptions not an object");
  throwsDOM(t, "SyntaxError", () => WebSocketStream.withOptions("ftp://x/", {}, {}), "the URL rules still apply");
});

t.test("WebSocketError: a DOMException named WebSocketError whose code is this project's string", async (t) => {
  const plain = new WebSocketError();
  t.ok(plain instanceof DOMException && plain instanceof Error && plain instanceof WebSocketError, "DOMException, Error, WebSocketError");
  t.equal(plain.name, "WebSocketError");
  t.equal(plain.message, "");
  t.equal(plain.closeCode, null, "closeCode defaults to null");
  t.equal(plain.reason, "");
  t.equal(plain.code, "WS_ERR_WEBSOCKET", "code: the string, not DOMException's number");
  t.equal(typeof plain.stack, "string", "a stack");
  t.equal(new WebSocketError("m", { reason: "r" }).closeCode, 1000, "a reason alone means 1000");
  const cause = new Error("underneath");
  const full = new WebSocketError("failed", { closeCode: 4000, reason: "why", code: "WS_ERR_X", cause });
  t.same([full.message, full.closeCode, full.reason, full.code, full.cause], ["failed", 4000, "why", "WS_ERR_X", cause]);
  t.equal(String(full), "WebSocketError: failed");
  t.equal(Object.getOwnPropertyDescriptor(full, "code")?.value, "WS_ERR_X", "code is an own property (shadowing the prototype's getter)");
  class Sub extends WebSocketError {}
  t.ok(new Sub() instanceof Sub, "subclasses keep their prototype");
});
