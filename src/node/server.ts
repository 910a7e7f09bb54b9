/**
 * `WebSocketServer`: what a Node user who replaces `ws` deploys. It owns a
 * port (an `http.Server` of its own), attaches to one (`server`), or takes
 * upgrades handed in (`noServer` + `handleUpgrade`); answers plain HTTP beside
 * the WebSockets (`handleHttp`, else 426); tracks open sessions
 * (`connections`); broadcasts frames built once; and shuts down gracefully.
 *
 * Invariants:
 * - Every upgrade goes through `acceptNodeUpgrade`, so strict request checks
 *   (GET, HTTP/1.1+, Host, no body: 400 with a reason phrase and a one-line
 *   body), `path` (404), `origins` (403) and the user's `handleRequest` are
 *   applied in that order, the same way on every mode.
 * - A session is in `connections` from the moment `opened` resolves until
 *   `closed` settles; every session, open or still in its handshake, is
 *   tracked until its `closed` settles, so `close()` reaches all of them.
 * - `broadcast` (src/streams/broadcast.ts) frames a message once where the
 *   bytes can be shared, and skips a connection over `backpressureLimit` (or
 *   closes it with 1008, `closeOnBackpressureLimit`): a peer that never reads
 *   makes the server hold at most `backpressureLimit` plus one message for it.
 * - The server owns the code it calls (STYLE 15): `onSession` (a throw or a
 *   rejected promise), `handleRequest`, `handleHttp` and `onMessage` run
 *   inside a boundary. A failure closes that session with 1011 (HTTP 500
 *   before the upgrade) and goes to `onError(error, context)` (default: one
 *   line on stderr); the process lives. An error that only reports the
 *   connection's own end (the peer vanished: 1006, the session closed or
 *   closing) escaping a handler is not an application failure: not reported.
 * - `close()` stops accepting, sends every open connection a close frame
 *   (1001 by default), abandons handshakes in progress, waits up to
 *   `timeout`, then destroys what is left, and resolves when every session
 *   has ended (and an owned `http.Server` has closed).
 * @module
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { checkCloseReason, isSendableCloseCode } from "../protocol/close-codes.ts";
import { LocalProtocolError } from "../protocol/errors.ts";
import type { Request } from "../protocol/events.ts";
import { acceptNodeUpgrade, type NodeUpgradeOptions } from "./upgrade.ts";
import { broadcast, DEFAULT_BACKPRESSURE_LIMIT, type BroadcastOptions as StreamsBroadcastOptions } from "../streams/broadcast.ts";
import type { AcceptDecision, RejectDecision, WebSocketSession } from "../streams/sessions.ts";
import { endsConnection } from "../streams/app-errors.ts";
import { Topics, type PublishOptions } from "../streams/topics.ts";
import { serveHttp } from "./server-http.ts";
import type { BroadcastOptions, ServerCloseOptions, ServerErrorContext, SessionRequestInfo, WebSocketServerOptions } from "./server-options.ts";

export type { BroadcastOptions, ServerCloseOptions, ServerErrorContext, SessionRequestInfo, WebSocketServerOptions } from "./server-options.ts";

const DEFAULT_CLOSE_TIMEOUT = 5000;
const noop = (): void => {};

interface Tracked {
  readonly socket: Duplex;
  request: Request | null;
}

/**
 * A WebSocket server for Node, in the manner of `ws`'s `WebSocketServer`
 * and python websockets' `serve()`.
 * @example
 * ```ts
 * import { WebSocketServer } from "wsproto/node";
 * const server = new WebSocketServer({
 *   port: 0,
 *   host: "127.0.0.1",
 *   onSession: async (session) => {
 *     const { readable } = await session.opened;
 *     for await (const message of readable) server.broadcast(message, { except: session });
 *   },
 * });
 * const { port } = await server.listening;
 * // ... later
 * await server.close();
 * ```
 */
