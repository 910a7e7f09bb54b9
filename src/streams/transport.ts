/**
 * The byte transport a WebSocket session runs over, as the session sees it:
 * a small push interface ({@link TransportPort}) with pause/resume, writes
 * that report back-pressure, a graceful end and an abort.
 *
 * Any `{ readable, writable }` pair of WHATWG byte streams becomes a port
 * through {@link StreamsPort} (a read loop over `getReader()`, writes through
 * `getWriter()`, so it works with any streams implementation). An adapter
 * may offer a cheaper port of its own under the {@link TRANSPORT_PORT}
 * symbol: the Node adapter does, talking to the socket directly, which saves
 * two WHATWG streams per connection (about 7 KB on Node 20) and a promise per
 * chunk. Both kinds behave the same way.
 * @module
 */

/** Any pair of byte streams a WebSocket can run over (a socket, a `Deno.Conn`, an HTTP/2 stream...). */
export interface ByteTransport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

/** What a port reports to its user. */
export interface TransportHandler {
  /** Bytes from the peer. */
  data(chunk: Uint8Array): void;
  /** The peer's end of stream (no more data will come). */
  end(): void;
  /** The transport failed (reading or writing); nothing more will come. */
  error(error: unknown): void;
}

/**
 * The session's view of a transport. `start` is called once; afterwards the
 * port calls the handler until it reports `end` or `error` (or is aborted).
 */
export interface TransportPort {
  start(handler: TransportHandler): void;
  /** Stop delivering data until `resume()` (a chunk already on its way may still arrive). */
  pause(): void;
  resume(): void;
  /**
   * Queue bytes for the peer; `false` means "above the high-water mark (or
   * no longer writable): wait for `drain()`", which rejects if the transport
   * failed.
   */
  write(bytes: Uint8Array): boolean;
  /**
   * Optional: write `header` then `payload` (one frame) without copying
   * `payload`, which stays borrowed until the transport no longer needs it:
   * at once when this returns `undefined`, else when the returned promise
   * settles. It resolves once the payload was written (which also means
   * "writes may continue") and rejects when the transport failed or was
   * closed before writing it.
   */
  writeBorrowed?(header: Uint8Array, payload: Uint8Array): Promise<void> | undefined;
  /** Resolves once writes may continue; rejects if the transport failed. */
  drain(): Promise<void>;
  /** Optional: bytes written to the port and not yet handed to the peer's connection (the kernel). */
  bufferedAmount?(): number;
  /**
   * Optional: `true` when the port keeps no reference to bytes it has handed
   * on (a socket's kernel copied them), so that once `bufferedAmount()` is 0
   * every array written before may be reused. A port over WHATWG streams
   * cannot promise it: a sink may keep the chunks it was given.
   */
  readonly handsOffWrites?: boolean;
  /**
   * Optional: `true` when the chunks given to `handler.data` are lent: valid
   * only until that call returns (the port reads into one reused buffer).
   * The session then copies whatever it keeps (the engine's
   * `borrowedInput`).
   */
  readonly lendsReads?: boolean;
  /** End our side once everything queued is written (TCP FIN). */
  end(): Promise<void>;
  /** Drop the transport now (both directions); idempotent. */
  abort(reason?: unknown): void;
}

/** The property under which a transport may offer its own {@link TransportPort} factory. */
export const TRANSPORT_PORT: unique symbol = Symbol.for("wsproto.transportPort") as never;

/** A transport that can hand out a port of its own. */
export interface PortProvider {
  /** The port, or `undefined` when the transport's streams are already in use. */
  [TRANSPORT_PORT](): TransportPort | undefined;
}

const noop = (): void => {};

/**
 * The port for a transport: its own when it offers one, else one over its
 * WHATWG streams.
 */
export function transportPort(transport: ByteTransport): TransportPort {
  const provider = (transport as Partial<PortProvider>)[TRANSPORT_PORT];
  if (typeof provider === "function") {
    const port = provider.call(transport);
    if (port !== undefined) return port;
  }
  return new StreamsPort(transport);
}

/**
 * A port over WHATWG streams: a read loop feeding the handler (paused on
 * request), and writes through the writable's writer. The streams are locked
 * at construction.
 * @example
 * ```ts
 * const port = new StreamsPort({ readable, writable });
 * port.start({ data: (b) => console.log(b), end: () => {}, error: console.error });
 * ```
 */
export class StreamsPort implements TransportPort {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #handler: TransportHandler | null = null;
  #paused = false;
  #resume: (() => void) | null = null;
  #finished = false;
  #aborted = false;
  #buffered = 0;

  constructor(transport: ByteTransport) {
    this.#reader = transport.readable.getReader();
    this.#writer = transport.writable.getWriter();
  }

  start(handler: TransportHandler): void {
    this.#handler = handler;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    const reader = this.#reader;
    try {
      for (;;) {
        while (this.#paused && !this.#aborted) await new Promise<void>((resolve) => (this.#resume = resolve));
        if (this.#aborted) return;
        const result = await reader.read();
        if (this.#aborted) return;
        if (result.done) {
          this.#finish();
          return;
        }
        this.#handler!.data(result.value);
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#handler!.end();
  }

  #fail(error: unknown): void {
    if (this.#finished || this.#aborted) return;
    this.#finished = true;
    this.#handler!.error(error);
  }

  readonly #onWriteError = (error: unknown): void => this.#fail(error);

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const resume = this.#resume;
    this.#resume = null;
    resume?.();
  }

  write(bytes: Uint8Array): boolean {
    const writer = this.#writer;
    const size = bytes.byteLength;
    this.#buffered += size;
    writer.write(bytes).then(
      () => {
        this.#buffered -= size;
      },
      this.#onWriteError,
    );
    return (writer.desiredSize ?? 0) > 0;
  }

  bufferedAmount(): number {
    return this.#buffered;
  }

  drain(): Promise<void> {
    return this.#writer.ready;
  }

  end(): Promise<void> {
    return this.#writer.close();
  }

  abort(reason?: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.resume();
    this.#reader.cancel(reason).catch(noop);
    this.#writer.abort(reason).catch(noop);
  }
}
