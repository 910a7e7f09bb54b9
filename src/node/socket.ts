/**
 * A Node socket (`net.Socket`, `tls.TLSSocket`, an HTTP/2 stream: any byte
 * `Duplex`) as the transport the streams layer runs on: {@link fromNodeSocket}
 * and the socket's own {@link TransportPort}, which a WebSocket session
 * takes instead of WHATWG streams; and {@link peerAddress}.
 *
 * Why not `stream.Duplex.toWeb`: on Node 20 its writable side counts chunks
 * instead of bytes (so back-pressure lets megabytes pile up) and its readable
 * side never ends on a half-open socket (every socket from an HTTP
 * `'upgrade'` event is one), so a peer's FIN would go unnoticed.
 *
 * Invariants:
 * - The WHATWG pair (socket-streams.ts) is made on first use. A WebSocket
 *   session does not use it: it takes the socket's own port (same rules, no
 *   WHATWG machinery in between). Whichever is taken first owns the socket.
 * - The port holds at most what one tick writes in frames under 16 KiB
 *   (gathered into one socket write) beside what the socket buffers itself;
 *   back-pressure counts both against `writableHighWaterMark` bytes.
 * - A socket's end of stream ends the handler's input; a close without end
 *   (or an error) errors it, once; pending drains reject then.
 * @module
 */
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { LocalProtocolError } from "../protocol/errors.ts";
import { streamsImplementation, type StreamsImplementation } from "../streams/streams-implementation.ts";
import { TRANSPORT_PORT, type ByteTransport, type PortProvider, type TransportHandler, type TransportPort } from "../streams/transport.ts";
import type { PeerInfo } from "../streams/session/types.ts";
import { socketStreams } from "./socket-streams.ts";
import { lentReadsOf, type LentReads } from "./lent-reads.ts";

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

const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/** Frames smaller than this are gathered per tick into one socket write. */
const COALESCE_LIMIT = 16 * 1024;
const EMPTY = new Uint8Array(0);

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
    const options = this.#options;
    this.#streams ??= socketStreams(this.#socket, {
      head: options.head ?? EMPTY,
      readableHighWaterMark: highWaterMark(options.readableHighWaterMark, "readableHighWaterMark"),
      writableHighWaterMark: highWaterMark(options.writableHighWaterMark, "writableHighWaterMark"),
      allowHalfOpen: options.allowHalfOpen ?? true,
      streams: options.streams ?? streamsImplementation(),
    });
    return this.#streams;
  }

  [TRANSPORT_PORT](): TransportPort | undefined {
    if (this.#streams !== null || this.#portTaken) return undefined;
    this.#portTaken = true;
    return new NodeSocketPort(this.#socket, this.#options);
  }
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
  /** Bytes the socket took are done with once its `writableLength` says so (a write's callback has run). */
  readonly handsOffWrites = true;
  /** The socket reads into a shared buffer (lent-reads.ts): each chunk is valid only while it is delivered. */
  readonly lendsReads: boolean;
  readonly #lent: LentReads | undefined;

  constructor(socket: Socket | Duplex, options: NodeSocketOptions) {
    this.#socket = socket;
    this.#lent = lentReadsOf(socket);
    this.lendsReads = this.#lent !== undefined;
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
    const lent = this.#lent;
    if (lent !== undefined) lent.deliver = (chunk) => this.#deliver(chunk);
    // An HTTP 'upgrade' socket may have been left paused; the session may have paused us already.
    if (!this.#paused) socket.resume();
    const head = this.#head;
    this.#head = EMPTY;
    if (head.byteLength > 0) this.#deliver(head);
    const early = lent?.early ?? null;
    if (early !== null) {
      lent!.early = null;
      this.#deliver(early);
    }
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
    // Several frames: one buffer (uninitialised, then filled), one system call.
    const chunk = Array.isArray(pending) ? Buffer.concat(pending, this.#pendingBytes) : pending;
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
    // Nothing can be written any more: "wait for drain()", which rejects once
    // the socket is gone (so a send does not resolve for bytes never written).
    if (socket.destroyed || socket.writableEnded) return false;
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
    // Nothing can be written any more: the send must not resolve.
    if (socket.destroyed || socket.writableEnded) return Promise.reject(this.#error ?? new Error("socket closed"));
    this.#flush();
    // Both parts leave in one writev. The callback comes once the socket is
    // done with the payload: handed to the kernel, or failed (then with the
    // error, and the send rejects: bytes a vanished peer never got are not
    // reported as sent)...
    let failure: unknown;
    let wake: ((error: unknown) => void) | null = null;
    socket.cork();
    socket.write(header);
    socket.write(payload, (error) => {
      // Node calls back without an error for a write the socket abandoned when it was destroyed meanwhile.
      failure = error ?? (socket.destroyed ? (this.#error ?? new Error("socket closed")) : null);
      wake?.(failure);
    });
    socket.uncork();
    if (failure !== undefined) return failure === null ? undefined : Promise.reject(failure);
    // ... but when the kernel took it all at once (nothing left in the
    // socket's buffer, the usual case while the peer keeps up), it already is.
    if (socket.writableLength === 0) return undefined;
    return new Promise<void>((resolve, reject) => (wake = (error) => (error ? reject(error) : resolve())));
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
 * The remote address, port and family of a connected socket (a TLS socket's
 * too; an HTTP/2 stream's connection for a stream), or `null` when the
 * socket does not know them (not a TCP socket, or already destroyed before
 * they were read). Give it as the `peer` option of `acceptWebSocket` when
 * you accept over {@link fromNodeSocket} yourself; `acceptNodeUpgrade` and
 * `WebSocketServer` do it for you (`session.peer`).
 * @example
 * ```ts
 * const ws = acceptWebSocket(fromNodeSocket(socket), { peer: peerAddress(socket) });
 * console.log(ws.peer?.address, ws.peer?.port);
 * ```
 */
export function peerAddress(socket: Socket | Duplex): PeerInfo | null {
  const tcp = socket as Partial<Pick<Socket, "remoteAddress" | "remotePort" | "remoteFamily">>;
  const address = tcp.remoteAddress;
  const port = tcp.remotePort;
  if (typeof address !== "string" || typeof port !== "number") return null;
  return { address, port, family: tcp.remoteFamily ?? (address.includes(":") ? "IPv6" : "IPv4") };
}
