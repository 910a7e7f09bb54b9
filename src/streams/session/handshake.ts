/**
 * The opening handshake: the client's request, the server's accept/reject
 * decision (`handleRequest`), a refusal received by a client, plain HTTP
 * answered by a server, and the move to OPEN that resolves `opened`.
 *
 * Answers: what does a client send; how does a server decide and answer;
 * what does `opened` resolve or reject with.
 *
 * Invariants:
 * - Holds at most `maxRejectionBodySize` of a refusal's body; the engine's
 *   own buffer is bounded by `maxHandshakeSize`.
 * - While a server's `handleRequest` decides, the transport is paused and no
 *   event is drained: what the client sent behind its request waits in the
 *   engine.
 * - A server answers every request that does not become a WebSocket with a
 *   whole HTTP response (plain-http.ts): plain HTTP goes to `handleHttp` (else
 *   426), a bad upgrade gets the handshake's status, reason phrase and a
 *   one-line body; input is paused and ignored meanwhile (`answering`).
 * - A throwing or rejecting `handleRequest` or `handleHttp` is owned: the
 *   client gets a 500, the error goes to `onError`, the process lives.
 * - Every failure ends in core.ts `finish`; `opened` settles exactly once.
 * @module
 */
import { AcceptConnection, RejectConnection, RejectData, Request } from "../../protocol/events.ts";
import { LocalProtocolError, ProtocolError, RemoteProtocolError, type WsErrorCode } from "../../protocol/errors.ts";
import { reasonPhrase } from "../../protocol/http/status.ts";
import { answerForRefusal, answerPlainRequest, asksForWebSocket, type HttpAnswer } from "../plain-http.ts";
import { streamsImplementation } from "../streams-implementation.ts";
import type { SessionCore } from "./core.ts";
import * as failures from "./failures.ts";
import { EMPTY, concat, encoder } from "./messages.ts";
import { defaultExtensions } from "./options.ts";
import type { Phase } from "./state.ts";
import type { AcceptDecision, AcceptWebSocketOptions, RejectDecision, WebSocketErrorInit, WebSocketOpenInfo, WebSocketWritable } from "./types.ts";

/** Begin: a client sends its request; a server feeds `upgradeRequest` if given; then the port starts delivering bytes. */
export function start(s: SessionCore): void {
  const init = s.init!;
  if (s.client) {
    try {
      s.write(s.engine.send(buildRequest(init)));
    } catch (error) {
      s.finish({ error }, "abort");
      return;
    }
  } else if (init.upgradeRequest) {
    const { headers, path, method, httpVersion } = init.upgradeRequest;
    // The peer's request line, when known, is checked as on any other path (RFC 6455 §4.1: GET, HTTP/1.1+).
    const line = method === undefined && httpVersion === undefined ? undefined : { method: method ?? "GET", httpVersion: httpVersion ?? "1.1" };
    s.parts.receive(s, null, () => s.engine.initiateUpgradeConnection(headers, path, line));
    if (s.phase === "done" && s.transportReleased) return;
  }
  s.port.start(s);
}

/** The client's `Request` from `url` / `host` / `path` and the options. */
function buildRequest(options: AcceptWebSocketOptions<boolean> & { url?: string | URL; host?: string; path?: string }): Request {
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
  const handleRequest = s.init!.handleRequest;
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
  s.updateReading(); // nothing more to read until we answer
  try {
    decision = await handleRequest(request);
  } catch (error) {
    // The client gets a 500; the application gets the exception (onError,
    // and as the cause of the WebSocketError `opened` and `closed` reject with).
    failure = error;
    decision = { status: 500 };
    s.report(error, "handleRequest");
  }
  s.deciding = false;
  if (s.phase !== "handshake") return;
  answer(s, request, decision, failure);
}

/** Accept (and open) or reject, as decided. */
function answer(s: SessionCore, request: Request, decision: AcceptDecision | RejectDecision | void, failure: unknown): void {
  if (decision && "status" in decision) {
    reject(s, decision, failure);
    return;
  }
  const init = s.init!;
  const offered = request.subprotocols;
  const protocols = init.protocols;
  const subprotocol =
    decision?.subprotocol !== undefined
      ? decision.subprotocol
      : offered.length === 0 || protocols === undefined
        ? null
        : (offered.find((p) => protocols.includes(p)) ?? null);
  const extensions = decision?.extensions ?? init.extensions ?? defaultExtensions();
  const headers = init.headers;
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
  s.write(head);
  open(s, subprotocol ?? "");
  s.updateReading();
  // Frames the client sent right behind its request are already buffered.
  s.parts.drainEvents(s);
  // ... and so may be its end of stream, which reached only the handshake.
  if (s.eof && (s.phase as Phase) === "open") s.parts.receive(s, null);
}

/** Answer the request with an HTTP rejection and end the session. */
function reject(s: SessionCore, decision: RejectDecision, cause: unknown): void {
  const body = typeof decision.body === "string" ? encoder.encode(decision.body) : (decision.body ?? EMPTY);
  const headers = decision.headers ?? [];
  try {
    s.write(
      s.engine.send(new RejectConnection({ statusCode: decision.status, headers, hasBody: body.byteLength > 0, reason: reasonPhrase(decision.status) })),
    );
    if (body.byteLength > 0) s.write(s.engine.send(new RejectData({ data: body })));
  } catch (error) {
    cause ??= error;
  }
  const init: WebSocketErrorInit = { status: decision.status, headers, body };
  if (cause !== null) init.cause = cause;
  s.updateReading();
  s.finish({ error: failures.handshakeRefused(`The opening handshake was rejected with HTTP ${decision.status}`, "WS_ERR_HANDSHAKE_REJECTED", init) }, "release");
}

