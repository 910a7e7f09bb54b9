// src/streams/session/options.ts: options checked and resolved once, and
// shared between connections whose options resolve to the same values.
import t from "tap";
import { LocalProtocolError } from "../../src/protocol/errors.ts";
import { DEFAULT_CLOSE_TIMEOUT, resolveSessionOptions } from "../../src/streams/session/options.ts";

t.test("equal options resolve to one frozen object; any difference to another", async (t) => {
  const onMessage = (): void => {};
  const a = resolveSessionOptions({ pingInterval: 1000, onMessage });
  const b = resolveSessionOptions({ pingInterval: 1000, onMessage });
  t.equal(a, b, "a server's per-connection copies share the resolved object");
  t.ok(Object.isFrozen(a));
  t.equal(a.closeTimeout, DEFAULT_CLOSE_TIMEOUT);
  t.equal(a.pingInterval, 1000);
  const c = resolveSessionOptions({ pingInterval: 2000, onMessage });
  t.not(c, a, "another interval");
  t.equal(c.pingInterval, 2000);
  const d = resolveSessionOptions({ pingInterval: 2000, onMessage: () => {} });
  t.not(d, c, "another handler");
  t.equal(resolveSessionOptions({ pingInterval: null }).pingInterval, Infinity, "null disables");
  t.equal(resolveSessionOptions({ maxFragments: 0 }).maxFragments, Infinity, "0 is no limit");
  t.throws(() => resolveSessionOptions({ closeTimeout: -1 }), LocalProtocolError);
  t.throws(() => resolveSessionOptions({ readableHighWaterMark: -5 }), LocalProtocolError);
});
