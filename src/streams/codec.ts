/**
 * `WebSocketCodec`: one connection (a `WSConnection` with its handshake, or a
 * post-handshake `Connection`) bound to two `TransformStream`s: `decoder`
 * (bytes from the peer -> events) and `encoder` (events -> bytes for the
 * peer). Pipe the transport through them:
 *
 *     transport.readable -> codec.decoder -> your events
 *     your events -> codec.encoder -> transport.writable
 *
 * Invariants:
 * - Back-pressure is the streams': the decoder's readable has a high-water
 *   mark of 0 events by default, so `transform` (which feeds one chunk of
 *   bytes and enqueues its events) runs only when its reader wants events,
 *   and the pipe from the transport stops pulling bytes meanwhile.
 * - Answers the protocol needs (a pong to each ping, the reply to a close,
 *   the close that fails a connection on a protocol error) are written
 *   through the encoder's readable, in order with what the application
 *   sends, unless switched off (`autoPong`, `autoCloseReply`); the policy is
 *   auto-reply.ts's, shared with the session.
 * - Automatic pongs honour the encoder's `desiredSize`: while its readable
 *   holds 16 chunks nobody took (the transport is not taking them), a pong is
 *   not queued but kept as the ONE pending pong (a newer ping replaces it),
 *   and the decoder stops taking bytes until the encoder's queue is taken.
 *   A peer that floods pings and never reads makes the codec hold at most
 *   16 queued chunks and one pending pong.
 * - A clean end never errors a stream (issue 19): when the connection
 *   reaches CLOSED (the closing handshake done, whichever side started it)
 *   or fails (a protocol violation, its close code sent), the encoder's
 *   readable ends after what it holds (a pipe into the transport then closes
 *   it), and the decoder drops what still arrives and ends its readable when
 *   the transport's byte stream ends (its `flush`): so the pipe from the
 *   transport, the pipe into it and the application's reader all finish
 *   normally. A peer that does not end its byte stream within `closeTimeout`
 *   after that errors the decoder with a `WebSocketError`
 *   (`WS_ERR_CLOSE_TIMEOUT`), which rejects the pipe from the transport and
 *   so releases it.
 * - An abnormal end (the transport's readable or writable failed, so a pipe
 *   aborted or cancelled one of our streams) errors both streams once, with
 *   one `WebSocketError` (closeCode 1006, `WS_ERR_TRANSPORT`, the failure as
 *   `cause`), where the platform calls a transformer's `cancel` (Node
 *   ≥ 20.14, Deno; elsewhere the streams error with the transport's own error). The end of the byte stream without a close is no error: it is
 *   the `CloseConnection(1006)` event (RFC 6455 §7.1.5), then the end.
 * @module
 */
import type { Connection } from "../protocol/frames/connection.ts";
import { LocalProtocolError, RemoteProtocolError } from "../protocol/errors.ts";
import { Pong, type Event } from "../protocol/events.ts";
import { ConnectionState } from "../protocol/types.ts";
import type { WSConnection } from "../protocol/ws-connection.ts";
import { autoReply, type AutoReplyPolicy } from "../protocol/auto-reply.ts";
import { streamsImplementation, type StreamsImplementation } from "./streams-implementation.ts";
import { WebSocketError } from "./session/types.ts";
import { duration, Timer } from "./timers.ts";

/** How often a waiting automatic pong checks whether the encoder's queue was taken. */
const PONG_RETRY_MS = 5;
/**
 * Chunks the encoder's readable may hold untaken before automatic pongs wait
 * (a few, so that a burst of pings in one read is answered in full while the
 * transport keeps up).
 */
const MAX_QUEUED_CHUNKS = 16;
/** Default {@link WebSocketCodecOptions.closeTimeout} (ms). */
const DEFAULT_CLOSE_TIMEOUT = 10_000;

/** Options of {@link WebSocketCodec}. */
export interface WebSocketCodecOptions<B extends boolean = false> {
  /** Answer each received ping with a pong. @default true */
  autoPong?: boolean;
  /**
   * Answer a received close with the close reply, and answer a protocol
   * violation with the close code the connection reports (RFC 6455 §7.1.7).
   * @default true
   */
  autoCloseReply?: boolean;
  /**
   * Emit one `Event[]` per chunk of bytes instead of one event per chunk of
   * the decoder's readable (saves the per-enqueue cost when messages are
   * small and many).
   * @default false
   */
  batch?: B;
  /** Events (or batches) the decoder's readable queues before back-pressure. @default 0 */
  readableHighWaterMark?: number;
  /** The streams implementation to build the two transforms with. @default streamsImplementation() */
  streams?: StreamsImplementation;
  /**
   * Milliseconds the peer has, once the connection is closed (or failed), to
   * end its byte stream; then the decoder errors (`WS_ERR_CLOSE_TIMEOUT`),
   * releasing the transport. `null` (or 0) waits as long as it takes.
   * @default 10000
   */
  closeTimeout?: number | null;
}

/** What the decoder emits: events, or arrays of events in batch mode. */
export type DecodedOutput<B extends boolean> = B extends true ? Event[] : Event;

