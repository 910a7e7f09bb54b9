// One error vocabulary (src/protocol/errors.ts): every "WS_ERR_*" string
// literal anywhere in src/ is a member of WS_ERROR_CODES (so of the
// WsErrorCode union), every member is used, none is listed twice; the
// error classes carry the code they are given and their defaults.
import t from "tap";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import {
  LocalProtocolError,
  ProtocolError,
  RemoteProtocolError,
  WS_ERROR_CODES,
  type WsErrorCode,
} from "../../src/protocol/errors.ts";
import * as publicApi from "../../src/protocol/index.ts";

const src = new URL("../../src/", import.meta.url).pathname;
const ERRORS_FILE = join(src, "protocol", "errors.ts");

function files(d: string): string[] {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|js|mjs|cjs)$/.test(p) ? [p] : [];
  });
}

/** Every "WS_ERR_*" literal (double or single quotes, or a template without substitutions) and where it is. */
function literals(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of files(src)) {
    if (file === ERRORS_FILE) continue;
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(["'`])(WS_ERR_[A-Z0-9_]+)\1/g)) {
      const line = text.slice(0, m.index).split("\n").length;
      const at = `${relative(src, file)}:${line}`;
      found.set(m[2]!, [...(found.get(m[2]!) ?? []), at]);
    }
  }
  return found;
}

t.test("every WS_ERR_* literal in src/ is a WsErrorCode", async (t) => {
  const known = new Set<string>(WS_ERROR_CODES);
  const found = literals();
  t.ok(found.size > 40, `found the codes (${found.size})`);
  for (const [code, where] of found) t.ok(known.has(code), `${code} (${where.join(", ")}) is listed in WS_ERROR_CODES`);
});

t.test("every listed code is raised somewhere, and listed once", async (t) => {
  const found = literals();
  for (const code of WS_ERROR_CODES) {
    // The two class defaults are written in errors.ts itself.
    if (code === "WS_ERR_LOCAL_PROTOCOL" || code === "WS_ERR_REMOTE_PROTOCOL") continue;
    t.ok(found.has(code), `${code} is used in src/`);
  }
  t.equal(new Set(WS_ERROR_CODES).size, WS_ERROR_CODES.length, "no code listed twice");
  for (const code of WS_ERROR_CODES) t.match(code, /^WS_ERR_[A-Z0-9_]+$/);
});

t.test("every code has its one-line meaning in errors.ts", async (t) => {
  const text = readFileSync(ERRORS_FILE, "utf8");
  for (const code of WS_ERROR_CODES) {
    t.match(text, new RegExp(`/\\*\\* [^\\n]+ \\*/\\n\\s+"${code}",`), `${code} has a JSDoc line`);
  }
});

t.test("the error classes carry their codes", async (t) => {
  const local = new LocalProtocolError("x");
  t.equal(local.code, "WS_ERR_LOCAL_PROTOCOL");
  t.equal(new RemoteProtocolError("x").code, "WS_ERR_REMOTE_PROTOCOL");
  const code: WsErrorCode = "WS_ERR_HANDSHAKE_KEY";
  const remote = new RemoteProtocolError("x", null, code);
  t.equal(remote.code, code);
  t.ok(remote instanceof ProtocolError);
  t.ok(WS_ERROR_CODES.includes(local.code));
});

t.test("WS_ERROR_CODES is public", async (t) => {
  t.equal(publicApi.WS_ERROR_CODES, WS_ERROR_CODES);
});
