/**
 * A small mutation fuzzer: a seeded PRNG, byte-level and dictionary
 * mutations stacked on inputs from a corpus (plus structure-aware
 * generators per target), a time bound per input, and optional coverage
 * guidance from V8's block coverage through node:inspector.
 *
 * Determinism: a run is fully determined by its seed and corpus, so a
 * finding is reproduced by its input bytes alone (targets derive their
 * chunking from a hash of the input, never from the run's PRNG).
 * @module
 */
import { Session } from "node:inspector";

/** xorshift32: tiny, fast, good enough to drive mutations. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }
  /** A uniform uint32. */
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.#s = x;
    return x;
  }
  /** A uniform integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
}

/** FNV-1a of the input: targets seed their chunking with it. */
export function hashBytes(input: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < input.length; i++) {
    h ^= input[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Split `input` into chunks whose sizes come from its hash (1 byte up to all of it). */
export function chunksOf(input: Uint8Array): Uint8Array[] {
  const rng = new Rng(hashBytes(input));
  const mode = rng.below(4);
  if (mode === 0 || input.length === 0) return [input];
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < input.length) {
    const size = mode === 1 ? 1 : mode === 2 ? 1 + rng.below(7) : 1 + rng.below(Math.max(1, input.length >> 1));
    out.push(input.subarray(i, Math.min(input.length, i + size)));
    i += size;
  }
  return out;
}

/** A bug found by the fuzzer: an invariant of the target was broken. */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvariantError";
  }
}

/** One fuzz target. */
export interface FuzzTarget {
  name: string;
  description: string;
  /** Run one input; throws only when an invariant is broken (the protocol errors are handled inside). */
  run(input: Uint8Array): void;
  /** A fresh structure-aware input. */
  generate?(rng: Rng): Uint8Array;
  /** Tokens worth inserting. */
  dictionary: readonly Uint8Array[];
  /** Largest input the mutator builds. */
  maxLength: number;
}

const INTERESTING8 = [0x00, 0x01, 0x02, 0x08, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x3b, 0x3d, 0x40, 0x41, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0x82, 0x88, 0x89, 0x8a, 0xbf, 0xc0, 0xc1, 0xed, 0xf4, 0xf5, 0xfe, 0xff];
const INTERESTING16 = [0, 1, 125, 126, 127, 128, 255, 256, 1000, 1005, 1006, 1015, 2999, 3000, 4999, 5000, 0x7fff, 0x8000, 0xfffe, 0xffff];

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Apply 1-6 stacked mutations to `input`. */
export function mutate(rng: Rng, input: Uint8Array, corpus: readonly Uint8Array[], target: FuzzTarget): Uint8Array {
  let data: Uint8Array = input.slice();
  const rounds = 1 + rng.below(6);
  for (let r = 0; r < rounds; r++) {
    const n = data.length;
    switch (rng.below(14)) {
      case 0: // flip a bit
        if (n) data[rng.below(n)]! ^= 1 << rng.below(8);
        break;
      case 1: // random byte
        if (n) data[rng.below(n)] = rng.below(256);
        break;
      case 2: // interesting byte
        if (n) data[rng.below(n)] = rng.pick(INTERESTING8);
        break;
      case 3: {
        // insert random bytes
        const k = 1 + rng.below(16);
        const ins = new Uint8Array(k).map(() => rng.below(256));
        const at = rng.below(n + 1);
        data = concat([data.subarray(0, at), ins, data.subarray(at)]);
        break;
      }
      case 4: {
        // delete a range
        if (n < 2) break;
        const at = rng.below(n);
        const k = 1 + rng.below(Math.min(64, n - at));
        data = concat([data.subarray(0, at), data.subarray(at + k)]);
        break;
      }
      case 5: {
        // duplicate a range elsewhere
        if (!n) break;
        const at = rng.below(n);
        const k = 1 + rng.below(Math.min(256, n - at));
        const to = rng.below(n + 1);
        data = concat([data.subarray(0, to), data.slice(at, at + k), data.subarray(to)]);
        break;
      }
      case 6: {
        // interesting 16-bit big-endian value
        if (n < 2) break;
        const at = rng.below(n - 1);
        const v = rng.pick(INTERESTING16);
        data[at] = v >> 8;
        data[at + 1] = v & 0xff;
        break;
      }
      case 7: {
        // 64-bit length-like value
        if (n < 8) break;
        const at = rng.below(n - 7);
        const hi = rng.chance(0.5) ? 0 : rng.pick([0x80, 0x7f, 0x01]);
        data[at] = hi;
        for (let i = 1; i < 8; i++) data[at + i] = rng.chance(0.7) ? 0 : rng.below(256);
        break;
      }
      case 8: {
        // splice with another corpus entry
        const other = corpus.length ? rng.pick(corpus) : data;
        const a = rng.below(n + 1);
        const b = rng.below(other.length + 1);
        data = concat([data.subarray(0, a), other.subarray(b)]);
        break;
      }
      case 9:
      case 10: {
        // dictionary token, inserted or overwritten
        if (!target.dictionary.length) break;
        const tok = rng.pick(target.dictionary);
        const at = rng.below(n + 1);
        data = rng.chance(0.5) ? concat([data.subarray(0, at), tok, data.subarray(at)]) : concat([data.subarray(0, at), tok, data.subarray(Math.min(n, at + tok.length))]);
        break;
      }
      case 11: // truncate
        if (n) data = data.slice(0, rng.below(n));
        break;
      case 12: // small arithmetic
        if (n) {
          const at = rng.below(n);
          data[at] = (data[at]! + (rng.chance(0.5) ? 1 : -1) * (1 + rng.below(4))) & 0xff;
        }
        break;
      case 13: // append generated structure
        if (target.generate) data = concat([data, target.generate(rng)]);
        break;
    }
  }
  return data.length > target.maxLength ? data.slice(0, target.maxLength) : data;
}

