// The npm package: `npm run build` (tsc -p tsconfig.build.json) emits ESM
// and declarations whose entry points ("." "./streams" "./node") load in
// plain Node (no tsx) and type-check in a consumer project with NodeNext
// resolution and no special flags.
import t from "tap";
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { BIN, ROOT, runPeer, says } from "../helpers/process.ts";

interface PackageJson {
  main: string;
  types: string;
  files: string[];
  scripts: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
}

const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as PackageJson;
const work = `${ROOT}.test-tmp/package-test/`;

t.test("package.json: ESM entry points with declarations", async (t) => {
  t.equal(pkg.scripts.build, "tsc -p tsconfig.build.json", "npm run build uses tsconfig.build.json");
  const build = JSON.parse(readFileSync(`${ROOT}tsconfig.build.json`, "utf8")) as { compilerOptions: Record<string, unknown> };
  t.equal(build.compilerOptions.rewriteRelativeImportExtensions, true, "relative .ts imports become .js");
  t.equal(build.compilerOptions.declaration, true, "declarations are emitted");
  t.same(Object.keys(pkg.exports).sort(), [".", "./node", "./package.json", "./streams"], "the entry points");
  t.ok(pkg.files.includes("dist"), "dist is published");
});

t.test("the build loads in plain Node and type-checks in a consumer", async (t) => {
  rmSync(work, { recursive: true, force: true });
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  mkdirSync(`${work}consumer/node_modules`, { recursive: true });
  const tsc = `${ROOT}node_modules/typescript/bin/tsc`;
  const built = await runPeer(t, BIN.node, [tsc, "-p", `${ROOT}tsconfig.build.json`, "--outDir", `${work}pkg/dist`], {
    timeoutMs: 120000,
  });
  t.equal(built.code, 0, says(built.code === 0, "the build succeeds", built));
  cpSync(`${ROOT}package.json`, `${work}pkg/package.json`);
  // Every file the exports map names exists.
  for (const [name, target] of Object.entries(pkg.exports)) {
    const files = typeof target === "string" ? [target] : [target.types, target.default];
    for (const f of files) t.ok(existsSync(`${work}pkg/${f}`), `${name} -> ${f} exists`);
  }
  symlinkSync(`${work}pkg`, `${work}consumer/node_modules/wsproto`, "dir");
  // Its own package scope, or "wsproto" would self-resolve to this repository.
  writeFileSync(`${work}consumer/package.json`, JSON.stringify({ name: "consumer", private: true, type: "module" }));

  // Plain Node, through the package's own exports map.
  writeFileSync(
    `${work}consumer/run.mjs`,
    `import { WSConnection, ConnectionType, Request, PerMessageDeflate, connectWebSocket } from "wsproto";
import { acceptWebSocket } from "wsproto/streams";
import { fromNodeSocket, acceptNodeUpgrade } from "wsproto/node";
const ws = new WSConnection(ConnectionType.CLIENT);
const head = new TextDecoder().decode(ws.send(new Request({ host: "example.com", target: "/", extensions: [new PerMessageDeflate()] })));
console.log(head.split("\\r\\n")[0], typeof connectWebSocket, typeof acceptWebSocket, typeof fromNodeSocket, typeof acceptNodeUpgrade);
`,
  );
  const ran = await runPeer(t, BIN.node, [`${work}consumer/run.mjs`], { cwd: `${work}consumer` });
  t.equal(ran.code, 0, says(ran.code === 0, "the built package runs in plain Node", ran));
  t.equal(ran.stdout.trim(), "GET / HTTP/1.1 function function function function", "every entry point loads");

  // A consumer's type check: NodeNext, strict, no skipLibCheck, no .ts-extension flags.
  writeFileSync(
    `${work}consumer/tsconfig.json`,
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        lib: ["ES2022", "DOM"],
        types: ["node"],
        typeRoots: [`${ROOT}node_modules/@types`],
      },
      files: ["index.ts"],
    }),
  );
  writeFileSync(
    `${work}consumer/index.ts`,
    `import { WSConnection, ConnectionType, Request, PerMessageDeflate, TextMessage, type Event } from "wsproto";
import { connectWebSocket, WebSocketError, type WebSocketSession } from "wsproto/streams";
import { fromNodeSocket, connectNodeWebSocket } from "wsproto/node";
const ws = new WSConnection(ConnectionType.CLIENT);
const bytes: Uint8Array = ws.send(new Request({ host: "x", target: "/", extensions: [new PerMessageDeflate()] }));
const events: Event[] = [...ws.events()];
const text = new TextMessage({ data: "hi" });
let session: WebSocketSession | undefined;
void [bytes, events, text, session, connectWebSocket, WebSocketError, fromNodeSocket, connectNodeWebSocket];
`,
  );
  const checked = await runPeer(t, BIN.node, [tsc, "-p", `${work}consumer/tsconfig.json`], { timeoutMs: 120000 });
  t.equal(checked.code, 0, says(checked.code === 0, "the declarations type-check in a consumer", checked));
});
