/**
 * Build the seed corpus in fuzz/corpus/<target>/: the received bytes of the
 * wsproto 1.2 vectors (frames per role, handshakes per side), hand-written
 * header values and handshakes, and a few structure-aware inputs per target
 * from a fixed seed. Run once and commit the output:
 *
 *   npx tsx fuzz/make-corpus.ts
 * @module
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Rng } from "./engine.ts";
import { TARGETS } from "./targets.ts";

const ROOT = new URL("./corpus/", import.meta.url);
const vectors = JSON.parse(readFileSync(new URL("../test/fixtures/wsproto-1.2-vectors.json", import.meta.url), "utf8")) as {
  vectors: Array<Vector & { cases?: Vector[] }>;
};

interface Vector {
  id?: string;
  label?: string;
  setup?: { kind?: string; role?: string; extensions?: unknown };
  steps?: Array<{ op: string; data_hex?: string }>;
}

const seeds = new Map<string, Map<string, Uint8Array>>();
function add(target: string, name: string, bytes: Uint8Array): void {
  let m = seeds.get(target);
  if (!m) seeds.set(target, (m = new Map()));
  const digest = createHash("sha1").update(bytes).digest("hex").slice(0, 10);
  m.set(`${name.replace(/[^a-z0-9_.-]+/gi, "_").slice(0, 60)}-${digest}`, bytes);
}
const te = (s: string): Uint8Array => new TextEncoder().encode(s);

// 1. The vectors: what each setup received.
for (const v of vectors.vectors) {
  const variants = v.cases?.length ? v.cases.map((c) => ({ ...c, setup: c.setup ?? v.setup, id: `${v.id}.${c.label ?? ""}` })) : [v];
  for (const c of variants) {
    const data = (c.steps ?? []).filter((s) => s.op === "receive" && s.data_hex).map((s) => Buffer.from(s.data_hex!, "hex"));
    if (data.length === 0) continue;
    const bytes = Buffer.concat(data);
    const kind = c.setup?.kind;
    const role = c.setup?.role ?? "server";
    if (kind === "WSConnection") add(`http-${role}`, c.id ?? "vector", bytes);
    else if (kind === "Connection") add(`frame-${role}${c.setup?.extensions ? "-deflate" : ""}`, c.id ?? "vector", bytes);
  }
}

// 2. Hand-written handshakes and header values.
const request = (extra: string): string =>
  `GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
add("http-server", "plain", te(request("")));
add("http-server", "pmd-offers", te(request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=10\r\nSec-WebSocket-Protocol: chat, superchat\r\n")));
add("http-server", "pipelined-frame", new Uint8Array([...te(request("")), 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]));
add("http-server", "quoted-ext", te(request('Sec-WebSocket-Extensions: x-foo; a="b, c"; d, permessage-deflate; client_max_window_bits="12"\r\n')));
const accept = createHash("sha1").update("AAECAwQFBgcICQoLDA0ODw==" + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
const response = (extra: string): string =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`;
add("http-client", "plain", te(response("")));
add("http-client", "pmd", te(response("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=9\r\nSec-WebSocket-Protocol: chat\r\n")));
add("http-client", "pmd-with-frame", new Uint8Array([...te(response("Sec-WebSocket-Extensions: permessage-deflate\r\n")), 0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
add("http-client", "interim-then-101", te("HTTP/1.1 100 Continue\r\n\r\n" + response("")));
add("http-client", "reject-chunked", te("HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
add("http-client", "reject-length", te("HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad"));
for (const h of [
  "Upgrade",
  "keep-alive, Upgrade",
  "chat, superchat",
  "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
  'x-foo; a="b, c; d"; e=f, permessage-deflate',
  "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
  "permessage-deflate; server_max_window_bits=8",
  'permessage-deflate; client_max_window_bits="15"',
  "dGhlIHNhbXBsZSBub25jZQ==",
  ' , a , , b ,',
  '"quoted\\"pair"',
]) {
  add("headers", h, te(h));
}

// 3. Structure-aware inputs from a fixed seed.
for (const target of TARGETS) {
  if (!target.generate) continue;
  const rng = new Rng(0x5eed);
  for (let i = 0; i < 24; i++) add(target.name, `generated-${i}`, target.generate(rng));
}

let total = 0;
for (const target of TARGETS) {
  const m = seeds.get(target.name) ?? new Map();
  const dir = new URL(`${target.name}/`, ROOT);
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of m) writeFileSync(new URL(`${name}.bin`, dir), bytes);
  total += m.size;
  console.log(`${target.name}: ${m.size} seeds`);
}
console.log(`${total} seeds in fuzz/corpus/`);