/** What one fuzzing run of one target found. */
export interface TargetStats {
  target: string;
  inputs: number;
  ms: number;
  findings: Finding[];
  /** Inputs that took longer than the per-input bound. */
  slowest: { ms: number; input: Uint8Array } | null;
  corpusSize: number;
  /** Distinct covered blocks in src/protocol (coverage mode only). */
  coverage: number | null;
}

/** One distinct invariant violation with the first input that showed it. */
export interface Finding {
  target: string;
  key: string;
  message: string;
  input: Uint8Array;
}

/** Options of {@link fuzzTarget}. */
export interface FuzzOptions {
  seed: number;
  runs?: number;
  ms?: number;
  corpus: Uint8Array[];
  /** An input taking longer than this is a finding (a hang, since inputs are small). @default 2000 */
  slowMs?: number;
  coverage?: CoverageTracker | null;
  /** Called with inputs that reached new coverage. */
  onNewInput?: (input: Uint8Array) => void;
  /** Called every 1024 inputs (memory sampling, progress). */
  onTick?: (inputs: number) => void;
  /** Called with each input just before it runs (a watchdog records it, to report a hang). */
  beforeExec?: (input: Uint8Array) => void;
}

function findingKey(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const frame = (err.stack ?? "").split("\n").find((l) => l.includes("/src/")) ?? "";
  return `${err.name}: ${err.message.replace(/\d+/g, "N").slice(0, 120)} @ ${frame.trim()}`;
}

