// The repository stands alone: no tracked file names a path outside it (the
// project's shared folder beside a checkout, a machine's home or work
// directories), so a clone with nothing beside it builds and tests the same.
// The patterns are written so that this file does not match them itself.
import t from "tap";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { ROOT } from "../helpers/process.ts";

const FORBIDDEN: Array<[string, RegExp]> = [
  ["a sibling folder of the checkout (the shared one)", /\.\.\/(?:\.\.\/)*shar[e]d\b/],
  ["the work folder of the machine", /(?<![\w.-])\/wor[k]\//],
  ["a home folder", /(?<![\w.-])\/hom[e]\//],
  ["root's home folder", /(?<![\w.-])\/roo[t]\//],
  ["a macOS home folder", /(?<![\w.-])\/User[s]\//],
  ["a Windows user folder", /[A-Z]:\\User[s]\\/],
  ["an environment variable pointing at Autobahn's files", /AUTOBAHN_TESTDAT[A]/],
];

/** Every file git would commit: tracked ones and new ones that are not ignored. */
function repositoryFiles(): string[] {
  const out = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
  return [...new Set(out.split("\0").filter((f) => f !== ""))];
}

t.test("no file in the repository names a path outside it", async (t) => {
  const files = repositoryFiles();
  t.ok(files.includes("package.json") && files.includes("test/repository/standalone.test.ts"), "the listing covers the repository");
  const hits: string[] = [];
  let scanned = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(`${ROOT}${file}`, "utf8");
    } catch {
      continue; // listed but deleted in the working tree
    }
    if (text.includes("\0")) continue; // binary
    scanned++;
    text.split("\n").forEach((line, i) => {
      for (const [what, re] of FORBIDDEN) if (re.test(line)) hits.push(`${file}:${i + 1} names ${what}: ${line.trim().slice(0, 120)}`);
    });
  }
  t.ok(scanned > 100, `${scanned} text files scanned`);
  t.same(hits, [], "no path outside the repository");
});

t.test("the check catches what it is for", async (t) => {
  const sample = ["../../../" + "shared/conformance/x", "/" + "work/main/.git", "/" + "home/user/x", "/" + "root/.npm", "C:\\" + "Users\\me"];
  for (const s of sample) t.ok(FORBIDDEN.some(([, re]) => re.test(s)), `${s} is caught`);
  t.notOk(FORBIDDEN.some(([, re]) => re.test("https://github.com/nodeca/pako/tree/master/lib")), "URLs are not paths");
});
