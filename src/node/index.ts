/**
 * The Node adapter (its own entry point, `wsproto/node`, so the portable
 * layers never load `node:*`): a `net.Socket` / `tls.TLSSocket` as the
 * `{ readable, writable }` byte transport the streams layer runs on, and the
 * hand-off from an HTTP server's `'upgrade'` event.
 *
 * Why not `stream.Duplex.toWeb`: on Node 20 its writable side counts chunks
 * instead of bytes (so back-pressure lets megabytes pile up) and its readable
 * side never ends on a half-open socket (every socket from an HTTP
 * `'upgrade'` event is one), so a peer's FIN would go unnoticed.
 *
 * Invariants:
 * - readable: bytes are queued up to `readableHighWaterMark` BYTES, then the
 *   socket is paused until the consumer pulls; `head` comes first; the
 *   socket's end of stream closes it, a socket error or a close without end
 *   errors it.
 * - writable: a write resolves at once while the socket's own buffer is below
 *   its high-water mark and otherwise waits for `'drain'`; writes issued in
 *   one tick are corked into one system call; `close()` is `end()` and resolves
 *   once everything is flushed; `abort()` is `destroy()`.
 * - The socket is destroyed once both sides are done (ended or cancelled and
 *   closed or aborted), so nothing outlives the transport.
 * - The two streams are made on first use. A WebSocket session does not use
 *   them: it takes the socket's own {@link TransportPort} (same rules, no
 *   WHATWG machinery in between). Whichever is taken first owns the socket.
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Headers } from "../protocol/types.ts";
import { LocalProtocolError } from "../protocol/errors.ts";
import { streamsImplementation, type StreamsImplementation } from "../streams/polyfill.ts";
import { PerMessageDeflate } from "../protocol/extensions/permessage-deflate.ts";
import { nodeZlibCodec } from "./zlib.ts";
import { nodeMasker } from "./masker.ts";
import { TRANSPORT_PORT, type ByteTransport, type PortProvider, type TransportHandler, type TransportPort } from "../streams/transport.ts";
import {
  acceptWebSocket,
  type AcceptWebSocketOptions,
  type WebSocketSession,
  type MessageChunk,
} from "../streams/websocket-stream.ts";

/** Options of {@link fromNodeSocket}. */
export interface NodeSocketOptions {
  /** Bytes to deliver before anything read from the socket (the `head` of an HTTP `'upgrade'` event). */
  head?: Uint8Array;
  /**
   * Bytes queued in the readable before the socket is paused.
   * @default 65536
   */
  readableHighWaterMark?: number;
  /**
   * Bytes queued in the writable (beyond what the socket buffers itself)
   * before `writer.ready` waits.
   * @default 65536
   */
  writableHighWaterMark?: number;
  /**
   * Keep the socket writable after the peer's FIN, so a WebSocket can still
   * answer a close; the adapter sets `socket.allowHalfOpen` accordingly.
   * @default true
   */
  allowHalfOpen?: boolean;
  /** The streams implementation to build the two streams with. @default {@link streamsImplementation}() */
  streams?: StreamsImplementation;
}

export { nodeZlibCodec, nodeZlibNative } from "./zlib.ts";
export { nodeMasker, nodeMaskerStatus } from "./masker.ts";
export { WebSocketServer, type WebSocketServerOptions, type BroadcastOptions, type ServerCloseOptions, type ServerErrorContext } from "./server.ts";
export type { HttpHandler } from "../streams/plain-http.ts";

/** The default extensions of the Node helpers: those of the streams layer, on native zlib. */
const nodeExtensions = (): PerMessageDeflate[] => [new PerMessageDeflate({ threshold: 1024, codec: nodeZlibCodec })];

const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/** Frames smaller than this are gathered per tick into one socket write. */
const COALESCE_LIMIT = 16 * 1024;
const EMPTY = new Uint8Array(0);

const byteSize = (chunk: Uint8Array): number => chunk.byteLength;

