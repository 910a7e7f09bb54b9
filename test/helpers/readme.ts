/**
 * The README's code blocks, extracted (never copied) for tests that run
 * them. A block is found by its marker line (`<!-- readme-test: NAME -->`
 * right above the fence), looked up in README.md first and then in the
 * notes that hold blocks not yet folded into it (docs/notes/*.md), or, for
 * the README's older blocks that have no marker, by text it contains.
 *
 * Invariants: a block is written to `.test-tmp/readme-run/` with its
 * `wsproto...` imports pointed at the sources (as scripts/readme-blocks.mjs
 * does for the type check) and, when asked, its fixed port (8080) replaced
 * by one the test chose; nothing else of it changes.
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./process.ts";

/** One fenced code block. */
export interface CodeBlock {
  /** The fence's language (`ts`, `js`, `sh`...). */
  lang: string;
  code: string;
  /** The file it came from, relative to the repository. */
  file: string;
  /** Its `<!-- readme-test: NAME -->` marker, if it has one. */
  marker: string | null;
}

const FENCE = /(?:<!--\s*readme-test:\s*([\w-]+)\s*-->\s*\n)?```(\w*)\n([\s\S]*?)```/g;

/** Every fenced block of a markdown file. */
export function blocksOf(file: string): CodeBlock[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  return [...text.matchAll(FENCE)].map((m) => ({ marker: m[1] ?? null, lang: m[2] ?? "", code: m[3] ?? "", file }));
}

/** The notes that may hold blocks waiting to be folded into the README. */
function notes(): string[] {
  try {
    return readdirSync(join(ROOT, "docs/notes"))
      .filter((n) => n.endsWith(".md"))
      .sort()
      .map((n) => `docs/notes/${n}`);
  } catch {
    return [];
  }
}

/** The block with this marker: README.md's if it has one, else the notes'. */
export function markedBlock(marker: string): CodeBlock {
  for (const file of ["README.md", ...notes()]) {
    const found = blocksOf(file).find((b) => b.marker === marker);
    if (found !== undefined) return found;
  }
  throw new Error(`no code block marked "readme-test: ${marker}" in README.md or docs/notes/`);
}

/**
 * The block marked `marker` (README.md first, then the notes) or, when
 * nothing is marked so, the one README block containing every one of
 * `texts` (the README's older, unmarked blocks).
 */
export function readmeBlock(marker: string, ...texts: string[]): CodeBlock {
  try {
    return markedBlock(marker);
  } catch {
    const found = blocksOf("README.md").filter((b) => texts.every((text) => b.code.includes(text)));
    if (found.length === 1) return found[0]!;
    throw new Error(`${found.length} README blocks contain ${JSON.stringify(texts)}, and none is marked "${marker}"`);
  }
}

/** Every marker (README.md and the notes). */
export function markers(): string[] {
  const all = new Set<string>();
  for (const file of ["README.md", ...notes()]) for (const b of blocksOf(file)) if (b.marker !== null) all.add(b.marker);
  return [...all].sort();
}

/** Write a block as a runnable module; returns its absolute path. */
export function writeRunnable(block: CodeBlock, name: string, options: { port?: number } = {}): string {
  const dir = join(ROOT, ".test-tmp/readme-run");
  mkdirSync(dir, { recursive: true });
  let code = block.code
    .replaceAll(/from "wsproto\/node"/g, `from "../../src/node/index.ts"`)
    .replaceAll(/from "wsproto\/streams"/g, `from "../../src/streams/index.ts"`)
    .replaceAll(/from "wsproto\/protocol"/g, `from "../../src/protocol/index.ts"`)
    .replaceAll(/from "wsproto"/g, `from "../../src/index.ts"`);
  if (options.port !== undefined) code = code.replaceAll(/\b8080\b/g, String(options.port));
  const path = join(dir, `${name}.ts`);
  writeFileSync(path, `// ${block.file}${block.marker === null ? "" : ` (readme-test: ${block.marker})`}\nexport {};\n${code}`);
  return path;
}