/**
 * A connection as a pair of `TransformStream`s.
 * @example
 * ```ts
 * import { Connection, ConnectionType, TextMessage } from "wsproto";
 * import { WebSocketCodec } from "wsproto/streams";
 * const codec = new WebSocketCodec(new Connection(ConnectionType.SERVER));
 * transport.readable.pipeTo(codec.decoder.writable);
 * codec.encoder.readable.pipeTo(transport.writable);
 * const writer = codec.encoder.writable.getWriter();
 * for await (const event of codec.decoder.readable) {
 *   if (event instanceof TextMessage) await writer.write(event); // echo
 * }
 * ```
 */
export class WebSocketCodec<B extends boolean = false> {
  /** The connection both transforms share. */
  readonly connection: WSConnection | Connection;
  /** Bytes from the peer in, events out. */
  readonly decoder: TransformStream<Uint8Array, DecodedOutput<B>>;
  /** Events (or arrays of events) in, bytes for the peer out. */
  readonly encoder: TransformStream<Event | readonly Event[], Uint8Array>;

  readonly #policy: AutoReplyPolicy;
  /** The one automatic pong waiting for the encoder's queue to be taken. */
  #pendingPong: Uint8Array | null = null;
  readonly #batch: boolean;
  #encoderController!: TransformStreamDefaultController<Uint8Array>;
  #decoderController!: TransformStreamDefaultController<DecodedOutput<B>>;
  /** The encoder's output has ended (nothing more is sent). */
  #ended = false;
  /** The connection is closed or failed: received bytes are dropped until the byte stream ends. */
  #done = false;
  /** The decoder's readable has ended or errored. */
  #decoderEnded = false;
  readonly #closeTimeout: number;
  #closeTimer: Timer | null = null;

  constructor(connection: WSConnection | Connection, options: WebSocketCodecOptions<B> = {}) {
    this.connection = connection;
    this.#policy = { autoPong: options.autoPong ?? true, autoCloseReply: options.autoCloseReply ?? true };
    this.#batch = options.batch === true;
    const hwm = options.readableHighWaterMark ?? 0;
    if (!(hwm >= 0)) {
      throw new LocalProtocolError(`readableHighWaterMark must be a non-negative number, got ${String(hwm)}`, "WS_ERR_INVALID_OPTION");
    }
    const closeTimeout = options.closeTimeout;
    if (typeof closeTimeout === "number" && !(closeTimeout >= 0)) {
      throw new LocalProtocolError(`closeTimeout must be a non-negative number or null, got ${String(closeTimeout)}`, "WS_ERR_INVALID_OPTION");
    }
    this.#closeTimeout = duration(closeTimeout, DEFAULT_CLOSE_TIMEOUT);
    const impl = options.streams ?? streamsImplementation();
    this.encoder = new impl.TransformStream<Event | readonly Event[], Uint8Array>({
      start: (controller) => {
        this.#encoderController = controller;
      },
      transform: (input) => this.#encode(input),
      // The pipe into the transport cancelled the encoder's readable: the transport failed.
      cancel: (reason: unknown) => this.#fail(reason),
    } as Transformer<Event | readonly Event[], Uint8Array>);
    this.decoder = new impl.TransformStream<Uint8Array, DecodedOutput<B>>(
      {
        start: (controller) => {
          this.#decoderController = controller;
        },
        transform: (chunk) => this.#decode(chunk),
        flush: () => this.#flush(),
        // The pipe from the transport aborted the decoder's writable (the transport failed), or the reader cancelled.
        cancel: (reason: unknown) => this.#fail(reason),
      } as Transformer<Uint8Array, DecodedOutput<B>>,
      undefined,
      { highWaterMark: hwm },
    );
  }

