// examples/websocket-stream.ts, code written for Chrome's WebSocketStream
// with `import { WebSocketStream } from "wsproto/node"`, run unchanged on
// Node (tsx), Bun and Deno against python websockets' echo
// (test/interop/peers/websocket_stream_server.py). Inside this repository
// Node and Bun resolve "wsproto/node" through tsconfig.json's `paths`, Deno
// through test/examples/fixtures/import-map.json.
import t from "tap";
import { BIN, ROOT, runPeer, says, startPeer, tsx } from "../helpers/process.ts";

const EXAMPLE = `${ROOT}examples/websocket-stream.ts`;

const RUNTIMES: Array<{ name: string; cmd: string; args: (url: string) => string[]; env?: Record<string, string> }> = [
  { name: "Node", cmd: BIN.node, args: (url) => tsx(EXAMPLE, url) },
  { name: "Bun", cmd: BIN.bun, args: (url) => [EXAMPLE, url] },
  {
    name: "Deno",
    cmd: BIN.deno,
    args: (url) => ["run", "--allow-net", `--import-map=${ROOT}test/examples/fixtures/import-map.json`, EXAMPLE, url],
    env: { DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
  },
];

t.test("examples/websocket-stream.ts runs unchanged on Node, Bun and Deno", async (t) => {
  const peer = await startPeer(t, BIN.python, [`${ROOT}test/interop/peers/websocket_stream_server.py`, "--port", "0"]);
  const url = `${peer.url}echo`;
  for (const runtime of RUNTIMES) {
    const r = await runPeer(t, runtime.cmd, runtime.args(url), { timeoutMs: 60000, ...(runtime.env ? { env: runtime.env } : {}) });
    t.equal(r.code, 0, says(r.code === 0, `${runtime.name}: exits 0`, r));
    // permessage-deflate shows it is ours on Deno too: Deno's own WebSocketStream offers no extension.
    t.match(r.stdout, /open \(protocol "chat", extensions "permessage-deflate/, `${runtime.name}: subprotocol and compression agreed`);
    t.match(r.stdout, /echo "hello"\necho binary \[1, 2, 3\]\n/, `${runtime.name}: text and binary echoed`);
    t.match(r.stdout, /closed 1000 "bye"/, `${runtime.name}: clean close`);
  }
});
