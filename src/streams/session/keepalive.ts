/**
 * Keepalive: pings (the application's and the periodic one), their pongs,
 * and the ping timeout.
 *
 * Invariants:
 * - Holds one entry per ping awaiting its pong (a pong acknowledges every
 *   earlier ping); they are rejected when the session ends.
 * - Time spent with reading paused (the application not reading) does not
 *   count against `pingTimeout`: the pong may wait behind unread messages.
 * @module
 */
import { LocalProtocolError } from "../../protocol/errors.ts";
import { Ping, type Pong } from "../../protocol/events.ts";
import { Timer } from "../timers.ts";
import { finish } from "./close.ts";
import type { SessionCore } from "./core.ts";
import { send, sendClose } from "./outbound.ts";
import { WebSocketError } from "./types.ts";
import { callBack, encoder, noop, now, payloadKey } from "./util.ts";

/**
 * Send a ping; resolves with the round-trip time in milliseconds when the
 * matching pong arrives (a pong also acknowledges every earlier ping).
 * @example
 * ```ts
 * const rtt = await ws.ping();
 * ```
 */
export function ping(s: SessionCore, payload?: Uint8Array | string): Promise<number> {
  if (s.phase !== "open" || s.pendingClose !== null) {
    const why = s.phase === "handshake" ? "is not open yet" : s.phase === "done" ? "is closed" : "was closed (the closing handshake has started)";
    return Promise.reject(new LocalProtocolError(`Cannot ping: the WebSocket ${why}`, "WS_ERR_INVALID_STATE"));
  }
  let bytes: Uint8Array;
  if (payload === undefined) {
    bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, ++s.pingCounter >>> 0);
  } else {
    bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  }
  try {
    send(s, s.engine.send(new Ping({ payload: bytes })));
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise<number>((resolve, reject) => {
    (s.pings ??= []).push({ key: payloadKey(bytes), sentAt: now(), resolve, reject });
  });
}

/** A pong: resolves the ping it answers and every earlier one. */
export function onPong(s: SessionCore, event: Pong): void {
  callBack(s.options.onPong, event.payload);
  const pings = s.pings;
  if (pings === null || pings.length === 0) return;
  const key = payloadKey(event.payload);
  const index = pings.findIndex((p) => p.key === key);
  if (index < 0) return; // unsolicited
  const acknowledged = pings.splice(0, index + 1);
  const at = now();
  for (const ping of acknowledged) ping.resolve(at - ping.sentAt);
}

/**
 * The keepalive pings of every session with the same `pingInterval` share one
 * platform timer (a session costs a set entry, not a timer and a closure of
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
export function scheduleKeepalive(s: SessionCore): void {
  if (!Number.isFinite(s.pingInterval)) return;
  s.keepaliveScheduled = true;
  KeepaliveClock.for(s.pingInterval).schedule(s);
}

/** Send the keepalive ping (one outstanding at a time) and arm its `pingTimeout`. */
export function keepalive(s: SessionCore): void {
  if (s.phase !== "open" || s.pendingClose !== null) return;
  if (s.keepalivePing === null) {
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, ++s.pingCounter >>> 0);
    const key = payloadKey(payload);
    s.keepalivePing = key;
    ping(s, payload).then(() => {
      if (s.keepalivePing === key) {
        s.keepalivePing = null;
        s.pongTimer?.stop();
      }
    }, noop);
    if (Number.isFinite(s.pingTimeout)) {
      s.pongTimer ??= new Timer(() => keepaliveTimedOut(s));
      s.pongTimer.start(s.pingTimeout);
    }
  }
  scheduleKeepalive(s);
}

/** No pong within `pingTimeout`: fail with 1011 (unless reading is paused by the application). */
export function keepaliveTimedOut(s: SessionCore): void {
  if (s.phase !== "open") return;
  if (s.readPaused) {
    // The pong may sit behind messages the application has not read yet
    // (but not behind our own writes: a peer that does not read them times out).
    s.pongTimer?.start(s.pingTimeout);
    return;
  }
  sendClose(s, 1011, "keepalive ping timeout");
  finish(s, 
    {
      error: new WebSocketError("No pong arrived within pingTimeout", {
        closeCode: 1011,
        reason: "keepalive ping timeout",
        code: "WS_ERR_KEEPALIVE_TIMEOUT",
      }),
    },
    true,
  );
}

/** Disarm both keepalive timers. */
export function stopKeepalive(s: SessionCore): void {
  if (s.keepaliveScheduled) {
    s.keepaliveScheduled = false;
    KeepaliveClock.cancel(s.pingInterval, s);
  }
  s.pongTimer?.stop();
}

