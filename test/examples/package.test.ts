// The npm package as a user gets it: `npm pack` of a fresh build, installed
// from the tarball (offline: the runtime dependencies are packed from this
// repository's node_modules) into a temporary CommonJS project and a
// temporary ESM project outside the repository. Every entry point
// ("wsproto", "wsproto/protocol", "wsproto/streams", "wsproto/node") must
// load with `require` and `import` in plain Node, type-check in TypeScript
// consumers (node16 ESM, nodenext compiled to CommonJS and run, bundler
// resolution without Node types), and bundle with esbuild as esm, cjs and
// iife (the bundles run). No polyfill is installed in those projects, so a
// bundle or a load that reached for one fails.
import t from "tap";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, ROOT, runPeer, says, startPeer } from "../helpers/process.ts";
import { markedBlock } from "../helpers/readme.ts";

interface PackageJson {
  name: string;
  version: string;
  engines: { node: string };
  repository?: { url: string };
  homepage?: string;
  bugs?: { url: string };
  files: string[];
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
}

const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as PackageJson;
const ENTRIES = ["wsproto", "wsproto/protocol", "wsproto/streams", "wsproto/node"];
const tsc = `${ROOT}node_modules/typescript/bin/tsc`;
const esbuild = `${ROOT}node_modules/.bin/esbuild`;

