/**
 * The client side of WebSockets over HTTP/2 (RFC 8441, extended CONNECT):
 * the session's HTTP/1.1 request head becomes a CONNECT stream with
 * `:protocol: websocket` (on the caller's HTTP/2 connection or one opened
 * for it), and the server's answer is handed back to the session as the
 * HTTP/1.1 head it expects (a 2xx becomes the 101 with the accept token its
 * key calls for). See http2.ts for the server side and the shared rules.
 *
 * Invariants:
 * - Holds at most the session's request head (parsed by the deferred port)
 *   and one synthesized response head; after it, bytes go straight between
 *   the session and the stream (HTTP/2 flow control is the back-pressure).
 * - RFC 8441 §3: no CONNECT before the server's SETTINGS allowed it; a
 *   connection opened here is closed when its stream closes.
 * @module
 */
import * as http2 from "node:http2";
import { STATUS_CODES } from "node:http";
import type { ClientHttp2Session, SecureClientSessionOptions } from "node:http2";
import { generateAcceptToken } from "../protocol/handshake/accept-key.ts";
import { describeError } from "../streams/app-errors.ts";
import { transportPort, type TransportPort } from "../streams/transport.ts";
import {
  WebSocketError,
  connectWebSocket,
  type ConnectWebSocketOptions,
  type MessageChunk,
  type WebSocketSession,
} from "../streams/sessions.ts";
import { DeferredClientPort, deferredTransport, type DeferredPortControl, type RequestHeadWritten } from "./deferred-port.ts";
import { HTTP1_ONLY, headerValues } from "./http2.ts";
import { adapterOptionsOf, nodeExtensions } from "./options.ts";
import { nodeMasker } from "./masker.ts";
import { fromNodeSocket, type NodeSocketOptions } from "./socket.ts";
import { parseWebSocketUrl, type WebSocketTarget } from "./url.ts";

/** Options of {@link connectHttp2WebSocket}: those of `connectWebSocket` (minus `url`), and the HTTP/2 connection. */
export type Http2ConnectOptions<F extends boolean = false> = Omit<ConnectWebSocketOptions<F>, "url"> &
  Pick<NodeSocketOptions, "readableHighWaterMark" | "writableHighWaterMark"> & {
    /**
     * An HTTP/2 connection to the server to open the stream on (several
     * WebSockets and requests may share one). Without it, a connection is
     * opened for this WebSocket and closed with it. The WebSocket waits for
     * the server's SETTINGS if they have not arrived yet (a session whose
     * SETTINGS came without extended CONNECT cannot be told apart from one
     * still waiting for them: that wait ends with `handshakeTimeout`).
     */
    session?: ClientHttp2Session;
    /** Options for `http2.connect` when no `session` is given (certificates, `rejectUnauthorized`, ...). */
    tls?: SecureClientSessionOptions;
  };

/**
 * Open a WebSocket over HTTP/2 (RFC 8441): a CONNECT stream with
 * `:protocol: websocket` on `options.session`, or on a connection opened to
 * `url` for it. Fails with a clear error when the server did not send
 * SETTINGS_ENABLE_CONNECT_PROTOCOL. Resolves and rejects as
 * `connectWebSocket` does (a non-2xx answer is a rejection with its status,
 * headers and body).
 * @example
 * ```ts
 * import { connectHttp2WebSocket } from "wsproto/node";
 * const ws = connectHttp2WebSocket("wss://example.com/chat", { protocols: ["chat"] });
 * const { readable, writable } = await ws.opened;
 * ```
 */
export function connectHttp2WebSocket(
  url: string | URL,
  options: Http2ConnectOptions<true> & { fragments: true },
): WebSocketSession<MessageChunk>;
export function connectHttp2WebSocket(url: string | URL, options?: Http2ConnectOptions): WebSocketSession<string | Uint8Array>;
export function connectHttp2WebSocket(
  url: string | URL,
  options: Http2ConnectOptions<boolean> = {},
): WebSocketSession<string | Uint8Array> | WebSocketSession<MessageChunk> {
  const target = parseWebSocketUrl(url);
  const adapterOptions = adapterOptionsOf(options);
  const port = new DeferredClientPort((request, control) => establishHttp2(request, control, target, options, adapterOptions));
  const { session: _session, tls: _tls, ...rest } = options;
  return connectWebSocket(deferredTransport(port), {
    ...rest,
    extensions: options.extensions ?? nodeExtensions(),
    mask: options.mask === undefined ? nodeMasker() : options.mask,
    url: target.url,
  } as ConnectWebSocketOptions);
}

function http2Error(message: string, cause?: unknown): WebSocketError {
  return new WebSocketError(cause === undefined ? message : `${message}: ${describeError(cause)}`, {
    closeCode: 1006,
    code: "WS_ERR_HTTP2",
    ...(cause === undefined ? {} : { cause }),
  });
}

