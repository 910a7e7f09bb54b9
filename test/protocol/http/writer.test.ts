// Writing HTTP/1.1 for the handshake (src/protocol/http/writer.ts) and the
// reason phrases (status.ts): heads, chunks, and refusal of injection.
import t from "tap";
import { LocalProtocolError } from "../../../src/protocol/errors.ts";
import { reasonPhrase } from "../../../src/protocol/http/status.ts";
import {
  LAST_CHUNK,
  isValidHeaderValue,
  validateHeaders,
  writeChunk,
  writeRequestHead,
  writeResponseHead,
} from "../../../src/protocol/http/writer.ts";

const enc = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
};
const dec = (b: Uint8Array): string => String.fromCharCode(...b);

t.test("writing heads", async (t) => {
  t.equal(
    dec(writeRequestHead("GET", "/chat", [["Host", "h"], ["X-Empty", ""], ["X-Inner", "a \t b"]])),
    "GET /chat HTTP/1.1\r\nHost: h\r\nX-Empty: \r\nX-Inner: a \t b\r\n\r\n",
  );
  t.equal(dec(writeResponseHead(403, [["content-length", "0"]])), "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
  t.equal(dec(writeResponseHead(101, [])), "HTTP/1.1 101 Switching Protocols\r\n\r\n");
  t.equal(dec(writeResponseHead(404, [], "Nope")), "HTTP/1.1 404 Nope\r\n\r\n", "an explicit reason phrase");
  t.throws(() => writeResponseHead(400, [], "a\r\nX: y"), LocalProtocolError, "CR/LF in a reason phrase");
  t.equal(dec(writeRequestHead("POST", "/", [["Host", "h"]], "1.0")), "POST / HTTP/1.0\r\nHost: h\r\n\r\n", "another version");
  t.throws(() => writeRequestHead("GET", "/", [], "1.1\r\n"), LocalProtocolError, "a bad version");
  t.equal(reasonPhrase(426), "Upgrade Required");
  t.equal(reasonPhrase(599), "Server Error", "unknown: its class");
  t.equal(dec(writeRequestHead("GET", "/", [["X-Latin", "caf\xe9"]])), "GET / HTTP/1.1\r\nX-Latin: caf\xe9\r\n\r\n");
});

t.test("every status line we send has a reason phrase (some clients reject an empty one)", async (t) => {
  const table: Array<[number, string]> = [
    [101, "Switching Protocols"], // accept
    [400, "Bad Request"], // a bad request, the default rejection
    [426, "Upgrade Required"], // an unsupported Sec-WebSocket-Version
    [431, "Request Header Fields Too Large"], // a request head over the limit
    [500, "Internal Server Error"], // a request handler that threw
    [401, "Unauthorized"], [403, "Forbidden"], [404, "Not Found"], [429, "Too Many Requests"], [503, "Service Unavailable"],
    [299, "Success"], [399, "Redirection"], [499, "Client Error"], [599, "Server Error"], [999, "Unknown"], [600, "Unknown"],
  ];
  for (const [code, phrase] of table) {
    t.equal(reasonPhrase(code), phrase, `${code}`);
    t.equal(dec(writeResponseHead(code, [])).split("\r\n")[0], `HTTP/1.1 ${code} ${phrase}`, `${code} on the wire`);
  }
});

t.test("writing refuses injection and junk (LocalProtocolError, nothing written)", async (t) => {
  const badHeaders: Array<[string, string]> = [
    ["X\r\nEvil", "1"],
    ["X", "a\r\nEvil: 1"],
    ["X", "a\rb"],
    ["X", "a\nb"],
    ["X", "a\0b"],
    ["X", "a\x01b"],
    ["X y", "1"],
    ["", "1"],
    ["X:", "1"],
    ["X", " leading"],
    ["X", "trailing "],
    ["X", "€"],
    ["X", "\u0100"],
  ];
  for (const pair of badHeaders) {
    t.throws(() => writeRequestHead("GET", "/", [pair]), LocalProtocolError, JSON.stringify(pair));
    t.throws(() => writeResponseHead(400, [pair]), LocalProtocolError, JSON.stringify(pair));
    t.notOk(isValidHeaderValue(pair[1]) && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(pair[0]), `invalid: ${JSON.stringify(pair)}`);
  }
  for (const target of ["", "/a b", "/\r\n", "/\0", "/é", "/\u2028"]) {
    // (names escaped: a raw U+2028 would break the TAP stream)
    const name = JSON.stringify(target).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    t.throws(() => writeRequestHead("GET", target, []), { code: "WS_ERR_INVALID_TARGET" }, name);
  }
  t.throws(() => writeRequestHead("G ET", "/", []), LocalProtocolError);
  for (const status of [99, 1000, 200.5, Number.NaN]) {
    t.throws(() => writeResponseHead(status, []), { code: "WS_ERR_INVALID_STATUS" }, String(status));
  }
  t.throws(() => validateHeaders("x" as unknown as []), LocalProtocolError, "not an array");
  t.throws(() => validateHeaders([["a"]] as unknown as []), LocalProtocolError, "not pairs");
  t.throws(() => validateHeaders([[1, 2]] as unknown as []), LocalProtocolError, "not strings");
});

t.test("writing chunks", async (t) => {
  t.equal(dec(writeChunk(enc("Hello"))), "5\r\nHello\r\n");
  t.equal(dec(writeChunk(new Uint8Array(300))).slice(0, 5), "12c\r\n");
  t.equal(writeChunk(new Uint8Array(0)).length, 0, "an empty piece writes nothing (it would end the body)");
  t.equal(dec(LAST_CHUNK), "0\r\n\r\n");
});
