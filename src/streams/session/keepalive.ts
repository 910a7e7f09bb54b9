/**
 * Keepalive: pings (the application's and the periodic one), their pongs,
 * and the ping timeout.
 *
 * Answers: when does a keepalive ping go out; what ends a session whose
 * peer went silent, including while the application is not reading.
 *
 * Invariants:
 * - Holds one entry per ping awaiting its pong (a pong acknowledges every
 *   earlier ping); they are rejected when the session ends.
 * - A keepalive ping unanswered after `pingTimeout` fails the session with
 *   1011. While reading is paused because the application does not read, the
 *   pong may be waiting behind unread messages: the deadline is extended
 *   once, by another `pingTimeout`. So a silent peer is dropped within
 *   `pingInterval + 2 × pingTimeout` (one minute with the defaults) whatever
 *   the application does.
 * @module
 */
import { LocalProtocolError } from "../../protocol/errors.ts";
import { Ping } from "../../protocol/events.ts";
import { Timer } from "../timers.ts";
import type { SessionCore } from "./core.ts";
import * as failures from "./failures.ts";
import { encoder } from "./messages.ts";
import { noop, rejected } from "./promises.ts";

/** A monotonic clock in milliseconds (for round-trip times). */
const now: () => number =
  typeof performance !== "undefined" && typeof performance.now === "function" ? () => performance.now() : () => Date.now();

/** A ping payload as a string key (to match pongs). */
function payloadKey(payload: Uint8Array): string {
  let key = "";
  for (let i = 0; i < payload.length; i++) key += String.fromCharCode(payload[i]!);
  return key;
}

/**
 * Send a ping; resolves with the round-trip time in milliseconds when the
 * matching pong arrives (a pong also acknowledges every earlier ping). Its
 * rejections are marked handled.
 */
export function ping(s: SessionCore, payload?: Uint8Array | string): Promise<number> {
  if (s.phase === "handshake") return rejected(new LocalProtocolError("Cannot ping: the WebSocket is not open yet", "WS_ERR_INVALID_STATE"));
  if (s.phase === "done") return rejected(failures.closedError());
  if (s.phase !== "open" || s.pendingClose !== null) return rejected(failures.closingError());
  let bytes: Uint8Array;
  if (payload === undefined) {
    bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, ++s.pingCounter >>> 0);
  } else {
    bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  }
  try {
    s.write(s.engine.send(new Ping({ payload: bytes })));
  } catch (error) {
    return rejected(error);
  }
  const answered = new Promise<number>((resolve, reject) => {
    (s.pings ??= []).push({ key: payloadKey(bytes), sentAt: now(), resolve, reject });
  });
  answered.catch(noop);
  return answered;
}

/** A pong: resolves the ping it answers and every earlier one. */
export function pongReceived(s: SessionCore, payload: Uint8Array): void {
  s.callApplication(s.options.onPong, payload, "onPong");
  const pings = s.pings;
  if (pings === null || pings.length === 0) return;
  const key = payloadKey(payload);
  const index = pings.findIndex((p) => p.key === key);
  if (index < 0) return; // unsolicited
  const acknowledged = pings.splice(0, index + 1);
  const at = now();
  for (const ping of acknowledged) ping.resolve(at - ping.sentAt);
}

/**
 * The keepalive pings of every session with the same `pingInterval` share one
 * platform timer (a session costs a map entry, not a timer and a closure of
 * its own), which ticks at an eighth of the interval while any session
 * waits: a session's ping goes out between one and 1.125 intervals after it
 * was scheduled.
 */
class KeepaliveClock {
  static readonly #clocks = new Map<number, KeepaliveClock>();
  readonly #interval: number;
  readonly #due = new Map<SessionCore, number>();
  readonly #timer: Timer;

  private constructor(interval: number) {
    this.#interval = interval;
    this.#timer = new Timer(() => this.#tick());
  }

  static for(interval: number): KeepaliveClock {
    let clock = KeepaliveClock.#clocks.get(interval);
    if (clock === undefined) KeepaliveClock.#clocks.set(interval, (clock = new KeepaliveClock(interval)));
    return clock;
  }

  /** Ping `s` one interval from now (re-scheduling it if it was waiting). */
  schedule(s: SessionCore): void {
    const due = this.#due;
    due.delete(s); // keep the map in due order: re-added at the end
    due.set(s, now() + this.#interval);
    if (!this.#timer.active) this.#timer.start(this.#tickMs());
  }

  /** Forget `s` (nothing happens when no clock of that interval runs). */
  static cancel(interval: number, s: SessionCore): void {
    const clock = KeepaliveClock.#clocks.get(interval);
    if (clock === undefined) return;
    clock.#due.delete(s);
    if (clock.#due.size === 0) {
      clock.#timer.stop();
      KeepaliveClock.#clocks.delete(interval);
    }
  }

  #tickMs(): number {
    return Math.max(1, this.#interval / 8);
  }

  #tick(): void {
    const at = now();
    const due = this.#due;
    // In insertion order, which is due order (one interval for all): stop at the first not due.
    for (const [s, when] of due) {
      if (when > at) break;
      due.delete(s);
      keepalive(s);
    }
    if (due.size > 0) this.#timer.start(this.#tickMs());
    else KeepaliveClock.#clocks.delete(this.#interval);
  }
}

/** Arm the periodic keepalive ping (`pingInterval`). */
export function startKeepalive(s: SessionCore): void {
  const interval = s.options.pingInterval;
  if (!Number.isFinite(interval)) return;
  s.keepaliveScheduled = true;
  KeepaliveClock.for(interval).schedule(s);
}

/** Send the keepalive ping (one outstanding at a time) and arm its `pingTimeout`. */
function keepalive(s: SessionCore): void {
  if (s.phase !== "open" || s.pendingClose !== null) return;
  if (s.keepalivePing === null) {
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, ++s.pingCounter >>> 0);
    const key = payloadKey(payload);
    s.keepalivePing = key;
    s.keepaliveGraceUsed = false;
    ping(s, payload).then(() => {
      if (s.keepalivePing === key) {
        s.keepalivePing = null;
        s.pongTimer?.stop();
      }
    }, noop);
    const timeout = s.options.pingTimeout;
    if (Number.isFinite(timeout)) {
      s.pongTimer ??= new Timer(() => keepaliveTimedOut(s));
      s.pongTimer.start(timeout);
    }
  }
  startKeepalive(s);
}

/** No pong within `pingTimeout`: fail with 1011 (once extended while the application is not reading). */
function keepaliveTimedOut(s: SessionCore): void {
  if (s.phase !== "open") return;
  if (s.readPaused && !s.keepaliveGraceUsed) {
    // The pong may sit behind messages the application has not read yet
    // (but not behind our own writes: a peer that does not read them times out).
    s.keepaliveGraceUsed = true;
    s.pongTimer?.start(s.options.pingTimeout);
    return;
  }
  const error = failures.keepaliveTimedOut();
  s.sendClose(1011, error.reason);
  s.finish({ error }, "release");
}

/** Disarm both keepalive timers. */
export function stopKeepalive(s: SessionCore): void {
  if (s.keepaliveScheduled) {
    s.keepaliveScheduled = false;
    KeepaliveClock.cancel(s.options.pingInterval, s);
  }
  s.pongTimer?.stop();
}
