/**
 * The opening handshake: the client's request, the server's accept/reject
 * decision (`handleRequest`), a rejection received by a client, and the move
 * to OPEN that resolves `opened`.
 *
 * Invariants:
 * - Holds at most `HANDSHAKE_COPY_LIMIT` (256 KiB) of the client's handshake
 *   bytes (to read the raw extensions header) and `maxRejectionBodySize` of a
 *   rejection body; the engine's own buffer is bounded by `maxHandshakeSize`.
 * - While a server's `handleRequest` decides, the transport is paused and no
 *   event is drained: what the client sent behind its request waits in the
 *   engine.
 * - A server answers every request that does not become a WebSocket with a
 *   whole HTTP response (plain-http.ts): plain HTTP goes to `handleHttp` (else
 *   426), a bad upgrade gets the handshake's status, reason phrase and a
 *   one-line body; input is paused and ignored meanwhile (`answering`).
 * - Every failure ends in close.ts `finish`; `opened` settles exactly once.
 * @module
 */
import { AcceptConnection, RejectConnection, RejectData, Request } from "../../protocol/events.ts";
import { LocalProtocolError, RemoteProtocolError } from "../../protocol/errors.ts";
import type { WSConnection } from "../../protocol/ws-connection.ts";
import { reasonPhrase } from "../../protocol/http/status.ts";
import { answerForRefusal, answerPlainRequest, asksForWebSocket, type HttpAnswer } from "../plain-http.ts";
import { streamsImplementation } from "../polyfill.ts";
import { finish, removeAbortListener } from "./close.ts";
import type { SessionCore } from "./core.ts";
import { drainEvents, makeReadable, receive, updateReading } from "./inbound.ts";
import { scheduleKeepalive } from "./keepalive.ts";
import { makeWritable, send } from "./outbound.ts";
import { WebSocketError, type AcceptDecision, type AcceptWebSocketOptions, type RejectDecision, type WebSocketErrorInit, type WebSocketOpenInfo, type WebSocketWritable } from "./types.ts";
import { DEFAULT_MAX_REJECTION_BODY, EMPTY, callBack, concat, defaultExtensions, encoder, headerOfHead, type Phase } from "./util.ts";

/** Begin: a client sends its request; a server feeds `upgradeRequest` if given; then the port starts delivering bytes. */
export function start(s: SessionCore): void {
  if (s.client) {
    try {
      send(s, s.engine.send(buildRequest(s)));
    } catch (error) {
      finish(s, { error }, false);
      return;
    }
  } else if (s.options.upgradeRequest) {
    // Fed once, then forgotten: the session keeps a copy of the options
    // without it (the options object is the caller's), so an open connection
    // does not hold the request's headers for its whole life (~800 B).
    const { upgradeRequest, ...options } = s.options;
    s.options = options;
    const { headers, path, method, httpVersion } = upgradeRequest;
    // The peer's request line, when known, is checked as on any other path (RFC 6455 §4.1: GET, HTTP/1.1+).
    const line = method === undefined && httpVersion === undefined ? undefined : { method: method ?? "GET", httpVersion: httpVersion ?? "1.1" };
    receive(s, null, () => (s.engine as WSConnection).initiateUpgradeConnection(headers, path, line));
    if (s.phase === "done" && s.transportReleased) return;
  }
  s.port.start(s.handler);
}

/** The client's `Request` from `url` / `host` / `path` and the options. */
export function buildRequest(s: SessionCore): Request {
  const options = s.options;
  let host = options.host;
  let target = options.path;
  if (options.url !== undefined) {
    let url: URL;
    try {
      url = new URL(String(options.url));
    } catch {
      throw new LocalProtocolError(`Invalid WebSocket URL: ${String(options.url)}`, "WS_ERR_INVALID_URL");
    }
    host ??= url.host;
    target ??= (url.pathname || "/") + url.search;
  }
  if (host === undefined) throw new LocalProtocolError("connectWebSocket needs `url` or `host`", "WS_ERR_INVALID_OPTION");
  return new Request({
    host,
    target: target ?? "/",
    subprotocols: options.protocols ?? [],
    extensions: options.extensions ?? defaultExtensions(),
    extraHeaders: options.headers ?? [],
  });
}

/**
 * A server's decision on a request: without `handleRequest`, accepted at once
 * (no promise, no turn); with it, the transport is paused while it decides,
 * then the request is accepted or rejected.
 */
