/**
 * The spec-derived WebSocketStream checks that need no control of the peer
 * beyond its URL, as one program that runs unchanged on Node (tsx), Bun and
 * Deno (run by websocket-stream-runtimes.test.ts against
 * test/interop/peers/websocket_stream_server.py). Like the
 * web-platform-tests for WebSocketStream (constructor, close, abort), from
 * the spec's steps; the fuller Node run with the peer's own reports is
 * websocket-stream.test.ts.
 *
 * Usage: <runtime> test/node/websocket-stream-conformance.ts ws://127.0.0.1:PORT
 * Prints `ok - NAME` or `not ok - NAME: WHY` per check, then
 * `summary PASSED passed, FAILED failed`; exits 1 if any failed.
 * @module
 */
import { WebSocketError, WebSocketStream } from "wsproto/node";

const BASE = (process.argv[2] ?? "").replace(/\/$/, "");
const ECHO = `${BASE}/echo`;
let passed = 0;
let failed = 0;
let nextId = 0;
const id = (): string => `r${++nextId}-${Math.random().toString(36).slice(2, 8)}`;

class Failure extends Error {}

function assert(condition: boolean, what: string): void {
  if (!condition) throw new Failure(what);
}

function same(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Failure(`${what}: got ${a}, expected ${e}`);
}

async function check(name: string, body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
    passed++;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed++;
    console.log(`not ok - ${name}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
}

function throwsDOM(name: string, fn: () => unknown, what: string): void {
  try {
    fn();
  } catch (error) {
    assert(error instanceof DOMException && error.name === name, `${what}: threw ${String(error)}, expected a ${name} DOMException`);
    return;
  }
  throw new Failure(`${what}: did not throw`);
}

function throwsType(fn: () => unknown, what: string): void {
  try {
    fn();
  } catch (error) {
    assert(error instanceof TypeError, `${what}: threw ${String(error)}, expected a TypeError`);
    return;
  }
  throw new Failure(`${what}: did not throw`);
}

async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Failure(`${what}: resolved, expected a rejection`);
}

function isWebSocketError(error: unknown): boolean {
  return error instanceof WebSocketError && error instanceof DOMException && error.name === "WebSocketError";
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function closedAfter(info: unknown): Promise<unknown> {
  const wss = new WebSocketStream(ECHO);
  await wss.opened;
  wss.close(info as never);
  return wss.closed;
}

await check("constructor: argument checks", () => {
  throwsType(() => Reflect.construct(WebSocketStream, []), "no URL");
  throwsDOM("SyntaxError", () => new WebSocketStream("invalid:"), "invalid URL");
  throwsDOM("SyntaxError", () => new WebSocketStream("ftp://127.0.0.1/"), "ftp: scheme");
  throwsDOM("SyntaxError", () => new WebSocketStream(`${ECHO}#x`), "fragment");
  throwsType(() => new WebSocketStream(ECHO, true as never), "options true");
  throwsType(() => new WebSocketStream(ECHO, { protocols: "hi" as never }), "protocols a string");
  throwsDOM("SyntaxError", () => new WebSocketStream(ECHO, { protocols: ["a", "a"] }), "duplicate protocols");
  throwsDOM("SyntaxError", () => new WebSocketStream(ECHO, { protocols: ["a b"] }), "invalid protocol");
  const aborted = AbortSignal.abort();
  same(new WebSocketStream("http://example.com/x", { signal: aborted }).url, "ws://example.com/x", "http: to ws:");
  same(new WebSocketStream("https://example.com", { signal: aborted }).url, "wss://example.com/", "https: to wss:");
});

await check("constructor: a valid URL opens real streams", async () => {
  const wss = new WebSocketStream(ECHO);
  same(wss.url, ECHO, "url");
  const { readable, writable, protocol, extensions } = await wss.opened;
  ReadableStream.prototype.getReader.call(readable).releaseLock();
  WritableStream.prototype.getWriter.call(writable).releaseLock();
  assert(typeof protocol === "string" && typeof extensions === "string", "protocol and extensions are strings");
  wss.close();
  same(await wss.closed, { closeCode: 1005, reason: "" }, "closed");
});

await check("constructor: protocols", async () => {
  const wss = new WebSocketStream(`${BASE}/protocol`, { protocols: ["alpha", "beta"] });
  const { readable, protocol } = await wss.opened;
  same(protocol, "alpha", "protocol");
  same((await readable.getReader().read()).value, "alpha", "the peer's choice");
  wss.close();
  await wss.closed;
});

await check("connection failure rejects opened and closed with a WebSocketError", async () => {
  const wss = new WebSocketStream(`${BASE}/404`);
  const opened = await rejection(wss.opened, "opened");
  const closed = await rejection(wss.closed, "closed");
  assert(isWebSocketError(opened) && isWebSocketError(closed), `WebSocketErrors: ${String(opened)}, ${String(closed)}`);
  same(typeof (opened as WebSocketError).code, "string", "code stays a string");
  same((opened as WebSocketError).closeCode, 1006, "closeCode");
});

await check("messages: text, binary", async () => {
  const wss = new WebSocketStream(ECHO);
  const { readable, writable } = await wss.opened;
  const reader = readable.getReader();
  const writer = writable.getWriter();
  await writer.write("hello");
  same((await reader.read()).value, "hello", "text");
  await writer.write(new Uint8Array([1, 2, 3]));
  const { value } = await reader.read();
  assert(value instanceof Uint8Array, "binary is a Uint8Array");
  same([...(value as Uint8Array)], [1, 2, 3], "binary");
  wss.close();
  await wss.closed;
});

