/**
 * The only clock in the project: a restartable one-shot timer over the
 * platform's `setTimeout` (Node, Deno, Bun and browsers all have it). The
 * protocol core never reads the clock; the streams layer arms these for the
 * handshake, keepalive and close-handshake timeouts.
 * @module
 */

type TimeoutId = ReturnType<typeof setTimeout>;

/**
 * A one-shot timer that can be armed again. Arming an armed timer restarts it.
 * @example
 * ```ts
 * const timer = new Timer(() => console.log("too slow"));
 * timer.start(1000);
 * timer.stop();
 * ```
 */
export class Timer {
  #id: TimeoutId | undefined;
  readonly #callback: () => void;

  constructor(callback: () => void) {
    this.#callback = callback;
  }

  // One function for every timer (setTimeout passes the timer along), so a
  // timer holds no closure of its own.
  static #fire(timer: Timer): void {
    timer.#id = undefined;
    timer.#callback();
  }

  /** Arm the timer to fire after `ms` milliseconds (a non-finite `ms` disarms it). */
  start(ms: number): void {
    this.stop();
    if (Number.isFinite(ms)) this.#id = setTimeout(Timer.#fire, Math.max(0, ms), this);
  }

  /** Disarm the timer; nothing happens if it is not armed. */
  stop(): void {
    if (this.#id !== undefined) {
      clearTimeout(this.#id);
      this.#id = undefined;
    }
  }

  /** `true` while armed. */
  get active(): boolean {
    return this.#id !== undefined;
  }
}

/** A non-negative duration from an option, or `Infinity` when disabled (`null`, `false`, `0`, `Infinity`). */
export function duration(value: number | null | false | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === null || value === false || value === 0) return Infinity;
  return value;
}
