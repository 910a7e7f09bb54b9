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
 * - Bounded memory under broadcast: a connection whose outbound buffer
 *   (bytes the transport has not written yet) is over `backpressureLimit` is
 *   skipped (or, with `closeOnBackpressureLimit`, closed with 1008), so a peer
 *   that never reads makes the server hold at most `backpressureLimit` plus
 *   one message for it.
 * - `broadcast` frames a message once for every connection that can share
 *   the bytes: all connections without permessage-deflate (or sending it
 *   uncompressed: `compress: false`, under the threshold), and, per set of
 *   compression parameters, the connections whose server compressor has no
 *   context takeover. A connection with context takeover compresses its own
 *   copy (its window is its own; RFC 7692 §7.1.1).
 * - `close()` stops accepting, sends every open connection a close frame
 *   (1001 by default), abandons handshakes in progress, waits up to
 *   `timeout`, then destroys what is left, and resolves when every session
 *   has ended (and an owned `http.Server` has closed).
 * @module
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { Readable, type Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Connection } from "../protocol/frames/connection.ts";
import { LocalProtocolError } from "../protocol/errors.ts";
import { Message, type Request } from "../protocol/events.ts";
import { PerMessageDeflate } from "../protocol/extensions/permessage-deflate.ts";
import { buildFrame } from "../protocol/frames/frame.ts";
import { reasonPhrase } from "../protocol/http/status.ts";
import { ConnectionState } from "../protocol/types.ts";
import { encodeUtf8, isWellFormed } from "../protocol/bytes/utf8.ts";
import { acceptNodeUpgrade, nodeToFetchRequest, type NodeUpgradeOptions } from "./upgrade.ts";
import { responseHeaders, shortAnswer, upgradeRequired, type HttpAnswer, type HttpHandler } from "../streams/plain-http.ts";
import type { AcceptDecision, RejectDecision, WebSocketSession } from "../streams/websocket-stream.ts";

/** Options of {@link WebSocketServer}: where it listens, what it accepts, and every `acceptNodeUpgrade` option. */
export interface WebSocketServerOptions extends NodeUpgradeOptions {
  /** Listen on this port (0: one the system picks) with an `http.Server` of its own. */
  port?: number;
  /** The address to listen on with `port`. @default all interfaces (Node's default) */
  host?: string;
  /** Attach to this HTTP(S) server's `'upgrade'` events (and, with `handleHttp`, its `'request'` events). */
  server?: HttpServer | HttpsServer;
  /** Listen nowhere: upgrades are handed in through {@link WebSocketServer.handleUpgrade}. */
  noServer?: boolean;
  /** Accept only this path (the request target without its query); others get 404. */
  path?: string;
  /**
   * Accept only requests whose `Origin` is one of these (compared
   * case-insensitively); others get 403. `""` in the list admits requests
   * without an `Origin` header (non-browser clients). @default any origin
   */
  origins?: string[];
  /** Called with each session once its handshake succeeded, and the request it answered. */
  onSession?: (session: WebSocketSession, request: Request) => void;
  /**
   * Answers plain HTTP requests (not WebSocket upgrades) on a server it owns
   * or is attached to: a WHATWG `Request` in, a `Response` out (its body
   * streamed). Without it, an owned server answers 426 Upgrade Required. An
   * `'upgrade'` to some other protocol (`Upgrade: h2c`) reaches it too,
   * without its body. With `server`, it is attached to the server's
   * `'request'` event: give it only to a server that has no request handler
   * of its own.
   */
  handleHttp?: HttpHandler;
  /**
   * Bytes a connection may have waiting to be written before `broadcast`
   * stops sending to it (uWebSockets' `maxBackpressure`). @default 1048576
   */
  backpressureLimit?: number;
  /** Close (1008) a connection over `backpressureLimit` instead of skipping it. @default false */
  closeOnBackpressureLimit?: boolean;
}

/** Options of {@link WebSocketServer.broadcast}. */
export interface BroadcastOptions {
  /** A session not to send to (usually the sender). */
  except?: WebSocketSession;
  /** `false` sends the message uncompressed to every connection. @default permessage-deflate's own rule */
  compress?: boolean;
}

/** Options of {@link WebSocketServer.close}. */
export interface ServerCloseOptions {
  /** @default 1001 (going away) */
  closeCode?: number;
  /** @default "" */
  reason?: string;
  /** Milliseconds to wait for the closing handshakes before the remaining connections are destroyed. @default 5000 */
  timeout?: number;
}

