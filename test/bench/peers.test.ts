// The benchmark peers (bench/peers/) that the memory and load rows of
// `npm run bench` run in processes of their own: each echo server (ours on
// the sources here, the bench uses the compiled package; and ws) echoes
// every message of many ws clients, plain and with permessage-deflate used,
// and reports its memory and CPU time. Small counts; no timing assertions.
import t from "tap";
import { Peer } from "../../bench/peers/protocol.ts";

const nodeModule = new URL("../../src/node/index.ts", import.meta.url).pathname;

const servers = [
  ["ours", "pipe"],
  ["ours", "callback"],
  ["ws", "pipe"],
] as const;
for (const [impl, app] of servers) {
  for (const deflate of [false, true]) {
    const name = impl === "ours" ? `ours (${app === "pipe" ? "pipeTo" : "onMessage"})` : impl;
    t.test(`${name} echo server, ${deflate ? "permessage-deflate used" : "plain"}: every message comes back`, async (t) => {
      const server = new Peer("./echo-server.ts", [impl, deflate ? "deflate" : "plain", nodeModule, app]);
      const clients = new Peer("./clients.ts", []);
      t.teardown(() => Promise.all([server.stop(), clients.stop()]));
      const { port } = await server.ready;
      await clients.ready;
      t.ok(port! > 0, "the server reports its port");
      const before = (await server.request({ cmd: "stats" })).stats!;
      t.ok(before.rss > 0 && before.heapUsed > 0 && before.cpuMicros > 0, "stats report memory and CPU time");
      // With deflate, each client's 2 KiB text message is compressed both ways (threshold 1024) and must come back.
      await clients.request({ cmd: "open", port: port!, count: 20, deflate, echoBytes: deflate ? 2048 : 0 });
      const { load } = await clients.request({ cmd: "load", ms: 300, interval: 50, size: 64 });
      t.ok(load!.sent > 0, "the clients sent messages");
      t.equal(load!.received, load!.sent, "every message was echoed");
      t.ok(load!.p99 >= load!.p50, "percentiles are ordered");
      const after = (await server.request({ cmd: "cpu" })).stats!;
      t.ok(after.cpuMicros >= before.cpuMicros, "CPU time only grows");
      await clients.request({ cmd: "close" });
    });
  }
}