/**
 * A Node socket as a `{ readable, writable }` pair of WHATWG byte streams,
 * with byte-counted back-pressure in both directions and end of stream on
 * half-open sockets.
 * @example
 * ```ts
 * import { createConnection } from "node:net";
 * import { fromNodeSocket } from "wsproto/node";
 * import { connectWebSocket } from "wsproto/streams";
 * const transport = fromNodeSocket(createConnection(8080, "127.0.0.1"));
 * const ws = connectWebSocket(transport, { url: "ws://127.0.0.1:8080/" });
 * ```
 */
export function fromNodeSocket(socket: Socket | Duplex, options: NodeSocketOptions = {}): ByteTransport {
  highWaterMark(options.readableHighWaterMark, "readableHighWaterMark");
  highWaterMark(options.writableHighWaterMark, "writableHighWaterMark");
  return new NodeSocketTransport(socket, options);
}

/** The transport {@link fromNodeSocket} returns: lazy streams, or the socket's own port. */
class NodeSocketTransport implements ByteTransport, PortProvider {
  readonly #socket: Socket | Duplex;
  readonly #options: NodeSocketOptions;
  #streams: ByteTransport | null = null;
  #portTaken = false;

  constructor(socket: Socket | Duplex, options: NodeSocketOptions) {
    this.#socket = socket;
    this.#options = options;
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#getStreams().readable;
  }

  get writable(): WritableStream<Uint8Array> {
    return this.#getStreams().writable;
  }

