// The answers a server gives to requests that do not become WebSockets:
// what counts as plain HTTP, handleHttp's Response as an answer (HEAD,
// cookies, framing headers), 426/413/500, and a refused upgrade's answer.
import t from "tap";
import { RemoteProtocolError } from "../../src/protocol/errors.ts";
import { RejectConnection } from "../../src/protocol/events.ts";
import type { RequestHead } from "../../src/protocol/http/message.ts";
import {
  answerForRefusal,
  answerFromResponse,
  answerPlainRequest,
  asksForWebSocket,
  fetchRequest,
  shortAnswer,
  upgradeRequired,
} from "../../src/streams/plain-http.ts";

const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const head = (method: string, target: string, headers: Array<[string, string]> = [["host", "h:1"]]): RequestHead => ({
  kind: "request",
  method,
  target,
  httpVersion: "1.1",
  headers,
});

t.test("asksForWebSocket: an Upgrade header listing websocket, valid or not", async (t) => {
  t.ok(asksForWebSocket([["upgrade", "websocket"]]));
  t.ok(asksForWebSocket([["Upgrade", "h2c, WebSocket"]]));
  t.ok(asksForWebSocket([["upgrade", "a b"]]), "unparseable: the handshake explains it");
  t.notOk(asksForWebSocket([["upgrade", "h2c"]]));
  t.notOk(asksForWebSocket([["host", "h"]]));
});

t.test("short answers: status, reason phrase, one-line text body with its length", async (t) => {
  const a = shortAnswer(404, "nope");
  t.equal(a.reason, "Not Found");
  t.equal(dec(a.body), "nope\n");
  t.same(a.headers.at(-1), ["Content-Length", "5"]);
  const u = upgradeRequired();
  t.equal(u.status, 426);
  t.equal(u.reason, "Upgrade Required");
  t.ok(u.headers.some(([n, v]) => n === "Upgrade" && v === "websocket"), "names the protocol (RFC 9110 §15.5.22)");
  const r = answerForRefusal(new RemoteProtocolError("Missing header, 'Sec-WebSocket-Version'", new RejectConnection({ statusCode: 426, headers: [["Sec-WebSocket-Version", "13"]] })));
  t.equal(r.status, 426);
  t.same(r.headers[0], ["Sec-WebSocket-Version", "13"], "the hint's headers kept");
  t.equal(dec(r.body), "Missing header, 'Sec-WebSocket-Version'\n");
});

t.test("fetchRequest: URL from Host and target, headers kept", async (t) => {
  const request = fetchRequest(head("GET", "/a?b=1", [["host", "example.com:8080"], ["x-y", "z"]]));
  t.equal(request.url, "http://example.com:8080/a?b=1");
  t.equal(request.headers.get("x-y"), "z");
  t.equal(fetchRequest(head("GET", "http://other/p")).url, "http://other/p", "absolute-form target");
});

t.test("answerPlainRequest: handler, 426 without one, 413 with a body, 500 when it fails", async (t) => {
  const ok = await answerPlainRequest(head("GET", "/x"), (req) => new Response(`hi ${new URL(req.url).pathname}`, { status: 201, headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["content-length", "999"]] }));
  t.equal(ok.status, 201);
  t.equal(ok.reason, "Created", "no status text: the usual phrase");
  t.equal(dec(ok.body), "hi /x");
  t.same(ok.headers.filter(([n]) => n === "set-cookie"), [["set-cookie", "a=1"], ["set-cookie", "b=2"]], "cookies one per line");
  t.same(ok.headers.filter(([n]) => n === "content-length"), [["content-length", "5"]], "framing from the body, not the handler");
  t.ok(ok.headers.some(([n, v]) => n === "connection" && v === "close"));
  t.equal((await answerPlainRequest(head("GET", "/"), undefined)).status, 426);
  t.equal((await answerPlainRequest(head("POST", "/", [["host", "h"], ["content-length", "3"]]), () => new Response("x"))).status, 413);
  t.equal((await answerPlainRequest(head("GET", "/"), () => { throw new Error("boom"); })).status, 500);
  t.equal((await answerPlainRequest(head("GET", "/"), () => "nope" as unknown as Response)).status, 500);
  const headAnswer = await answerFromResponse(new Response("body"), "HEAD");
  t.equal(headAnswer.body.byteLength, 0, "HEAD: no body");
  t.notOk(headAnswer.headers.some(([n]) => n === "content-length"));
});
