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
 *   sends, unless switched off (`autoPong`, `autoCloseReply`).
 * - When the connection reaches CLOSED, both readables end after what they
 *   hold: no more events, and nothing more to send (a pipe into the
 *   transport then closes it).
 * @module
 */
import type { Connection } from "../protocol/connection.ts";
import { LocalProtocolError, RemoteProtocolError } from "../protocol/errors.ts";
import type { Event } from "../protocol/events.ts";
import { ConnectionState } from "../protocol/types.ts";
import type { WSConnection } from "../protocol/ws-connection.ts";
import { streamsImplementation, type StreamsImplementation } from "./polyfill.ts";

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

  readonly #autoPong: boolean;
  readonly #autoCloseReply: boolean;
  readonly #batch: boolean;
  #encoderController!: TransformStreamDefaultController<Uint8Array>;
  #decoderController!: TransformStreamDefaultController<DecodedOutput<B>>;
  #ended = false;

  constructor(connection: WSConnection | Connection, options: WebSocketCodecOptions<B> = {}) {
    this.connection = connection;
    this.#autoPong = options.autoPong ?? true;
    this.#autoCloseReply = options.autoCloseReply ?? true;
    this.#batch = options.batch === true;
    const hwm = options.readableHighWaterMark ?? 0;
    if (!(hwm >= 0)) {
      throw new LocalProtocolError(`readableHighWaterMark must be a non-negative number, got ${String(hwm)}`, "WS_ERR_INVALID_OPTION");
    }
    const impl = options.streams ?? streamsImplementation();
    this.encoder = new impl.TransformStream<Event | readonly Event[], Uint8Array>({
      start: (controller) => {
        this.#encoderController = controller;
      },
      transform: (input) => this.#encode(input),
    });
    this.decoder = new impl.TransformStream<Uint8Array, DecodedOutput<B>>(
      {
        start: (controller) => {
          this.#decoderController = controller;
        },
        transform: (chunk) => this.#decode(chunk),
        flush: () => this.#decode(null),
      },
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

  #decode(chunk: Uint8Array | null): void {
    const connection = this.connection;
    if (connection.state === ConnectionState.CLOSED) return; // late bytes after the close handshake
    try {
      connection.receiveData(chunk);
    } catch (error) {
      // A bad handshake from the peer: a server answers with the hint (400, 426...).
      if (this.#autoCloseReply && error instanceof RemoteProtocolError && error.eventHint !== null) {
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
  }

  /** Answer what needs answering; `true` when the connection just failed (nothing more will be parsed). */
  #autoReply(event: Event): boolean {
    const connection = this.connection;
    if (event.type === "Ping") {
      // RFC 6455 §5.5.2: a ping is answered with a pong carrying the same payload.
      if (this.#autoPong && connection.state === ConnectionState.OPEN) this.#output(connection.send(event.response()));
    } else if (event.type === "CloseConnection" && this.#autoCloseReply) {
      if (event.origin === "remote" && connection.state === ConnectionState.REMOTE_CLOSING) {
        // RFC 6455 §5.5.1: answer a close with a close.
        this.#output(connection.send(event.response()));
      } else if (event.origin === "protocol-error" && connection.state === ConnectionState.OPEN) {
        // RFC 6455 §7.1.7: fail the connection with the code; the parser is done for good.
        this.#output(connection.send(event.response()));
        return true;
      }
    }
    return false;
  }

  #endIfClosed(): void {
    if (this.connection.state === ConnectionState.CLOSED) this.#endBoth();
  }

  /** Nothing more to send and nothing more to read: end both readables after what they hold. */
  #endBoth(): void {
    this.#endOutput();
    this.#decoderController.terminate();
  }

  #endOutput(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#encoderController.terminate();
  }
}
