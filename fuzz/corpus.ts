/**
 * Load and extend the seed corpus in fuzz/corpus/<target>/*.bin.
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";

export const CORPUS_DIR = new URL("./corpus/", import.meta.url);

/** Every seed of a target, in file-name order. */
export function loadCorpus(target: string): Uint8Array[] {
  const dir = new URL(`${target}/`, CORPUS_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".bin"))
    .sort()
    .map((f) => new Uint8Array(readFileSync(new URL(f, dir))));
}

/** Save an input that reached new coverage (named by its hash). */
export function saveSeed(target: string, input: Uint8Array): void {
  const dir = new URL(`${target}/`, CORPUS_DIR);
  mkdirSync(dir, { recursive: true });
  const name = `cov-${createHash("sha1").update(input).digest("hex").slice(0, 12)}.bin`;
  writeFileSync(new URL(name, dir), input);
}
