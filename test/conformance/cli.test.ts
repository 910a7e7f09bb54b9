// `npm run conformance` as users run it (a few cases, both roles): a table
// per group, the close codes and what deflate agreed, the totals.
import t from "tap";
import { runScript as run } from "../helpers/process.ts";

t.test("npm run conformance: tables per group and totals, both roles", async (t) => {
  const { code, out, err } = await run(["scripts/conformance.ts", "--cases", "1.1.*", "--cases", "2.5", "--cases", "6.4.1", "--cases", "13.3.1$"]);
  t.equal(code, 0, err);
  t.match(out, /== server under test: examples\/echo-server\.ts/);
  t.match(out, /== client under test: test\/conformance\/echo-client\.ts/);
  t.match(out, /-- 1 Framing: 9 cases \(8 Autobahn, 1 extra\): OK 9, FAILED 0/);
  t.match(out, /2\.5 +OK +OK +1002/, "a fail case shows the close code");
  t.match(out, /13\.3\.1 +OK +OK +1000 .*agreed .*c_mwb=9/, "a deflate case shows what was agreed");
  t.match(out, /TOTAL +12 cases \(11 Autobahn, 1 extra\): OK 12, FAILED 0/);
});
