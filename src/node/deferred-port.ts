/**
 * A client {@link TransportPort} whose real transport is set up only once the
 * session has written its opening request: the port reads the request head
 * (with the protocol's `HttpReader`), hands it, parsed and as bytes, to an
 * `establish` function (which may open sockets, cross a
 * proxy, follow redirects, or translate the request to HTTP/2) and, once that
 * resolves with the real port, forwards everything to it.
 *
 * Invariants:
 * - Holds at most the request head (the session writes nothing else before
 *   the response, which only the real port can deliver) plus whatever the
 *   session writes after it while `establish` runs (nothing in practice).
 * - `pause`/`resume` issued before the real port exists are applied to it
 *   before it starts; a failure of `establish` reaches the handler as
 *   `error`, once; `abort()` runs the cleanups `establish` registered (the
 *   sockets it opened) and drops a port that arrives later.
 * @module
 */
import { concatBytes } from "../protocol/bytes/encoding.ts";
import { LocalProtocolError } from "../protocol/errors.ts";
import type { HttpEvent, RequestHead } from "../protocol/http/message.ts";
import { HttpReader } from "../protocol/http/reader.ts";
import { TRANSPORT_PORT, type ByteTransport, type PortProvider, type TransportHandler, type TransportPort } from "../streams/transport.ts";

/** What `establish` may use to tie its resources to the port's lifetime. */
export interface DeferredPortControl {
  /** Whether the session already gave up (then `establish` should stop). */
  readonly aborted: boolean;
  /** Run `cleanup` if the port is aborted before `establish` resolves. */
  onAbort(cleanup: () => void): void;
}

/** The session's opening request: parsed, and the bytes it wrote (up to and including the blank line). */
export interface RequestHeadWritten {
  readonly head: RequestHead;
  readonly bytes: Uint8Array;
}

/** Builds the real port from the session's request head. */
export type EstablishPort = (request: RequestHeadWritten, control: DeferredPortControl) => Promise<TransportPort>;

/** Our own session's head: no limit of its own (the session bounds what it writes). */
const OWN_HEAD_LIMITS = { maxHeadSize: Number.MAX_SAFE_INTEGER, maxHeaders: Number.MAX_SAFE_INTEGER };

/**
 * A transport that is only a port (the session never asks for the streams of a port provider).
 * @example
 * ```ts
 * connectWebSocket(deferredTransport(new DeferredClientPort(establish)), { url });
 * ```
 */
export function deferredTransport(port: TransportPort): ByteTransport & PortProvider {
  const unavailable = (): never => {
    throw new LocalProtocolError("This transport is in use by a WebSocket session", "WS_ERR_TRANSPORT_IN_USE");
  };
  let taken = false;
  return {
    get readable(): ReadableStream<Uint8Array> {
      return unavailable();
    },
    get writable(): WritableStream<Uint8Array> {
      return unavailable();
    },
    [TRANSPORT_PORT]() {
      if (taken) return undefined;
      taken = true;
      return port;
    },
  };
}

/**
 * @internal The port of the Node client helpers (`connectNodeWebSocket`,
 * `connectHttp2WebSocket`); see the module comment.
 */
export class DeferredClientPort implements TransportPort {
  readonly #establish: EstablishPort;
  #handler: TransportHandler | null = null;
  #inner: TransportPort | null = null;
  #paused = false;
  /** Reads the session's request head; `null` once it is read. */
  #reader: HttpReader | null = new HttpReader("request", OWN_HEAD_LIMITS);
  #head: Uint8Array[] = [];
  #queued: Uint8Array[] = [];
  #failure: { error: unknown } | null = null;
  #aborted = false;
  #cleanups: Array<() => void> = [];

  constructor(establish: EstablishPort) {
    this.#establish = establish;
  }

  start(handler: TransportHandler): void {
    this.#handler = handler;
    if (this.#failure !== null) handler.error(this.#failure.error);
  }

  pause(): void {
    this.#paused = true;
    this.#inner?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#inner?.resume();
  }

  write(bytes: Uint8Array): boolean {
    if (this.#inner !== null) return this.#inner.write(bytes);
    if (this.#aborted || this.#failure !== null) return true;
    const reader = this.#reader;
    if (reader === null) {
      this.#queued.push(bytes);
      return true;
    }
    this.#head.push(bytes);
    const events: HttpEvent[] = [];
    try {
      reader.push(bytes, events);
    } catch (error) {
      this.#fail(error);
      return true;
    }
    const read = events.find((event) => event.type === "head");
    if (read === undefined) return true;
    this.#reader = null;
    // Anything written in the same chunk after the head (nothing, in practice) follows it.
    const after = reader.takeTrailing();
    const all = concatBytes(this.#head);
    this.#head = [];
    if (after.byteLength > 0) this.#queued.push(after);
    void this.#run({ head: read.head as RequestHead, bytes: all.subarray(0, all.byteLength - after.byteLength) });
    return true;
  }

  writeBorrowed(header: Uint8Array, payload: Uint8Array): Promise<void> | undefined {
    const inner = this.#inner;
    if (inner?.writeBorrowed !== undefined) return inner.writeBorrowed(header, payload);
    // No borrowing without the real port: a copy is ours to keep.
    this.write(concatBytes([header, payload]));
    return undefined;
  }

  bufferedAmount(): number {
    return this.#inner?.bufferedAmount?.() ?? this.#queued.reduce((n, b) => n + b.byteLength, 0);
  }

  drain(): Promise<void> {
    if (this.#inner !== null) return this.#inner.drain();
    if (this.#failure !== null) return Promise.reject(this.#failure.error);
    return Promise.resolve();
  }

  end(): Promise<void> {
    if (this.#inner !== null) return this.#inner.end();
    this.abort();
    return Promise.resolve();
  }

  abort(reason?: unknown): void {
    if (this.#inner !== null) {
      this.#inner.abort(reason);
      return;
    }
    if (this.#aborted) return;
    this.#aborted = true;
    const cleanups = this.#cleanups;
    this.#cleanups = [];
    for (const cleanup of cleanups) cleanup();
  }

  async #run(request: RequestHeadWritten): Promise<void> {
    const control: DeferredPortControl = {
      get aborted(): boolean {
        return port.#aborted;
      },
      onAbort: (cleanup) => {
        if (this.#aborted) cleanup();
        else this.#cleanups.push(cleanup);
      },
    };
    const port = this;
    let inner: TransportPort;
    try {
      inner = await this.#establish(request, control);
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (this.#aborted) {
      inner.abort();
      return;
    }
    this.#cleanups = [];
    this.#inner = inner;
    for (const bytes of this.#queued.splice(0)) inner.write(bytes);
    if (this.#paused) inner.pause();
    // The session calls start() in the same turn as its first write; establishing takes at least one more.
    inner.start(this.#handler!);
  }

  #fail(error: unknown): void {
    if (this.#aborted || this.#failure !== null) return;
    this.#failure = { error };
    const cleanups = this.#cleanups;
    this.#cleanups = [];
    for (const cleanup of cleanups) cleanup();
    this.#handler?.error(error);
  }
}
