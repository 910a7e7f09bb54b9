// `npm run fuzz` as users run it (bounded): per-target figures, the total
// and the peak RSS.
import t from "tap";
import { runScript as run } from "../helpers/process.ts";

t.test("npm run fuzz: bounded run with figures", async (t) => {
  const { code, out, err } = await run(["scripts/fuzz.ts", "--runs", "1600", "--seed", "7"]);
  t.equal(code, 0, err);
  t.match(out, /seed 7; 8 targets; 1600 inputs in total/);
  for (const name of ["frame-server", "frame-client-deflate", "http-server", "http-client", "headers", "deflate-inbound"]) {
    t.match(out, new RegExp(`${name} +200 inputs .* findings 0`), name);
  }
  t.match(out, /total 1600 inputs in [\d.]+ s; findings 0; peak RSS \d+ MiB/);
});

t.test("npm run fuzz: an input that never returns is stopped and reported", async (t) => {
  const { code, out } = await run(["scripts/fuzz.ts", "--target", "selftest-hang", "--runs", "100", "--hang-seconds", "1", "--findings", ".test-tmp/fuzz-selftest"]);
  t.equal(code, 1, "exit status 1 on a finding");
  // The reported input is the one that hung: some input holding an ff byte (which one depends on the seed).
  t.match(out, /\[selftest-hang\] hang: no progress for 1 s\n {4}input (?:[0-9a-f]{2})*ff/);
});