const DEFAULT_BACKPRESSURE_LIMIT = 1024 * 1024;
const DEFAULT_CLOSE_TIMEOUT = 5000;
const FIN = 0x80;
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
  #closing: Promise<void> | null = null;

  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Uint8Array): void => {
    this.handleUpgrade(req, socket, head);
  };

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void this.#serveHttp(req, res);
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
      backpressureLimit: _limit,
      closeOnBackpressureLimit: _close,
      ...sessionOptions
    } = options;
    this.#sessionOptions = sessionOptions;

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
    const userDecide = this.#sessionOptions.handleRequest;
    const session = acceptNodeUpgrade(req, socket, head, {
      ...this.#sessionOptions,
      handleRequest: async (request: Request): Promise<AcceptDecision | RejectDecision | void> => {
        const refusal = this.#refusal(request);
        if (refusal !== null) return refusal;
        const decision = userDecide === undefined ? undefined : await userDecide(request);
        if (this.#closing !== null) return { status: 503, body: "The server is shutting down.\n" };
        tracked.request = request;
        return decision;
      },
    });
    this.#sessions.set(session, tracked);
    session.opened.then(
      () => {
        if (this.#closing !== null || !this.#sessions.has(session)) return;
        this.#open.add(session);
        const onSession = this.#options.onSession;
        if (onSession !== undefined && tracked.request !== null) {
          try {
            onSession(session, tracked.request);
          } catch (error) {
            // As a throwing event listener: reported, the server goes on.
            queueMicrotask(() => {
              throw error;
            });
          }
        }
      },
      noop,
    );
    const forget = (): void => {
      this.#sessions.delete(session);
      this.#open.delete(session);
    };
    session.closed.then(forget, forget);
    return session;
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
    let payload: Uint8Array;
    let opcode: number;
    if (typeof message === "string") {
      if (!isWellFormed(message)) {
        throw new LocalProtocolError("Text contains a lone surrogate (not encodable as UTF-8)", "WS_ERR_INVALID_UTF16");
      }
      payload = encodeUtf8(message);
      opcode = 0x1;
    } else if (message instanceof Uint8Array) {
      payload = message;
      opcode = 0x2;
    } else {
      throw new LocalProtocolError("broadcast takes a string or a Uint8Array", "WS_ERR_INVALID_DATA_TYPE");
    }
    const compress = options.compress;
    let plain: Uint8Array | null = null; // the uncompressed frame, shared
    const shared = new Map<unknown, Map<string, Uint8Array>>(); // codec -> parameters -> compressed frame
    const event = (): Message => (compress === undefined ? new Message({ data: message }) : new Message({ data: message, compress }));
    let delivered = 0;
    for (const session of this.#open) {
      if (session === options.except) continue;
      const engine = session.connection;
      const connection = engine instanceof Connection ? engine : engine.connection;
      if (connection === null || connection.state !== ConnectionState.OPEN || connection.sendingMessage) continue;
      if (session.bufferedAmount > this.#backpressureLimit) {
        if (this.#options.closeOnBackpressureLimit === true) {
          try {
            session.close({ closeCode: 1008, reason: "backpressure limit" });
          } catch {
            // Already closing.
          }
        }
        continue;
      }
      let frame: Uint8Array;
      const extensions = connection.extensions;
      const pmd = extensions.length === 1 && extensions[0] instanceof PerMessageDeflate ? extensions[0] : null;
      if (extensions.length === 0 || (pmd !== null && (compress === false || payload.byteLength < pmd.threshold))) {
        // Sent as is: the same bytes for everyone (an uncompressed message leaves a compressor untouched).
        frame = plain ??= buildFrame(FIN | opcode, payload, null);
      } else if (pmd !== null && pmd.serverNoContextTakeover) {
        // RFC 7692 §7.1.1.1: every message starts afresh, so equal parameters give equal bytes.
        let byCodec = shared.get(pmd.codec);
        if (byCodec === undefined) shared.set(pmd.codec, (byCodec = new Map()));
        const key = `${pmd.serverMaxWindowBits}:${pmd.level}:${pmd.memLevel}`;
        let bytes = byCodec.get(key);
        if (bytes === undefined) {
          bytes = connection.send(event());
          byCodec.set(key, bytes);
        }
        frame = bytes;
      } else {
        // Context takeover (or another extension): this connection's own compressor.
        frame = connection.send(event());
      }
      if (session.writeFrames(frame)) delivered++;
    }
    return delivered;
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
    if (encodeUtf8(reason).byteLength > 123) {
      // RFC 6455 §5.5: a control frame payload is at most 125 bytes (2 of them the code).
      return Promise.reject(new LocalProtocolError("A close reason is at most 123 UTF-8 bytes", "WS_ERR_INVALID_CLOSE_REASON"));
    }
    this.#closing = this.#shutDown(closeCode, reason, timeout);
    return this.#closing;
  }

  async #shutDown(closeCode: number, reason: string, timeout: number): Promise<void> {
    const server = this.#server;
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
  }

  async #serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const handleHttp = this.#options.handleHttp;
    if (handleHttp === undefined) {
      writeAnswer(res, upgradeRequired());
      return;
    }
    let response: Response;
    try {
      response = await handleHttp(nodeToFetchRequest(req, this.#server !== null && "setSecureContext" in this.#server));
      if (!(response instanceof Response)) throw new TypeError("handleHttp must return a Response");
    } catch (error) {
      // The client gets a 500; the application gets the exception (as for handleRequest).
      try {
        if (this.#options.onError) this.#options.onError(error, { handler: "handleHttp" });
        else console.error(`wsproto: handleHttp failed: ${error instanceof Error ? error.message : String(error)}`);
      } catch (failure) {
        console.error(`wsproto: onError failed: ${failure instanceof Error ? failure.message : String(failure)}`);
      }
      if (!res.headersSent) writeAnswer(res, shortAnswer(500, "The request handler failed."));
      return;
    }
    res.writeHead(response.status, response.statusText || reasonPhrase(response.status), responseHeaders(response).flat());
    if (response.body === null || req.method === "HEAD") {
      res.end();
      return;
    }
    try {
      await pipeline(Readable.fromWeb(response.body as Parameters<typeof Readable.fromWeb>[0]), res);
    } catch {
      res.destroy();
    }
  }
}

/** Write a whole short answer (426, 500...) through node:http. */
function writeAnswer(res: ServerResponse, answer: HttpAnswer): void {
  res.writeHead(answer.status, answer.reason, answer.headers.flat());
  res.end(answer.body);
}

/** RFC 6455 §7.4: the codes an endpoint may put in a close frame. */
function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1013 && code !== 1004 && code !== 1005 && code !== 1006;
}
