/**
 * Fetch-style exchanges as a {@link ByteTransport}: a request body you write
 * and a response body you read (a `fetch` with a streaming body, an HTTP/2
 * stream seen as request and response, a WebTransport bidirectional stream,
 * a tunnel). `connectWebSocket` / `acceptWebSocket` then run over the two
 * bodies unchanged, the RFC 6455 handshake included, as over a socket.
 *
 * The only piece that needs adapting is time: the response body exists only
 * once the response has arrived, while the session writes its request
 * first. {@link bodyTransport} takes the response body as a promise; reading
 * waits for it. {@link fetchTransport} also makes the request body for you.
 *
 * Invariants: holds nothing of its own (no queue between the session and
 * the bodies: back-pressure is the bodies' own); a failed or body-less
 * response errors the readable, which fails the session with that error.
 * Portable: no `node:*`.
 * @module
 */
import type { ByteTransport } from "./transport.ts";
import { streamsImplementation, type StreamsImplementation } from "./streams-implementation.ts";

/** The two bodies of a fetch-style exchange. */
export interface BodyPair {
  /** Where bytes for the peer go (the request body of a client, the response body of a server). */
  requestBody: WritableStream<Uint8Array>;
  /** Where the peer's bytes come from; may arrive later (a promise, as the response of a `fetch` does). */
  responseBody: ReadableStream<Uint8Array> | PromiseLike<ReadableStream<Uint8Array> | null>;
  /** @default streamsImplementation() */
  streams?: StreamsImplementation;
}

/**
 * The two bodies of an exchange as one `{ readable, writable }` transport;
 * the readable waits for `responseBody` if it is a promise.
 * @example
 * ```ts
 * import { bodyTransport, connectWebSocket } from "wsproto/streams";
 * declare const upload: WritableStream<Uint8Array>;
 * declare const download: Promise<ReadableStream<Uint8Array>>;
 * const ws = connectWebSocket(bodyTransport({ requestBody: upload, responseBody: download }), { url: "ws://example.com/" });
 * ```
 */
export function bodyTransport(pair: BodyPair): ByteTransport {
  const body = pair.responseBody;
  if (typeof (body as ReadableStream<Uint8Array>).getReader === "function") {
    return { readable: body as ReadableStream<Uint8Array>, writable: pair.requestBody };
  }
  const impl = pair.streams ?? streamsImplementation();
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let cancelled: { reason: unknown } | null = null;
  const readable = new impl.ReadableStream<Uint8Array>(
    {
      async start() {
        const stream = await (body as PromiseLike<ReadableStream<Uint8Array> | null>);
        if (stream === null || stream === undefined) throw new TypeError("The response has no body to read the WebSocket from");
        reader = stream.getReader();
        if (cancelled !== null) await reader.cancel(cancelled.reason);
      },
      async pull(controller) {
        const { value, done } = await reader!.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel(reason) {
        cancelled = { reason };
        await reader?.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { readable, writable: pair.requestBody };
}

/** What {@link fetchTransport}'s `send` resolves with: anything with a `body`, as a `Response` has. */
export interface ResponseLike {
  readonly body: ReadableStream<Uint8Array> | null;
}

/**
 * A transport over one streaming request: `send` gets the request body (a
 * `ReadableStream` the session's bytes flow into; pass it as `fetch`'s
 * `body` with `duplex: "half"`) and resolves with the response, whose body
 * the session reads. Throw from `send` (e.g. on a non-2xx status) to fail
 * the WebSocket with that error.
 * @example
 * ```ts
 * import { fetchTransport, connectWebSocket } from "wsproto/streams";
 * const transport = fetchTransport((body) =>
 *   fetch("https://tunnel.example/ws", { method: "POST", body, duplex: "half" } as RequestInit),
 * );
 * const ws = connectWebSocket(transport, { url: "ws://tunnel.example/ws" });
 * ```
 */
export function fetchTransport(
  send: (requestBody: ReadableStream<Uint8Array>) => PromiseLike<ResponseLike>,
  options: { streams?: StreamsImplementation } = {},
): ByteTransport {
  const impl = options.streams ?? streamsImplementation();
  // An identity transform: the session writes into one end, the request carries the other.
  const pipe = new impl.TransformStream<Uint8Array, Uint8Array>();
  const responseBody = Promise.resolve()
    .then(() => send(pipe.readable))
    .then((response) => response.body);
  // The readable reports a failure; this keeps it from also being an unhandled rejection.
  responseBody.catch(() => {});
  return bodyTransport({ requestBody: pipe.writable, responseBody, streams: impl });
}
