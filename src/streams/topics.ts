/**
 * Topics: who is subscribed to what, `publish` to a topic's subscribers, and
 * a backplane that carries each publish to the server's other processes.
 * Answers: "how is a topic's subscriber list kept", "when is a session
 * forgotten", "how does a message published on one process reach the
 * subscribers of another, once".
 *
 * Invariants:
 * - Two maps mirror each other: a session is in `#byTopic[t]` exactly when
 *   `t` is in `#bySession[session]`; an emptied set is deleted. Memory is
 *   proportional to the subscriptions; counting or listing a topic's
 *   subscribers, or a session's topics, is a map look-up (no scan of the
 *   connections).
 * - A session's topics are forgotten when its `closed` settles, however it
 *   ends.
 * - `publish` hands the topic's subscribers to the `deliver` function it was
 *   given (the server's broadcast machinery: a frame built once per
 *   compression group, the `backpressureLimit` rules), so it holds no bytes
 *   of its own.
 * - With a backplane, `publish` delivers to this process's subscribers at
 *   once and hands the bytes to the backplane; the backplane delivers to its
 *   handler what the other processes published, never this process's own
 *   (the Redis backplane tags each message with its origin). So every
 *   subscriber on every process gets each message once, in the order its
 *   publisher sent (one process publishes through one ordered connection).
 *   A backplane that is down does not stop local delivery; what it buffers
 *   meanwhile is its own bound (see `wsproto/redis`).
 * @module
 */
import type { WebSocketSession } from "./sessions.ts";

/** What {@link Backplane.subscribe}'s handler receives: a message another process published. */
export type BackplaneHandler = (topic: string, data: Uint8Array, binary: boolean) => void;

/**
 * Carries published messages between the processes of one service (over
 * Redis pub/sub with `redisBackplane` from `wsproto/redis`, or anything that
 * can publish bytes and deliver them in order).
 *
 * The contract: `publish` sends one message to every other process's
 * `subscribe` handler, in the order `publish` was called; a process never
 * receives its own messages back (its subscribers got them locally); a
 * message may be lost while the transport is down (pub/sub keeps no
 * history), never duplicated.
 * @example
 * ```ts
 * import { createClient } from "redis";
 * import { WebSocketServer } from "wsproto/node";
 * import { redisBackplane } from "wsproto/redis";
 * const client = await createClient({ url: "redis://127.0.0.1:6379" }).connect();
 * const server = new WebSocketServer({ port: 8080, backplane: await redisBackplane(client) });
 * ```
 */
export interface Backplane {
  /** Send a message to the other processes. Failures are reported through the backplane's own error channel; the promise settles when it was handed on. */
  publish(topic: string, data: Uint8Array, binary: boolean): Promise<void>;
  /** Receive what the other processes publish; `onError` receives outages and dropped messages. */
  subscribe(handler: BackplaneHandler, onError?: (error: unknown) => void): Promise<void>;
  /** Stop receiving and release what the backplane created (not the client it was given). */
  close(): Promise<void>;
}

/** Options of {@link Topics.publish} (and `WebSocketServer.publish`). */
export interface PublishOptions {
  /** A session not to send to (usually the sender); other processes' subscribers still get the message. */
  except?: WebSocketSession;
  /** `false` sends the message uncompressed (to this process's subscribers). @default permessage-deflate's own rule */
  compress?: boolean;
}

/** Sends one message to some sessions, framed once where it can (the server passes `broadcast` of broadcast.ts with its `backpressureLimit` rules); returns how many it was written to. */
export type DeliverFunction = (
  targets: ReadonlySet<WebSocketSession>,
  message: string | Uint8Array,
  options: PublishOptions,
) => number;

/** Options of {@link Topics}. */
export interface TopicsOptions {
  /** How a message reaches a set of sessions. */
  deliver: DeliverFunction;
  /** Carries each publish to the other processes, and brings theirs. @default none (this process only) */
  backplane?: Backplane | undefined;
  /** Receives a backplane's outages and failures (the process keeps serving its own subscribers). @default one line on stderr */
  onError?: ((error: unknown) => void) | undefined;
}

const EMPTY_SESSIONS: ReadonlySet<WebSocketSession> = new Set();
const EMPTY_TOPICS: ReadonlySet<string> = new Set();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The topics of one server (uWebSockets' and Bun's `subscribe`/`publish`):
 * `WebSocketServer` holds one and delegates to it; it is portable, so a
 * server on another runtime can hold one too.
 * @example
 * ```ts
 * const topics = new Topics({ deliver: (targets, message) => { for (const s of targets) s.send(message).catch(() => {}); return targets.size; } });
 * topics.subscribe(session, "news");
 * topics.publish("news", "hello"); // 1
 * ```
 */
