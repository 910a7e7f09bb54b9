// The README stays true: its two commands exist as written, every example
// program is listed in it and run by some test, and its ```ts blocks are
// extracted for the type check (scripts/readme-blocks.mjs).
import t from "tap";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/process.ts";

const readme = readFileSync(`${ROOT}README.md`, "utf8");
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { scripts: Record<string, string> };

t.test("the two commands at the top", async (t) => {
  const top = readme.slice(0, readme.indexOf("\n## "));
  t.match(top, /npm install && npm run demo/, "npm install && npm run demo");
  t.match(top, /\nnpm test\b/, "npm test");
  t.equal(pkg.scripts.demo, "tsx examples/demo.ts", "npm run demo runs examples/demo.ts (run by demo.test.ts)");
  t.equal(pkg.scripts.test, "node scripts/test.mjs", "npm test runs the test runner");
});

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

t.test("every example program is in the README and run by a test", async (t) => {
  const examples = files(`${ROOT}examples`).filter((f) => f.endsWith(".ts"));
  const tests = files(`${ROOT}test/examples`)
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");
  t.ok(examples.length >= 9, "found the examples");
  for (const file of examples) {
    const rel = file.slice(`${ROOT}examples/`.length);
    const listed = rel.includes("/") ? rel.split("/")[0]! + "/" : rel;
    t.ok(readme.includes(listed), `${rel} is listed in the README`);
    t.ok(tests.includes(`examples/${rel}`), `${rel} is run by a test in test/examples/`);
  }
});

t.test("the README's ts blocks are complete modules", async (t) => {
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  t.ok(blocks.length >= 5, `${blocks.length} ts blocks, type-checked by npm test`);
  for (const [i, b] of blocks.entries()) t.match(b, /^import /m, `block ${i + 1} imports what it uses`);
});
