// The strict incremental HTTP/1.1 reader (src/protocol/http/reader.ts, with
// message.ts's grammar and framing): every input fed whole and split at every offset.
import t, { type Test } from "tap";
import { HttpError, type HttpEvent } from "../../../src/protocol/http/message.ts";
import { HttpReader } from "../../../src/protocol/http/reader.ts";

const enc = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
};
const dec = (b: Uint8Array): string => String.fromCharCode(...b);
const LIMITS = { maxHeadSize: 16384, maxHeaders: 128 };

/** Events as plain JSON, with body pieces merged (their boundaries follow the input's). */
function normalize(events: HttpEvent[]): unknown[] {
  const out: unknown[] = [];
  for (const e of events) {
    const last = out[out.length - 1] as { type: string; data: string } | undefined;
    if (e.type === "data") {
      if (last?.type === "data") last.data += dec(e.data);
      else out.push({ type: "data", data: dec(e.data) });
    } else out.push(e);
  }
  return out;
}

interface Outcome {
  events: unknown[];
  error: string | null;
  status?: number;
  trailing: string;
}

function feed(kind: "request" | "response", chunks: Uint8Array[], eof: boolean, limits = LIMITS, maxTrailing = Infinity): Outcome {
  const reader = new HttpReader(kind, limits, maxTrailing);
  const events: HttpEvent[] = [];
  try {
    for (const c of chunks) reader.push(c, events);
    if (eof) events.push(...reader.end());
  } catch (e) {
    if (!(e instanceof HttpError)) throw e;
    return { events: normalize(events), error: e.message, status: e.status, trailing: dec(reader.takeTrailing()) };
  }
  return { events: normalize(events), error: null, trailing: dec(reader.takeTrailing()) };
}

/** Run `text` whole, byte by byte and split at every offset: all must agree. */
function check(t: Test, kind: "request" | "response", text: string, eof: boolean, what: string, limits = LIMITS): Outcome {
  const bytes = enc(text);
  const whole = feed(kind, [bytes], eof, limits);
  const single = feed(kind, Array.from(bytes, (b) => new Uint8Array([b])), eof, limits);
  t.same(single, whole, `${what}: one byte at a time`);
  let splitsAgree = true;
  for (let i = 1; i < bytes.length; i++) {
    const split = feed(kind, [bytes.slice(0, i), bytes.slice(i)], eof, limits);
    if (JSON.stringify(split) !== JSON.stringify(whole)) {
      splitsAgree = false;
      t.same(split, whole, `${what}: split at ${i}`);
      break;
    }
  }
  t.ok(splitsAgree, `${what}: every split agrees`);
  return whole;
}

const head = (h: unknown): unknown => ({ type: "head", head: h });
const END = { type: "end" };

t.test("a request head", async (t) => {
  const r = check(
    t,
    "request",
    "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade:websocket\r\nX-Empty:\r\nX-Tab:\ta\tb \t\r\nX-Latin: caf\xe9\r\n\r\n",
    false,
    "request",
  );
  t.same(r, {
    events: [
      head({
        kind: "request",
        method: "GET",
        target: "/chat?x=1",
        httpVersion: "1.1",
        headers: [
          ["host", "example.com"],
          ["upgrade", "websocket"],
          ["x-empty", ""],
          ["x-tab", "a\tb"],
          ["x-latin", "caf\xe9"],
        ],
      }),
      END,
    ],
    error: null,
    trailing: "",
  });
});

t.test("h11's tolerance: bare LF, obs-fold, absolute form, any HTTP/d.d", async (t) => {
  const r = check(t, "request", "GET ws://h/p HTTP/2.0\nHost: h\nX-Fold: a\n  b\n\tc\nX-After: d\n\n", false, "lenient");
  t.same(r.events, [
    head({
      kind: "request",
      method: "GET",
      target: "ws://h/p",
      httpVersion: "2.0",
      headers: [
        ["host", "h"],
        ["x-fold", "a b c"],
        ["x-after", "d"],
      ],
    }),
    END,
  ]);
  t.equal(r.error, null);
  const http10 = check(t, "request", "GET / HTTP/1.0\r\n\r\n", false, "HTTP/1.0 needs no Host");
  t.equal(http10.error, null);
});

