/**
 * `npm run fuzz`: mutation fuzzing of the parsers of src/protocol (frames
 * for both roles with and without permessage-deflate, the HTTP handshake
 * for both sides, the header tokenizer, permessage-deflate inbound), seeded
 * from fuzz/corpus/.
 *
 *   npm run fuzz -- --seconds 60            # split evenly across the targets
 *   npm run fuzz -- --runs 1000000          # total inputs, split evenly
 *   npm run fuzz -- --target headers --runs 100000 --seed 7
 *   npm run fuzz -- --coverage --save-corpus --seconds 120   # coverage-guided, keeps new seeds
 *
 * Each target runs in a worker thread watched by this one: an input that
 * makes no progress for --hang-seconds (default 10) is a hang finding.
 * Prints inputs, time, rate, findings and the slowest input per target, and
 * the peak RSS of the process. Findings (input + error) go to
 * .test-tmp/fuzz-findings/.
 * Exit status 1 when anything was found.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import type { TargetStats } from "../fuzz/engine.ts";
import { TARGETS } from "../fuzz/targets.ts";
import type { WorkerJob } from "../fuzz/worker.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string" },
    runs: { type: "string" },
    target: { type: "string", multiple: true },
    seed: { type: "string", default: String(Date.now() & 0x7fffffff) },
    coverage: { type: "boolean", default: false },
    "save-corpus": { type: "boolean", default: false },
    findings: { type: "string", default: ".test-tmp/fuzz-findings" },
    list: { type: "boolean", default: false },
    "hang-seconds": { type: "string", default: "10" },
  },
});

if (values.list) {
  for (const t of TARGETS) console.log(`${t.name.padEnd(22)} ${t.description}`);
  process.exit(0);
}
const known = [...TARGETS, { name: "selftest-hang", maxLength: 16 }];
const targets = values.target ? known.filter((t) => values.target!.includes(t.name)) : [...TARGETS];
if (targets.length === 0) {
  console.error(`no such target; --list shows them`);
  process.exit(2);
}
const totalRuns = values.runs !== undefined ? Number(values.runs) : undefined;
const totalMs = values.seconds !== undefined ? Number(values.seconds) * 1000 : totalRuns === undefined ? 10_000 : undefined;
const seed = Number(values.seed);
console.log(`seed ${seed}; ${targets.length} targets; ${totalRuns !== undefined ? `${totalRuns} inputs` : `${totalMs! / 1000} s`} in total${values.coverage ? "; coverage-guided" : ""}`);

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 200);
const hangMs = Number(values["hang-seconds"]) * 1000;
/** How long a worker may take to load its targets before its first input. */
const STARTUP_LIMIT_MS = 120_000;

/** Run one target in a worker; a worker whose input counter stops moving for `hangMs` is stopped and its input reported. */
function runInWorker(job: Omit<WorkerJob, "control" | "current">): Promise<TargetStats> {
  const control = new SharedArrayBuffer(8);
  const current = new SharedArrayBuffer(known.find((t) => t.name === job.target)!.maxLength);
  const worker = new Worker(new URL("../fuzz/worker-boot.mjs", import.meta.url), {
    workerData: { ...job, control, current } satisfies WorkerJob,
  });
  const counter = new Int32Array(control);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let last = -1;
    let lastMove = performance.now();
    const watchdog = setInterval(() => {
      const now = Atomics.load(counter, 0);
      // The hang clock starts with the first input: a worker still starting up
      // (loading and compiling the targets, slow on a loaded machine) has no
      // input to blame. Start-up itself is bounded separately.
      if (now === 0) {
        if (performance.now() - started < STARTUP_LIMIT_MS) return;
        clearInterval(watchdog);
        void worker.terminate();
        reject(new Error(`fuzz worker for ${job.target} did not start within ${STARTUP_LIMIT_MS / 1000} s`));
        return;
      }
      if (now !== last) {
        last = now;
        lastMove = performance.now();
        return;
      }
      if (performance.now() - lastMove < hangMs) return;
      clearInterval(watchdog);
      const input = new Uint8Array(current.slice(0, Atomics.load(counter, 1)));
      void worker.terminate();
      resolve({
        target: job.target,
        inputs: now,
        ms: performance.now() - started,
        findings: [{ target: job.target, key: `hang: no progress for ${hangMs / 1000} s`, message: "the input never returned; the worker was terminated", input }],
        slowest: null,
        corpusSize: 0,
        coverage: null,
      });
    }, 250);
    worker.once("message", (stats: TargetStats) => {
      clearInterval(watchdog);
      resolve(stats);
    });
    worker.once("error", (err) => {
      clearInterval(watchdog);
      reject(err);
    });
  });
}

const results: TargetStats[] = [];
const started = performance.now();
for (const [i, target] of targets.entries()) {
  const stats = await runInWorker({
    target: target.name,
    seed: seed + i,
    ...(totalRuns !== undefined ? { runs: Math.ceil(totalRuns / targets.length) } : {}),
    ...(totalMs !== undefined ? { ms: totalMs / targets.length } : {}),
    coverage: values.coverage,
    saveCorpus: values["save-corpus"],
  });
  results.push(stats);
  const rate = (stats.inputs / stats.ms) * 1000;
  console.log(
    `${target.name.padEnd(22)} ${String(stats.inputs).padStart(9)} inputs ${(stats.ms / 1000).toFixed(1).padStart(7)} s ${rate.toFixed(0).padStart(7)}/s  findings ${stats.findings.length}  slowest ${stats.slowest?.ms.toFixed(1) ?? "-"} ms  corpus ${stats.corpusSize}${stats.coverage !== null ? `  blocks ${stats.coverage}` : ""}`,
  );
}
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const inputs = results.reduce((n, r) => n + r.inputs, 0);
const findings = results.flatMap((r) => r.findings);
console.log(`total ${inputs} inputs in ${((performance.now() - started) / 1000).toFixed(1)} s; findings ${findings.length}; peak RSS ${(peakRss / 1048576).toFixed(0)} MiB`);
if (findings.length > 0) {
  mkdirSync(values.findings, { recursive: true });
  findings.forEach((f, n) => {
    const base = `${values.findings}/${f.target}-${n}`;
    writeFileSync(`${base}.bin`, f.input);
    writeFileSync(`${base}.txt`, `${f.key}\n\n${f.message}\n\ninput (hex): ${Buffer.from(f.input).toString("hex")}\n`);
    console.log(`  [${f.target}] ${f.key}\n    input ${Buffer.from(f.input).toString("hex").slice(0, 160)} -> ${base}.bin`);
  });
}
process.exitCode = findings.length === 0 ? 0 : 1;
