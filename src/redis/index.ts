/**
 * `wsproto/redis`: a {@link Backplane} over Redis pub/sub, with the official
 * `redis` client (node-redis) that the application creates and connects.
 * Answers: "what goes over Redis", "what happens while Redis is down",
 * "how much is held meanwhile".
 *
 * Invariants:
 * - One channel per topic, `channelPrefix + topic`; one pattern subscription
 *   (`PSUBSCRIBE prefix*`) on a connection of its own, `client.duplicate()`.
 *   A message is `[0x10 | binary, 8-byte origin id, payload]`; a process
 *   ignores messages carrying its own origin id (its subscribers got them
 *   locally), so each subscriber gets each message once. A message on a
 *   channel without that header (`PUBLISH wsproto:news hello` from
 *   `redis-cli` or another program) is delivered as text if it is valid
 *   UTF-8, else as binary.
 * - Order: a process publishes through one connection (the client given),
 *   and Redis delivers each connection's messages in order, so every
 *   process sees each publisher's messages in the order it sent them.
 * - Outage: node-redis reconnects by itself and re-subscribes. Published
 *   messages not yet acknowledged by Redis (node-redis's offline queue holds
 *   them while it is down) count against `bufferLimit` bytes; a message that
 *   would go over it is dropped (not sent to the other processes; this
 *   process's subscribers got it already) and counted in `dropped`. Messages
 *   the other processes publish while this one is cut off are lost (pub/sub
 *   keeps no history). A message Redis may or may not have received when the
 *   connection broke is not resent (node-redis fails it): at most once,
 *   never twice.
 * - Errors never crash the process: listeners are attached to the client
 *   and to the subscriber connection; the first error of an outage, and
 *   the first drop, are reported to `onError` (the option, and the server's
 *   `onError` through `subscribe`); the rest of that outage is counted.
 * @module
 */
import { randomBytes } from "node:crypto";
import type { Backplane, BackplaneHandler } from "../streams/topics.ts";

export type { Backplane, BackplaneHandler } from "../streams/topics.ts";

/** The part of a node-redis client the backplane uses (what `createClient()` returns has it). */
export interface RedisClientLike {
  publish(channel: string, message: Buffer): Promise<unknown>;
  duplicate(): RedisSubscriberLike;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "ready", listener: () => void): unknown;
  off(event: "error", listener: (error: Error) => void): unknown;
  off(event: "ready", listener: () => void): unknown;
  readonly isReady: boolean;
}

/** The part of a node-redis client the subscriber connection uses. */
export interface RedisSubscriberLike {
  connect(): Promise<unknown>;
  pSubscribe(pattern: string, listener: (message: Buffer, channel: Buffer) => unknown, bufferMode: true): Promise<unknown>;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "ready", listener: () => void): unknown;
  close(): Promise<unknown>;
  destroy(): void;
  readonly isReady: boolean;
  readonly isOpen: boolean;
}

/** Options of {@link redisBackplane}. */
export interface RedisBackplaneOptions {
  /** Channels are this prefix plus the topic; processes that should reach each other use the same prefix. @default "wsproto:" */
  channelPrefix?: string;
  /**
   * Bytes of published messages Redis has not acknowledged yet (in flight,
   * or queued by node-redis while the connection is down) beyond which new
   * messages are dropped for the other processes. @default 8388608 (8 MiB)
   */
  bufferLimit?: number;
  /** Receives outages, failures and drops (also passed to the server's `onError`). */
  onError?: (error: unknown) => void;
}

/** The Redis backplane: a {@link Backplane} with counters. */
export interface RedisBackplane extends Backplane {
  /** Bytes published and not yet acknowledged by Redis (at most `bufferLimit`). */
  readonly pendingBytes: number;
  /** Messages dropped for the other processes (over `bufferLimit`, or failed while Redis was unreachable). */
  readonly dropped: number;
  /** Whether both connections (publishing and subscribed) are up. */
  readonly connected: boolean;
}

/** An error the backplane reports, with a stable `code`. */
export class BackplaneError extends Error {
  readonly code: "WS_ERR_BACKPLANE_DOWN" | "WS_ERR_BACKPLANE_DROPPED" | "WS_ERR_BACKPLANE_SUBSCRIBE";
  constructor(message: string, code: BackplaneError["code"], cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "BackplaneError";
    this.code = code;
  }
}

const DEFAULT_PREFIX = "wsproto:";
const DEFAULT_BUFFER_LIMIT = 8 * 1024 * 1024;
const HEADER = 9; // flags, 8-byte origin
const FORMAT = 0x10; // | 1 for binary
const OVERHEAD = 64; // counted per message on top of its bytes, so many empty messages are bounded too

/**
 * A backplane over Redis pub/sub for `WebSocketServer({ backplane })`. Give
 * it a connected node-redis client (it publishes through it, and makes the
 * subscriber connection it needs with `client.duplicate()`); it resolves
 * once that subscription is in place. The server's `close()` closes the
 * subscriber connection; the client stays yours to close.
 * @example
 * ```ts
 * import { createClient } from "redis";
 * import { WebSocketServer } from "wsproto/node";
 * import { redisBackplane } from "wsproto/redis";
 *
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const wss = new WebSocketServer({ port: 8080, backplane: await redisBackplane(client) });
 * // wss.publish("news", "hello"): every subscriber of "news" on every process, once.
 * ```
 */