t.test("bytes after a request are kept (and bounded)", async (t) => {
  const r = check(t, "request", "GET / HTTP/1.1\r\nHost: h\r\n\r\n\x81\x85abcde", false, "trailing");
  t.equal(r.trailing, "\x81\x85abcde");
  const body = check(t, "request", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcREST", false, "request body");
  t.same(body.events.slice(1), [{ type: "data", data: "abc" }, END]);
  t.equal(body.trailing, "REST");
  const chunked = check(t, "request", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nREST", false, "chunked request");
  t.same(chunked.events.slice(1), [{ type: "data", data: "abc" }, END]);
  t.equal(chunked.trailing, "REST");
  const capped = feed("request", [enc("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), new Uint8Array(10), new Uint8Array(10)], false, LIMITS, 15);
  t.match(capped.error, /more than 15 bytes/);
});

t.test("malformed requests", async (t) => {
  const table: Array<[string, string, RegExp]> = [
    ["space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", /illegal header line/],
    ["illegal name", "GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n", /illegal header line/],
    ["empty name", "GET / HTTP/1.1\r\nHost: h\r\n: 1\r\n\r\n", /illegal header line/],
    ["NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", /illegal header line/],
    ["CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", /illegal header line/],
    ["control in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", /illegal header line/],
    ["DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n", /illegal header line/],
    ["control in fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\x01\r\n\r\n", /illegal header line/],
    ["non-ASCII target", "GET /\xe9 HTTP/1.1\r\nHost: h\r\n\r\n", /illegal request line/],
    ["space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", /illegal request line/],
    ["HTTP/0.9", "GET /\r\n\r\n", /illegal request line/],
    ["lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", /illegal request line/],
    ["two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", /illegal request line/],
    ["leading empty line", "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", /empty line before/],
    ["fold first", "GET / HTTP/1.1\r\n X: 1\r\nHost: h\r\n\r\n", /continuation line/],
    ["no Host in 1.1", "GET / HTTP/1.1\r\n\r\n", /missing Host/],
    ["two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", /repeated Host/],
    ["two Content-Length", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", /repeated Content-Length/],
    ["list Content-Length", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\nx", /invalid Content-Length/],
    ["signed Content-Length", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\nx", /invalid Content-Length/],
    ["huge Content-Length", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", /invalid Content-Length/],
    ["CL and TE", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", /both/],
    ["TE gzip", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", /only Transfer-Encoding: chunked/],
    ["TE twice", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", /only Transfer-Encoding/],
    ["bad chunk size", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", /illegal chunk header/],
    ["missing chunk CRLF", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naX", /missing CRLF/],
    ["huge chunk", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", /chunk size too large/],
  ];
  for (const [what, text, re] of table) {
    const r = check(t, "request", text, false, what);
    t.match(r.error, re, what);
    t.equal(r.status, 400, `${what}: 400`);
  }
});

t.test("a malformed body after a good head keeps the head event (h11)", async (t) => {
  const r = feed("request", [enc("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")], false);
  t.equal((r.events[0] as { type: string }).type, "head");
  t.match(r.error, /chunk/);
});

t.test("size limits fail early with 431 and keep no more than the limit", async (t) => {
  const small = { maxHeadSize: 64, maxHeaders: 3 };
  const r = check(t, "request", `GET / HTTP/1.1\r\nHost: h\r\nX: ${"a".repeat(100)}\r\n\r\n`, false, "long", small);
  t.equal(r.status, 431);
  const exact = `GET / HTTP/1.1\r\nHost: h\r\nX: ${"a".repeat(64 - 32)}\r\n\r\n`;
  t.equal(exact.length, 64);
  t.equal(check(t, "request", exact, false, "exactly the limit", small).error, null);
  t.equal(check(t, "request", exact.replace("X: ", "X:  "), false, "one more", small).status, 431);
  const many = check(t, "request", "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", false, "too many", { maxHeadSize: 1000, maxHeaders: 3 });
  t.equal(many.status, 431);
  t.match(many.error, /more than 3 header fields/);
  // A head that never ends: the error comes as soon as the limit is crossed.
  const reader = new HttpReader("request", LIMITS);
  const mib = new Uint8Array(1 << 20).fill(0x61);
  t.throws(() => reader.push(mib), HttpError);
  const endless = new HttpReader("request", LIMITS);
  let thrown: unknown = null;
  let fed = 0;
  try {
    for (; fed < 100_000; fed += 1000) endless.push(new Uint8Array(1000).fill(0x61));
  } catch (e) {
    thrown = e;
  }
  t.ok(thrown instanceof HttpError && thrown.status === 431, "431");
  t.ok(fed <= LIMITS.maxHeadSize, `failed after ${fed} bytes, within the limit`);
  // Trailer sections and chunk lines are bounded too.
  const trailer = feed("response", [enc("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"), new Uint8Array(20000).fill(0x61)], false);
  t.equal(trailer.status, 431);
  const chunkLine = feed("response", [enc("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;"), new Uint8Array(2000).fill(0x61)], false);
  t.match(chunkLine.error, /chunk-size line too long/);
});

t.test("a big head fed one byte at a time is read in linear time", async (t) => {
  // Quadratic rescanning would take minutes here; linear takes milliseconds.
  const limits = { maxHeadSize: 1 << 21, maxHeaders: 100_000 };
  const lines = Array.from({ length: 20_000 }, (_, i) => `X-${i}: ${"v".repeat(40)}\r\n`).join("");
  const text = enc(`GET / HTTP/1.1\r\nHost: h\r\n${lines}\r\n`);
  const reader = new HttpReader("request", limits);
  const events: HttpEvent[] = [];
  for (let i = 0; i < text.length; i++) reader.push(text.subarray(i, i + 1), events);
  t.equal(events.length, 2);
  const h = events[0] as { head: { headers: unknown[] } };
  t.equal(h.head.headers.length, 20_001);
});

t.test("responses: 101 switches, trailing bytes kept", async (t) => {
  const r = check(t, "response", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05Hello", false, "101");
  t.same(r.events, [
    head({ kind: "response", httpVersion: "1.1", statusCode: 101, reason: "Switching Protocols", headers: [["upgrade", "websocket"]] }),
  ]);
  t.equal(r.trailing, "\x81\x05Hello");
  const noReason = check(t, "response", "HTTP/1.1 101\r\n\r\n", true, "no reason phrase");
  t.equal(noReason.error, null);
  const emptyReason = check(t, "response", "HTTP/1.1 101 \r\n\r\n", true, "empty reason phrase");
  t.equal((emptyReason.events[0] as { head: { reason: string } }).head.reason, "");
});

t.test("responses: interim 1xx then a final one", async (t) => {
  const r = check(t, "response", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: 1\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno", false, "1xx");
  t.same(
    r.events.map((e) => ((e as { type: string }).type === "head" ? (e as { head: { statusCode: number } }).head.statusCode : e)),
    [100, 102, 404, { type: "data", data: "no" }, END],
  );
});

t.test("responses: body framings", async (t) => {
  const length = check(t, "response", "HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!IGNORED", false, "content-length");
  t.same(length.events.slice(1), [{ type: "data", data: "nope!" }, END]);
  const zero = check(t, "response", "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n", false, "empty");
  t.same(zero.events.slice(1), [END]);
  const chunked = check(
    t,
    "response",
    "HTTP/1.1 400 Bad\r\nTransfer-Encoding: Chunked\r\n\r\n3;ext=1\r\nabc\r\nA \r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n",
    false,
    "chunked",
  );
  t.same(chunked.events.slice(1), [{ type: "data", data: "abc0123456789" }, END]);
  t.equal(chunked.error, null);
  const untilEof = check(t, "response", "HTTP/1.1 500 Oops\r\n\r\nsome body", true, "until EOF");
  t.same(untilEof.events.slice(1), [{ type: "data", data: "some body" }, END]);
  const noContent = check(t, "response", "HTTP/1.1 204 No Content\r\n\r\n", false, "204");
  t.same(noContent.events.slice(1), [END]);
  const notModified = check(t, "response", "HTTP/1.0 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, "304");
  t.same(notModified.events.slice(1), [END]);
});

t.test("end of stream", async (t) => {
  t.same(feed("response", [], true), { events: [], error: null, trailing: "" }, "idle: nothing");
  t.match(feed("response", [enc("HTTP/1.1 1")], true).error, /middle of a message head/);
  t.match(feed("response", [enc("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")], true).error, /middle of a message body/);
  t.match(feed("response", [enc("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")], true).error, /middle of a message body/);
  t.equal(feed("response", [enc("HTTP/1.1 101 X\r\n\r\n")], true).error, null, "after a 101: nothing");
  t.equal(feed("request", [enc("GET / HTTP/1.1\r\nHost: h\r\n\r\n")], true).error, null, "after a request: nothing");
  const reader = new HttpReader("response", LIMITS);
  t.ok(reader.idle);
  reader.push(enc("HTTP/1.1 200 OK\r\n\r\nabc"));
  t.ok(reader.readingUntilEof);
  t.notOk(reader.idle);
});

t.test("malformed responses", async (t) => {
  for (const [what, text] of [
    ["garbage", "broken nonsense\r\n\r\n"],
    ["status 99", "HTTP/1.1 099 X\r\n\r\n"],
    ["two-digit status", "HTTP/1.1 20 X\r\n\r\n"],
    ["no version", "200 OK\r\n\r\n"],
    ["control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n"],
  ] as const) {
    const r = check(t, "response", text, false, what);
    t.equal(r.status, 400, what);
  }
});
