/**
 * The options and shapes of `WebSocketServer` (server.ts): what it listens
 * on, what it accepts, how it reports application failures, broadcast and
 * close options. Types only.
 * @module
 */
import type { Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Request } from "../protocol/events.ts";
import type { BroadcastOptions as StreamsBroadcastOptions } from "../streams/broadcast.ts";
import type { HttpHandler } from "../streams/plain-http.ts";
import type { Backplane } from "../streams/topics.ts";
import type { HandlerContext, PeerInfo, WebSocketSession } from "../streams/sessions.ts";
import type { NodeUpgradeOptions } from "./upgrade.ts";

/** Options of {@link WebSocketServer}: where it listens, what it accepts, and every `acceptNodeUpgrade` option. */
export interface WebSocketServerOptions extends Omit<NodeUpgradeOptions, "onError"> {
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
  /**
   * Called with each session once its handshake succeeded, and the request
   * it answered. The server owns what it does: a throw or a rejected promise
   * closes that session with 1011 and goes to `onError`; an error that only
   * says the connection ended (the peer vanished: `WS_ERR_ABNORMAL_CLOSURE`)
   * is not reported.
   */
  onSession?: (session: WebSocketSession, request: Request, info: SessionRequestInfo) => void | PromiseLike<void>;
  /**
   * Called with each failure of application code the server called
   * (`onSession`, `handleRequest`, `handleHttp`, `onMessage`, `onPing`,
   * `onPong`), after the session was closed with 1011 (or the request
   * answered 500). A throw here is written to stderr, never to the process.
   * @default one line on stderr naming the handler and the peer's address
   */
  onError?: (error: unknown, context: ServerErrorContext) => void;
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
  /**
   * Carries {@link WebSocketServer.publish} to the server's other processes
   * and brings theirs (`redisBackplane` from `wsproto/redis`); `close()`
   * closes it. Its outages go to `onError`. @default none (this process only)
   */
  backplane?: Backplane;
}

/** Where an application failure reported to {@link WebSocketServerOptions.onError} happened. */
export interface ServerErrorContext extends HandlerContext {
  /** The handler that threw or rejected: `"onSession"`, `"handleRequest"`, `"handleHttp"`, `"onMessage"`, `"onPing"`, `"onPong"`. */
  readonly handler: string;
  /** The session it ran for (absent for `handleHttp` on a plain request). */
  session?: WebSocketSession;
  /** The peer's IP address, when the socket knows it. */
  remoteAddress?: string;
  /** The peer's port, when the socket knows it. */
  remotePort?: number;
}

/** Options of {@link WebSocketServer.broadcast}. */
export type BroadcastOptions = Pick<StreamsBroadcastOptions, "except" | "compress">;

/** Options of {@link WebSocketServer.close}. */
export interface ServerCloseOptions {
  /** @default 1001 (going away) */
  closeCode?: number;
  /** @default "" */
  reason?: string;
  /** Milliseconds to wait for the closing handshakes before the remaining connections are destroyed. @default 5000 */
  timeout?: number;
}

/**
 * The request a session came from, as `ws` users reach for it
 * (`req.url`, `req.headers`, `req.socket.remoteAddress`): `onSession`'s third
 * argument.
 */
export interface SessionRequestInfo {
  /** The request's URL (`ws:` or `wss:`, the Host header and the target). */
  readonly url: URL;
  /** Its headers, by name (`info.headers.get("cookie")`), Host included. */
  readonly headers: globalThis.Headers;
  /** The peer's address (the same as `session.peer`). */
  readonly peer: PeerInfo | null;
}
