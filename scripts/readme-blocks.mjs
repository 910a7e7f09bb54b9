#!/usr/bin/env node
// Extract every ```ts code block of README.md into .test-tmp/readme/*.ts so
// that the type check of `npm test` covers them. A block may import from
// "wsproto", "wsproto/protocol", "wsproto/node" or "wsproto/streams" as a
// user would.
import { readFileSync, writeFileSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const out = join(root, ".test-tmp/readme");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const readme = join(root, "README.md");
if (existsSync(readme)) {
  const text = readFileSync(readme, "utf8");
  const re = /```ts\n([\s\S]*?)```/g;
  let m;
  let n = 0;
  while ((m = re.exec(text))) {
    n++;
    const body = m[1]
      .replaceAll(/from "wsproto\/node"/g, `from "../../src/node/index.ts"`)
      .replaceAll(/from "wsproto\/streams"/g, `from "../../src/streams/index.ts"`)
      .replaceAll(/from "wsproto\/protocol"/g, `from "../../src/protocol/index.ts"`)
      .replaceAll(/from "wsproto"/g, `from "../../src/index.ts"`);
    writeFileSync(join(out, `block-${String(n).padStart(2, "0")}.ts`), `// README.md block ${n}\nexport {};\n${body}`);
  }
}