export function decide(s: SessionCore, request: Request): void {
  const handleRequest = s.options.handleRequest;
  if (handleRequest === undefined) {
    answer(s, request, undefined, null);
    return;
  }
  void decideAsync(s, request, handleRequest);
}

async function decideAsync(s: SessionCore, request: Request, handleRequest: NonNullable<AcceptWebSocketOptions["handleRequest"]>): Promise<void> {
  let decision: AcceptDecision | RejectDecision | void;
  let failure: unknown = null;
  s.deciding = true;
  updateReading(s); // nothing more to read until we answer
  try {
    decision = await handleRequest(request);
  } catch (error) {
    // The client gets a 500; the application gets the exception (onError,
    // and as the cause of the WebSocketError `opened` and `closed` reject with).
    failure = error;
    decision = { status: 500 };
    callBack(s.options.onError, error);
  }
  s.deciding = false;
  if (s.phase !== "handshake") return;
  answer(s, request, decision, failure);
}

/** Accept (and open) or reject, as decided. */
function answer(s: SessionCore, request: Request, decision: AcceptDecision | RejectDecision | void, failure: unknown): void {
  const options = s.options;
  if (decision && "status" in decision) {
    reject(s, decision, failure);
    return;
  }
  const offered = request.subprotocols;
  const protocols = options.protocols;
  const subprotocol =
    decision?.subprotocol !== undefined
      ? decision.subprotocol
      : offered.length === 0 || protocols === undefined
        ? null
        : (offered.find((p) => protocols.includes(p)) ?? null);
  const extensions = decision?.extensions ?? options.extensions ?? defaultExtensions();
  const headers = options.headers;
  const extra = decision?.headers;
  let head: Uint8Array;
  try {
    head = s.engine.send(
      new AcceptConnection({
        subprotocol,
        extensions,
        extraHeaders: extra === undefined ? (headers ?? []) : headers === undefined ? extra : [...headers, ...extra],
      }),
    );
  } catch (error) {
    reject(s, { status: 500 }, error);
    return;
  }
  send(s, head);
  // The negotiated extensions are in the response head (none when none were on offer to accept).
  open(s, subprotocol ?? "", extensions.length === 0 ? "" : headerOfHead([head], "sec-websocket-extensions"));
  updateReading(s);
  // Frames the client sent right behind its request are already buffered.
  drainEvents(s);
  // ... and so may be its end of stream, which reached only the handshake.
  if (s.eof && (s.phase as Phase) === "open") receive(s, null);
}

/** Answer the request with an HTTP rejection and end the session. */
export function reject(s: SessionCore, decision: RejectDecision, cause: unknown): void {
  const body = typeof decision.body === "string" ? encoder.encode(decision.body) : (decision.body ?? EMPTY);
  const headers = decision.headers ?? [];
  try {
    send(s, 
      s.engine.send(
        new RejectConnection({ statusCode: decision.status, headers, hasBody: body.byteLength > 0, reason: reasonPhrase(decision.status) }),
      ),
    );
    if (body.byteLength > 0) send(s, s.engine.send(new RejectData({ data: body })));
  } catch (error) {
    cause ??= error;
  }
  const init: WebSocketErrorInit = { closeCode: 1006, code: "WS_ERR_HANDSHAKE_REJECTED", status: decision.status, headers, body };
  if (cause !== null) init.cause = cause;
  updateReading(s);
  finish(s, { error: new WebSocketError(`The opening handshake was rejected with HTTP ${decision.status}`, init) }, true);
}

/** The handshake succeeded: resolve `opened` (its streams are made on first use) and start keepalive. */
export function open(s: SessionCore, protocol: string, extensions: string): void {
  s.phase = "open";
  s.handshakeTimer?.stop();
  s.handshakeTimer = null;
  removeAbortListener(s);
  s.streams = s.options.streams ?? streamsImplementation();
  s.openedDeferred!.resolve(new OpenInfo(s, protocol, extensions));
  s.openedDeferred = null;
  scheduleKeepalive(s);
}

/**
 * What `opened` resolves with. The two streams are made when first used (the
 * application reads `readable` or `writable`, or a message arrives): an open
 * connection nobody has touched yet holds no stream machinery (several KB
 * each). A class, not an object literal with getters, which V8 would keep
 * as a dictionary of ~600 bytes per connection.
 */
