// The header grammar functions (src/protocol/http/headers.ts), table-driven:
// valid, pathological and invalid inputs, and build <-> parse round trips.
import t, { type Test } from "tap";
import fc from "fast-check";
import { LocalProtocolError, RemoteProtocolError } from "../../../src/protocol/errors.ts";
import {
  buildExtensionItem,
  buildExtensions,
  buildSubprotocols,
  buildTokenList,
  hasToken,
  isToken,
  parseExtensionItem,
  parseExtensions,
  parseSubprotocols,
  parseTokenList,
  type ExtensionItem,
} from "../../../src/protocol/http/headers.ts";

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

function throwsRemote(t: Test, fn: () => unknown, what: string): void {
  try {
    fn();
    t.fail(`${what}: expected RemoteProtocolError`);
  } catch (e) {
    t.ok(e instanceof RemoteProtocolError && e.code === "WS_ERR_HANDSHAKE_HEADER" && e.eventHint === null, `${what}: RemoteProtocolError`);
  }
}

function throwsLocal(t: Test, fn: () => unknown, what: string): void {
  try {
    fn();
    t.fail(`${what}: expected LocalProtocolError`);
  } catch (e) {
    t.ok(e instanceof LocalProtocolError && /^WS_ERR_/.test(e.code), `${what}: LocalProtocolError`);
  }
}

t.test("isToken", async (t) => {
  t.ok(isToken(TCHARS));
  for (const s of ["", " ", "a b", "a,b", "a;b", 'a"', "a=b", "a/b", "(a)", "a\tb", "é", "a\r", "a\0", "[a]", "{a}", "a:b", "a@b", "a?b", "a\\b"]) {
    t.notOk(isToken(s), JSON.stringify(s));
  }
});

t.test("token lists: valid", async (t) => {
  const table: Array<[string, string[]]> = [
    ["Upgrade", ["Upgrade"]],
    ["keep-alive, Upgrade", ["keep-alive", "Upgrade"]],
    ["keep-alive,Upgrade", ["keep-alive", "Upgrade"]],
    ["  a  ,\tb\t", ["a", "b"]],
    ["", []],
    ["   ", []],
    [",", []],
    [", , ,", []],
    [",a,,b,", ["a", "b"]],
    ["__proto__, constructor, toString", ["__proto__", "constructor", "toString"]],
    [TCHARS, [TCHARS]],
  ];
  for (const [input, want] of table) t.same(parseTokenList(input), want, JSON.stringify(input));
});

t.test("token lists: invalid", async (t) => {
  for (const bad of ["a b", "a;b", '"a"', "a=1", "a, b c", "é", "a,\u0000", "a/1", "a\r\nb"]) {
    throwsRemote(t, () => parseTokenList(bad), JSON.stringify(bad));
  }
});

t.test("hasToken compares case-insensitively and never throws", async (t) => {
  t.ok(hasToken("keep-alive, UPGRADE", "upgrade"));
  t.ok(hasToken("Upgrade", "UPGRADE"));
  t.notOk(hasToken("keep-alive", "upgrade"));
  t.notOk(hasToken("upgrades", "upgrade"));
  t.notOk(hasToken("up grade", "upgrade"), "a malformed list contains nothing");
  t.notOk(hasToken("", "upgrade"));
});

t.test("huge lists are parsed in linear time", async (t) => {
  const items = Array.from({ length: 50_000 }, (_, i) => `t${i}`);
  t.same(parseTokenList(items.join(", ")), items);
  t.equal(parseTokenList(",".repeat(100_000)).length, 0);
  t.equal(parseExtensions(items.map((x) => `${x}; a=1; b`).join(", ")).length, 50_000);
  t.equal(parseExtensions(`x; p="${"a".repeat(100_000)}"`)[0]!.params[0]![1]!.length, 100_000);
});

t.test("subprotocols", async (t) => {
  t.same(parseSubprotocols("chat, superchat"), ["chat", "superchat"]);
  t.same(parseSubprotocols("v1.json.api"), ["v1.json.api"]);
  t.same(parseSubprotocols("chat,,superchat,"), ["chat", "superchat"]);
  throwsRemote(t, () => parseSubprotocols("chat room"), "space");
  throwsRemote(t, () => parseSubprotocols("chat/1"), "slash");
  t.equal(buildSubprotocols(["chat", "superchat"]), "chat, superchat");
  t.equal(buildSubprotocols([]), "");
  for (const bad of ["", "a b", "a,b", "a\r\nX-Evil: 1", "é", "a\0"]) {
    throwsLocal(t, () => buildSubprotocols([bad]), JSON.stringify(bad));
  }
  t.equal(buildTokenList(["a", "b"]), "a, b");
  throwsLocal(t, () => buildTokenList(["a b"]), "buildTokenList");
});

t.test("extensions: valid", async (t) => {
  const table: Array<[string, ExtensionItem[]]> = [
    ["permessage-deflate", [{ name: "permessage-deflate", params: [] }]],
    [
      "permessage-deflate; client_max_window_bits",
      [{ name: "permessage-deflate", params: [["client_max_window_bits", null]] }],
    ],
    [
      'permessage-deflate; client_max_window_bits="10"; server_no_context_takeover',
      [{ name: "permessage-deflate", params: [["client_max_window_bits", "10"], ["server_no_context_takeover", null]] }],
    ],
    [
      "a ; p = 1 ;q\t, b;r=2",
      [
        { name: "a", params: [["p", "1"], ["q", null]] },
        { name: "b", params: [["r", "2"]] },
      ],
    ],
    ['x; p="a\\bc"', [{ name: "x", params: [["p", "abc"]] }]],
    ["x; p=1; p=2", [{ name: "x", params: [["p", "1"], ["p", "2"]] }]],
    [", x ,, y ,", [{ name: "x", params: [] }, { name: "y", params: [] }]],
    ["", []],
    [
      "__proto__; constructor=1; __proto__",
      [{ name: "__proto__", params: [["constructor", "1"], ["__proto__", null]] }],
    ],
  ];
  for (const [input, want] of table) t.same(parseExtensions(input), want, JSON.stringify(input));
});

