// The README's "Errors: one vocabulary" table, read from README.md and
// checked against what a session really does: each row's message and code,
// for send(), writer.write() and ping().
import t from "tap";
import { readFileSync } from "node:fs";
import { LocalProtocolError } from "../../src/protocol/errors.ts";
import { acceptWebSocket, connectWebSocket, WebSocketError } from "../../src/streams/sessions.ts";
import { memoryPair, rejection } from "./_helpers.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The rows of the table under "### Errors: one vocabulary": [when, message, code]. */
function vocabulary(): Array<{ when: string; message: string; code: string }> {
  const start = readme.indexOf("### Errors: one vocabulary");
  const rows: Array<{ when: string; message: string; code: string }> = [];
  for (const line of readme.slice(start).split("\n").slice(1)) {
    if (line.startsWith("#")) break;
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 5 || cells[1] === "when" || cells[1]!.startsWith("---")) continue;
    const message = /"([^"]+)"/.exec(cells[2]!)?.[1];
    const code = /`(WS_ERR_[A-Z_]+)`/.exec(cells[3]!)?.[1];
    if (message !== undefined && code !== undefined) rows.push({ when: cells[1]!, message, code });
  }
  return rows;
}

t.test("the README's error table matches what a session does", async (t) => {
  const rows = vocabulary();
  t.equal(rows.length, 3, "three rows read from the README");
  const byCode = new Map(rows.map((r) => [r.code, r]));
  const FAST = { closeTimeout: 2000, pingInterval: null, extensions: [] };

  // Before open: a client whose server never answers.
  const silent = memoryPair();
  const early = connectWebSocket(silent.client, { ...FAST, host: "h" });
  const notOpen = byCode.get("WS_ERR_INVALID_STATE")!;
  for (const pending of [early.send("x"), early.ping()]) {
    const error = (await rejection(pending as Promise<unknown>)) as LocalProtocolError;
    t.type(error, LocalProtocolError);
    t.equal(error.code, notOpen.code);
    t.match(error.message, /^Cannot (send|ping): the WebSocket is not open yet$/);
  }
  t.equal(notOpen.message, "Cannot send: the WebSocket is not open yet");
  early.close();
  await rejection(early.closed);

  const pair = memoryPair();
  const server = acceptWebSocket(pair.server, FAST);
  const client = connectWebSocket(pair.client, { ...FAST, host: "h" });
  const [{ writable }, serverOpen] = await Promise.all([client.opened, server.opened]);
  const writer = writable.getWriter();
  void serverOpen.readable.pipeTo(serverOpen.writable).catch(() => {});
  client.close();
  const closing = byCode.get("WS_ERR_CLOSING")!;
  for (const pending of [writer.write("x"), client.send("x"), client.ping()]) {
    const error = (await rejection(pending as Promise<unknown>)) as WebSocketError;
    t.type(error, WebSocketError);
    t.equal(error.message, closing.message);
    t.equal(error.code, closing.code);
  }
  await client.closed;
  const closed = byCode.get("WS_ERR_CLOSED")!;
  for (const pending of [client.send("x"), client.ping()]) {
    const error = (await rejection(pending as Promise<unknown>)) as WebSocketError;
    t.type(error, WebSocketError);
    t.equal(error.message, closed.message);
    t.equal(error.code, closed.code);
  }
  await server.closed;
});
