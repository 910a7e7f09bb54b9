// src/protocol/close-codes.ts: the one rule for which close codes may be
// sent, and the one check of a close reason, used by every layer.
import t from "tap";
import {
  MAX_CLOSE_REASON_BYTES,
  checkCloseReason,
  isSendableCloseCode,
} from "../../src/protocol/close-codes.ts";
import { LocalProtocolError } from "../../src/protocol/errors.ts";
import { CloseReason } from "../../src/protocol/types.ts";
import * as publicApi from "../../src/protocol/index.ts";

t.test("isSendableCloseCode: every code from -1 to 70000", async (t) => {
  // RFC 6455 §7.4: 1000-1003 and 1007-1013 assigned and sendable, 3000-4999 for
  // applications; 1004, 1014, 1016-2999 reserved; 1005, 1006, 1015 local only.
  const expected = (c: number): boolean => (c >= 1000 && c <= 1013 && ![1004, 1005, 1006].includes(c)) || (c >= 3000 && c <= 4999);
  let mismatches = 0;
  for (let c = -1; c <= 70000; c++) if (isSendableCloseCode(c) !== expected(c)) mismatches++;
  t.equal(mismatches, 0);
  for (const c of [1000.5, NaN, Infinity, -Infinity]) t.notOk(isSendableCloseCode(c), String(c));
  t.notOk(isSendableCloseCode(CloseReason.TLS_HANDSHAKE_FAILED));
});

t.test("checkCloseReason: at most 123 UTF-8 bytes, valid Unicode", async (t) => {
  t.equal(MAX_CLOSE_REASON_BYTES, 123);
  for (const ok of ["", "bye", "a".repeat(123), "é".repeat(61) + "a", "€".repeat(41), "😀".repeat(30) + "abc"]) {
    t.doesNotThrow(() => checkCloseReason(ok), `${new TextEncoder().encode(ok).length} bytes`);
  }
  for (const bad of ["a".repeat(124), "é".repeat(62), "€".repeat(41) + "a", "😀".repeat(31), "x\ud800", "\udc00"]) {
    try {
      checkCloseReason(bad);
      t.fail(`${JSON.stringify(bad.slice(0, 8))}: expected a LocalProtocolError`);
    } catch (e) {
      t.ok(e instanceof LocalProtocolError);
      t.equal((e as LocalProtocolError).code, "WS_ERR_INVALID_CLOSE_REASON");
    }
  }
  // The count agrees with TextEncoder around the limit for every width of character.
  for (const ch of ["a", "é", "€", "😀"]) {
    for (let n = 1; n <= 130; n++) {
      const reason = ch.repeat(n);
      const fits = new TextEncoder().encode(reason).length <= 123;
      let ok = true;
      try {
        checkCloseReason(reason);
      } catch {
        ok = false;
      }
      if (ok !== fits) t.fail(`${ch} x ${n}`);
    }
  }
});

t.test("public from wsproto/protocol", async (t) => {
  t.equal(publicApi.isSendableCloseCode, isSendableCloseCode);
  t.equal(publicApi.checkCloseReason, checkCloseReason);
  t.equal(publicApi.MAX_CLOSE_REASON_BYTES, 123);
});
