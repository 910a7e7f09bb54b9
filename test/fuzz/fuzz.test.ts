// A bounded amount of fuzzing on every `npm test`: each target replays its
// whole seed corpus (fuzz/corpus/<target>/) and then runs a fixed number of
// mutated and generated inputs from a fixed seed, so a run is reproducible;
// any finding fails with its input in hex. `npm run fuzz` runs longer.
import t from "tap";
import { chunksOf, fuzzTarget, hashBytes, mutate, Rng } from "../../fuzz/engine.ts";
import { loadCorpus } from "../../fuzz/corpus.ts";
import { TARGETS } from "../../fuzz/targets.ts";

const RUNS_PER_TARGET = 2500;

for (const target of TARGETS) {
  t.test(`fuzz ${target.name}: ${target.description}`, async (t) => {
    const corpus = loadCorpus(target.name);
    t.ok(corpus.length >= 10, `${corpus.length} seeds in fuzz/corpus/${target.name}`);
    const stats = fuzzTarget(target, { seed: 0x6a09e667 ^ hashBytes(new TextEncoder().encode(target.name)), corpus, runs: corpus.length + RUNS_PER_TARGET });
    t.equal(stats.inputs, corpus.length + RUNS_PER_TARGET, `${stats.inputs} inputs`);
    for (const f of stats.findings) t.fail(`${f.key}\n${f.message}\ninput: ${Buffer.from(f.input).toString("hex")}`);
    if (stats.findings.length === 0) t.pass("no finding");
  });
}

t.test("engine: deterministic mutation and chunking", async (t) => {
  const target = TARGETS[0]!;
  const seed = new Uint8Array([0x81, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const a = new Rng(42);
  const b = new Rng(42);
  for (let i = 0; i < 100; i++) t.same(mutate(a, seed, [seed], target), mutate(b, seed, [seed], target));
  const input = new Uint8Array(1000).map((_, i) => i & 0xff);
  const chunks = chunksOf(input);
  t.same(Buffer.concat(chunks), Buffer.from(input), "chunks cover the input in order");
  t.same(chunksOf(input).map((c) => c.length), chunks.map((c) => c.length), "chunking depends only on the input");
  for (let i = 0; i < 200; i++) t.ok(mutate(a, input, [input], target).length <= target.maxLength);
});

t.test("engine: finds a planted bug and a hang-like slow input", async (t) => {
  // A toy parser that breaks on a close frame with a 1-byte payload (88 01),
  // the kind of boundary the mutators are built to reach from a seed.
  const planted = {
    name: "planted",
    description: "toy target",
    maxLength: 64,
    dictionary: [Uint8Array.from([0x88, 0x02, 0x03, 0xe8])],
    run(input: Uint8Array) {
      for (let i = 0; i + 1 < input.length; i++) if (input[i] === 0x88 && input[i + 1] === 0x01) throw new TypeError("1-byte close payload");
    },
  };
  const stats = fuzzTarget(planted, { seed: 1, corpus: [Uint8Array.from([0x81, 0x00])], runs: 20_000 });
  t.equal(stats.findings.length, 1, "found");
  t.match(stats.findings[0]!.key, /TypeError: N-byte close payload/);
  t.ok(Buffer.from(stats.findings[0]!.input).includes(Buffer.from([0x88, 0x01])), "with the input that shows it");
  const slow = fuzzTarget({ ...planted, run: () => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30) }, { seed: 1, corpus: [], runs: 1, slowMs: 10 });
  t.match(slow.findings[0]?.key, /slow input/);
});
