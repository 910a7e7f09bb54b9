/**
 * A client {@link TransportPort} whose real transport is set up only once the
 * session has written its opening request: the port collects the request
 * head, hands it to an `establish` function (which may open sockets, cross a
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
import type { TransportHandler, TransportPort } from "../streams/transport.ts";

/** What `establish` may use to tie its resources to the port's lifetime. */
export interface DeferredPortControl {
  /** Whether the session already gave up (then `establish` should stop). */
  readonly aborted: boolean;
  /** Run `cleanup` if the port is aborted before `establish` resolves. */
  onAbort(cleanup: () => void): void;
}

/** Builds the real port from the session's request head (the bytes up to and including the blank line). */
export type EstablishPort = (requestHead: Uint8Array, control: DeferredPortControl) => Promise<TransportPort>;

const CRLFCRLF = Uint8Array.of(13, 10, 13, 10);

/** The index just past the first CRLFCRLF in `bytes`, or -1. */
export function headEnd(bytes: Uint8Array): number {
  const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(CRLFCRLF);
  return at < 0 ? -1 : at + 4;
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
  #head: Uint8Array[] = [];
  #headBytes = 0;
  #headDone = false;
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
    if (this.#headDone) {
      this.#queued.push(bytes);
      return true;
    }
    this.#head.push(bytes);
    this.#headBytes += bytes.byteLength;
    const all = Buffer.concat(this.#head, this.#headBytes);
    const end = headEnd(all);
    if (end < 0) {
      this.#head = [all];
      return true;
    }
    this.#headDone = true;
    this.#head = [];
    if (end < all.byteLength) this.#queued.push(all.subarray(end));
    void this.#run(all.subarray(0, end));
    return true;
  }

  writeBorrowed(header: Uint8Array, payload: Uint8Array): Promise<void> | undefined {
    const inner = this.#inner;
    if (inner?.writeBorrowed !== undefined) return inner.writeBorrowed(header, payload);
    // No borrowing without the real port: a copy is ours to keep.
    this.write(Buffer.concat([header, payload]));
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

  async #run(head: Uint8Array): Promise<void> {
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
      inner = await this.#establish(head, control);
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
