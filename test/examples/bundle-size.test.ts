// Lean bundles: `npm run size` (scripts/bundle-size.mjs) bundles each entry
// point with esbuild. The browser entries stay within a budget (the package
// was 54 KB min+gzip when it carried a streams polyfill), `wsproto/protocol`
// holds the engine alone, and no browser entry bundles a polyfill or a
// `node:*` module.
import t from "tap";
import { BIN, runPeer, says } from "../helpers/process.ts";

interface Size {
  name: string;
  platform: string;
  min: number;
  gzip: number;
  inputs: string[];
}

t.test("browser bundle sizes and contents of each entry point", async (t) => {
  const r = await runPeer(t, BIN.node, ["scripts/bundle-size.mjs", "--json"], { timeoutMs: 120_000 });
  t.equal(r.code, 0, says(r.code === 0, "npm run size runs", r));
  const sizes = JSON.parse(r.stdout) as Size[];
  t.same(sizes.map((s) => s.name), ["wsproto/protocol", "wsproto/streams", "wsproto", "wsproto/node"]);
  // 48 KB since the direct pipe, onMessage, whole-frame assembly, the allocation-free
  // BFINAL resets and the handshake's in-place paths (47.4 / 47.8 KB when raised from 46).
  // 52 KB since the session's one error vocabulary (a constructor per failure
  // kind, with its message), owned application callbacks, broadcast exported
  // from wsproto/streams, WS_ERROR_CODES and the DOMException-based
  // WebSocketError (49.6 / 50.2 KB when raised from 48).
  const budget: Record<string, number> = { "wsproto/protocol": 40 * 1024, "wsproto/streams": 52 * 1024, wsproto: 52 * 1024 };
  for (const s of sizes) {
    t.comment(`${s.name} (${s.platform}): ${(s.min / 1024).toFixed(1)} KB minified, ${(s.gzip / 1024).toFixed(1)} KB min+gzip`);
    if (s.platform !== "browser") continue;
    t.ok(s.gzip <= budget[s.name]!, `${s.name}: ${(s.gzip / 1024).toFixed(1)} KB min+gzip within ${budget[s.name]! / 1024} KB`);
    t.same(s.inputs.filter((f) => /web-streams-polyfill|^node:/.test(f)), [], `${s.name}: no polyfill, no node:* module`);
  }
  const protocol = sizes.find((s) => s.name === "wsproto/protocol")!;
  t.same(protocol.inputs.filter((f) => f.startsWith("src/streams/")), [], "wsproto/protocol: nothing of the streams layer");
  t.ok(protocol.inputs.includes("src/protocol/ws-connection.ts"), "wsproto/protocol: the engine");
});
