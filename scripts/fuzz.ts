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
 * Prints inputs, time, rate, findings and the slowest input per target, and
 * the peak RSS. Findings (input + error) go to .test-tmp/fuzz-findings/.
 * Exit status 1 when anything was found.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { CoverageTracker, fuzzTarget, type TargetStats } from "../fuzz/engine.ts";
import { loadCorpus, saveSeed } from "../fuzz/corpus.ts";
import { TARGETS } from "../fuzz/targets.ts";

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
  },
});

if (values.list) {
  for (const t of TARGETS) console.log(`${t.name.padEnd(22)} ${t.description}`);
  process.exit(0);
}
const targets = values.target ? TARGETS.filter((t) => values.target!.includes(t.name)) : [...TARGETS];
if (targets.length === 0) {
  console.error(`no such target; --list shows them`);
  process.exit(2);
}
const totalRuns = values.runs !== undefined ? Number(values.runs) : undefined;
const totalMs = values.seconds !== undefined ? Number(values.seconds) * 1000 : totalRuns === undefined ? 10_000 : undefined;
const seed = Number(values.seed);
console.log(`seed ${seed}; ${targets.length} targets; ${totalRuns !== undefined ? `${totalRuns} inputs` : `${totalMs! / 1000} s`} in total${values.coverage ? "; coverage-guided" : ""}`);

let peakRss = process.memoryUsage().rss;
const sample = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
const coverage = values.coverage ? new CoverageTracker() : null;
const results: TargetStats[] = [];
const started = performance.now();
for (const [i, target] of targets.entries()) {
  const corpus = loadCorpus(target.name);
  const stats = fuzzTarget(target, {
    seed: seed + i,
    corpus,
    ...(totalRuns !== undefined ? { runs: Math.ceil(totalRuns / targets.length) } : {}),
    ...(totalMs !== undefined ? { ms: totalMs / targets.length } : {}),
    coverage,
    onTick: sample,
    ...(values["save-corpus"] ? { onNewInput: (input: Uint8Array) => saveSeed(target.name, input) } : {}),
  });
  sample();
  results.push(stats);
  const rate = (stats.inputs / stats.ms) * 1000;
  console.log(
    `${target.name.padEnd(22)} ${String(stats.inputs).padStart(9)} inputs ${(stats.ms / 1000).toFixed(1).padStart(7)} s ${rate.toFixed(0).padStart(7)}/s  findings ${stats.findings.length}  slowest ${stats.slowest?.ms.toFixed(1) ?? "-"} ms  corpus ${stats.corpusSize}${stats.coverage !== null ? `  blocks ${stats.coverage}` : ""}`,
  );
}
coverage?.stop();
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
