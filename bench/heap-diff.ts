/**
 * What a set of connections holds on the JS heap, by constructor: the
 * difference between two V8 heap snapshots (`.heapsnapshot`, as written by
 * `BENCH_HEAP_SNAPSHOT=dir npm run bench -- memory`), self sizes summed per
 * node type and name, divided by a connection count.
 *
 * Run: `node --import tsx bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [connections] [rows]`
 * (connections default 2000, rows default 30).
 */
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Group {
  count: number;
  size: number;
}

/** Self size and count per "type name" (a constructor for objects, the kind for the rest). */
function groups(path: string): Map<string, Group> {
  const snap = JSON.parse(readFileSync(path, "utf8")) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, Group>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!] ?? "?";
    // Strings, code and arrays are grouped by kind, not by their (many) names.
    const named = type === "object" || type === "closure" || type === "native";
    const key = named ? `${type} ${snap.strings[snap.nodes[i + nameAt]!] ?? "?"}` : type;
    const g = out.get(key) ?? { count: 0, size: 0 };
    g.count++;
    g.size += snap.nodes[i + sizeAt]!;
    out.set(key, g);
  }
  return out;
}

const [beforePath, afterPath, countArg, rowsArg] = process.argv.slice(2);
if (beforePath === undefined || afterPath === undefined) {
  console.error("usage: node --import tsx bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [connections] [rows]");
  process.exit(2);
}
const per = Number(countArg ?? 2000);
const rows = Number(rowsArg ?? 30);
const before = groups(beforePath);
const after = groups(afterPath);
const diff = [...after].map(([key, g]) => {
  const b = before.get(key) ?? { count: 0, size: 0 };
  return { key, count: (g.count - b.count) / per, size: (g.size - b.size) / per };
});
diff.sort((x, y) => y.size - x.size);
const total = diff.reduce((s, d) => s + d.size, 0);
console.log(`| what (V8 node type and constructor) | objects per connection | bytes per connection |`);
console.log(`| --- | ---: | ---: |`);
for (const d of diff.slice(0, rows)) console.log(`| ${d.key} | ${d.count.toFixed(2)} | ${d.size.toFixed(0)} |`);
console.log(`| total | | ${total.toFixed(0)} |`);
