/**
 * The payload corpora of the permessage-deflate cases (Autobahn sections 12
 * and 13), generated here, deterministically, instead of read from files we
 * may not redistribute. Each has the size and the character of the file
 * Autobahn|Testsuite uses in its place, which is what the cases exercise
 * (how well it compresses, text or binary, ASCII or not):
 *
 * | name | stands for | bytes | character |
 * | --- | --- | ---: | --- |
 * | `corpus.json` | `data1.json` | 194,056 | a test-report JSON, very repetitive (gzip ~4-6 %) |
 * | `corpus.html` | `data1.html` | 263,647 | an HTML report page with CSS and tables (gzip ~5-8 %) |
 * | `corpus.txt`  | `pg2229.txt` | 222,218 | prose in UTF-8 with a BOM, some non-ASCII letters (gzip ~35-45 %) |
 * | `corpus.bmp`  | `lena512.bmp` | 263,222 | a 512x512 8-bit grey bitmap of a noisy photo-like image (gzip ~80-90 %) |
 * | `corpus.pdf`  | `10.1.1.105.5439.pdf` | 1,042,328 | a PDF: mostly compressed (incompressible) streams between text objects (gzip ~70-80 %) |
 *
 * Invariants: the output depends on nothing but this file (a fixed-seed
 * PRNG, no clock, no environment); each corpus is built once per process and
 * kept (1.9 MB in all).
 * @module
 */

/** The corpus names, in the order of Autobahn's 12.1-12.5 files. */
export const PAYLOAD_NAMES = ["corpus.json", "corpus.bmp", "corpus.txt", "corpus.html", "corpus.pdf"] as const;
/** A corpus name. */
export type PayloadName = (typeof PAYLOAD_NAMES)[number];

/** The exact sizes of the Autobahn files each corpus stands for. */
export const PAYLOAD_SIZES: Readonly<Record<PayloadName, number>> = {
  "corpus.json": 194_056,
  "corpus.bmp": 263_222,
  "corpus.txt": 222_218,
  "corpus.html": 263_647,
  "corpus.pdf": 1_042_328,
};

/** mulberry32: a small fixed-seed PRNG, uniform in [0, 2^32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return (x ^ (x >>> 14)) >>> 0;
  };
}

const encoder = new TextEncoder();

/** Append `parts` while they fit in `size` bytes less `tail`, then pad with spaces to exactly `size`. */
function fit(size: number, next: () => string, tail: string): Uint8Array {
  const out: string[] = [];
  let used = encoder.encode(tail).length;
  for (;;) {
    const part = next();
    const n = encoder.encode(part).length;
    if (used + n > size) break;
    out.push(part);
    used += n;
  }
  out.push(" ".repeat(size - used), tail);
  const bytes = encoder.encode(out.join(""));
  if (bytes.length !== size) throw new Error(`payload generator: ${bytes.length} bytes, expected ${size}`);
  return bytes;
}

function json(size: number): Uint8Array {
  const rnd = prng(0x6a736f6e);
  const verdicts = ["OK", "OK", "OK", "OK", "OK", "OK", "NON-STRICT", "INFORMATIONAL", "FAILED", "UNIMPLEMENTED"];
  const codes = [1000, 1000, 1000, 1000, 1002, 1007, 1009];
  const agents = ["AutobahnPython/0.6.0", "wsproto/0.1.0", "ws/8.23.0", "websockets/14.1", "Chrome/131", "Firefox/133"];
  const pick = <T>(xs: readonly T[]): T => xs[rnd() % xs.length]!;
  // Reports of one agent after another, each a run of cases section.sub.n.
  let agent = -1;
  let caseNo = 0;
  return fit(
    size,
    () => {
      let s = "";
      if (agent < 0 || caseNo === 400) {
        s += agent < 0 ? "{" : "\n   },";
        agent++;
        caseNo = 0;
        s += `\n   "${agents[agent % agents.length]}${agent >= agents.length ? ` (run ${agent})` : ""}": {`;
      } else s += ",";
      const id = `${1 + Math.floor(caseNo / 40)}.${1 + Math.floor((caseNo % 40) / 10)}.${1 + (caseNo % 10)}`;
      caseNo++;
      const tag = agents[agent % agents.length]!.toLowerCase().replace(/[^a-z0-9]+/g, "_");
      return (
        s +
        `\n      "${id}": {\n         "behavior": "${pick(verdicts)}",\n         "behaviorClose": "${pick(verdicts)}",\n` +
        `         "duration": ${rnd() % 40},\n         "remoteCloseCode": ${pick(codes)},\n` +
        `         "reportfile": "${tag}_case_${id.replace(/\./g, "_")}.json"\n      }`
      );
    },
    "\n   }\n}\n",
  );
}