t.test("extensions: quoted commas and semicolons do not split (unlike wsproto's split_comma_header)", async (t) => {
  // RFC 6455 §9.1 requires a quoted value to be a token once unquoted, so a
  // quoted comma is a syntax error here, never a split point.
  throwsRemote(t, () => parseExtensions('x; p="a,b", y'), "quoted comma");
  throwsRemote(t, () => parseExtensions('x; p="a;b"'), "quoted semicolon");
  t.same(parseExtensions('x; p="ab", y'), [
    { name: "x", params: [["p", "ab"]] },
    { name: "y", params: [] },
  ]);
});

t.test("extensions: invalid", async (t) => {
  for (const bad of [
    ";",
    "x;",
    "x; ",
    "x;;p",
    "x; =1",
    "x; p=",
    "x; p= ",
    'x; p="1',
    'x; p="a b"',
    'x; p=""',
    "x; p=a b",
    "x y",
    "x; p=1 q",
    "x; p==1",
    "x; p=1=2",
    '"x"',
    "x; p=é",
    "x; p=\u0000",
    'x; p="\\',
    "x\r\n; p",
  ]) {
    throwsRemote(t, () => parseExtensions(bad), JSON.stringify(bad));
  }
});

t.test("parseExtensionItem wants exactly one item", async (t) => {
  t.same(parseExtensionItem("a; b=1"), { name: "a", params: [["b", "1"]] });
  throwsRemote(t, () => parseExtensionItem("a, b"), "two items");
  throwsRemote(t, () => parseExtensionItem(""), "none");
});

t.test("building extensions", async (t) => {
  t.equal(buildExtensionItem({ name: "x", params: [] }), "x");
  t.equal(buildExtensionItem({ name: "x", params: [["a", null], ["b", "2"]] }), "x; a; b=2");
  t.equal(
    buildExtensions([
      { name: "a", params: [["p", "1"]] },
      { name: "b", params: [] },
    ]),
    "a; p=1, b",
  );
  throwsLocal(t, () => buildExtensionItem({ name: "a b", params: [] }), "bad name");
  throwsLocal(t, () => buildExtensionItem({ name: "x", params: [["a=b", null]] }), "bad param name");
  throwsLocal(t, () => buildExtensionItem({ name: "x", params: [["a", "1 2"]] }), "bad value");
  throwsLocal(t, () => buildExtensionItem({ name: "x", params: [["a", "1\r\nX: y"]] }), "CRLF value");
  throwsLocal(t, () => buildExtensionItem({ name: "x", params: [["a", ""]] }), "empty value");
});

const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9a-zA-Z]{1,12}$/);
const item: fc.Arbitrary<ExtensionItem> = fc.record({
  name: token,
  params: fc.array(fc.tuple(token, fc.option(token, { nil: null })), { maxLength: 4 }),
});

t.test("property: parse(build(items)) === items", async (t) => {
  fc.assert(
    fc.property(fc.array(item, { maxLength: 6 }), (items) => {
      t.same(parseExtensions(buildExtensions(items)), items);
      return true;
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.array(token, { maxLength: 8 }), (tokens) => {
      const parsed = parseTokenList(buildTokenList(tokens));
      return JSON.stringify(parsed) === JSON.stringify(tokens);
    }),
    { numRuns: 300 },
  );
});

t.test("property: build(parse(x)) is a fixed point, whatever the spacing and quoting", async (t) => {
  const ows = fc.constantFrom("", " ", "\t", "  ");
  const spaced = fc.array(item, { minLength: 1, maxLength: 4 }).chain((items) =>
    fc.tuple(fc.constant(items), fc.array(ows, { minLength: 64, maxLength: 64 }), fc.array(fc.boolean(), { minLength: 32, maxLength: 32 })),
  );
  fc.assert(
    fc.property(spaced, ([items, ws, quote]) => {
      let k = 0;
      const w = (): string => ws[k++ % ws.length]!;
      const text = items
        .map(
          (it, i) =>
            w() +
            it.name +
            it.params
              .map(([n, v], j) => `${w()};${w()}${n}${v === null ? "" : `${w()}=${w()}${quote[(i * 4 + j) % 32] ? `"${v}"` : v}`}`)
              .join("") +
            w(),
        )
        .join(",");
      const canonical = buildExtensions(parseExtensions(text));
      return canonical === buildExtensions(items) && buildExtensions(parseExtensions(canonical)) === canonical;
    }),
    { numRuns: 300 },
  );
});

t.test("property: arbitrary strings parse or raise RemoteProtocolError, nothing else", async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), (s) => {
      for (const fn of [parseTokenList, parseSubprotocols, parseExtensions]) {
        try {
          fn(s);
        } catch (e) {
          if (!(e instanceof RemoteProtocolError)) return false;
        }
      }
      return true;
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(..."ab ,;=\"\\\t"), maxLength: 30 }), (s) => {
      try {
        parseExtensions(s);
      } catch (e) {
        if (!(e instanceof RemoteProtocolError)) return false;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
});
