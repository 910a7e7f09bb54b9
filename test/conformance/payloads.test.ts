// The generated payload corpora of the permessage-deflate cases: exact sizes
// of Autobahn's files, deterministic, and of the same character (format and
// compressibility at gzip level 9, Autobahn's file in parentheses).
import t from "tap";
import { gzipSync } from "node:zlib";
import { generatePayload, payload, PAYLOAD_NAMES, PAYLOAD_SIZES, type PayloadName } from "./payloads.ts";

const ratio = (b: Uint8Array) => gzipSync(b, { level: 9 }).length / b.length;
const utf8 = (b: Uint8Array) => new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(b);

t.test("each corpus has its Autobahn file's size and is the same on every build", async (t) => {
  t.same(PAYLOAD_SIZES, {
    "corpus.json": 194056,
    "corpus.bmp": 263222,
    "corpus.txt": 222218,
    "corpus.html": 263647,
    "corpus.pdf": 1042328,
  });
  for (const name of PAYLOAD_NAMES) {
    const a = payload(name);
    t.equal(a.length, PAYLOAD_SIZES[name], `${name}: ${a.length} bytes`);
    t.ok(Buffer.from(generatePayload(name)).equals(Buffer.from(a)), `${name}: a second build is byte for byte the same`);
    t.equal(payload(name), a, `${name}: built once per process`);
  }
});

t.test("each corpus has its Autobahn file's character", async (t) => {
  const bands: Record<PayloadName, [number, number]> = {
    "corpus.json": [0.03, 0.07], // data1.json: 3.6 %
    "corpus.html": [0.03, 0.08], // data1.html: 5.2 %
    "corpus.txt": [0.3, 0.45], // pg2229.txt: 38.6 %
    "corpus.bmp": [0.8, 0.9], // lena512.bmp: 85.2 %
    "corpus.pdf": [0.7, 0.85], // the PDF: 75.6 %
  };
  for (const name of PAYLOAD_NAMES) {
    const r = ratio(payload(name));
    const [lo, hi] = bands[name];
    t.ok(r >= lo && r <= hi, `${name}: gzip to ${(r * 100).toFixed(1)} % (within ${lo * 100}-${hi * 100} %)`);
  }
  const json = utf8(payload("corpus.json"));
  const parsed = JSON.parse(json) as Record<string, Record<string, { behavior: string }>>;
  t.ok(Object.keys(parsed).length >= 2, "JSON: test reports of several agents");
  t.match(Object.values(parsed)[0]!["1.1.1"], { behavior: String });
  t.match(json, /^[\x20-\x7e\n]*$/, "JSON: ASCII");

  const html = utf8(payload("corpus.html"));
  t.match(html, /^<!DOCTYPE html>\n<html>/);
  t.match(html, /<\/html>\n$/);
  t.ok(/[^\x00-\x7f]/.test(html), "HTML: a few non-ASCII characters, valid UTF-8");

  const text = utf8(payload("corpus.txt"));
  t.ok(text.startsWith("\ufeff"), "text: UTF-8 with a byte order mark");
  const nonAscii = text.match(/[^\x00-\x7f]/g)?.length ?? 0;
  t.ok(nonAscii > 500 && nonAscii < 10_000, `text: ${nonAscii} non-ASCII characters (pg2229.txt has about 2,000 lines with some)`);
  t.match(text, /\r\n\r\n/, "text: CRLF lines in stanzas");

  const bmp = payload("corpus.bmp");
  const v = new DataView(bmp.buffer, bmp.byteOffset, bmp.byteLength);
  t.same(
    [String.fromCharCode(bmp[0]!, bmp[1]!), v.getUint32(2, true), v.getUint32(10, true), v.getInt32(18, true), v.getInt32(22, true), v.getUint16(28, true)],
    ["BM", 263222, 1078, 512, 512, 8],
    "bitmap: 512 x 512, 8 bits per pixel, palette then pixels",
  );

  const pdf = payload("corpus.pdf");
  const latin1 = (b: Uint8Array) => Array.from(b, (c) => String.fromCharCode(c)).join("");
  t.match(latin1(pdf.subarray(0, 9)), /^%PDF-1\.2\n/);
  t.match(latin1(pdf.subarray(-6)), /%%EOF\n$/);
  t.throws(() => utf8(pdf), "PDF: binary, not UTF-8");
});