  #encode(input: Event | readonly Event[]): void {
    const connection = this.connection;
    if (Array.isArray(input)) {
      // One chunk for the whole batch: one write to the transport.
      const parts: Uint8Array[] = [];
      let total = 0;
      try {
        for (const event of input as readonly Event[]) {
          const bytes = connection.send(event);
          parts.push(bytes);
          total += bytes.byteLength;
        }
      } finally {
        // Events the connection accepted before one it refused are sent: the
        // peer's view must match the connection's state.
        const out = new Uint8Array(total);
        let offset = 0;
        for (const part of parts) {
          out.set(part, offset);
          offset += part.byteLength;
        }
        this.#output(out);
      }
    } else {
      this.#output(connection.send(input as Event));
    }
    this.#endIfClosed();
  }

  #output(bytes: Uint8Array): void {
    if (bytes.byteLength > 0 && !this.#ended) this.#encoderController.enqueue(bytes);
  }

  /** The transport's byte stream ended: the last events (1006 without a close), then the readable ends by itself. */
  #flush(): Promise<void> | undefined {
    this.#closeTimer?.stop();
    this.#decoderEnded = true;
    if (this.#done) {
      this.#endOutput();
      return undefined;
    }
    return this.#decode(null);
  }

  /**
   * A stream of ours was aborted or cancelled by a pipe (the transport
   * failed) or by the application: both streams error once, with one
   * `WebSocketError` (a `WebSocketError` reason is kept as it is).
   */
  #fail(reason: unknown): void {
    this.#closeTimer?.stop();
    const error =
      reason instanceof WebSocketError
        ? reason
        : new WebSocketError(`The byte stream failed: ${reason instanceof Error ? reason.message : String(reason)}`, {
            closeCode: 1006,
            code: "WS_ERR_TRANSPORT",
            cause: reason,
          });
    this.#done = true;
    if (!this.#decoderEnded) {
      this.#decoderEnded = true;
      this.#decoderController.error(error);
    }
    if (!this.#ended) {
      this.#ended = true;
      this.#encoderController.error(error);
    }
  }

  #decode(chunk: Uint8Array | null): Promise<void> | undefined {
    const connection = this.connection;
    // Late bytes after the close handshake (or a failure): dropped until the byte stream ends.
    if (this.#done || connection.state === ConnectionState.CLOSED) return undefined;
    try {
      connection.receiveData(chunk);
    } catch (error) {
      // A bad handshake from the peer: a server answers with the hint (400, 426...).
      if (this.#policy.autoCloseReply && error instanceof RemoteProtocolError && error.eventHint !== null) {
        try {
          this.#output(connection.send(error.eventHint));
          this.#endOutput();
        } catch {
          // Nothing can be sent (a client's hint): just report the error.
        }
      }
      throw error;
    }
    const batch: Event[] | null = this.#batch ? [] : null;
    const controller = this.#decoderController as TransformStreamDefaultController<unknown>;
    let failed = false;
    for (const event of connection.events()) {
      if (batch !== null) batch.push(event);
      else controller.enqueue(event);
      failed = this.#autoReply(event) || failed;
    }
    if (batch !== null && batch.length > 0) controller.enqueue(batch);
    // At the end of the input (flush) the stream closes its readable itself.
    if (chunk === null) this.#endOutput();
    else if (failed) this.#endBoth();
    else this.#endIfClosed();
    return this.#whenPongSent();
  }

  /** Answer what needs answering; `true` when the connection just failed (nothing more will be parsed). */
  #autoReply(event: Event): boolean {
    const connection = this.connection;
    const reply = autoReply(event, connection.state, this.#policy);
    if (reply === null) return false;
    if (reply.type === "Pong") {
      if (this.#encoderFull() || this.#pendingPong !== null) {
        // The encoder's output is not being taken: keep only the latest ping's pong (RFC 6455 §5.5.3).
        this.#pendingPong = reply.payload;
        return false;
      }
      this.#output(connection.send(reply));
      return false;
    }
    this.#output(connection.send(reply));
    // A close answering a protocol violation ends the parser for good.
    return event.type === "CloseConnection" && event.origin === "protocol-error";
  }

  /** The encoder's readable holds `MAX_QUEUED_CHUNKS` chunks nobody took (its high-water mark is 0). */
  #encoderFull(): boolean {
    return (this.#encoderController.desiredSize ?? 0) <= -MAX_QUEUED_CHUNKS;
  }

  /**
   * While a pong waits, the decoder takes no more bytes: resolves once the
   * encoder's queue was taken and the pong is queued (or nothing more can be
   * sent). Checked every few milliseconds: a TransformStream tells its
   * transformer nothing when its readable is read, and this only runs while
   * the peer is not reading.
   */
  #whenPongSent(): Promise<void> | undefined {
    if (this.#pendingPong === null) return undefined;
    return new Promise<void>((resolve) => {
      const check = (): void => {
        const payload = this.#pendingPong;
        if (payload === null || this.#ended || this.connection.state !== ConnectionState.OPEN || this.#encoderController.desiredSize === null) {
          this.#pendingPong = null;
          resolve();
          return;
        }
        if (this.#encoderFull()) {
          timer.start(PONG_RETRY_MS);
          return;
        }
        this.#pendingPong = null;
        try {
          this.#output(this.connection.send(new Pong({ payload })));
        } catch {
          // The encoder failed meanwhile (its transport died): nothing more to send.
        }
        resolve();
      };
      const timer = new Timer(check);
      timer.start(0);
    });
  }

  #endIfClosed(): void {
    if (this.connection.state === ConnectionState.CLOSED) this.#endBoth();
  }

  /**
   * Nothing more to send and nothing more to read: the encoder's readable
   * ends after what it holds; the decoder's ends when the transport's byte
   * stream does (so the pipe from it completes), or errors after
   * `closeTimeout` if the peer never ends it.
   */
  #endBoth(): void {
    this.#endOutput();
    if (this.#done) return;
    this.#done = true;
    if (this.#decoderEnded || !Number.isFinite(this.#closeTimeout)) return;
    this.#closeTimer = new Timer(() => {
      if (this.#decoderEnded) return;
      this.#decoderEnded = true;
      this.#decoderController.error(
        new WebSocketError("The peer did not end its byte stream within closeTimeout after the close", {
          closeCode: 1006,
          code: "WS_ERR_CLOSE_TIMEOUT",
        }),
      );
    });
    this.#closeTimer.start(this.#closeTimeout);
  }

  #endOutput(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#encoderController.terminate();
  }
}