const CSS = `
body {
   background-color: #F4F4F4;
   color: #333;
   font-family: Segoe UI,Tahoma,Arial,Verdana,sans-serif;
}

p#intro {
   font-family: Cambria,serif;
   font-size: 1.1em;
   color: #444;
}

.block {
   background-color: #e0e0e0;
   padding: 16px;
   margin: 20px;
}

td.case_ok { background-color: #0a0; text-align: center; }
td.case_non_strict { background-color: #9a0; text-align: center; }
td.case_failed { background-color: #900; text-align: center; }
td.case_unimplemented { background-color: #800080; text-align: center; }
td.case_info { background-color: #4095BF; text-align: center; }
td.close_ok { background-color: #0a0; text-align: center; }
td.close_failed { background-color: #900; text-align: center; }
`;

function html(size: number): Uint8Array {
  const rnd = prng(0x68746d6c);
  const cls = ["case_ok", "case_ok", "case_ok", "case_ok", "case_non_strict", "case_info", "case_failed", "case_unimplemented"];
  const label: Record<string, string> = {
    case_ok: "Pass",
    case_non_strict: "Non-Strict",
    case_info: "Info",
    case_failed: "Fail",
    case_unimplemented: "Missing",
  };
  let started = false;
  let row = 0;
  return fit(
    size,
    () => {
      if (!started) {
        started = true;
        return (
          `<!DOCTYPE html>\n<html>\n   <head>\n      <meta charset="utf-8" />\n      <style lang="css">${CSS}      </style>\n   </head>\n   <body>\n` +
          `      <p id="intro">Test summary report generated on 2026-12-07 \u2014 endpoints under test, one column each \u2014 ` +
          `see the case descriptions below (\u00a9 the wsproto authors).</p>\n      <table id="agent_case_results">\n`
        );
      }
      row++;
      const id = `${1 + (row % 13)}.${1 + (row % 7)}.${row}`;
      let s = `         <tr class="agent_case_result_row">\n            <td class="case"><a href="#case_desc_${id.replace(/\./g, "_")}">Case ${id}</a></td>\n`;
      for (let a = 0; a < 4; a++) {
        const c = cls[rnd() % cls.length]!;
        s += `            <td class="${c}"><span class="case_ok">${label[c]}</span><span class="case_duration">${rnd() % 50} ms</span> <a href="agent_${a}_case_${id.replace(/\./g, "_")}.html">[report]</a></td>\n`;
      }
      return s + "         </tr>\n";
    },
    "\n      </table>\n   </body>\n</html>\n",
  );
}

// About 330 common English words (and a few German ones with umlauts, as in
// the Faust text Autobahn uses), drawn with a Zipf-like weighting.
const WORDS = (
  "the of and to in a is that for it as was with be by on not he I this are or his from at which but have an they you were " +
  "her she there one all we their been has when who will more no if out so said what up its about into than them can only " +
  "other new some could time these two may then do first any my now such like our over man me even most made after also did " +
  "many before must through back years where much your way well down should because each just those people how too little " +
  "state good very make world still own see men work long get here between both life being under never day same another know " +
  "while last might us great old year off come since against go came right used take three himself few house use during " +
  "without again place around however home small found thought went say part once general high upon school every does got " +
  "united left number course war until always away something fact though water less public put think almost hand enough far " +
  "took head yet government system better set told nothing night end why called didn't eyes find going look asked later knew " +
  "point next program city business give group toward young days let room president side social given present several order " +
  "national second possible rather per face among form important often things looked early white case john become large big " +
  "need four within felt along children saw best church ever least power development light thing seemed family interest want " +
  "members mind country area others although turned done open god service certain kind problem began different door thus " +
  "help sense means whole matter perhaps itself york times law human line above name example action company hands local show " +
  "whether five history gave today either act feet across taken past quite anything seen having death week experience body " +
  "word half really field am car words already themselves information tell together college shall money period held keep sure " +
  "probably free seems political real behind cannot miss question air office making brought whose special major heard problems " +
  "ago became federal study available known result street economic boy reason change position heaven spirit soul dream " +
  "Faust Gretchen Mephisto Geist Welt Schüler Mädchen Nähe schön Glück Höhe Träume über für"
).split(" ");

function text(size: number): Uint8Array {
  const rnd = prng(0x74657874);
  // Zipf-like: the index is the floor of a squared uniform, so early words are common.
  // One word in 40 is one of the last nine, the ones with umlauts.
  const word = () =>
    rnd() % 40 === 0 ? WORDS[WORDS.length - 1 - (rnd() % 9)]! : WORDS[Math.floor(((rnd() / 2 ** 32) ** 2.2) * WORDS.length)]!;
  let first = true;
  return fit(
    size,
    () => {
      if (first) {
        first = false;
        return "\ufeffThe Project Text of Faust: a generated stand-in\r\n\r\nThis text is for the use of anyone anywhere at no cost.\r\n\r\n";
      }
      // A stanza: 3-8 lines of 4-11 words, capitalised, punctuated.
      const lines: string[] = [];
      const count = 3 + (rnd() % 6);
      for (let l = 0; l < count; l++) {
        const words: string[] = [];
        const n = 4 + (rnd() % 8);
        for (let w = 0; w < n; w++) words.push(word());
        let line = words.join(" ");
        line = line[0]!.toUpperCase() + line.slice(1) + [",", ";", ".", "!", "?", ",", ""][rnd() % 7];
        lines.push(line);
      }
      const speaker = rnd() % 3 === 0 ? `${["FAUST", "MEPHISTOPHELES", "MARGARETE", "WAGNER", "CHOR"][rnd() % 5]}:\r\n` : "";
      return speaker + lines.join("\r\n") + "\r\n\r\n";
    },
    "\r\nEnd of the generated text.\r\n",
  );
}