async function establishHttp2(
  { head: request }: RequestHeadWritten,
  control: DeferredPortControl,
  target: WebSocketTarget,
  options: Http2ConnectOptions<boolean>,
  adapterOptions: NodeSocketOptions,
): Promise<TransportPort> {
  let session = options.session;
  const own = session === undefined;
  if (session === undefined) {
    const origin = `${target.secure ? "https" : "http"}://${target.url.host}`;
    const opened = http2.connect(origin, {
      ...(target.servername === undefined ? {} : { servername: target.servername }),
      ...options.tls,
    });
    // A later failure reaches the stream (and so the WebSocket); the session's own 'error' must not crash the process.
    opened.on("error", () => {});
    control.onAbort(() => opened.destroy());
    session = opened;
  }
  await connectProtocolAllowed(session, target);
  let host: string | null = null;
  let key = "";
  for (const [name, value] of request.headers) {
    if (name === "host") host = value;
    else if (name === "sec-websocket-key") key = value;
  }
  const headers: http2.OutgoingHttpHeaders = {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": target.secure ? "https" : "http",
    ":path": request.target,
    ":authority": host ?? target.url.host,
  };
  for (const [name, value] of request.headers) {
    if (HTTP1_ONLY.has(name) || name === "sec-websocket-key") continue;
    const previous = headers[name];
    headers[name] = previous === undefined ? value : [...headerValues(previous as string | string[]), value];
  }
  let stream: http2.ClientHttp2Stream;
  try {
    stream = session.request(headers, { endStream: false });
  } catch (error) {
    throw http2Error("Could not open an HTTP/2 stream", error);
  }
  control.onAbort(() => stream.close(http2.constants.NGHTTP2_CANCEL));
  if (own) {
    const s = session;
    stream.once("close", () => s.close());
  }
  const response = await new Promise<http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader>((resolve, reject) => {
    const onError = (error: unknown): void => {
      cleanup();
      reject(http2Error("The HTTP/2 stream failed before the server answered", error));
    };
    const onClose = (): void => {
      cleanup();
      const code = stream.rstCode;
      reject(http2Error(`The server closed the HTTP/2 stream before answering${code ? ` (RST_STREAM code ${code})` : ""}`));
    };
    const onResponse = (h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void => {
      cleanup();
      resolve(h);
    };
    const cleanup = (): void => {
      stream.off("error", onError);
      stream.off("close", onClose);
      stream.off("response", onResponse);
    };
    stream.on("error", onError);
    stream.on("close", onClose);
    stream.on("response", onResponse);
  });
  const status = Number(response[":status"]);
  const lines =
    status >= 200 && status < 300
      ? // RFC 8441 §5: a 2xx opens the WebSocket; the engine expects RFC 6455's 101.
        [
          "HTTP/1.1 101 Switching Protocols",
          "Upgrade: websocket",
          "Connection: Upgrade",
          `Sec-WebSocket-Accept: ${generateAcceptToken(key)}`,
        ]
      : [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}`];
  for (const [name, value] of Object.entries(response)) {
    if (name.startsWith(":") || HTTP1_ONLY.has(name)) continue;
    for (const v of headerValues(value)) lines.push(`${name}: ${v}`);
  }
  const synthesized = Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1"); // header values are latin-1 (RFC 9110 §5.5)
  return transportPort(fromNodeSocket(stream, { ...adapterOptions, head: synthesized }));
}

/** RFC 8441 §3: a client uses :protocol only once the server's SETTINGS allowed it. */
function connectProtocolAllowed(session: ClientHttp2Session, target: WebSocketTarget): Promise<void> {
  if (session.destroyed || session.closed) return Promise.reject(http2Error("The HTTP/2 session is closed"));
  if (!session.connecting && session.remoteSettings.enableConnectProtocol === true) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      session.off("remoteSettings", onSettings);
      session.off("error", onError);
      session.off("close", onClose);
    };
    const onSettings = (settings: http2.Settings): void => {
      cleanup();
      if (settings.enableConnectProtocol === true) resolve();
      else {
        reject(
          http2Error(
            `The HTTP/2 server at ${target.url.host} does not accept WebSockets: it did not send SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)`,
          ),
        );
      }
    };
    const onError = (error: unknown): void => {
      cleanup();
      reject(http2Error(`Could not connect to ${target.url.host} over HTTP/2`, error));
    };
    const onClose = (): void => {
      cleanup();
      reject(http2Error(`The HTTP/2 connection to ${target.url.host} closed before its settings arrived`));
    };
    session.on("remoteSettings", onSettings);
    session.on("error", onError);
    session.on("close", onClose);
  });
}