await check("close(): codes and reasons", async () => {
  same(await closedAfter({ closeCode: 3456, reason: "pizza" }), { closeCode: 3456, reason: "pizza" }, "reflected");
  same(await closedAfter(undefined), { closeCode: 1005, reason: "" }, "no argument");
  same(await closedAfter({}), { closeCode: 1005, reason: "" }, "{}");
  same(await closedAfter({ reason: "" }), { closeCode: 1005, reason: "" }, "empty reason");
  same(await closedAfter({ reason: "non-empty" }), { closeCode: 1000, reason: "non-empty" }, "a reason alone");
});

await check("close(): argument checks", async () => {
  const wss = new WebSocketStream(ECHO);
  await wss.opened;
  throwsType(() => wss.close(true as never), "close(true)");
  throwsDOM("SyntaxError", () => wss.close({ reason: ".".repeat(124) }), "overlong reason");
  for (const code of [999, 1001, 2999, 5000]) throwsDOM("InvalidAccessError", () => wss.close({ closeCode: code }), `code ${code}`);
  throwsType(() => wss.close({ closeCode: 65536 }), "code 65536");
  wss.close();
  same(await wss.closed, { closeCode: 1005, reason: "" }, "closed");
});

await check("close during the handshake rejects opened and closed", async () => {
  const wss = new WebSocketStream(ECHO);
  wss.close();
  assert(isWebSocketError(await rejection(wss.opened, "opened")), "opened: a WebSocketError");
  assert(isWebSocketError(await rejection(wss.closed, "closed")), "closed: a WebSocketError");
});

await check("closing the writable: a clean close, once the peer answered", async () => {
  const wss = new WebSocketStream(ECHO);
  const { writable } = await wss.opened;
  await writable.getWriter().close();
  same(await wss.closed, { closeCode: 1005, reason: "" }, "closed");

  const delayed = id();
  const slow = new WebSocketStream(`${BASE}/delayed-close?id=${delayed}`);
  const writer = (await slow.opened).writable.getWriter();
  let settled = false;
  const closing = writer.close().then(() => (settled = true));
  await delay(200); // time for the close frame to reach the peer (not a timing assertion: the peer waits for the release)
  assert(!settled, "writer.close() is pending while the peer holds its close reply");
  const release = new WebSocketStream(`${BASE}/release?id=${delayed}`);
  await rejection(release.opened, "the release request (answered 204)");
  await closing;
  same(await slow.closed, { closeCode: 1005, reason: "" }, "closed");
});

for (const [method, stream] of [
  ["abort", "writable"],
  ["cancel", "readable"],
] as const) {
  await check(`${method}() of the ${stream}: a clean close with a WebSocketError's code and reason only`, async () => {
    const after = async (reason?: unknown): Promise<unknown> => {
      const wss = new WebSocketStream(ECHO);
      const info = await wss.opened;
      const target = info[stream] as unknown as Record<string, (reason?: unknown) => Promise<void>>;
      await target[method]!(reason);
      return wss.closed;
    };
    same(await after(), { closeCode: 1005, reason: "" }, "no reason");
    same(await after({ closeCode: 4000, reason: "not to be used" }), { closeCode: 1005, reason: "" }, "a plain object");
    same(await after(new WebSocketError("", { closeCode: 4000 })), { closeCode: 4000, reason: "" }, "a code");
    same(await after(new WebSocketError("", { closeCode: 3333, reason: "r" })), { closeCode: 3333, reason: "r" }, "code and reason");
    same(await after(new WebSocketError("", { reason: "r" })), { closeCode: 1000, reason: "r" }, "a reason alone");
  });
}

// Deno (with --unstable-net) and browsers have a WebSocketError of their own; a program written for them passes that one.
const NativeWebSocketError = (globalThis as { WebSocketError?: new (message?: string, init?: object) => Error }).WebSocketError;
if (NativeWebSocketError !== undefined && NativeWebSocketError !== WebSocketError) {
  await check("abort() with the runtime's own WebSocketError uses its code and reason", async () => {
    const wss = new WebSocketStream(ECHO);
    const { writable } = await wss.opened;
    await writable.abort(new NativeWebSocketError("", { closeCode: 4321, reason: "native" }));
    same(await wss.closed, { closeCode: 4321, reason: "native" }, "closed");
  });
}

await check("signal: aborted before, during and after the handshake", async () => {
  const before = new WebSocketStream(ECHO, { signal: AbortSignal.abort() });
  const error = await rejection(before.opened, "opened");
  assert(error instanceof DOMException && error.name === "AbortError", `opened: AbortError (${String(error)})`);
  assert((await rejection(before.closed, "closed")) === error, "closed: the same reason");

  const during = new AbortController();
  const slow = new WebSocketStream(`${BASE}/slow-handshake?id=${id()}`, { signal: during.signal });
  await delay(50);
  const reason = new Error("custom reason");
  during.abort(reason);
  assert((await rejection(slow.opened, "opened")) === reason, "opened: the signal's reason");
  assert((await rejection(slow.closed, "closed")) === reason, "closed: the signal's reason");

  const later = new AbortController();
  const wss = new WebSocketStream(ECHO, { signal: later.signal });
  const { readable, writable } = await wss.opened;
  later.abort();
  await writable.getWriter().write("connected");
  same((await readable.getReader().read()).value, "connected", "aborting after the handshake does nothing");
  wss.close();
  await wss.closed;
});

console.log(`summary ${passed} passed, ${failed} failed`);
if (failed > 0) process.exitCode = 1;