/** Fuzz one target for `runs` inputs or `ms` milliseconds. */
export function fuzzTarget(target: FuzzTarget, options: FuzzOptions): TargetStats {
  const rng = new Rng(options.seed);
  const corpus = options.corpus.length ? [...options.corpus] : [new Uint8Array(0)];
  const findings = new Map<string, Finding>();
  const slowMs = options.slowMs ?? 2000;
  let slowest: TargetStats["slowest"] = null;
  const started = performance.now();
  let inputs = 0;
  const pool: Uint8Array[] = [];
  const exec = (input: Uint8Array): void => {
    options.beforeExec?.(input);
    const t0 = performance.now();
    try {
      target.run(input);
    } catch (err) {
      const key = findingKey(err);
      if (!findings.has(key)) findings.set(key, { target: target.name, key, message: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ""}` : String(err), input });
    }
    const dt = performance.now() - t0;
    if (slowest === null || dt > slowest.ms) slowest = { ms: dt, input };
    if (dt > slowMs) {
      const key = `slow input (> ${slowMs} ms)`;
      if (!findings.has(key)) findings.set(key, { target: target.name, key, message: `${dt.toFixed(0)} ms for ${input.length} bytes`, input });
    }
    inputs++;
    if ((inputs & 1023) === 0) options.onTick?.(inputs);
    if (options.coverage && options.coverage.take()) {
      corpus.push(input);
      options.onNewInput?.(input);
    }
  };
  // Replay the corpus first: every seed must pass.
  if (options.coverage) options.coverage.take();
  for (const seed of options.corpus) {
    exec(seed);
    if (options.runs !== undefined && inputs >= options.runs) break;
  }
  for (;;) {
    if (options.runs !== undefined && inputs >= options.runs) break;
    if (options.ms !== undefined && (inputs & 63) === 0 && performance.now() - started >= options.ms) break;
    let fresh: Uint8Array;
    if (target.generate && rng.chance(0.15)) {
      fresh = target.generate(rng);
      // Keep some generated inputs around so mutations build on their structure too.
      if (pool.length < 256) pool.push(fresh);
      else pool[rng.below(256)] = fresh;
    } else {
      const base = pool.length && rng.chance(0.3) ? rng.pick(pool) : rng.pick(corpus);
      fresh = mutate(rng, base, corpus, target);
    }
    exec(fresh.length > target.maxLength ? fresh.slice(0, target.maxLength) : fresh);
  }
  return {
    target: target.name,
    inputs,
    ms: performance.now() - started,
    findings: [...findings.values()],
    slowest,
    corpusSize: corpus.length,
    coverage: options.coverage ? options.coverage.size : null,
  };
}

/**
 * Block coverage of src/protocol through the inspector (V8 precise coverage,
 * binary counts, reset on every take). Costly per call (a few ms), so it is
 * for guided runs, not the 1M-input sweep.
 */
export class CoverageTracker {
  readonly #session = new Session();
  readonly #seen = new Set<string>();
  /** Every block seen in a report, per function. */
  readonly #blocks = new Map<string, Set<string>>();
  readonly #filter: RegExp;

  constructor(filter = /\/src\/protocol\//) {
    this.#filter = filter;
    this.#session.connect();
    this.#post("Profiler.enable");
    this.#post("Profiler.startPreciseCoverage", { callCount: false, detailed: true });
  }

  #post(method: string, params?: object): unknown {
    let result: unknown;
    let error: unknown = null;
    this.#session.post(method, params ?? {}, (err, res) => {
      error = err;
      result = res;
    });
    if (error) throw error;
    return result;
  }

  get size(): number {
    return this.#seen.size;
  }

  /**
   * Collect coverage since the last call; `true` when a block was covered
   * for the first time. V8 reports, per executed function, its nested blocks
   * that did NOT run (count 0); a block known from earlier reports that is
   * absent now ran.
   */
  take(): boolean {
    const res = this.#post("Profiler.takePreciseCoverage") as {
      result: Array<{ url: string; functions: Array<{ ranges: Array<{ startOffset: number; endOffset: number; count: number }> }> }>;
    };
    let grew = false;
    for (const script of res.result) {
      if (!this.#filter.test(script.url)) continue;
      for (const fn of script.functions) {
        const top = fn.ranges[0];
        if (!top || top.count === 0) continue;
        const fnKey = `${script.url}:${top.startOffset}:${top.endOffset}`;
        let known = this.#blocks.get(fnKey);
        if (!known) this.#blocks.set(fnKey, (known = new Set()));
        const missed = new Set<string>();
        for (const r of fn.ranges) {
          const key = `${fnKey}/${r.startOffset}:${r.endOffset}`;
          known.add(key);
          if (r.count === 0) missed.add(key);
        }
        known.add(fnKey);
        for (const key of known) {
          if (missed.has(key) || this.#seen.has(key)) continue;
          this.#seen.add(key);
          grew = true;
        }
      }
    }
    return grew;
  }

  stop(): void {
    this.#post("Profiler.stopPreciseCoverage");
    this.#session.disconnect();
  }
}