/** A client got its 101. */
export function accepted(s: SessionCore, event: AcceptConnection): void {
  open(s, event.subprotocol ?? "");
}

/** The handshake succeeded: resolve `opened` (its streams are made on first use) and start keepalive. */
function open(s: SessionCore, protocol: string): void {
  s.streams = s.init!.streams ?? streamsImplementation();
  s.init = null; // the handshake's inputs (an upgrade request's headers...) are not kept for the connection's life
  s.markOpen();
  s.openedDeferred!.resolve(new OpenInfo(s, protocol, s.engine.extensionsHeader));
  s.openedDeferred = null;
  s.parts.startKeepalive(s);
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
    const s = this.#s;
    return s.parts.readable(s);
  }
  get writable(): WritableStream<WebSocketWritable> {
    const s = this.#s;
    return s.parts.writable(s);
  }
}

/** A bad handshake: a server answers with the error's hint (400, 426...); `opened` rejects. */
export function handshakeFailed(s: SessionCore, error: unknown): void {
  if (s.phase === "done" || s.answering) return;
  if (!s.client && error instanceof RemoteProtocolError && error.eventHint instanceof RejectConnection) {
    const head = s.engine.handshake.requestHead;
    if (head !== null && !asksForWebSocket(head.headers)) {
      // Plain HTTP beside the WebSocket: handleHttp answers it, or 426.
      s.answering = true;
      s.updateReading();
      const message = "The request was not a WebSocket upgrade";
      answerPlainRequest(head, s.init?.handleHttp, (failure) => s.report(failure, "handleHttp")).then(
        (answer) => answerWith(s, answer, "WS_ERR_PLAIN_HTTP", message, null),
        (cause: unknown) => answerWith(s, answerForRefusal(error), "WS_ERR_PLAIN_HTTP", message, cause),
      );
      return;
    }
    // A bad upgrade: the hint's status with its reason phrase and a one-line body, alike on every path.
    answerWith(s, answerForRefusal(error), error.code, `The opening handshake failed: ${error.message}`, error);
    return;
  }
  let status: number | undefined;
  let transport: "release" | "abort" = "abort";
  if (error instanceof RemoteProtocolError && error.eventHint && !s.client) {
    // Answer a bad request with the hint (400, 426 with the version...).
    try {
      s.write(s.engine.send(error.eventHint));
      transport = "release";
      if (error.eventHint instanceof RejectConnection) status = error.eventHint.statusCode;
    } catch {
      // Nothing could be sent: just drop the transport.
    }
  }
  const code: WsErrorCode = error instanceof ProtocolError ? error.code : "WS_ERR_HANDSHAKE";
  const init: WebSocketErrorInit = { cause: error };
  if (status !== undefined) init.status = status;
  const message = error instanceof Error ? error.message : String(error);
  s.finish({ error: failures.handshakeRefused(`The opening handshake failed: ${message}`, code, init) }, transport);
}

/** Write an HTTP answer instead of a 101 and end the session. */
function answerWith(s: SessionCore, answer: HttpAnswer, code: WsErrorCode, message: string, cause: unknown): void {
  if (s.phase === "done") return;
  let failure = cause;
  try {
    const hasBody = answer.body.byteLength > 0;
    s.write(s.engine.send(new RejectConnection({ statusCode: answer.status, headers: answer.headers, hasBody, reason: answer.reason })));
    if (hasBody) s.write(s.engine.send(new RejectData({ data: answer.body })));
  } catch (error) {
    failure ??= error; // headers a handler made that cannot be sent: the transport is dropped
  }
  const init: WebSocketErrorInit = { status: answer.status, headers: answer.headers, body: answer.body };
  if (failure !== null) init.cause = failure;
  s.answering = false;
  s.updateReading();
  s.finish({ error: failures.handshakeRefused(message, code, init) }, "release");
}

/** A client got a refusal's head: its body follows. */
export function refused(s: SessionCore, event: RejectConnection): void {
  s.rejection = { status: event.statusCode, headers: event.headers, body: [], size: 0 };
}

/** A client receiving a refusal's body (kept up to `maxRejectionBodySize`); at its end the session ends. */
export function refusalBody(s: SessionCore, event: RejectData): void {
  const rejection = s.rejection;
  if (!rejection) return;
  const limit = s.options.maxRejectionBodySize;
  if (rejection.size < limit && event.data.byteLength > 0) {
    const piece = event.data.subarray(0, limit - rejection.size);
    rejection.body.push(piece);
    rejection.size += piece.byteLength;
  }
  if (!event.bodyFinished) return;
  const body = concat(rejection.body.length ? rejection.body : [EMPTY], rejection.size);
  s.finish(
    {
      error: failures.handshakeRefused(`The server rejected the WebSocket with HTTP ${rejection.status}`, "WS_ERR_HANDSHAKE_REJECTED", {
        status: rejection.status,
        headers: rejection.headers,
        body,
      }),
    },
    "release",
  );
}