function bmp(size: number): Uint8Array {
  const W = 512;
  const H = 512;
  const HEADER = 14 + 40 + 256 * 4;
  if (size !== HEADER + W * H) throw new Error("payload generator: bitmap size");
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  // BITMAPFILEHEADER + BITMAPINFOHEADER, 8 bits per pixel with a grey palette.
  out[0] = 0x42;
  out[1] = 0x4d;
  v.setUint32(2, size, true);
  v.setUint32(10, HEADER, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, W, true);
  v.setInt32(22, H, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, 8, true);
  v.setUint32(34, W * H, true);
  v.setUint32(46, 256, true);
  for (let i = 0; i < 256; i++) out.set([i, i, i, 0], 54 + i * 4);
  // A photo-like image: smooth shapes plus sensor noise, which is what keeps it barely compressible.
  const rnd = prng(0x626d70);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const smooth =
        128 +
        60 * Math.sin(x / 37) * Math.cos(y / 53) +
        40 * Math.sin((x + y) / 91) +
        25 * Math.cos(Math.hypot(x - 300, y - 200) / 19);
      const noise = ((rnd() & 0xff) - 128) / 28;
      out[HEADER + y * W + x] = Math.max(0, Math.min(255, Math.round(smooth + noise)));
    }
  }
  return out;
}

function pdf(size: number): Uint8Array {
  const rnd = prng(0x706466);
  const head = "%PDF-1.2\n%\u00e2\u00e3\u00cf\u00d3\n";
  const trailer = "trailer\n<< /Size 4000 /Root 1 0 R >>\nstartxref\n0\n%%EOF\n";
  const chunks: Uint8Array[] = [encoder.encode(head)];
  let used = chunks[0]!.length + trailer.length;
  let obj = 1;
  const push = (b: Uint8Array) => {
    chunks.push(b);
    used += b.length;
  };
  while (used < size) {
    // A page object and an uncompressed content stream of text operators...
    let content = "";
    for (let line = 3 + (rnd() % 5); line > 0; line--) {
      const words: string[] = [];
      for (let i = 0; i < 60 + (rnd() % 120); i++) words.push(WORDS[rnd() % (WORDS.length - 14)]!);
      content += `BT /F1 ${9 + (rnd() % 4)} Tf 72 ${700 - (rnd() % 600)} Td (${words.join(" ")}) Tj ET\n`;
    }
    push(
      encoder.encode(
        `${obj++} 0 obj\n<< /Type /Page /Parent 3 0 R /Resources << /Font << /F1 5 0 R >> >> /MediaBox [0 0 612 792] /Contents ${obj} 0 R >>\nendobj\n` +
          `${obj++} 0 obj\n<< /Length ${content.length} >>\nstream\n${content}endstream\nendobj\n`,
      ),
    );
    // ...then a Flate-compressed stream (images, fonts): random bytes, as compressed data looks.
    const len = 1_000 + (rnd() % 6_000);
    const data = new Uint8Array(len);
    for (let i = 0; i < len; i += 4) {
      const r = rnd();
      data[i] = r & 0xff;
      data[i + 1] = (r >>> 8) & 0xff;
      data[i + 2] = (r >>> 16) & 0xff;
      data[i + 3] = r >>> 24;
    }
    push(encoder.encode(`${obj++} 0 obj\n<< /Length ${len} /Filter /FlateDecode >>\nstream\n`));
    push(data);
    push(encoder.encode("\nendstream\nendobj\n"));
  }
  const out = new Uint8Array(size);
  let p = 0;
  for (const c of chunks) {
    const take = Math.min(c.length, size - trailer.length - p);
    out.set(c.subarray(0, take), p);
    p += take;
    if (p === size - trailer.length) break;
  }
  out.set(encoder.encode(trailer), p);
  return out;
}

const GENERATORS: Record<PayloadName, (size: number) => Uint8Array> = {
  "corpus.json": json,
  "corpus.bmp": bmp,
  "corpus.txt": text,
  "corpus.html": html,
  "corpus.pdf": pdf,
};

/** Build a corpus afresh (deterministic: the same bytes on every call and every machine). */
export function generatePayload(name: PayloadName): Uint8Array {
  return GENERATORS[name](PAYLOAD_SIZES[name]);
}

const cache = new Map<PayloadName, Uint8Array>();

/** A corpus, built on first use and kept for the process. */
export function payload(name: PayloadName): Uint8Array {
  let b = cache.get(name);
  if (!b) {
    b = generatePayload(name);
    cache.set(name, b);
  }
  return b;
}
