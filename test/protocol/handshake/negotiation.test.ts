// Extension negotiation (src/protocol/handshake/negotiation.ts): the client's
// offers, serverExtensionsHandshake and clientExtensionsHandshake.
import t from "tap";
import { clientExtensionsHandshake, offerExtensions, serverExtensionsHandshake } from "../../../src/protocol/handshake/negotiation.ts";
import { PerMessageDeflate } from "../../../src/protocol/extensions/permessage-deflate.ts";
import { Marker, lpe, rpe } from "../../helpers/handshake-checks.ts";

t.test("offerExtensions: forks, wsproto's order, checked items", async (t) => {
  const a = new Marker("a", "p=1");
  const { items, offered } = offerExtensions([a, new Marker("b", false), new Marker("c", ""), new Marker("a", true)]);
  t.same(items, ["a", "c"], "a repeated name keeps its first position and its last offer; false is not offered");
  t.equal(offered.length, 2);
  t.not(offered[0], a, "offers are made on forks");
  t.same(offerExtensions([new PerMessageDeflate()]).items, ["permessage-deflate; client_max_window_bits=15; server_max_window_bits=15"]);
  lpe(t, () => offerExtensions(["permessage-deflate"]), /INVALID_EXTENSION/, "a string is not an Extension");
  lpe(t, () => offerExtensions([new Marker("a", 5)]), /INVALID_EXTENSION/, "junk from offer()");
  lpe(t, () => offerExtensions([new Marker("a", "x\r\ny")]), /INVALID_EXTENSION/, "CRLF from offer()");
});

t.test("serverExtensionsHandshake", async (t) => {
  const log: string[] = [];
  const a = new Marker("a", true, true, log);
  const b = new Marker("b", true, "x=1", log);
  const c = new Marker("c", true, null, log);
  const d = new Marker("d", true, "", log);
  t.equal(serverExtensionsHandshake(["b; y", "a", "c", "d", "zzz"], [a, b, c, d]), "b; x=1, a, d");
  t.same(log, ["accept b; y", "accept a", "accept c", "accept d"]);
  t.equal(serverExtensionsHandshake([], [a]), null);
  t.equal(serverExtensionsHandshake(["c"], [new Marker("c", true, false)]), null, "declined");
  // The last accepted offer of a name wins, at the first position.
  let n = 0;
  const counting = new Marker("p");
  counting.accept = (offer: string) => (offer.includes("no") ? null : `n=${++n}`);
  t.equal(serverExtensionsHandshake(["p; v=1", "q", "p; v=2", "p; no"], [counting, new Marker("q")]), "p; n=2, q");
  t.equal(serverExtensionsHandshake(["a; p=1, b"], [new Marker("a"), new Marker("b")]), "a, b", "a whole header value is fine");
  rpe(t, () => serverExtensionsHandshake(["a b"], [a]), /Invalid Sec-WebSocket-Extensions/, 400, "WS_ERR_HANDSHAKE_EXTENSION");
  lpe(t, () => serverExtensionsHandshake(["a"], [new Marker("a", true, "x\r\ny")]), /INVALID_EXTENSION/, "CRLF from accept()");
  lpe(t, () => serverExtensionsHandshake(["a"], [new Marker("a", true, 5)]), /INVALID_EXTENSION/, "junk from accept()");
  const throwing = new Marker("a");
  throwing.accept = () => {
    throw new RangeError("bug");
  };
  lpe(t, () => serverExtensionsHandshake(["a"], [throwing]), /INVALID_EXTENSION/, "accept() throws");
  const forks = [new PerMessageDeflate().fork()];
  t.equal(serverExtensionsHandshake(["permessage-deflate"], forks), "permessage-deflate");
  t.ok(forks[0]!.enabled());
});

t.test("clientExtensionsHandshake", async (t) => {
  const log: string[] = [];
  const a = new Marker("a", true, true, log);
  const b = new Marker("b", true, true, log);
  t.same(clientExtensionsHandshake(["b; x=1", "a"], [a, b]), [b, a], "the server's order");
  t.same(log, ["finalize b; x=1", "finalize a"]);
  t.same(clientExtensionsHandshake([], [a]), []);
  t.same(clientExtensionsHandshake([""], [a]), [], "an empty value accepts nothing");
  rpe(t, () => clientExtensionsHandshake(["zzz"], [a]), "unrecognized extension zzz", 400, "WS_ERR_HANDSHAKE_EXTENSION");
  rpe(t, () => clientExtensionsHandshake(["a", "a"], [new Marker("a")]), "extension a accepted twice", 400);
  rpe(t, () => clientExtensionsHandshake(["a; refuse"], [new Marker("a")]), /refused the server's response/, 400);
  const pmd = new PerMessageDeflate().fork();
  rpe(t, () => clientExtensionsHandshake(["permessage-deflate; bogus"], [pmd]), /permessage-deflate/, 400);
});