export class WebSocketServer {
  /** Resolves with the address once listening (owned or attached server); rejects in `noServer` mode or if listening failed. */
  readonly listening: Promise<AddressInfo>;
  readonly #options: WebSocketServerOptions;
  readonly #sessionOptions: NodeUpgradeOptions;
  readonly #server: HttpServer | HttpsServer | null;
  readonly #owned: boolean;
  readonly #sessions = new Map<WebSocketSession, Tracked>();
  readonly #open = new Set<WebSocketSession>();
  readonly #backpressureLimit: number;
  readonly #topics: Topics;
  #closing: Promise<void> | null = null;

  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Uint8Array): void => {
    this.handleUpgrade(req, socket, head);
  };

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void serveHttp(req, res, this.#options.handleHttp, this.#server !== null && "setSecureContext" in this.#server, (error) =>
      this.#failed(error, "handleHttp", req.socket),
    );
  };

  constructor(options: WebSocketServerOptions) {
    const modes = Number(options.port !== undefined) + Number(options.server !== undefined) + Number(options.noServer === true);
    if (modes !== 1) {
      throw new LocalProtocolError("WebSocketServer needs exactly one of port, server and noServer", "WS_ERR_INVALID_OPTION");
    }
    const limit = options.backpressureLimit ?? DEFAULT_BACKPRESSURE_LIMIT;
    if (!(limit >= 0)) {
      throw new LocalProtocolError(`backpressureLimit must be a non-negative number, got ${String(limit)}`, "WS_ERR_INVALID_OPTION");
    }
    this.#backpressureLimit = limit;
    this.#options = options;
    const {
      port: _port,
      host: _host,
      server: _server,
      noServer: _noServer,
      path: _path,
      origins: _origins,
      onSession: _onSession,
      onError: _onError,
      backpressureLimit: _limit,
      closeOnBackpressureLimit: _close,
      backplane: _backplane,
      ...sessionOptions
    } = options;
    this.#sessionOptions = sessionOptions;
    this.#topics = new Topics({
      deliver: (to, message, options) => this.#broadcastTo(to, message, options),
      backplane: options.backplane,
      onError: options.onError === undefined ? undefined : (error) => options.onError!(error, { handler: "backplane" }),
    });

    if (options.noServer === true) {
      this.#server = null;
      this.#owned = false;
      this.listening = Promise.reject(new LocalProtocolError("A noServer WebSocketServer does not listen", "WS_ERR_INVALID_STATE"));
    } else {
      const server = options.server ?? createServer();
      this.#server = server;
      this.#owned = options.server === undefined;
      server.on("upgrade", this.#onUpgrade);
      if (this.#owned || options.handleHttp !== undefined) server.on("request", this.#onRequest);
      this.listening = new Promise<AddressInfo>((resolve, reject) => {
        const ready = (): void => {
          server.off("error", failed);
          resolve(server.address() as AddressInfo);
        };
        const failed = (error: unknown): void => {
          server.off("listening", ready);
          reject(error);
        };
        if (server.listening) {
          resolve(server.address() as AddressInfo);
          return;
        }
        server.once("listening", ready);
        server.once("error", failed);
      });
      if (this.#owned) server.listen(options.port, options.host);
    }
    // A caller may never look at `listening`: a failure must not crash the process.
    this.listening.catch(noop);
  }

  /** The open sessions: added when the handshake succeeds, removed when the session ends. */
  get connections(): ReadonlySet<WebSocketSession> {
    return this.#open;
  }

  /** The `http.Server` the server owns or is attached to (`null` with `noServer`). */
  get server(): HttpServer | HttpsServer | null {
    return this.#server;
  }

  /**
   * Take over an HTTP `'upgrade'` (in `noServer` mode, from your own
   * server's event): the request is checked, answered, and on success the
   * session joins {@link connections}. After `close()` it is answered 503.
   * @example
   * ```ts
   * httpServer.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head));
   * ```
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Uint8Array): WebSocketSession {
    const tracked: Tracked = { socket, request: null };
    const options = this.#sessionOptions;
    const userDecide = options.handleRequest;
    let session: WebSocketSession | undefined;
    const upgradeOptions: NodeUpgradeOptions = {
      ...options,
      handleRequest: async (request: Request): Promise<AcceptDecision | RejectDecision | void> => {
        const refusal = this.#refusal(request);
        if (refusal !== null) return refusal;
        // A throw answers 500 and reaches onError below (the session owns handleRequest).
        const decision = userDecide === undefined ? undefined : await userDecide(request);
        if (this.#closing !== null) return { status: 503, body: "The server is shutting down.\n" };
        tracked.request = request;
        return decision;
      },
      // What the session owns (handleRequest, handleHttp on the upgrade path, onMessage, onPing, onPong)
      // failed: the session closed with 1011 or answered 500; the server's onError hears of it with its context.
      onError: (error, context) => this.#report(error, context.handler, socket, session),
    };
    session = acceptNodeUpgrade(req, socket, head, upgradeOptions);
    const opened = session;
    this.#sessions.set(opened, tracked);
    opened.opened.then(() => this.#opened(opened, tracked), noop);
    const forget = (): void => {
      this.#sessions.delete(opened);
      this.#open.delete(opened);
    };
    opened.closed.then(forget, forget);
    return opened;
  }

  /** The handshake succeeded: the session is open, and `onSession` runs inside the server's boundary. */
  #opened(session: WebSocketSession, tracked: Tracked): void {
    if (this.#closing !== null || !this.#sessions.has(session)) return;
    this.#open.add(session);
    const onSession = this.#options.onSession;
    if (onSession === undefined || tracked.request === null) return;
    let result: void | PromiseLike<void>;
    try {
      result = onSession(session, tracked.request, requestInfo(tracked.request, session, this.#server !== null && "setSecureContext" in this.#server));
    } catch (error) {
      this.#failed(error, "onSession", tracked.socket, session);
      return;
    }
    if (result !== null && typeof result === "object" && typeof result.then === "function") {
      result.then(undefined, (error: unknown) => this.#failed(error, "onSession", tracked.socket, session));
    }
  }

  /**
   * Application code failed: close its session with 1011 (unless the error
   * only reports the connection's own end), and tell `onError`.
   */
  #failed(error: unknown, handler: string, socket: Duplex, session?: WebSocketSession): void {
    if (endsConnection(error)) return; // the peer left or the session ended meanwhile: no application failure
    if (session !== undefined) {
      try {
        session.close({ closeCode: 1011, reason: "Internal error" });
      } catch {
        // Already closed or closing: nothing more to send.
      }
    }
    this.#report(error, handler, socket, session);
  }

  /** Tell `onError` (default: one line on stderr) with the server's context. */
  #report(error: unknown, handler: string, socket: Duplex, session?: WebSocketSession): void {
    const context: { -readonly [K in keyof ServerErrorContext]: ServerErrorContext[K] } = { handler };
    if (session !== undefined) context.session = session;
    // The session's peer when its adapter recorded it (the socket forgets its address once destroyed), else the socket's.
    const net = socket as Partial<Pick<Socket, "remoteAddress" | "remotePort" | "remoteFamily">>;
    const address = session?.peer?.address ?? net.remoteAddress;
    const port = session?.peer?.port ?? net.remotePort;
    if (address !== undefined) context.remoteAddress = address;
    if (port !== undefined) context.remotePort = port;
    if (address !== undefined && port !== undefined) {
      context.peer = session?.peer ?? { address, port, family: net.remoteFamily ?? "" };
    }
    const onError = this.#options.onError;
    if (onError !== undefined) {
      try {
        onError(error, context);
        return;
      } catch (thrown) {
        error = thrown; // onError itself failed: written below, never to the process
        context.handler = "onError";
      }
    }
    reportToStderr(error, context);
  }

  #refusal(request: Request): RejectDecision | null {
    if (this.#closing !== null) return { status: 503, body: "The server is shutting down.\n" };
    const path = this.#options.path;
    if (path !== undefined) {
      const target = request.target;
      const query = target.indexOf("?");
      if ((query < 0 ? target : target.slice(0, query)) !== path) return { status: 404, body: "No WebSocket at this path.\n" };
    }
    const origins = this.#options.origins;
    if (origins !== undefined) {
      const origin = request.extraHeaders.find(([name]) => name === "origin")?.[1] ?? "";
      const wanted = origin.toLowerCase();
      if (!origins.some((allowed) => allowed.toLowerCase() === wanted)) return { status: 403, body: "Origin not allowed.\n" };
    }
    return null;
  }

  /**
   * Send one message to every open connection (but `except`), framed once
   * where the bytes can be shared; returns how many connections it was
   * written to. A connection over `backpressureLimit` is skipped (or closed
   * with `closeOnBackpressureLimit`); so is one in the middle of sending a
   * fragmented message of its own.
   * @throws LocalProtocolError for a string that is not valid UTF-16 (nothing is sent).
   * @example
   * ```ts
   * const delivered = wss.broadcast("hello everyone", { except: sender });
   * ```
   */
  broadcast(message: string | Uint8Array, options: BroadcastOptions = {}): number {
    return this.#broadcastTo(this.#open, message, options);
  }

  /** `broadcast`'s machinery for any set of sessions (a topic's subscribers). */
  #broadcastTo(sessions: Iterable<WebSocketSession>, message: string | Uint8Array, options: BroadcastOptions): number {
    const all: StreamsBroadcastOptions = { backpressureLimit: this.#backpressureLimit };
    if (options.except !== undefined) all.except = options.except;
    if (options.compress !== undefined) all.compress = options.compress;
    if (this.#options.closeOnBackpressureLimit === true) all.closeOnBackpressureLimit = true;
    return broadcast(sessions, message, all);
  }

  /**
   * Subscribe an open session to a topic (uWebSockets' and Bun's
   * `subscribe`); its topics are forgotten when it closes.
   * @example
   * ```ts
   * wss.subscribe(session, "room:42");
   * ```
   */
  subscribe(session: WebSocketSession, topic: string): void {
    this.#topics.subscribe(session, topic);
  }

  /** Unsubscribe a session from a topic. */
  unsubscribe(session: WebSocketSession, topic: string): void {
    this.#topics.unsubscribe(session, topic);
  }

  /**
   * Send a message to a topic's subscribers: those of this process, framed
   * once as `broadcast` does (the same `backpressureLimit` rules), and with a
   * `backplane` those of every other process, once each. Returns how many
   * connections of this process it was written to.
   * @example
   * ```ts
   * wss.publish("room:42", "hello room", { except: sender });
   * ```
   */
  publish(topic: string, message: string | Uint8Array, options?: PublishOptions): number {
    return this.#topics.publish(topic, message, options);
  }

  /** The sessions of this process subscribed to a topic (a live view). */
  subscribers(topic: string): ReadonlySet<WebSocketSession> {
    return this.#topics.subscribers(topic);
  }

  /** How many sessions of this process are subscribed to a topic (a map look-up). */
  subscriberCount(topic: string): number {
    return this.#topics.subscriberCount(topic);
  }

  /** The topics a session is subscribed to (a live view). */
  topicsOf(session: WebSocketSession): ReadonlySet<string> {
    return this.#topics.topicsOf(session);
  }

  /**
   * Shut down gracefully: stop accepting (later upgrades get 503), send every
   * open connection a close frame, abandon handshakes in progress, wait up to
   * `timeout` for the closing handshakes, destroy what is left; resolves once
   * every session has ended (and an owned HTTP server has closed). Calling it
   * again returns the same promise.
   * @example
   * ```ts
   * process.on("SIGTERM", () => void wss.close({ closeCode: 1001, timeout: 5000 }));
   * ```
   */
  close(options: ServerCloseOptions = {}): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    const closeCode = options.closeCode ?? 1001;
    const reason = options.reason ?? "";
    const timeout = options.timeout ?? DEFAULT_CLOSE_TIMEOUT;
    if (!(timeout >= 0)) {
      return Promise.reject(new LocalProtocolError(`timeout must be a non-negative number, got ${String(timeout)}`, "WS_ERR_INVALID_OPTION"));
    }
    // Validated before anything changes, so a bad code leaves the server running.
    if (!isSendableCloseCode(closeCode)) {
      return Promise.reject(new LocalProtocolError(`Close code ${String(closeCode)} may not be sent`, "WS_ERR_INVALID_CLOSE_CODE"));
    }
    try {
      checkCloseReason(reason);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closing = this.#shutDown(closeCode, reason, timeout);
    return this.#closing;
  }

  async #shutDown(closeCode: number, reason: string, timeout: number): Promise<void> {
    const server = this.#server;
    const topicsClosed = this.#topics.close();
    let serverClosed: Promise<void> = Promise.resolve();
    if (server !== null) {
      server.off("upgrade", this.#onUpgrade);
      server.off("request", this.#onRequest);
      if (this.#owned) {
        serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
      }
    }
    for (const session of this.#sessions.keys()) {
      try {
        session.close({ closeCode, reason }); // an open session sends its close; one in its handshake is abandoned
      } catch {
        session.close();
      }
    }
    const ended = Promise.all([...this.#sessions.keys()].map((s) => s.closed.then(noop, noop)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), timeout)));
    const outcome = await Promise.race([ended, late]);
    clearTimeout(timer);
    if (outcome === "late") {
      for (const tracked of this.#sessions.values()) tracked.socket.destroy();
      await ended;
    }
    if (this.#owned && server !== null) server.closeAllConnections();
    await serverClosed;
    await topicsClosed;
  }
}

/** The default `onError`: one line on stderr naming the handler and the peer. */
function reportToStderr(error: unknown, context: ServerErrorContext): void {
  const peer = context.remoteAddress === undefined ? "an unknown peer" : `${context.remoteAddress}:${String(context.remotePort ?? "?")}`;
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  try {
    process.stderr.write(`wsproto: ${context.handler} failed for ${peer}: ${what.replaceAll("\n", " ")}\n`);
  } catch {
    // No stderr: nothing else to tell.
  }
}

/** `onSession`'s third argument: the request's URL and headers by name, and the peer. */
function requestInfo(request: Request, session: WebSocketSession, secure: boolean): SessionRequestInfo {
  const headers = new globalThis.Headers();
  headers.append("host", request.host);
  for (const [name, value] of request.extraHeaders) {
    try {
      headers.append(name, value);
    } catch {
      // A value WHATWG Headers refuses (it was valid HTTP to the handshake): left out.
    }
  }
  let url: URL;
  try {
    url = new URL(request.target, `${secure ? "wss" : "ws"}://${request.host}`);
  } catch {
    url = new URL(request.target.startsWith("/") ? request.target : "/", secure ? "wss://localhost" : "ws://localhost");
  }
  return { url, headers, peer: session.peer };
}
