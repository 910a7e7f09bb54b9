#!/usr/bin/env node
// Browser bundle sizes of each entry point (`npm run size`): esbuild bundles
// the entry's sources for the browser (esm, minified), and the size is
// reported raw, minified and min+gzip (level 9). `wsproto/node` is bundled
// for Node (its `node:*` imports stay external). The README's table comes
// from this output; `--json` prints the figures and each bundle's input files.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";

const root = new URL("..", import.meta.url).pathname;
const entries = [
  ["wsproto/protocol", "src/protocol/index.ts", "browser"],
  ["wsproto/streams", "src/streams/index.ts", "browser"],
  ["wsproto", "src/index.ts", "browser"],
  ["wsproto/node", "src/node/index.ts", "node"],
];

/** Bundle one entry; returns its minified size, min+gzip size and the list of input files. */
export async function measure(entry, platform) {
  const result = await build({
    entryPoints: [root + entry],
    bundle: true,
    minify: true,
    format: "esm",
    platform,
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const code = result.outputFiles[0].contents;
  return { min: code.length, gzip: gzipSync(code, { level: 9 }).length, inputs: Object.keys(result.metafile.inputs) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = [];
  for (const [name, entry, platform] of entries) results.push({ name, platform, ...(await measure(entry, platform)) });
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify(results));
  } else {
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    console.log("| entry | platform | minified | min+gzip |");
    console.log("| --- | --- | ---: | ---: |");
    for (const r of results) console.log(`| \`${r.name}\` | ${r.platform} | ${kb(r.min)} | ${kb(r.gzip)} |`);
  }
}
