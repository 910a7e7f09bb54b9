/**
 * What a set of connections holds on the JS heap, by constructor: the
 * difference between two V8 heap snapshots (`.heapsnapshot`, as written by
 * `BENCH_HEAP_SNAPSHOT=dir npm run bench -- memory`), self sizes summed per
 * node type and name, divided by a connection count.
 *
 * Closures are grouped by where their function is written (file:line:column,
 * Node's own files as `node:...`), so a row names the code that made them.
 *
 * Run: `node --import tsx bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [connections] [rows]`
 * (connections default 2000, rows default 30).
 */
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  locations: number[];
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
  const edgeCountAt = fields.indexOf("edge_count");
  const types = snap.snapshot.meta.node_types[0];
  const edgeFields = snap.snapshot.meta.edge_fields;
  const edgeWidth = edgeFields.length;
  const edgeTypes = snap.snapshot.meta.edge_types[0];
  const strings = snap.strings;
  // The first edge of each node (edges are stored node after node).
  const firstEdge = new Map<number, number>();
  for (let i = 0, e = 0; i < snap.nodes.length; i += width) {
    firstEdge.set(i, e);
    e += snap.nodes[i + edgeCountAt]! * edgeWidth;
  }
  // A named edge of a node, or -1.
  const edge = (node: number, name: string): number => {
    const from = firstEdge.get(node)!;
    const to = from + snap.nodes[node + edgeCountAt]! * edgeWidth;
    for (let e = from; e < to; e += edgeWidth) {
      const type = edgeTypes[snap.edges[e]!];
      if ((type === "internal" || type === "property") && strings[snap.edges[e + 1]!] === name) return snap.edges[e + 2]!;
    }
    return -1;
  };
  // The first property names of a plain object (what it is, when it has no class).
  const properties = (node: number): string => {
    const from = firstEdge.get(node)!;
    const to = from + snap.nodes[node + edgeCountAt]! * edgeWidth;
    const names: string[] = [];
    for (let e = from; e < to && names.length < 5; e += edgeWidth) {
      const type = edgeTypes[snap.edges[e]!];
      if (type === "property") names.push(strings[snap.edges[e + 1]!] ?? "?");
      else if (type === "internal" && !["map", "properties", "elements"].includes(strings[snap.edges[e + 1]!] ?? "")) names.push(`[${strings[snap.edges[e + 1]!]}]`);
    }
    return names.join(", ");
  };
  // Where each closure's function is written.
  const where = new Map<number, string>();
  for (let l = 0; l < snap.locations.length; l += 4) {
    const node = snap.locations[l]!;
    if (types[snap.nodes[node + typeAt]!] !== "closure") continue;
    const shared = edge(node, "shared");
    const script = shared >= 0 ? edge(shared, "script") : -1;
    const nameNode = script >= 0 ? edge(script, "name") : -1;
    let file = nameNode >= 0 ? (strings[snap.nodes[nameNode + nameAt]!] ?? "?") : "?";
    file = file.replace(/^.*\/(bench-dist|src|node_modules)\//, "$1/");
    where.set(node, `${file}:${snap.locations[l + 2]! + 1}:${snap.locations[l + 3]! + 1}`);
  }
  const out = new Map<string, Group>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!] ?? "?";
    // Strings, code and arrays are grouped by kind, not by their (many) names.
    const named = type === "object" || type === "closure" || type === "native";
    let key = named ? `${type} ${strings[snap.nodes[i + nameAt]!] ?? "?"}` : type;
    if (type === "closure") key += ` (${where.get(i) ?? "?"})`;
    else if (key === "object Object" || key === "object Promise") key += ` {${properties(i)}}`;
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
