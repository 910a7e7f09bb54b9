/**
 * The promises a session hands out: deferred ones it settles later, and the
 * rule that a promise nobody may look at never crashes the process.
 *
 * Answers: why does an unobserved rejection not reach `unhandledRejection`;
 * what does `send()` return when the transport took a message at once.
 *
 * Invariants:
 * - Every promise the session rejects on the application's behalf is marked
 *   handled first: it still rejects for whoever awaits it.
 * @module
 */

/** A function that does nothing. */
export const noop = (): void => {};

/** A promise with its settling functions. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/** A {@link Deferred} whose rejection is marked handled (nobody may look at it). */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let settleRejected!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    settleRejected = rej;
  });
  return {
    promise,
    resolve,
    reject(error) {
      // Callers may never look at a promise (say `closed` after `opened`
      // rejected): mark it handled so Node does not crash the process on it.
      // Done here, on the failure path only, so that a session that ends
      // cleanly never allocates the extra promise and reaction.
      promise.catch(noop);
      settleRejected(error);
    },
  };
}

/** A rejected promise, marked handled: it rejects for whoever awaits it, and crashes nothing when nobody does. */
export function rejected<T = void>(error: unknown): Promise<T> {
  const promise = Promise.reject(error);
  promise.catch(noop);
  return promise;
}

/** `promise`, marked handled (the same promise, still rejecting for whoever awaits it). */
export function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(noop);
  return promise;
}

/**
 * What `send()` returns when the transport took the message at once: one
 * shared resolved promise (no allocation per message), which `onMessage`'s
 * caller recognises as "nothing to wait for".
 */
export const SENT: Promise<void> = Promise.resolve();
