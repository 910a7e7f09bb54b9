/**
 * Text report of a conformance run, in the spirit of Autobahn's index: a
 * table per case group (case, verdict, close verdict, close code, time,
 * detail) and a summary per group and in total.
 * @module
 */
import { GROUPS } from "./corpus.ts";
import type { CaseResult, Verdict } from "./runner.ts";

const VERDICTS: Verdict[] = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"];

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

function cut(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + "…";
}

/** Verdict counts of a list of results. */
export function tally(results: readonly CaseResult[]): Record<Verdict, number> {
  const t = { OK: 0, "NON-STRICT": 0, INFORMATIONAL: 0, UNIMPLEMENTED: 0, FAILED: 0 } as Record<Verdict, number>;
  for (const r of results) t[r.verdict]++;
  return t;
}

function tallyLine(results: readonly CaseResult[]): string {
  const t = tally(results);
  const autobahn = results.filter((r) => !r.extra).length;
  const parts = VERDICTS.filter((v) => t[v] > 0 || v === "OK" || v === "FAILED").map((v) => `${v} ${t[v]}`);
  return `${results.length} cases (${autobahn} Autobahn, ${results.length - autobahn} extra): ${parts.join(", ")}`;
}

/** Options of {@link formatReport}. */
export interface ReportOptions {
  /** List every case (default) or only those not OK. */
  allCases?: boolean;
  /** Width of the detail column. @default 100 */
  detailWidth?: number;
}

/** Render the per-group tables and the totals. */
export function formatReport(title: string, results: readonly CaseResult[], options: ReportOptions = {}): string {
  const lines: string[] = [];
  const all = options.allCases ?? true;
  const width = options.detailWidth ?? 100;
  lines.push(`== ${title}`);
  const summary: Array<[string, string, readonly CaseResult[]]> = [];
  for (const [group, name] of GROUPS) {
    const rows = results.filter((r) => r.group === group);
    if (rows.length === 0) continue;
    summary.push([group, name, rows]);
    const shown = all ? rows : rows.filter((r) => r.verdict !== "OK");
    lines.push("");
    lines.push(`-- ${group} ${name}: ${tallyLine(rows)}`);
    if (shown.length === 0) continue;
    lines.push(`   ${pad("case", 16)} ${pad("verdict", 13)} ${pad("close", 16)} ${pad("code", 5)} ${pad("ms", 7)} detail`);
    for (const r of shown) {
      const detail = r.verdict === "OK" || r.verdict === "INFORMATIONAL" ? (r.detail || r.notes[0] || "") : r.detail;
      lines.push(
        `   ${pad(r.id + (r.extra ? "*" : ""), 16)} ${pad(r.verdict, 13)} ${pad(r.behaviorClose, 16)} ${pad(String(r.closeCode ?? "-"), 5)} ${pad(String(r.durationMs), 7)} ${cut(detail, width)}`,
      );
    }
  }
  lines.push("");
  lines.push(`-- Summary: ${title}`);
  for (const [group, name, rows] of summary) lines.push(`   ${pad(group, 3)} ${pad(name, 32)} ${tallyLine(rows)}`);
  lines.push(`   ${pad("", 3)} ${pad("TOTAL", 32)} ${tallyLine(results)}`);
  lines.push("   (* = extra case, not in Autobahn's 517)");
  return lines.join("\n");
}