export class Topics {
  readonly #byTopic = new Map<string, Set<WebSocketSession>>();
  readonly #bySession = new Map<WebSocketSession, Set<string>>();
  readonly #deliver: DeliverFunction;
  readonly #backplane: Backplane | null;
  readonly #onError: (error: unknown) => void;
  #closed = false;
  /** Settles once the backplane's subscription is in place (or failed, which was reported). */
  readonly ready: Promise<void>;

  constructor(options: TopicsOptions) {
    this.#deliver = options.deliver;
    this.#backplane = options.backplane ?? null;
    const onError = options.onError;
    this.#onError = (error) => {
      try {
        if (onError !== undefined) onError(error);
        else console.error(`wsproto: backplane failed: ${describe(error)}`);
      } catch (failure) {
        console.error(`wsproto: onError failed: ${describe(failure)}`);
      }
    };
    this.ready =
      this.#backplane === null
        ? Promise.resolve()
        : this.#backplane.subscribe((topic, data, binary) => this.#receive(topic, data, binary), this.#onError).catch(this.#onError);
  }

  /**
   * Subscribe a session to a topic (again: nothing changes). Its topics are
   * forgotten when it closes.
   * @example
   * ```ts
   * topics.subscribe(session, "room:42");
   * ```
   */
  subscribe(session: WebSocketSession, topic: string): void {
    let topics = this.#bySession.get(session);
    if (topics === undefined) {
      topics = new Set();
      this.#bySession.set(session, topics);
      const forget = (): void => this.#forget(session);
      session.closed.then(forget, forget);
    }
    if (topics.has(topic)) return;
    topics.add(topic);
    let sessions = this.#byTopic.get(topic);
    if (sessions === undefined) this.#byTopic.set(topic, (sessions = new Set()));
    sessions.add(session);
  }

  /**
   * Unsubscribe a session from a topic (not subscribed: nothing changes).
   * @example
   * ```ts
   * topics.unsubscribe(session, "room:42");
   * ```
   */
  unsubscribe(session: WebSocketSession, topic: string): void {
    const topics = this.#bySession.get(session);
    if (topics === undefined || !topics.delete(topic)) return;
    const sessions = this.#byTopic.get(topic)!;
    sessions.delete(session);
    if (sessions.size === 0) this.#byTopic.delete(topic);
  }

  /**
   * Send a message to the topic's subscribers here (framed once where the
   * bytes can be shared) and, with a backplane, to the other processes'.
   * Returns how many connections of this process it was written to.
   * @throws LocalProtocolError for a string that is not valid UTF-16 (nothing is sent anywhere).
   * @example
   * ```ts
   * topics.publish("room:42", JSON.stringify({ from: "ann", text: "hi" }));
   * ```
   */
  publish(topic: string, message: string | Uint8Array, options: PublishOptions = {}): number {
    const sessions = this.#byTopic.get(topic);
    const delivered = sessions === undefined ? 0 : this.#deliver(sessions, message, options);
    const backplane = this.#backplane;
    if (backplane !== null && !this.#closed) {
      // After the local delivery, which validated the message (a lone surrogate throws there).
      const binary = typeof message !== "string";
      const data = binary ? message : encoder.encode(message);
      backplane.publish(topic, data, binary).catch(this.#onError);
    }
    return delivered;
  }

  /** The sessions subscribed to a topic (a live view: do not keep it across awaits). */
  subscribers(topic: string): ReadonlySet<WebSocketSession> {
    return this.#byTopic.get(topic) ?? EMPTY_SESSIONS;
  }

  /** How many sessions of this process are subscribed to a topic. */
  subscriberCount(topic: string): number {
    return this.#byTopic.get(topic)?.size ?? 0;
  }

  /** The topics a session is subscribed to (a live view). */
  topicsOf(session: WebSocketSession): ReadonlySet<string> {
    return this.#bySession.get(session) ?? EMPTY_TOPICS;
  }

  /** The topics that have at least one subscriber here. */
  topics(): IterableIterator<string> {
    return this.#byTopic.keys();
  }

  /** Stop publishing to and receiving from the backplane, and close it. Calling it again does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#backplane !== null) await this.#backplane.close().catch(this.#onError);
  }

  /** A message another process published: to this process's subscribers, if any. */
  #receive(topic: string, data: Uint8Array, binary: boolean): void {
    if (this.#closed) return;
    const sessions = this.#byTopic.get(topic);
    if (sessions === undefined) return;
    try {
      this.#deliver(sessions, binary ? data : decoder.decode(data), {});
    } catch (error) {
      this.#onError(error);
    }
  }

  #forget(session: WebSocketSession): void {
    const topics = this.#bySession.get(session);
    if (topics === undefined) return;
    this.#bySession.delete(session);
    for (const topic of topics) {
      const sessions = this.#byTopic.get(topic)!;
      sessions.delete(session);
      if (sessions.size === 0) this.#byTopic.delete(topic);
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
