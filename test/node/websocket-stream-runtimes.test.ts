// The spec-derived WebSocketStream checks (websocket-stream-conformance.ts)
// run unchanged on Node (tsx), Bun and Deno against python websockets
// (test/interop/peers/websocket_stream_server.py); "wsproto/node" resolves
// through tsconfig.json's `paths` (Node, Bun) or the import map (Deno). Deno
// runs with --unstable-net, so that its own WebSocketStream and
// WebSocketError exist beside ours: the import must still be ours, and
// abort() must honour Deno's WebSocketError.
import t from "tap";
import { BIN, ROOT, runPeer, says, startPeer, tsx } from "../helpers/process.ts";

const SCRIPT = `${ROOT}test/node/websocket-stream-conformance.ts`;
const CHECKS = 12;

const RUNTIMES: Array<{ name: string; cmd: string; args: (url: string) => string[]; env?: Record<string, string>; extra: number }> = [
  { name: "Node", cmd: BIN.node, args: (url) => tsx(SCRIPT, url), extra: 0 },
  { name: "Bun", cmd: BIN.bun, args: (url) => [SCRIPT, url], extra: 0 },
  {
    name: "Deno",
    cmd: BIN.deno,
    args: (url) => ["run", "--allow-net", "--unstable-net", `--import-map=${ROOT}test/examples/fixtures/import-map.json`, SCRIPT, url],
    env: { DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
    extra: 1, // its own WebSocketError, passed to abort()
  },
];

t.test("the WebSocketStream checks pass on Node, Bun and Deno", async (t) => {
  const peer = await startPeer(t, BIN.python, [`${ROOT}test/interop/peers/websocket_stream_server.py`, "--port", "0"]);
  for (const runtime of RUNTIMES) {
    const r = await runPeer(t, runtime.cmd, runtime.args(peer.url), { timeoutMs: 90000, ...(runtime.env ? { env: runtime.env } : {}) });
    const expected = `summary ${CHECKS + runtime.extra} passed, 0 failed`;
    const ok = r.code === 0 && r.stdout.includes(expected);
    t.ok(ok, says(ok, `${runtime.name}: ${expected}`, r));
    for (const failure of r.stdout.split("\n").filter((l) => l.startsWith("not ok"))) t.fail(`${runtime.name}: ${failure}`);
  }
});
