/**
 * Runs one target in a worker thread for scripts/fuzz.ts, so that an input
 * that never returns (an infinite loop) can be stopped: before each input
 * the worker copies it into shared memory and bumps a counter; the main
 * thread terminates a worker whose counter stops moving and reports the
 * input it was stuck on.
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import { CoverageTracker, fuzzTarget, type FuzzTarget } from "./engine.ts";
import { loadCorpus, saveSeed } from "./corpus.ts";
import { TARGETS } from "./targets.ts";

/** What the main thread passes. */
export interface WorkerJob {
  target: string;
  seed: number;
  runs?: number;
  ms?: number;
  coverage: boolean;
  saveCorpus: boolean;
  /** [0] = inputs started, [1] = length of the current input. */
  control: SharedArrayBuffer;
  /** The current input's bytes. */
  current: SharedArrayBuffer;
}

/** A target that never returns on an input holding 0xff: checks the watchdog (`--target selftest-hang`). */
export const SELFTEST_HANG: FuzzTarget = {
  name: "selftest-hang",
  description: "watchdog self-test: loops forever on 0xff",
  maxLength: 16,
  dictionary: [Uint8Array.from([0xff])],
  run(input) {
    // eslint-disable-next-line no-empty
    while (input.includes(0xff)) {}
  },
};

const job = workerData as WorkerJob;
const target = [...TARGETS, SELFTEST_HANG].find((t) => t.name === job.target)!;
const control = new Int32Array(job.control);
const current = new Uint8Array(job.current);
const coverage = job.coverage ? new CoverageTracker() : null;
const stats = fuzzTarget(target, {
  seed: job.seed,
  corpus: loadCorpus(target.name),
  ...(job.runs !== undefined ? { runs: job.runs } : {}),
  ...(job.ms !== undefined ? { ms: job.ms } : {}),
  coverage,
  ...(job.saveCorpus ? { onNewInput: (input: Uint8Array) => saveSeed(target.name, input) } : {}),
  beforeExec: (input) => {
    const n = Math.min(input.length, current.length);
    current.set(input.subarray(0, n));
    Atomics.store(control, 1, n);
    Atomics.add(control, 0, 1);
  },
});
coverage?.stop();
parentPort!.postMessage(stats);