/** Every `.ts` file under `dir`. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

t.test("package.json: entry points, engines, metadata, dependency ranges; no top-level await in src", async (t) => {
  t.same(Object.keys(pkg.exports).sort(), [".", "./node", "./package.json", "./protocol", "./redis", "./streams"], "the entry points");
  t.same(pkg.exports["./protocol"], { types: "./dist/protocol/index.d.ts", default: "./dist/protocol/index.js" });
  // Node 20.19 is the first 20.x whose require() loads ES modules (without top-level await) unflagged.
  t.equal(pkg.engines.node, ">=20.19", "engines: require(esm) works on every allowed Node");
  t.match(pkg.repository?.url, /^git\+https:\/\//, "repository");
  t.match(pkg.homepage, /^https:\/\//, "homepage");
  t.match(pkg.bugs?.url, /^https:\/\//, "bugs");
  for (const [name, range] of Object.entries(pkg.dependencies)) t.match(range, /^\^/, `${name} is a semver range (${range})`);
  t.notOk("web-streams-polyfill" in pkg.dependencies, "no polyfill among the dependencies");
  t.ok(pkg.files.includes("dist"), "dist is published");
  const offenders: string[] = [];
  for (const file of sources(`${ROOT}src`)) {
    readFileSync(file, "utf8")
      .split("\n")
      .forEach((line, i) => {
        // A statement at column 0 (module level) that awaits outside an async function on the same line.
        const code = line.replace(/\/\/.*$/, "");
        if (/^(?:export\s+)?(?:const|let|var|await|for)\b/.test(code) && /\bawait\b/.test(code) && !/\basync\b/.test(code)) {
          offenders.push(`${file.slice(ROOT.length)}:${i + 1}`);
        }
      });
  }
  t.same(offenders, [], "no top-level await in src");
});

t.test("pack, install offline into CJS and ESM projects, require/import, TypeScript consumers, esbuild bundles", async (t) => {
  const work = mkdtempSync(join(tmpdir(), "wsproto-package-"));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const run = async (cmd: string, args: string[], cwd: string, what: string, timeoutMs = 120_000) => {
    const r = await runPeer(t, cmd, args, { cwd, timeoutMs });
    t.equal(r.code, 0, says(r.code === 0, what, r));
    return r;
  };

  // 1. A fresh build in a copy of the package, packed as npm would publish it.
  const src = join(work, "pkg");
  mkdirSync(src);
  for (const f of ["package.json", "README.md", "LICENSE"]) cpSync(`${ROOT}${f}`, join(src, f));
  cpSync(`${ROOT}src`, join(src, "src"), { recursive: true });
  await run(BIN.node, [tsc, "-p", `${ROOT}tsconfig.build.json`, "--outDir", join(src, "dist")], ROOT, "the build succeeds", 240_000);
  for (const [name, target] of Object.entries(pkg.exports)) {
    const files = typeof target === "string" ? [target] : [target.types, target.default];
    for (const f of files) t.ok(existsSync(join(src, f)), `${name} -> ${f} exists`);
  }
  const npmFlags = ["--ignore-scripts", "--no-audit", "--no-fund", "--cache", join(work, "npm-cache")];
  await run("npm", ["pack", ...npmFlags, "--pack-destination", work], src, "npm pack");
  const tarballs = [join(work, `${pkg.name}-${pkg.version}.tgz`)];
  // The runtime dependencies, packed from this repository's installed copies, so the install needs no network.
  for (const dep of Object.keys(pkg.dependencies)) {
    const r = await run("npm", ["pack", ...npmFlags, "--pack-destination", work, `${ROOT}node_modules/${dep}`], work, `npm pack ${dep}`);
    tarballs.push(join(work, r.stdout.trim().split("\n").pop()!));
  }

  // 2. Two consumer projects, installed offline from the tarballs.
  const esm = join(work, "esm");
  const cjs = join(work, "cjs");
  for (const [dir, type] of [[esm, "module"], [cjs, "commonjs"]] as const) {
    mkdirSync(dir);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `${type}-consumer`, private: true, type }));
    await run("npm", ["install", "--offline", "--no-package-lock", ...npmFlags, ...tarballs], dir, `npm install into the ${type} project`);
    t.notOk(existsSync(join(dir, "node_modules/web-streams-polyfill")), `${type}: no polyfill installed`);
  }

  // The same program for every module system: an in-memory client and server
  // over global streams, one echo, a clean close; and every entry's exports.
  const body = `
const ws = new protocol.WSConnection(protocol.ConnectionType.CLIENT);
const head = new TextDecoder().decode(ws.send(new protocol.Request({ host: "example.com", target: "/", extensions: [new protocol.PerMessageDeflate()] })));
const a = new TransformStream();
const b = new TransformStream();
const server = streams.acceptWebSocket({ readable: a.readable, writable: b.writable });
const client = streams.connectWebSocket({ readable: b.readable, writable: a.writable }, { host: "h" });
Promise.all([server.opened, client.opened]).then(async ([s, c]) => {
  void s.readable.pipeTo(s.writable);
  await c.writable.getWriter().write("echo me");
  const echo = (await c.readable.getReader().read()).value;
  client.close({ closeCode: 1000 });
  const closed = await client.closed;
  console.log(JSON.stringify({
    line: head.split("\\r\\n")[0],
    deflate: c.extensions.split(";")[0],
    echo,
    code: closed.closeCode,
    oneEngine: root.WSConnection === protocol.WSConnection && root.connectWebSocket === streams.connectWebSocket,
    node: typeof node.fromNodeSocket + " " + typeof node.connectNodeWebSocket + " " + typeof node.acceptNodeUpgrade,
  }));
});
`;
  const expected = {
    line: "GET / HTTP/1.1",
    deflate: "permessage-deflate",
    echo: "echo me",
    code: 1000,
    oneEngine: true,
    node: "function function function",
  };
  const imports = `import * as root from "wsproto";\nimport * as protocol from "wsproto/protocol";\nimport * as streams from "wsproto/streams";\nimport * as node from "wsproto/node";\n`;
  const requires = `const root = require("wsproto");\nconst protocol = require("wsproto/protocol");\nconst streams = require("wsproto/streams");\nconst node = require("wsproto/node");\n`;
  const lastJson = (out: string): unknown => JSON.parse(out.trim().split("\n").pop() ?? "null");

  await t.test("require() of every entry from a CommonJS project", async (t) => {
    writeFileSync(join(cjs, "run.js"), requires + body);
    const r = await runPeer(t, BIN.node, ["run.js"], { cwd: cjs });
    t.equal(r.code, 0, says(r.code === 0, "runs", r));
    t.same(lastJson(r.stdout), expected);
    t.notMatch(r.stderr, /Warning/, "no warning printed");
  });

  await t.test("import of every entry from an ESM project", async (t) => {
    writeFileSync(join(esm, "run.mjs"), imports + body);
    const r = await runPeer(t, BIN.node, ["run.mjs"], { cwd: esm });
    t.equal(r.code, 0, says(r.code === 0, "runs", r));
    t.same(lastJson(r.stdout), expected);
  });

  await t.test("the bin: npx wsproto --help, serve and connect from the installed package", async (t) => {
    const help = await runPeer(t, "npx", ["--offline", "--no-install", "wsproto", "--help"], { cwd: esm, timeoutMs: 60_000 });
    t.equal(help.code, 0, says(help.code === 0, "npx wsproto --help exits 0", help));
    t.match(help.stdout, /^usage: wsproto serve --port N/, "prints the usage");
    const bin = join(esm, "node_modules/.bin/wsproto");
    const server = await startPeer(t, bin, ["serve", "--port", "0", "--quiet"], { cwd: esm });
    const client = await runPeer(t, bin, ["connect", server.url], { cwd: esm, stdin: "hello from the package\n", timeoutMs: 30_000 });
    t.equal(client.code, 0, says(client.code === 0, "wsproto connect exits 0 after the close", client));
    t.equal(client.stdout, "hello from the package\n", "the echo came back");
    const status = await server.kill();
    t.equal(status.code, 0, "wsproto serve exits 0 on SIGTERM");
  });

  await t.test("a README recipe runs against the installed package (TypeScript stripped by esbuild)", async (t) => {
    const recipe = join(esm, "recipe.ts");
    writeFileSync(recipe, markedBlock("faq-binary").code);
    await run(esbuild, [recipe, "--format=esm", "--outfile=" + join(esm, "recipe.mjs"), "--log-level=warning"], esm, "esbuild strips the types");
    const r = await runPeer(t, BIN.node, ["recipe.mjs"], { cwd: esm, timeoutMs: 30_000 });
    t.equal(r.code, 0, says(r.code === 0, "the recipe runs with its imports from wsproto/node", r));
    t.match(r.stdout, /binary 3 bytes\nbinary 8 bytes\ntext text/);
  });

  // TypeScript consumers: strict, no skipLibCheck.
  const typed = (names: string[]) =>
    names.map((n, i) => `import * as m${i} from "${n}";`).join("\n") +
    `\nimport { WSConnection, ConnectionType, Request, type Event } from "wsproto/protocol";
import { connectWebSocket, type WebSocketSession } from "wsproto/streams";
const conn = new WSConnection(ConnectionType.CLIENT);
const bytes: Uint8Array = conn.send(new Request({ host: "x", target: "/" }));
const events: Event[] = [...conn.events()];
let session: WebSocketSession | undefined;
console.log(JSON.stringify({ head: new TextDecoder().decode(bytes).split("\\r\\n")[0], events: events.length, session: session === undefined, connect: typeof connectWebSocket, entries: [${names.map((_, i) => `typeof m${i}`).join(", ")}] }));
`;
  const tsconfig = (dir: string, name: string, options: Record<string, unknown>) =>
    writeFileSync(
      join(dir, name),
      JSON.stringify({
        compilerOptions: { target: "ES2022", strict: true, skipLibCheck: false, ...options },
        files: ["index.ts"],
      }),
    );
  const nodeTypes = { types: ["node"], typeRoots: [`${ROOT}node_modules/@types`] };

  await t.test("TypeScript: node16 resolution (ESM project), compiled and run", async (t) => {
    writeFileSync(join(esm, "index.ts"), typed(ENTRIES));
    tsconfig(esm, "tsconfig.node16.json", { module: "Node16", moduleResolution: "Node16", outDir: "out-node16", lib: ["ES2022", "DOM"], ...nodeTypes });
    await run(BIN.node, [tsc, "-p", "tsconfig.node16.json"], esm, "tsc (node16) type-checks and emits");
    const r = await runPeer(t, BIN.node, ["out-node16/index.js"], { cwd: esm });
    t.equal(r.code, 0, says(r.code === 0, "the output runs", r));
    t.match(lastJson(r.stdout), { head: "GET / HTTP/1.1", entries: ["object", "object", "object", "object"] });
  });

  await t.test("TypeScript: nodenext compiled to CommonJS (require of the ESM package), run", async (t) => {
    writeFileSync(join(cjs, "index.ts"), typed(ENTRIES));
    tsconfig(cjs, "tsconfig.json", { module: "NodeNext", moduleResolution: "NodeNext", outDir: "out", lib: ["ES2022", "DOM"], ...nodeTypes });
    await run(BIN.node, [tsc, "-p", "tsconfig.json"], cjs, "tsc (nodenext, CommonJS) type-checks and emits");
    const emitted = readFileSync(join(cjs, "out/index.js"), "utf8");
    t.match(emitted, /require\("wsproto\/protocol"\)/, "the emitted code uses require()");
    const r = await runPeer(t, BIN.node, ["out/index.js"], { cwd: cjs });
    t.equal(r.code, 0, says(r.code === 0, "the CommonJS output runs", r));
    t.match(lastJson(r.stdout), { head: "GET / HTTP/1.1", entries: ["object", "object", "object", "object"] });
  });

  await t.test("TypeScript: bundler resolution, browser entries, no Node types", async (t) => {
    writeFileSync(join(esm, "index.ts"), typed(["wsproto", "wsproto/protocol", "wsproto/streams"]));
    tsconfig(esm, "tsconfig.bundler.json", { module: "ESNext", moduleResolution: "Bundler", noEmit: true, lib: ["ES2022", "DOM"], types: [] });
    await run(BIN.node, [tsc, "-p", "tsconfig.bundler.json"], esm, "tsc (bundler) type-checks");
  });

  await t.test("esbuild bundles every entry as esm, cjs and iife, and the bundles run", async (t) => {
    const browserApp = join(esm, "app.mjs");
    // The browser program: the same echo, without the Node entry.
    writeFileSync(browserApp, imports.replace(/.*wsproto\/node.*\n/, "") + "const node = { fromNodeSocket() {}, connectNodeWebSocket() {}, acceptNodeUpgrade() {} };\n" + body);
    writeFileSync(join(esm, "app-node.mjs"), imports + body);
    // An iife is a plain script: run it as one (.cjs, so Node gives it `require` for the node:* imports).
    const exts = { esm: "mjs", cjs: "cjs", iife: "cjs" } as const;
    for (const format of ["esm", "cjs", "iife"] as const) {
      for (const [app, platform] of [[browserApp, "browser"], [join(esm, "app-node.mjs"), "node"]] as const) {
        const out = join(esm, `bundle-${platform}-${format}.${exts[format]}`);
        await run(
          esbuild,
          [app, "--bundle", "--minify", `--format=${format}`, `--platform=${platform}`, "--target=es2020", `--outfile=${out}`, "--log-level=warning"],
          esm,
          `esbuild ${platform} ${format}`,
        );
        const r = await runPeer(t, BIN.node, [out], { cwd: work });
        t.equal(r.code, 0, says(r.code === 0, `the ${platform} ${format} bundle runs`, r));
        t.same(lastJson(r.stdout), expected, `${platform} ${format}: same behaviour as unbundled`);
      }
    }
    // The engine alone: nothing of the streams layer in its bundle.
    const meta = join(esm, "protocol-meta.json");
    writeFileSync(join(esm, "engine.mjs"), `export { WSConnection } from "wsproto/protocol";\n`);
    await run(esbuild, ["engine.mjs", "--bundle", "--minify", "--format=esm", "--platform=browser", `--metafile=${meta}`, "--outfile=engine.out.js"], esm, "esbuild wsproto/protocol");
    const inputs = Object.keys((JSON.parse(readFileSync(meta, "utf8")) as { inputs: Record<string, unknown> }).inputs);
    t.same(inputs.filter((f) => /\/streams\/|web-streams-polyfill/.test(f)), [], "wsproto/protocol bundles no streams code");
    t.ok(inputs.some((f) => f.includes("dist/protocol/ws-connection.js")), "it bundles the engine");
  });
});