  #getStreams(): ByteTransport {
    if (this.#portTaken) {
      throw new LocalProtocolError("This socket is in use by a WebSocket session", "WS_ERR_TRANSPORT_IN_USE");
    }
    this.#streams ??= socketStreams(this.#socket, this.#options);
    return this.#streams;
  }

  [TRANSPORT_PORT](): TransportPort | undefined {
    if (this.#streams !== null || this.#portTaken) return undefined;
    this.#portTaken = true;
    return new NodeSocketPort(this.#socket, this.#options);
  }
}

function socketStreams(socket: Socket | Duplex, options: NodeSocketOptions): ByteTransport {
  const impl = options.streams ?? streamsImplementation();
  const readableHighWaterMark = highWaterMark(options.readableHighWaterMark, "readableHighWaterMark");
  const writableHighWaterMark = highWaterMark(options.writableHighWaterMark, "writableHighWaterMark");
  socket.allowHalfOpen = options.allowHalfOpen ?? true;
  const head = options.head ?? EMPTY;

  let readDone = false; // ended, errored or cancelled
  let writeDone = false; // closed, errored or aborted
  let readCancelled = false;
  const destroyIfDone = (): void => {
    if (readDone && writeDone && !socket.destroyed) socket.destroy();
  };

  // ---- readable -----------------------------------------------------------
  let readController!: ReadableStreamDefaultController<Uint8Array>;
  const finishRead = (error?: unknown): void => {
    if (readDone) return;
    readDone = true;
    socket.off("data", onData);
    if (!readCancelled) {
      if (error === undefined) readController.close();
      else readController.error(error);
    }
    destroyIfDone();
  };
  const onData = (chunk: Uint8Array | string): void => {
    if (readCancelled) return; // draining after cancel(): discard
    // A socket with an encoding set would hand us strings; we never set one.
    if (typeof chunk === "string") chunk = new TextEncoder().encode(chunk);
    readController.enqueue(chunk);
    // RFC-free plumbing: stop reading while the consumer is behind.
    if ((readController.desiredSize ?? 0) <= 0) socket.pause();
  };
  const onEnd = (): void => finishRead();

  const readable = new impl.ReadableStream<Uint8Array>(
    {
      start(controller) {
        readController = controller;
        if (head.byteLength > 0) controller.enqueue(head);
        if (socket.readableEnded) {
          finishRead();
          return;
        }
        if (socket.destroyed) {
          finishRead(new Error("socket destroyed before the transport was created"));
          return;
        }
        socket.pause();
        socket.on("data", onData);
      },
      pull() {
        if (!readDone) socket.resume();
      },
      cancel() {
        readCancelled = true;
        // Keep reading and discarding, so the peer's FIN still arrives and a
        // peer blocked on a full window can finish; the socket goes when the
        // write side is done as well.
        if (!readDone) {
          readDone = true;
          socket.resume();
        }
        destroyIfDone();
      },
    },
    { highWaterMark: readableHighWaterMark, size: byteSize },
  );

  // ---- writable -----------------------------------------------------------
  let writeController!: WritableStreamDefaultController;
  let waiter: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  let corked = false;
  let socketError: unknown = null;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  const settleWaiter = (error?: unknown): void => {
    const w = waiter;
    waiter = null;
    if (w) error === undefined ? w.resolve() : w.reject(error);
  };
  const onDrain = (): void => settleWaiter();

  const writable = new impl.WritableStream<Uint8Array>(
    {
      start(controller) {
        writeController = controller;
      },
      write(chunk) {
        if (socketError !== null) throw socketError;
        if (socket.destroyed || socket.writableEnded) throw new Error("socket is closed");
        // Writes issued in the same tick leave in one writev.
        if (!corked) {
          corked = true;
          socket.cork();
          process.nextTick(uncork);
        }
        if (socket.write(chunk)) return;
        return new Promise<void>((resolve, reject) => {
          waiter = { resolve, reject };
        });
      },
      close() {
        return new Promise<void>((resolve, reject) => {
          if (socket.destroyed) {
            writeDone = true;
            reject(socketError ?? new Error("socket is closed"));
            return;
          }
          const done = (error?: unknown): void => {
            socket.off("finish", onFinish);
            socket.off("close", onCloseBeforeFinish);
            writeDone = true;
            destroyIfDone();
            if (error === undefined) resolve();
            else reject(error);
          };
          const onFinish = (): void => done();
          const onCloseBeforeFinish = (): void => done(socketError ?? new Error("socket closed before end"));
          socket.once("finish", onFinish);
          socket.once("close", onCloseBeforeFinish);
          socket.end();
        });
      },
      abort(reason) {
        writeDone = true;
        settleWaiter(reason ?? new Error("transport aborted"));
        finishRead(reason ?? new Error("transport aborted"));
        socket.destroy();
      },
    },
    { highWaterMark: writableHighWaterMark, size: byteSize },
  );

  // ---- socket lifecycle ---------------------------------------------------
  const onError = (error: unknown): void => {
    socketError = error;
    settleWaiter(error);
    finishRead(error);
    if (!writeDone) {
      writeDone = true;
      writeController.error(error);
    }
  };
  const onClose = (): void => {
    socket.off("drain", onDrain);
    socket.off("end", onEnd);
    socket.off("error", onError);
    socket.off("close", onClose);
    const error = socketError ?? new Error("socket closed");
    settleWaiter(error);
    finishRead(error);
    if (!writeDone) {
      writeDone = true;
      writeController.error(error);
    }
  };
  socket.on("drain", onDrain);
  socket.on("end", onEnd);
  socket.on("error", onError);
  socket.on("close", onClose);

  return { readable, writable };
}

/**
 * The socket itself as a {@link TransportPort}: 'data' events go straight to
 * the handler, pause/resume are the socket's, and writes are gathered: frames
 * under {@link COALESCE_LIMIT} bytes written while one received chunk is
 * handled (an echo, a pong) leave as one `socket.write` (one buffer, one
 * system call) when the handler returns; written at other times, at the end
 * of the tick. Larger ones go out as they are, in order. Back-pressure counts what is gathered
 * plus what the socket buffers, against the socket's high-water mark.
 */
class NodeSocketPort implements TransportPort {
  // The socket's listeners are shared functions that find their port here
  // (an emitter calls a listener with the socket as `this`), so a port holds
  // no closures of its own.
  static readonly #ports = new WeakMap<object, NodeSocketPort>();
  readonly #socket: Socket | Duplex;
  /** Delivered first, then dropped: an upgrade's `head` is a view of the request's read buffer. */
  #head: Uint8Array;
  readonly #writeHighWaterMark: number;
  #handler: TransportHandler | null = null;
  #ended = false;
  #error: unknown = null;
  #paused = false;
  /** Frames gathered this tick: none, one (the usual case: no array made), or several. */
  #pending: Uint8Array | Uint8Array[] | null = null;
  #pendingBytes = 0;
  #flushScheduled = false;
  /** A chunk is being handed to the handler (its writes are flushed when it returns). */
  #delivering = false;
  #drainWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> | null = null;

  constructor(socket: Socket | Duplex, options: NodeSocketOptions) {
    this.#socket = socket;
    this.#head = options.head ?? EMPTY;
    this.#writeHighWaterMark = options.writableHighWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    socket.allowHalfOpen = options.allowHalfOpen ?? true;
  }

  start(handler: TransportHandler): void {
    this.#handler = handler;
    const socket = this.#socket;
    NodeSocketPort.#ports.set(socket, this);
    socket.on("data", NodeSocketPort.#onData);
    socket.on("end", NodeSocketPort.#onEnd);
    socket.on("error", NodeSocketPort.#onError);
    socket.on("close", NodeSocketPort.#onClose);
    socket.on("drain", NodeSocketPort.#onDrain);
    // An HTTP 'upgrade' socket may have been left paused; the session may have paused us already.
    if (!this.#paused) socket.resume();
    const head = this.#head;
    this.#head = EMPTY;
    if (head.byteLength > 0) this.#deliver(head);
    if (socket.readableEnded) this.#end();
    else if (socket.destroyed) this.#close();
  }

  static #onData(this: object, chunk: Uint8Array): void {
    const port = NodeSocketPort.#ports.get(this);
    if (port !== undefined && port.#handler !== null) port.#deliver(chunk);
  }

  /**
   * One chunk to the handler. What it writes meanwhile (an echo, a pong) is
   * gathered and leaves in one write when it returns, not a tick later.
   */
  #deliver(chunk: Uint8Array): void {
    this.#delivering = true;
    try {
      this.#handler!.data(chunk);
    } finally {
      this.#delivering = false;
    }
    if (this.#pending !== null && !this.#flushScheduled) this.#flush();
  }

  static #onEnd(this: object): void {
    const port = NodeSocketPort.#ports.get(this);
    if (port !== undefined) port.#end();
  }

  static #onError(this: object, error: unknown): void {
    const port = NodeSocketPort.#ports.get(this);
    if (port !== undefined) port.#error ??= error;
  }

  static #onClose(this: object): void {
    const port = NodeSocketPort.#ports.get(this);
    if (port !== undefined) port.#close();
  }

  static #onDrain(this: object): void {
    const port = NodeSocketPort.#ports.get(this);
    if (port === undefined || port.#drainWaiters === null) return;
    const waiters = port.#drainWaiters;
    port.#drainWaiters = null;
    for (const waiter of waiters) waiter.resolve();
  }

  static #flushTick(port: NodeSocketPort): void {
    port.#flushScheduled = false;
    port.#flush();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#handler!.end();
  }

  #close(): void {
    const socket = this.#socket;
    socket.off("data", NodeSocketPort.#onData);
    socket.off("end", NodeSocketPort.#onEnd);
    socket.off("close", NodeSocketPort.#onClose);
    socket.off("drain", NodeSocketPort.#onDrain);
    // The 'error' listener stays (a late error must not crash the process), and so does the port's entry for it.
    this.#pending = null;
    this.#pendingBytes = 0;
    const error = this.#error ?? new Error("socket closed");
    const waiters = this.#drainWaiters;
    this.#drainWaiters = null;
    for (const waiter of waiters ?? []) waiter.reject(error);
    if (!this.#ended) {
      this.#ended = true;
      this.#handler!.error(error);
    }
  }

  /** Write what was gathered, as one buffer; the socket's verdict on its buffer. */
  #flush(): boolean {
    const pending = this.#pending;
    if (pending === null) return true;
    const socket = this.#socket;
    let chunk: Uint8Array;
    if (!Array.isArray(pending)) chunk = pending;
    else {
      const out = Buffer.allocUnsafe(this.#pendingBytes);
      let offset = 0;
      for (const part of pending) {
        out.set(part, offset);
        offset += part.byteLength;
      }
      chunk = out;
    }
    this.#pending = null;
    this.#pendingBytes = 0;
    if (socket.destroyed || socket.writableEnded) return true; // 'close' reports the failure
    return socket.write(chunk);
  }

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    this.#paused = false;
    if (this.#handler !== null) this.#socket.resume();
  }

  write(bytes: Uint8Array): boolean {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return true; // 'close' reports the failure
    if (bytes.byteLength >= COALESCE_LIMIT) {
      this.#flush();
      socket.write(bytes);
    } else {
      const pending = this.#pending;
      if (pending === null) this.#pending = bytes;
      else if (Array.isArray(pending)) pending.push(bytes);
      else this.#pending = [pending, bytes];
      this.#pendingBytes += bytes.byteLength;
      if (this.#pendingBytes >= COALESCE_LIMIT) this.#flush();
      else if (!this.#flushScheduled && !this.#delivering) {
        this.#flushScheduled = true;
        process.nextTick(NodeSocketPort.#flushTick, this);
      }
    }
    // Our own mark (bytes), not the socket's 16 KiB: a large frame must not
    // stall the next one until the socket's buffer is entirely empty.
    return socket.writableLength + this.#pendingBytes < this.#writeHighWaterMark;
  }

  writeBorrowed(header: Uint8Array, payload: Uint8Array): Promise<void> | undefined {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return undefined; // 'close' reports the failure
    this.#flush();
    // Both parts leave in one writev. The callback comes once the socket is
    // done with the payload (handed to the kernel, or failed)...
    let done = false;
    let wake: (() => void) | null = null;
    socket.cork();
    socket.write(header);
    socket.write(payload, () => {
      done = true;
      wake?.();
    });
    socket.uncork();
    // ... but when the kernel took it all at once (nothing left in the
    // socket's buffer, the usual case while the peer keeps up), it already is.
    if (done || socket.writableLength === 0) return undefined;
    return new Promise<void>((resolve) => (wake = resolve));
  }

  bufferedAmount(): number {
    return this.#socket.writableLength + this.#pendingBytes;
  }

  drain(): Promise<void> {
    const socket = this.#socket;
    this.#flush();
    if (socket.destroyed) return Promise.reject(this.#error ?? new Error("socket closed"));
    // 'drain' comes only after a write the socket refused (writableNeedDrain).
    if (socket.writableLength < this.#writeHighWaterMark || !socket.writableNeedDrain) return Promise.resolve();
    return new Promise<void>((resolve, reject) => (this.#drainWaiters ??= []).push({ resolve, reject }));
  }

  end(): Promise<void> {
    const socket = this.#socket;
    this.#flush();
    return new Promise<void>((resolve, reject) => {
      if (socket.destroyed) {
        reject(this.#error ?? new Error("socket closed"));
        return;
      }
      const done = (error?: unknown): void => {
        socket.off("finish", onFinish);
        socket.off("close", onClose);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onFinish = (): void => done();
      const onClose = (): void => done(this.#error ?? new Error("socket closed before end"));
      socket.once("finish", onFinish);
      socket.once("close", onClose);
      socket.end();
    });
  }

  abort(): void {
    this.#pending = null;
    this.#pendingBytes = 0;
    this.#socket.destroy();
  }
}

function highWaterMark(value: number | undefined, name: string): number {
  if (value === undefined) return DEFAULT_HIGH_WATER_MARK;
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new LocalProtocolError(`${name} must be a non-negative number, got ${String(value)}`, "WS_ERR_INVALID_OPTION");
  }
  return value;
}

/**
 * Node's `req.rawHeaders` (`[name, value, name, value, ...]`) as a
 * {@link Headers} list, names lower-cased, order kept.
 * @example
 * ```ts
 * rawHeadersToHeaders(["Host", "example.com"]); // [["host", "example.com"]]
 * ```
 */
export function rawHeadersToHeaders(rawHeaders: readonly string[]): Headers {
  const count = rawHeaders.length >>> 1;
  const headers: Headers = new Array<[string, string]>(count); // sized once, not grown push by push
  for (let i = 0; i < count; i++) {
    const name = rawHeaders[2 * i]!;
    headers[i] = [LOWER_CASE_NAMES.get(name) ?? name.toLowerCase(), rawHeaders[2 * i + 1]!];
  }
  return headers;
}

// The usual spellings of an upgrade request's names, lower-cased once here
// rather than once per request (toLowerCase() returns a lower-case name itself).
const LOWER_CASE_NAMES: ReadonlyMap<string, string> = new Map(
  [
    "Host", "Connection", "Upgrade", "Origin", "User-Agent", "Pragma", "Cache-Control", "Cookie",
    "Accept-Encoding", "Accept-Language", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
    "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
  ].map((name) => [name, name.toLowerCase()]),
);

/** Options of {@link acceptNodeUpgrade}: those of `acceptWebSocket` plus the adapter's. */
export type NodeUpgradeOptions<F extends boolean = false> = AcceptWebSocketOptions<F> &
  Pick<NodeSocketOptions, "readableHighWaterMark" | "writableHighWaterMark">;

/**
 * Accept a WebSocket from a Node HTTP server's `'upgrade'` event: the request
 * Node already parsed goes through `initiateUpgradeConnection`, the `head`
 * bytes are delivered first, and the answer (101 or a rejection) is written
 * to the socket.
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { acceptNodeUpgrade } from "wsproto/node";
 * const server = createServer();
 * server.on("upgrade", async (req, socket, head) => {
 *   const ws = acceptNodeUpgrade(req, socket, head);
 *   const { readable, writable } = await ws.opened;
 *   await readable.pipeTo(writable); // echo
 * });
 * ```
 */
export function acceptNodeUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: NodeUpgradeOptions<true> & { fragments: true },
): WebSocketSession<MessageChunk>;
export function acceptNodeUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options?: NodeUpgradeOptions,
): WebSocketSession<string | Uint8Array>;
export function acceptNodeUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: NodeUpgradeOptions<boolean> = {},
): WebSocketSession<string | Uint8Array> | WebSocketSession<MessageChunk> {
  // As ws does: no idle timeout left over from the HTTP server, and no Nagle delay for small frames.
  const tcp = socket as Partial<Pick<Socket, "setTimeout" | "setNoDelay">>;
  tcp.setTimeout?.(0);
  tcp.setNoDelay?.(true);
  const adapterOptions: NodeSocketOptions = { head };
  if (options.readableHighWaterMark !== undefined) adapterOptions.readableHighWaterMark = options.readableHighWaterMark;
  if (options.writableHighWaterMark !== undefined) adapterOptions.writableHighWaterMark = options.writableHighWaterMark;
  if (options.streams !== undefined) adapterOptions.streams = options.streams;
  const transport = fromNodeSocket(socket, adapterOptions);
  return acceptWebSocket(transport, {
    ...options,
    extensions: options.extensions ?? nodeExtensions(),
    mask: options.mask === undefined ? nodeMasker() : options.mask,
    // The request line too: RFC 6455 §4.1's GET and HTTP/1.1 are checked as on the bare-TCP path.
    upgradeRequest: {
      headers: rawHeadersToHeaders(req.rawHeaders),
      path: req.url ?? "/",
      method: req.method ?? "GET",
      httpVersion: req.httpVersion ?? "1.1",
    },
  } as AcceptWebSocketOptions);
}

export {
  connectNodeWebSocket,
  proxyFromEnvironment,
  type NodeConnectOptions,
  type NodeConnectTarget,
} from "./connect.ts";
export {
  acceptHttp2WebSocket,
  connectHttp2WebSocket,
  isHttp2WebSocketRequest,
  HTTP2_WEBSOCKET_SETTINGS,
  type Http2AcceptOptions,
  type Http2ConnectOptions,
} from "./http2.ts";
export { WebSocketStream, WebSocketError, type WebSocketStreamOptions, type WebSocketStreamOpenInfo, type WebSocketStreamCloseInfo, type WebSocketStreamConnectOptions } from "./websocket-stream.ts";
