/**
 * Benchmark helpers: run a workload for several rounds, take the median, and
 * report ours against a baseline (usually `ws`) as a ratio.
 */
export interface Measure {
  /** Units done per second (messages, frames or bytes, as `unit` says). */
  perSecond: number;
}

/** Run `fn` (which does `units` units of work per call) for about `ms` and return units/s. */
export async function rate(fn: () => unknown | Promise<unknown>, units: number, ms = 300): Promise<number> {
  // Warm up, then time as many calls as fit in `ms`.
  for (let i = 0; i < 3; i++) await fn();
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    await fn();
    calls++;
    now = performance.now();
  }
  return (calls * units * 1000) / (now - start);
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Row {
  name: string;
  unit: string;
  ours: number;
  baseline: number;
  baselineName: string;
  target?: number;
  /** This machine's memcpy rate for the same work (same unit), printed beside the row with ours as a fraction of it. */
  memcpy?: number;
  /** The fraction of {@link memcpy} ours should reach. */
  memcpyTarget?: number;
}

/**
 * Measure `ours` and `baseline` alternately for `rounds` rounds and return the
 * medians. Alternating keeps drift (JIT, thermal, GC) from favouring one side.
 */
export async function compare(
  name: string,
  unit: string,
  ours: () => Promise<number>,
  baseline: () => Promise<number>,
  options: { rounds?: number; baselineName?: string; target?: number } = {},
): Promise<Row> {
  const rounds = options.rounds ?? Number(process.env["BENCH_ROUNDS"] ?? 7);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < rounds; i++) {
    a.push(await ours());
    b.push(await baseline());
  }
  const row: Row = { name, unit, ours: median(a), baseline: median(b), baselineName: options.baselineName ?? "ws" };
  if (options.target !== undefined) row.target = options.target;
  return row;
}

function fmt(n: number): string {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + " G";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + " M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + " k";
  return n.toFixed(1) + " ";
}

/** Print rows as a Markdown table with ratios and targets. */
export function printTable(title: string, rows: Row[]): void {
  console.log(`\n### ${title}\n`);
  // Rows measured against memcpy get two more columns: its rate, and ours as a fraction of it.
  const withCopy = rows.some((r) => r.memcpy !== undefined);
  console.log(`| workload | ours | baseline | ratio | target |${withCopy ? " memcpy | ours / memcpy |" : ""}`);
  console.log(`| --- | ---: | ---: | ---: | ---: |${withCopy ? " ---: | ---: |" : ""}`);
  for (const r of rows) {
    const ratio = r.ours / r.baseline;
    const target = r.target === undefined ? "" : `≥ ${r.target}× ${ratio >= r.target ? "met" : "MISSED"}`;
    let copy = "";
    if (withCopy && r.memcpy !== undefined) {
      const fraction = r.ours / r.memcpy;
      const goal = r.memcpyTarget === undefined ? "" : ` (≥ ${r.memcpyTarget} ${fraction >= r.memcpyTarget ? "met" : "MISSED"})`;
      copy = ` ${fmt(r.memcpy)}${r.unit} | ${fraction.toFixed(2)}${goal} |`;
    } else if (withCopy) {
      copy = " | |";
    }
    console.log(
      `| ${r.name} | ${fmt(r.ours)}${r.unit} | ${fmt(r.baseline)}${r.unit} (${r.baselineName}) | ${ratio.toFixed(2)}× | ${target} |${copy}`,
    );
  }
}
