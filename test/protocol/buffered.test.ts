// src/protocol/buffered.ts: the 0.x queue hands out exactly what was pushed,
// in order, in pieces of any size, never twice; the queued request.
import t from "tap";
import { OutgoingQueue, queuedRequest } from "../../src/protocol/buffered.ts";
import { LocalProtocolError } from "../../src/protocol/errors.ts";

t.test("take() in every piece size gives back the bytes in order", async (t) => {
  const chunks = [[1, 2, 3], [], [4], [5, 6, 7, 8, 9], [10]].map((c) => new Uint8Array(c));
  const all = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  for (let size = 1; size <= 11; size++) {
    const q = new OutgoingQueue();
    for (const c of chunks) q.push(c);
    const out: number[] = [];
    for (;;) {
      const piece = q.take(size);
      if (piece.length === 0) break;
      t.ok(piece.length <= size);
      out.push(...piece);
    }
    t.same(out, all, `pieces of ${size}`);
    t.equal(q.take().length, 0, "nothing is handed out twice");
  }
  const q = new OutgoingQueue();
  q.push(new Uint8Array([1, 2]));
  t.same([...q.take(Infinity)], [1, 2]);
  t.equal(q.take(0).length, 0);
  for (const bad of [-1, 1.5, NaN]) t.throws(() => q.take(bad), LocalProtocolError, String(bad));
});

t.test("queuedRequest fills wsproto 0.x's defaults", async (t) => {
  const r = queuedRequest("example.com", {});
  t.equal(r.host, "example.com");
  t.equal(r.target, "/");
  t.same(r.subprotocols, []);
  t.same(r.extraHeaders, []);
  t.equal(queuedRequest("h", { resource: "/chat", subprotocols: ["a"] }).target, "/chat");
});
