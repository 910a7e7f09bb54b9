/**
 * `wsproto/node`: the Node adapters, an entry point of their own so the
 * portable layers never load `node:*`. This file only re-exports; each room
 * says what it answers:
 *
 * - socket.ts: a Node socket as a transport (`fromNodeSocket`), the peer's address.
 * - upgrade.ts: an HTTP server's `'upgrade'` (`acceptNodeUpgrade`), Node's request in our shapes.
 * - server.ts: `WebSocketServer` (connections, broadcast, shutdown, plain HTTP beside it).
 * - connect.ts, proxy.ts, url.ts: the client (`connectNodeWebSocket`), proxies, redirects.
 * - http2.ts, http2-client.ts: WebSockets over HTTP/2 (RFC 8441), both roles.
 * - websocket-stream.ts: the WHATWG `WebSocketStream` class (and its `WebSocketError`).
 * - zlib.ts: permessage-deflate on Node's native zlib.
 * @module
 */
export { fromNodeSocket, peerAddress, type NodeSocketOptions } from "./socket.ts";
export { acceptNodeUpgrade, rawHeadersToHeaders, type NodeUpgradeOptions } from "./upgrade.ts";
export { WebSocketServer, type WebSocketServerOptions, type BroadcastOptions, type ServerCloseOptions, type ServerErrorContext, type SessionRequestInfo } from "./server.ts";
export { Topics, type Backplane, type BackplaneHandler, type PublishOptions } from "../streams/topics.ts";
export type { HttpHandler } from "../streams/plain-http.ts";
export type { HandlerContext, PeerInfo } from "../streams/session/types.ts";
export { connectNodeWebSocket, type NodeConnectOptions, type NodeConnectTarget } from "./connect.ts";
export { proxyFromEnvironment } from "./proxy.ts";
export { acceptHttp2WebSocket, isHttp2WebSocketRequest, HTTP2_WEBSOCKET_SETTINGS, type Http2AcceptOptions } from "./http2.ts";
export { connectHttp2WebSocket, type Http2ConnectOptions } from "./http2-client.ts";
export { nodeZlibCodec, nodeZlibNative } from "./zlib.ts";
export { nodeMasker, nodeMaskerStatus } from "./masker.ts";
export { WebSocketStream, WebSocketError, type WebSocketStreamOptions, type WebSocketStreamOpenInfo, type WebSocketStreamCloseInfo, type WebSocketStreamConnectOptions } from "./websocket-stream.ts";
