#!/usr/bin/env node
// The test command (`npm test`): type-check everything (sources, tests,
// examples, benches, the README's code blocks), check the core's purity, run
// every tap test, and end with the line `N passed, N failed`.
//
// Counting: each top-level subtest of a test file (a `t.test(...)` or a
// top-level assertion) is one test; a file that fails outside any subtest
// (a crash, a timeout) counts as one more failure. Each failed step before the
// tests (a type check) counts as one failure.
import { spawn } from "node:child_process";
import { readdirSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;

function run(cmd, args, { capture = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", capture ? "pipe" : "inherit", "inherit"] });
    let out = "";
    if (capture) {
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (d) => {
        out += d;
        onChunk(d);
      });
    }
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith(".test.ts")) found.push(path.slice(root.length));
  }
  return found.sort();
}

async function step(name, cmd, args) {
  process.stdout.write(`# ${name}\n`);
  const { code } = await run(cmd, args);
  if (code === 0) {
    passed++;
    process.stdout.write(`ok - ${name}\n`);
  } else {
    failed++;
    process.stdout.write(`not ok - ${name} (exit ${code})\n`);
  }
}

// Echo depth-0/1 test points and every failure with its diagnostics, so the
// log stays readable while the full TAP goes to test-output.tap.
let pending = "";
let inFailure = -1;
const tapLines = [];
function onChunk(chunk) {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    tapLines.push(line);
    const indent = line.length - line.trimStart().length;
    const depth = indent / 4;
    const body = line.trimStart();
    const isPoint = /^(not )?ok \d+/.test(body);
    if (inFailure >= 0) {
      if (isPoint && depth <= inFailure) inFailure = -1;
      else if (!(isPoint && depth > inFailure)) {
        process.stdout.write(line + "\n");
        continue;
      }
    }
    if (isPoint && body.startsWith("not ok") && !/# (TODO|SKIP)/.test(body)) {
      process.stdout.write(line + "\n");
      inFailure = depth;
    } else if (isPoint && depth <= 1) process.stdout.write(line + "\n");
  }
}

function count(lines) {
  // Track, per file (depth 0), whether a depth-1 failure was seen.
  let fileFailuresSeen = 0;
  for (const line of lines) {
    const indent = line.length - line.trimStart().length;
    const body = line.trimStart();
    const m = /^(not )?ok \d+/.exec(body);
    if (!m) continue;
    const depth = indent / 4;
    const isSkip = /# (SKIP|TODO)/i.test(body);
    if (depth === 1) {
      if (isSkip) skipped++;
      else if (m[1]) {
        failed++;
        fileFailuresSeen++;
      } else passed++;
    } else if (depth === 0) {
      if (m[1] && fileFailuresSeen === 0) failed++;
      fileFailuresSeen = 0;
    }
  }
}

const started = Date.now();
mkdirSync(join(root, ".test-tmp"), { recursive: true });
await run(process.execPath, [join(root, "scripts/readme-blocks.mjs")]);
// Every tool runs on the Node running this script (scripts/node-line.mjs
// runs it on another line): tap spawns each test file with its own execPath.
const bin = (name) => join(root, "node_modules/.bin", name);
// `--no-typecheck`: only the tap files (the type checks do not depend on the Node line).
const typecheck = !process.argv.includes("--no-typecheck");
if (typecheck) {
  await step("type-check (sources, tests, examples, bench, README blocks)", process.execPath, [bin("tsc"), "-p", "tsconfig.json"]);
  await step("type-check src/protocol against the portable platform surface", process.execPath, [bin("tsc"), "-p", "tsconfig.protocol.json"]);
  await step("type-check src/streams without Node types (portable: ES2022 + DOM)", process.execPath, [bin("tsc"), "-p", "tsconfig.streams.json"]);
}
const files = findTests(join(root, "test"));
const extra = process.argv.slice(2).filter((a) => a !== "--no-typecheck");
const { code } = await run(
  process.execPath,
  [bin("tap"), "--reporter=tap", "--disable-coverage", "--timeout=600", "--jobs=2", ...(extra.length ? extra : files)],
  { capture: true },
);
writeFileSync(join(root, ".test-tmp/test-output.tap"), tapLines.join("\n"));
count(tapLines);
if (code !== 0 && failed === 0) failed++; // the runner itself failed
process.stdout.write(`# ${((Date.now() - started) / 1000).toFixed(1)} s; full TAP in .test-tmp/test-output.tap\n`);
const summary = `${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : "");
process.stdout.write(summary + "\n");
process.exitCode = failed === 0 ? 0 : 1;
