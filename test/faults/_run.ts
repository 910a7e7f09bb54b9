// Runs the fault campaign (campaign.ts) for one path in a child process
// with --expose-gc, and checks what it reports: no crash, every `closed`
// settled, every send settled and none resolved after its session's
// `closed`, and no growth in open file descriptors, active resources or
// heap (after gc) between the warm-up and the end of the campaign.
import type { Test } from "tap";
import { BIN, ROOT, runPeer, says } from "../helpers/process.ts";

/** Rounds of the seven points: 143 × 7 = 1,001 connections per path (the 1,000). */
export const ROUNDS = 143;
/** Heap growth allowed over the campaign: far below what one leaked session per connection would hold (>10 KiB each). */
const HEAP_SLACK = 3 * 1024 * 1024;

export async function campaign(t: Test, path: "server" | "upgrade" | "tcp" | "client", rounds = ROUNDS): Promise<void> {
  const r = await runPeer(t, BIN.node, ["--expose-gc", "--import", "tsx", `${ROOT}test/faults/campaign.ts`, path, String(rounds)], {
    timeoutMs: 180_000,
  });
  t.equal(r.code, 0, says(r.code === 0, "the campaign ran to its end: nothing crashed the process", r));
  const line = r.stdout.trim().split("\n").pop() ?? "";
  let result: {
    peers: number;
    sessions: number;
    openAtEnd: number;
    closedUnsettled: number;
    sends: number;
    sendsRejected: number;
    sendsUnsettled: number;
    sendsResolvedAfterClose: number;
    before: { fds: number; resources: number; heap: number };
    after: { fds: number; resources: number; heap: number };
    ms: number;
  };
  try {
    result = JSON.parse(line) as typeof result;
  } catch {
    t.fail(`no result line: ${line}`);
    return;
  }
  t.equal(result.peers, rounds * 7, `${result.peers} peers destroyed at 7 points (${result.sessions} sessions, warm-up included; ${result.ms} ms)`);
  t.equal(result.openAtEnd, 0, "no session left open (a WebSocketServer's connections back at 0)");
  t.equal(result.closedUnsettled, 0, "every session's closed settled");
  t.equal(result.sendsUnsettled, 0, `every send settled (${result.sends}, ${result.sendsRejected} rejected)`);
  t.equal(result.sendsResolvedAfterClose, 0, "no send resolved after its session's closed");
  t.ok(result.after.fds <= result.before.fds + 2, `open file descriptors: ${result.before.fds} -> ${result.after.fds}`);
  t.ok(result.after.resources <= result.before.resources + 2, `active resources: ${result.before.resources} -> ${result.after.resources}`);
  const growth = result.after.heap - result.before.heap;
  t.ok(growth < HEAP_SLACK, `heap after gc: ${(result.before.heap / 1e6).toFixed(1)} MB -> ${(result.after.heap / 1e6).toFixed(1)} MB`);
  t.notMatch(r.stderr, /reported as an application failure/, "no vanished peer was reported as an application failure");
}
