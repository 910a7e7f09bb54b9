/**
 * Randomness, injectable. The default draws from `crypto.getRandomValues`
 * through a pool, so masking a frame does not cost one system call.
 *
 * Invariants: the core draws randomness only through a `RandomSource`
 * (never a non-cryptographic generator); the default pool holds 4 KiB and hands out each
 * byte once.
 * @module
 */
import type { RandomSource } from "../types.ts";

const POOL_SIZE = 4096;

/**
 * A random source that refills a pool of `poolSize` bytes from
 * `crypto.getRandomValues` and hands out slices of it.
 * @example
 * ```ts
 * const random = pooledRandom();
 * const key = new Uint8Array(4);
 * random(key);
 * ```
 */
export function pooledRandom(poolSize = POOL_SIZE): RandomSource {
  const pool = new Uint8Array(poolSize);
  let offset = poolSize;
  return (target: Uint8Array): void => {
    const n = target.length;
    if (n > poolSize) {
      fillFromCrypto(target);
      return;
    }
    if (offset + n > poolSize) {
      fillFromCrypto(pool);
      offset = 0;
    }
    target.set(pool.subarray(offset, offset + n));
    offset += n;
  };
}

function fillFromCrypto(target: Uint8Array): void {
  // crypto.getRandomValues accepts at most 65536 bytes per call.
  for (let i = 0; i < target.length; i += 65536) {
    crypto.getRandomValues(target.subarray(i, Math.min(i + 65536, target.length)));
  }
}

/** The process-wide default random source. */
export const defaultRandom: RandomSource = pooledRandom();

/**
 * A deterministic source yielding the byte stream `start, start+1, …` (mod
 * 256), as the conformance vectors were recorded with. For tests only.
 * @example
 * ```ts
 * const conn = new Connection(ConnectionType.CLIENT, { random: sequentialRandom() });
 * ```
 */
export function sequentialRandom(start = 0): RandomSource {
  let next = start;
  return (target: Uint8Array): void => {
    for (let i = 0; i < target.length; i++) {
      target[i] = next & 0xff;
      next++;
    }
  };
}
