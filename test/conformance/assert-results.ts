/**
 * Turn a conformance run into tap assertions: one subtest per case group,
 * one failing assertion per case that did not pass strictly (with the
 * expected-vs-observed detail), so the summary stays readable.
 * @module
 */
import type { Test } from "tap";
import { GROUPS } from "./corpus.ts";
import type { CaseResult } from "./runner.ts";

/** Assert every case passed strictly (OK; INFORMATIONAL cases are reported, not judged). */
export async function assertStrict(t: Test, results: readonly CaseResult[]): Promise<void> {
  for (const [group, name] of GROUPS) {
    const rows = results.filter((r) => r.group === group);
    if (rows.length === 0) continue;
    await t.test(`${group} ${name}`, async (t) => {
      const bad = rows.filter((r) => r.verdict !== "OK" && r.verdict !== "INFORMATIONAL");
      for (const r of bad) t.fail(`${r.id} ${r.verdict} (close ${r.behaviorClose}): ${r.detail}`, { title: r.title });
      for (const r of rows.filter((x) => x.verdict === "INFORMATIONAL")) t.comment(`${r.id} informational: ${r.detail}`);
      if (bad.length === 0) t.pass(`${rows.length} cases pass strictly (${rows.filter((r) => r.extra).length} extra)`);
    });
  }
}