export async function redisBackplane(client: RedisClientLike, options: RedisBackplaneOptions = {}): Promise<RedisBackplane> {
  const prefix = options.channelPrefix ?? DEFAULT_PREFIX;
  const bufferLimit = options.bufferLimit ?? DEFAULT_BUFFER_LIMIT;
  if (!(bufferLimit >= 0)) throw new RangeError(`bufferLimit must be a non-negative number, got ${String(bufferLimit)}`);
  const origin = randomBytes(8);
  const reporters = new Set<(error: unknown) => void>();
  if (options.onError !== undefined) reporters.add(options.onError);
  const report = (error: unknown): void => {
    for (const reporter of reporters) {
      try {
        reporter(error);
      } catch (thrown) {
        queueMicrotask(() => {
          throw thrown;
        });
      }
    }
  };

  // One outage, reported once: the first error after the connection was up.
  let healthy = true;
  let dropping = false;
  const lost = (which: string) => (error: Error) => {
    if (!healthy) return;
    healthy = false;
    report(new BackplaneError(`Redis backplane: the ${which} connection failed (${error.message}); reconnecting`, "WS_ERR_BACKPLANE_DOWN", error));
  };
  const up = (): void => {
    if (client.isReady && subscriber.isReady) {
      healthy = true;
      dropping = false;
    }
  };
  const subscriber = client.duplicate();
  subscriber.on("error", lost("subscribed"));
  subscriber.on("ready", up);
  const onClientError = lost("publishing");
  client.on("error", onClientError);
  client.on("ready", up);

  let handler: BackplaneHandler | null = null;
  let closed = false;
  const textDecoder = new TextDecoder("utf-8", { fatal: true });
  const listener = (message: Buffer, channel: Buffer): void => {
    if (handler === null || closed) return;
    const topic = channel.toString("utf8", Buffer.byteLength(prefix));
    const flags = message[0];
    if (message.length >= HEADER && (flags === FORMAT || flags === (FORMAT | 1))) {
      if (message.compare(origin, 0, 8, 1, HEADER) === 0) return; // our own: delivered locally already
      handler(topic, message.subarray(HEADER), flags === (FORMAT | 1));
      return;
    }
    // From another program: text when it is UTF-8.
    let text = true;
    try {
      textDecoder.decode(message);
    } catch {
      text = false;
    }
    handler(topic, message, !text);
  };
  try {
    await subscriber.connect();
    await subscriber.pSubscribe(`${escapeGlob(prefix)}*`, listener, true);
  } catch (error) {
    client.off("error", onClientError);
    client.off("ready", up);
    subscriber.destroy();
    throw new BackplaneError(`Redis backplane: could not subscribe (${describe(error)})`, "WS_ERR_BACKPLANE_SUBSCRIBE", error);
  }

  let pendingBytes = 0;
  let dropped = 0;
  const drop = (why: string, cause?: unknown): void => {
    dropped++;
    if (dropping) return;
    dropping = true;
    report(new BackplaneError(`Redis backplane: ${why}; messages are dropped for the other processes until it recovers`, "WS_ERR_BACKPLANE_DROPPED", cause));
  };

  return {
    async publish(topic: string, data: Uint8Array, binary: boolean): Promise<void> {
      if (closed) return;
      const size = data.byteLength + HEADER + OVERHEAD;
      if (pendingBytes + size > bufferLimit) {
        drop(`${pendingBytes} bytes wait for Redis (bufferLimit ${bufferLimit})`);
        return;
      }
      const message = Buffer.allocUnsafe(HEADER + data.byteLength);
      message[0] = binary ? FORMAT | 1 : FORMAT;
      origin.copy(message, 1);
      message.set(data, HEADER);
      pendingBytes += size;
      try {
        await client.publish(prefix + topic, message);
      } catch (error) {
        drop(`a publish failed (${describe(error)})`, error);
      } finally {
        pendingBytes -= size;
      }
    },
    async subscribe(receive: BackplaneHandler, onError?: (error: unknown) => void): Promise<void> {
      handler = receive;
      if (onError !== undefined) reporters.add(onError);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      client.off("error", onClientError);
      client.off("ready", up);
      // The subscriber keeps its error listener: a late socket error must not crash the process.
      if (subscriber.isReady) {
        try {
          await subscriber.close();
          return;
        } catch {
          // Fall through to destroy.
        }
      }
      if (subscriber.isOpen) subscriber.destroy();
    },
    get pendingBytes(): number {
      return pendingBytes;
    },
    get dropped(): number {
      return dropped;
    },
    get connected(): boolean {
      return client.isReady && subscriber.isReady;
    },
  };
}

/** A Redis glob pattern that matches `text` literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
