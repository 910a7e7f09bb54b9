/**
 * The compiled package, as users run it: the sources compiled with the
 * package's build config into `.test-tmp/bench-dist` (once per process).
 * Benchmarks that measure memory or per-message cost load this, not the .ts
 * sources: run through tsx's loader, every arrow function held in a field
 * carries tsx's keepNames `__name` property (dictionary-mode functions,
 * about +10 KB per connection).
 */
import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";

const root = new URL("..", import.meta.url).pathname;
let compiled: string | null = null;

/** Compile the package into `.test-tmp/bench-dist` (once) and return that directory. */
export function compiledPackage(): string {
  if (compiled !== null) return compiled;
  const out = `${root}.test-tmp/bench-dist`;
  const r = spawnSync(
    `${root}node_modules/.bin/tsc`,
    ["-p", "tsconfig.build.json", "--outDir", out, "--declaration", "false", "--declarationMap", "false", "--sourceMap", "false"],
    { cwd: root, stdio: "inherit" },
  );
  if (r.status !== 0) throw new Error("compiling the sources for the benchmark failed");
  compiled = out;
  return out;
}

/** Import a module of the compiled package (`path` relative to its root, e.g. `node/index.js`). */
export function importCompiled<T>(dist: string, path: string): Promise<T> {
  return import(pathToFileURL(`${dist}/${path}`).href) as Promise<T>;
}
