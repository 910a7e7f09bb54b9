/**
 * wsproto 0.x's buffered style, as `WSConnection` offers it beside the event
 * style: the queue of bytes that `bytesToSend()` hands out (with the answers
 * `receiveBytes()` queues by itself, chosen by `auto-reply.ts`), and the
 * request a client built with `options.host` queues at construction.
 *
 * Invariants:
 * - Bound: the queue holds what the caller's own calls produced (and the
 *   automatic answers to what it fed in) until `bytesToSend()` takes them;
 *   the caller drains it, nothing here limits it.
 * - `take()` copies out exactly the bytes asked for, in order, and never
 *   hands the same byte out twice.
 * @module
 */
import { LocalProtocolError } from "./errors.ts";
import { Request } from "./events.ts";
import type { Extension } from "./extensions/extension.ts";
import type { Headers } from "./types.ts";

const EMPTY = new Uint8Array(0);

/** The 0.x options of a client that queues its request at construction. */
export interface BufferedRequestOptions {
  /** Client: when given, a `Request` for this host is queued at once (0.x style; read it with `bytesToSend()`). */
  host?: string;
  /** Client, with `host`: the request target. @default "/" */
  resource?: string;
  /** Client, with `host`: subprotocols to offer, in order of preference. @default [] */
  subprotocols?: string[];
  /** Client, with `host`: extensions to offer. @default [] */
  extensions?: Extension[];
  /** Client, with `host`: more request headers (e.g. Origin). @default [] */
  extraHeaders?: Headers;
}

/**
 * The `Request` a client built with `options.host` queues at construction.
 * @example
 * ```ts
 * queuedRequest("example.com", {}).target; // "/"
 * ```
 */
export function queuedRequest(host: string, options: BufferedRequestOptions): Request {
  return new Request({
    host,
    target: options.resource ?? "/",
    subprotocols: options.subprotocols ?? [],
    extensions: options.extensions ?? [],
    extraHeaders: options.extraHeaders ?? [],
  });
}

/**
 * Bytes waiting for `bytesToSend()`, in order.
 * @example
 * ```ts
 * const q = new OutgoingQueue();
 * q.push(new Uint8Array([1, 2, 3]));
 * q.take(2); // Uint8Array [1, 2]; take() then gives [3]
 * ```
 */
export class OutgoingQueue {
  #chunks: Uint8Array[] = [];
  /** How much of the first chunk was already taken. */
  #offset = 0;

  /** Queue `bytes` (kept, not copied; an empty array is ignored). */
  push(bytes: Uint8Array): void {
    if (bytes.length > 0) this.#chunks.push(bytes);
  }

  /**
   * Take up to `amount` queued bytes (all when omitted) as one new array.
   * @throws LocalProtocolError (`WS_ERR_INVALID_OPTION`) unless `amount` is a non-negative integer or Infinity.
   */
  take(amount?: number): Uint8Array {
    if (amount !== undefined && !(Number.isInteger(amount) && amount >= 0) && amount !== Infinity) {
      throw new LocalProtocolError(`amount must be a non-negative integer, got ${String(amount)}`, "WS_ERR_INVALID_OPTION");
    }
    let available = -this.#offset;
    for (const chunk of this.#chunks) available += chunk.length;
    const n = Math.min(available, amount ?? Infinity);
    if (n === 0) return EMPTY;
    const out = new Uint8Array(n);
    let written = 0;
    while (written < n) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(chunk.length - this.#offset, n - written);
      out.set(chunk.subarray(this.#offset, this.#offset + take), written);
      written += take;
      this.#offset += take;
      if (this.#offset === chunk.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    return out;
  }
}
