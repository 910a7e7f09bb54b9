// `npm run demo` (examples/demo.ts) runs to completion and its transcript
// shows the handshake, every kind of event, compression and the close codes.
import t from "tap";
import { BIN, runPeer, says, tsx } from "../helpers/process.ts";

t.test("npm run demo: server and client over loopback, exits 0 with a transcript", async (t) => {
  const r = await runPeer(t, BIN.node, tsx("examples/demo.ts"), { timeoutMs: 60000 });
  t.equal(r.code, 0, says(r.code === 0, "the demo exits 0", r));
  const out = r.stdout;
  t.match(out, /listening on ws:\/\/127\.0\.0\.1:\d+\//, "announces the server");
  t.match(out, /GET \/demo\?room=lobby HTTP\/1\.1/, "prints the request line");
  t.match(out, /sec-websocket-extensions: permessage-deflate/i, "prints the extension offer");
  t.match(out, /HTTP\/1\.1 101\b/, "prints the 101 response");
  t.match(out, /AcceptConnection subprotocol=chat\.v1 extensions=\[permessage-deflate\]/, "subprotocol and deflate agreed");
  for (const kind of ["TextMessage", "BytesMessage", "Ping", "Pong", "CloseConnection code=1000"]) {
    t.match(out, new RegExp(`← ${kind}`), `shows a received ${kind}`);
  }
  t.match(out, /fragment 4 of 4/, "sends the large message in fragments");
  t.match(out, /compression: 1\.00 MiB of payload took [\d.]+ KiB on the wire/, "reports compression");
  t.match(out, /client CLOSED, server CLOSED/, "both sides end CLOSED");
  t.match(out, /client → server\s+[\d.]+ \S+\s+[\d.]+ \S+/, "prints the payload/wire summary");
  t.equal(r.stderr.trim(), "", "nothing on stderr");
});
