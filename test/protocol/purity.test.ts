// src/protocol must run unchanged on Node, Deno, Bun and in browsers: no
// node:* imports, no src/streams, no Buffer, no timers, no clock, no global
// randomness. (The type check against tsconfig.protocol.json enforces the
// platform surface; this test catches what types cannot.)
import t from "tap";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const dir = new URL("../../src/protocol/", import.meta.url).pathname;
function files(d: string): string[] {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const FORBIDDEN: Array<[RegExp, string]> = [
  [/from\s+["']node:|require\(\s*["']node:|import\(\s*["']node:/, "a node:* import"],
  [/from\s+["'][^"']*streams\//, "an import of src/streams"],
  [/\bBuffer\b/, "Buffer"],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, "a timer"],
  [/\bDate\.now\b|\bnew Date\b|\bperformance\.now\b/, "the clock"],
  [/\bMath\.random\b/, "Math.random (use the injected random source)"],
  [/\bprocess\./, "process"],
];

t.test("src/protocol is pure", async (t) => {
  const all = files(dir);
  t.ok(all.length > 5, "found the core's files");
  for (const file of all) {
    const code = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l))
      .join("\n");
    for (const [re, what] of FORBIDDEN) {
      t.notOk(re.test(code), `${file.slice(dir.length)} uses no ${what}`);
    }
  }
});

t.test("the purity check catches a violation", async (t) => {
  const bad = `import { x } from "node:fs";\nconst b = Buffer.from("x");\nsetTimeout(() => {}, 1);`;
  t.ok(FORBIDDEN[0]![0].test(bad));
  t.ok(FORBIDDEN[2]![0].test(bad));
  t.ok(FORBIDDEN[3]![0].test(bad));
});