class OpenInfo implements WebSocketOpenInfo<unknown> {
  readonly #s: SessionCore;
  readonly protocol: string;
  readonly extensions: string;
  constructor(s: SessionCore, protocol: string, extensions: string) {
    this.#s = s;
    this.protocol = protocol;
    this.extensions = extensions;
  }
  get readable(): ReadableStream<unknown> {
    return makeReadable(this.#s);
  }
  get writable(): WritableStream<WebSocketWritable> {
    return makeWritable(this.#s);
  }
}

/** A bad handshake: a server answers with the error's hint (400, 426...); `opened` rejects. */
export function handshakeFailed(s: SessionCore, error: unknown): void {
  if (s.phase === "done" || s.answering) return;
  if (!s.client && error instanceof RemoteProtocolError && error.eventHint instanceof RejectConnection) {
    const head = (s.engine as WSConnection).handshake.requestHead;
    if (head !== null && !asksForWebSocket(head.headers)) {
      // Plain HTTP beside the WebSocket: handleHttp answers it, or 426.
      s.answering = true;
      updateReading(s);
      const message = "The request was not a WebSocket upgrade";
      answerPlainRequest(head, s.options.handleHttp).then(
        (answer) => answerWith(s, answer, "WS_ERR_PLAIN_HTTP", message, null),
        (cause: unknown) => answerWith(s, answerForRefusal(error), "WS_ERR_PLAIN_HTTP", message, cause),
      );
      return;
    }
    // A bad upgrade: the hint's status with its reason phrase and a one-line body, alike on every path.
    const code = (error as { code?: unknown }).code;
    answerWith(s, answerForRefusal(error), code === undefined ? "WS_ERR_HANDSHAKE" : String(code), `The opening handshake failed: ${error.message}`, error);
    return;
  }
  let status: number | undefined;
  let graceful = false;
  if (error instanceof RemoteProtocolError && error.eventHint && !s.client) {
    // Answer a bad request with the hint (400, 426 with the version...).
    try {
      send(s, s.engine.send(error.eventHint));
      graceful = true;
      if (error.eventHint instanceof RejectConnection) status = error.eventHint.statusCode;
    } catch {
      // Nothing could be sent: just drop the transport.
    }
  }
  const code = (error as { code?: unknown } | null)?.code;
  const init: WebSocketErrorInit = { closeCode: 1006, code: code === undefined ? "WS_ERR_HANDSHAKE" : String(code), cause: error };
  if (status !== undefined) init.status = status;
  const message = error instanceof Error ? error.message : String(error);
  finish(s, { error: new WebSocketError(`The opening handshake failed: ${message}`, init) }, graceful);
}

/** Write an HTTP answer instead of a 101 and end the session. */
function answerWith(s: SessionCore, answer: HttpAnswer, code: string, message: string, cause: unknown): void {
  if (s.phase === "done") return;
  let failure = cause;
  try {
    const hasBody = answer.body.byteLength > 0;
    send(s, s.engine.send(new RejectConnection({ statusCode: answer.status, headers: answer.headers, hasBody, reason: answer.reason })));
    if (hasBody) send(s, s.engine.send(new RejectData({ data: answer.body })));
  } catch (error) {
    failure ??= error; // headers a handler made that cannot be sent: the transport is dropped
  }
  const init: WebSocketErrorInit = { closeCode: 1006, code, status: answer.status, headers: answer.headers, body: answer.body };
  if (failure !== null) init.cause = failure;
  s.answering = false;
  updateReading(s);
  finish(s, { error: new WebSocketError(message, init) }, true);
}

/** A client receiving a rejection's body (kept up to `maxRejectionBodySize`); at its end the session ends. */
export function onRejectData(s: SessionCore, event: RejectData): void {
  const rejection = s.rejection;
  if (!rejection) return;
  const limit = s.options.maxRejectionBodySize ?? DEFAULT_MAX_REJECTION_BODY;
  if (rejection.size < limit && event.data.byteLength > 0) {
    const piece = event.data.subarray(0, limit - rejection.size);
    rejection.body.push(piece);
    rejection.size += piece.byteLength;
  }
  if (!event.bodyFinished) return;
  finish(s, 
    {
      error: new WebSocketError(`The server rejected the WebSocket with HTTP ${rejection.status}`, {
        closeCode: 1006,
        code: "WS_ERR_HANDSHAKE_REJECTED",
        status: rejection.status,
        headers: rejection.headers,
        body: concat(rejection.body.length ? rejection.body : [EMPTY], rejection.size),
      }),
    },
    true,
  );
}

