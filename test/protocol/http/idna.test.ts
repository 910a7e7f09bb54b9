// Host names to ASCII and back (src/protocol/http/idna.ts): RFC 3492 samples and
// the outputs of Python's "idna" codec, which wsproto uses.
import t from "tap";
import fc from "fast-check";
import { IdnaError, hostToAscii, hostToUnicode, punycodeDecode, punycodeEncode } from "../../../src/protocol/http/idna.ts";

// [input, punycode] as Python's "punycode" codec gives them (RFC 3492 §7.1 samples among them).
const PUNYCODE: Array<[string, string]> = [
  ["bücher", "bcher-kva"],
  ["ليهمابتكلموشعربي؟", "egbpdaj6bu4bxfgehfvwxn"],
  ["他们为什么不说中文", "ihqwcrb4cv8a8dqg056pqjye"],
  ["Pročprostěnemluvíčesky", "Proprostnemluvesky-uyb24dma41a"],
  ["למההםפשוטלאמדבריםעברית", "4dbcagdahymbxekheh6e0a7fei0b"],
  ["3年B組金八先生", "3B-ww4c5e180e575a65lsy2b"],
  ["安室奈美恵-with-SUPER-MONKEYS", "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n"],
  ["MajiでKoiする5秒前", "MajiKoi5-783gue6qz075azm5e"],
  ["パフィーdeルンバ", "de-jg4avhby1noc0d"],
  ["-> $1.00 <-", "-> $1.00 <--"],
  ["abc", "abc-"],
  ["ü", "tda"],
  ["💩", "ls8h"],
  ["a-b-ü", "a-b--3ra"],
];

// [host, Python's host.encode("idna")]
const TO_ASCII: Array<[string, string]> = [
  ["bücher.example", "xn--bcher-kva.example"],
  ["芝士汉堡", "xn--7ks3rz39bh7u"],
  ["Bücher.Example", "xn--bcher-kva.Example"],
  ["ÄÖÜ", "xn--4ca0bs"],
  ["ﬀ.com", "ff.com"],
  ["a\u00adb.ü", "ab.xn--tda"],
  ["Ⅳ.ü", "iv.xn--tda"],
  ["bücher.example:8080", "xn--bcher-kva.example:8080"],
  ["芝士汉堡:8080", "xn--7ks3rz39bh7u:8080"], // (Python gives "xn--:8080-x43i70cj29f184b": the port is not a label)
  ["ü.", "xn--tda."],
  ["xn--bcher-kva.example", "xn--bcher-kva.example"],
  ["münchen.de", "xn--mnchen-3ya.de"],
  ["ü。b", "xn--tda.b"],
  ["example.com", "example.com"],
  ["Example.COM:443", "Example.COM:443"],
  ["[::1]:8080", "[::1]:8080"],
  ["127.0.0.1", "127.0.0.1"],
  ["", ""],
];

t.test("punycode encodes and decodes the RFC 3492 samples", async (t) => {
  for (const [text, code] of PUNYCODE) {
    t.equal(punycodeEncode(text), code, `encode ${text}`);
    t.equal(punycodeDecode(code), text, `decode ${code}`);
  }
});

t.test("hosts to ASCII as Python's idna codec", async (t) => {
  for (const [host, ascii] of TO_ASCII) t.equal(hostToAscii(host), ascii, JSON.stringify(host));
});

t.test("invalid hosts raise IdnaError", async (t) => {
  for (const bad of ["a..b", "a".repeat(64), "ü".repeat(64), "xn--ü", ".", "ü..b"]) {
    t.throws(() => hostToAscii(bad), IdnaError, JSON.stringify(bad));
  }
});

t.test("hosts back to Unicode", async (t) => {
  t.equal(hostToUnicode("xn--7ks3rz39bh7u"), "芝士汉堡");
  t.equal(hostToUnicode("XN--bcher-kva.example"), "bücher.example");
  t.equal(hostToUnicode("Server.Example.COM"), "Server.Example.COM", "ASCII labels keep their case");
  t.equal(hostToUnicode("host:8080"), "host:8080");
  t.equal(hostToUnicode("xn--ls8h"), "💩");
  t.equal(hostToUnicode("xn--7ks3rz39bh7u:8080"), "芝士汉堡:8080");
  t.equal(hostToUnicode("a..b"), "a..b", "like Python, decoding does not check empty labels");
  for (const bad of ["xn--zzzz-", "xn--a", "xn--abc", "xn--b-", "xn--bcher-kva-.x", `xn--${"a".repeat(70)}`, "xn--99999999999a"]) {
    t.throws(() => hostToUnicode(bad), IdnaError, JSON.stringify(bad));
  }
});

t.test("property: round trip through ASCII", async (t) => {
  const label = fc.string({ unit: fc.constantFrom(..."abcxyzüéßøæ中文字😀-0"), minLength: 1, maxLength: 12 });
  fc.assert(
    fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), (labels) => {
      const host = labels.join(".");
      let ascii: string;
      try {
        ascii = hostToAscii(host);
      } catch (e) {
        return e instanceof IdnaError;
      }
      if (!/^[\x21-\x7e]*$/.test(ascii)) return false;
      // Nameprep lower-cases and normalizes: the way back gives the prepared form.
      return hostToAscii(hostToUnicode(ascii)) === ascii;
    }),
    { numRuns: 500 },
  );
});

t.test("property: decoding arbitrary xn-- labels never throws anything but IdnaError", async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(..."abz09-xn."), maxLength: 30 }), (s) => {
      try {
        hostToUnicode(`xn--${s}`);
      } catch (e) {
        return e instanceof IdnaError;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
});
