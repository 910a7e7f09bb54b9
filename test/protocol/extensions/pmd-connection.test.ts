// permessage-deflate through whole connections: a client and a server
// WSConnection in memory negotiate every parameter combination and exchange
// fragmented and whole, text and binary messages with pings between
// fragments; a decompression bomb through a Connection ends in 1009.
import t, { type Test } from "tap";
import zlib from "node:zlib";
import { WSConnection } from "../../../src/protocol/ws-connection.ts";
import { Connection } from "../../../src/protocol/frames/connection.ts";
import { PerMessageDeflate } from "../../../src/protocol/extensions/permessage-deflate.ts";
import type { PerMessageDeflateOptions } from "../../../src/protocol/extensions/pmd-params.ts";
import {
  AcceptConnection,
  BytesMessage,
  CloseConnection,
  Ping,
  Request,
  TextMessage,
  type Event,
} from "../../../src/protocol/events.ts";
import { ConnectionType } from "../../../src/protocol/types.ts";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

interface Pair {
  client: WSConnection;
  server: WSConnection;
  clientExt: PerMessageDeflate | undefined;
  serverExt: PerMessageDeflate | undefined;
}

function connect(clientOptions: PerMessageDeflateOptions, serverOptions: PerMessageDeflateOptions): Pair {
  const client = new WSConnection(ConnectionType.CLIENT);
  const server = new WSConnection(ConnectionType.SERVER);
  const clientConfigured = new PerMessageDeflate(clientOptions);
  const serverConfigured = new PerMessageDeflate(serverOptions);
  server.receiveData(client.send(new Request({ host: "example.com", target: "/", extensions: [clientConfigured] })));
  const request = [...server.events()];
  if (!(request[0] instanceof Request)) throw new Error("no request");
  client.receiveData(server.send(new AcceptConnection({ extensions: [serverConfigured] })));
  const accepted = [...client.events()];
  if (!(accepted[0] instanceof AcceptConnection)) throw new Error("not accepted");
  if (clientConfigured.enabled() || serverConfigured.enabled()) throw new Error("the configured objects were negotiated");
  return {
    client,
    server,
    clientExt: client.extensions.find((e): e is PerMessageDeflate => e instanceof PerMessageDeflate),
    serverExt: server.extensions.find((e): e is PerMessageDeflate => e instanceof PerMessageDeflate),
  };
}

/** Text-like data with repeats far apart (so context takeover and window sizes matter). */
function corpus(seed: number, length: number): Uint8Array {
  const words = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", '{"id":', '"value":', "},", "\n"];
  let x = seed || 1;
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    x = (x * 1103515245 + 12345) >>> 0;
    const w = x % 5 === 0 ? String(x % 99991) : words[(x >>> 8) % words.length]!;
    parts.push(w);
    size += w.length + 1;
  }
  return utf8(parts.join(" ")).subarray(0, length);
}

type Piece = { kind: "text" | "binary"; fragments: Uint8Array[] };

function script(seed: number): Piece[] {
  const big = corpus(seed, 12 * 1024);
  const mid = corpus(seed + 1, 3000);
  return [
    { kind: "text", fragments: [mid] },
    { kind: "binary", fragments: [big] },
    { kind: "text", fragments: [mid.subarray(0, 1000), mid.subarray(1000, 1000), mid.subarray(1000)] },
    { kind: "binary", fragments: [big.subarray(0, 5000), big.subarray(5000, 9000), big.subarray(9000)] },
    { kind: "text", fragments: [utf8("")] },
    { kind: "binary", fragments: [new Uint8Array(0), new Uint8Array(0)] },
    { kind: "text", fragments: [big] },
    { kind: "text", fragments: [utf8("tiny")] },
  ];
}

/**
 * Send `pieces` from `from` to `to` (pings between fragments), feeding the
 * bytes in `chunk`-sized pieces, and check what arrives. Returns the wire
 * size and whether any frame carried RSV1.
 */
function exchange(t: Test, from: WSConnection, to: WSConnection, pieces: Piece[], label: string, chunk: number): { wire: number; rsv1: boolean } {
  let wire = 0;
  let rsv1 = false;
  for (const [k, piece] of pieces.entries()) {
    const out: Uint8Array[] = [];
    piece.fragments.forEach((fragment, i) => {
      const last = i === piece.fragments.length - 1;
      const event =
        piece.kind === "text"
          ? new TextMessage({ data: new TextDecoder().decode(fragment), messageFinished: last })
          : new BytesMessage({ data: fragment, messageFinished: last });
      const bytes = from.send(event);
      if (i === 0) rsv1 ||= (bytes[0]! & 0x40) !== 0;
      out.push(bytes);
      if (!last) out.push(from.send(new Ping({ payload: utf8(`p${i}`) })));
    });
    const bytes = new Uint8Array(Buffer.concat(out));
    wire += bytes.length;
    const events: Event[] = [];
    for (let at = 0; at < bytes.length; at += chunk) {
      to.receiveData(bytes.subarray(at, at + chunk));
      events.push(...to.events());
    }
    const data = events.filter((e): e is TextMessage | BytesMessage => e instanceof TextMessage || e instanceof BytesMessage);
    const pings = events.filter((e) => e instanceof Ping).length;
    const closes = events.filter((e) => e instanceof CloseConnection);
    const expected = Buffer.concat(piece.fragments);
    const got =
      piece.kind === "text"
        ? Buffer.from(data.map((e) => e.data as string).join(""))
        : Buffer.concat(data.map((e) => e.data as Uint8Array));
    const ok =
      closes.length === 0 &&
      pings === piece.fragments.length - 1 &&
      data.length > 0 &&
      data.every((e) => (piece.kind === "text" ? e instanceof TextMessage : e instanceof BytesMessage)) &&
      data[data.length - 1]!.messageFinished &&
      Buffer.compare(got, expected) === 0;
    if (!ok) {
      t.fail(`${label}: message ${k} (${piece.kind}, ${piece.fragments.length} fragments)`, {
        events: events.map((e) => (e instanceof CloseConnection ? `Close ${e.code} ${e.reason}` : e.type)),
        gotLength: got.length,
        expectedLength: expected.length,
      });
    }
  }
  return { wire, rsv1 };
}

const clientCombos: PerMessageDeflateOptions[] = [];
for (const clientNoContextTakeover of [false, true])
  for (const serverNoContextTakeover of [false, true])
    for (const clientMaxWindowBits of [9, 12, 15])
      for (const serverMaxWindowBits of [8, 11, 15])
        clientCombos.push({ clientNoContextTakeover, serverNoContextTakeover, clientMaxWindowBits, serverMaxWindowBits });

const serverConfigs: PerMessageDeflateOptions[] = [
  {},
  { clientMaxWindowBits: 10, serverMaxWindowBits: 12, serverNoContextTakeover: true },
  { clientNoContextTakeover: true, serverMaxWindowBits: 9, level: 1, memLevel: 9 },
  { threshold: 2000, level: 9 },
];

for (const [s, serverOptions] of serverConfigs.entries()) {
  t.test(`every client parameter combination against server config ${JSON.stringify(serverOptions)}`, async (t) => {
    let n = 0;
    for (const clientOptions of clientCombos) {
      const label = `client ${JSON.stringify(clientOptions)}`;
      const { client, server, clientExt, serverExt } = connect(clientOptions, serverOptions);
      const declined = clientOptions.serverMaxWindowBits === 8;
      if (declined) {
        // The server would have to deflate within 8 bits: it declines.
        if (clientExt !== undefined || serverExt !== undefined) t.fail(`${label}: negotiated an 8-bit server window`);
      } else {
        if (clientExt === undefined || serverExt === undefined) {
          t.fail(`${label}: not negotiated`);
          continue;
        }
        const c = [clientExt.clientMaxWindowBits, clientExt.serverMaxWindowBits, clientExt.clientNoContextTakeover, clientExt.serverNoContextTakeover];
        const v = [serverExt.clientMaxWindowBits, serverExt.serverMaxWindowBits, serverExt.clientNoContextTakeover, serverExt.serverNoContextTakeover];
        if (JSON.stringify(c) !== JSON.stringify(v)) t.fail(`${label}: the two ends disagree`, { client: c, server: v });
        const wantClientBits = Math.min(clientOptions.clientMaxWindowBits!, serverOptions.clientMaxWindowBits ?? 15);
        const wantServerBits = Math.min(clientOptions.serverMaxWindowBits!, serverOptions.serverMaxWindowBits ?? 15);
        if (c[0] !== wantClientBits || c[1] !== wantServerBits) t.fail(`${label}: windows ${c[0]}/${c[1]}, expected ${wantClientBits}/${wantServerBits}`);
        const cnct = clientOptions.clientNoContextTakeover! || (serverOptions.clientNoContextTakeover ?? false);
        const snct = clientOptions.serverNoContextTakeover! || (serverOptions.serverNoContextTakeover ?? false);
        if (c[2] !== cnct || c[3] !== snct) t.fail(`${label}: context takeover flags`);
      }
      const pieces = script(n + 17 * s);
      const plain = pieces.reduce((sum, p) => sum + p.fragments.reduce((a, f) => a + f.length, 0), 0);
      const chunk = [1 << 20, 1000, 61][n % 3]!;
      const up = exchange(t, client, server, pieces, `${label} client->server`, chunk);
      const down = exchange(t, server, client, pieces, `${label} server->client`, chunk);
      if (!declined) {
        if (!(up.wire < plain / 2 && down.wire < plain / 2)) t.fail(`${label}: not compressed (${up.wire}, ${down.wire} of ${plain})`);
        if (!up.rsv1 || !down.rsv1) t.fail(`${label}: no RSV1 seen`);
      } else if (up.rsv1 || down.rsv1 || up.wire < plain) {
        t.fail(`${label}: compressed without the extension`);
      }
      n++;
    }
    t.equal(n, clientCombos.length);
    t.pass(`${n} combinations negotiated and exchanged`);
  });
}

t.test("context takeover makes a repeated message cheap, and only then", async (t) => {
  const msg = corpus(5, 8000);
  for (const [snct, cheap] of [[false, true], [true, false]] as const) {
    const { client, server } = connect({ serverNoContextTakeover: snct }, { memory: "high" });
    const first = server.send(new BytesMessage({ data: msg })).length;
    const second = server.send(new BytesMessage({ data: msg })).length;
    t.equal(second < first / 10, cheap, `server_no_context_takeover=${snct}: ${first} then ${second} bytes`);
    client.receiveData(new Uint8Array(0));
  }
});

t.test("a compressed frame without negotiation, and RSV1 misuse, fail the connection", async (t) => {
  const { client } = connect({ serverMaxWindowBits: 8 }, {});
  client.receiveData(new Uint8Array([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
  const [event] = [...client.events()];
  t.ok(event instanceof CloseConnection && event.code === 1002, "RSV1 without the extension is 1002");
  const { client: c2 } = connect({}, {});
  c2.receiveData(new Uint8Array([0xc9, 0x00]));
  const [e2] = [...c2.events()];
  t.ok(e2 instanceof CloseConnection && e2.code === 1002, "RSV1 on a ping is 1002");
});

t.test("a 1 GiB-of-zeros bomb in one frame through a Connection ends in 1009", async (t) => {
  // 1 GiB of zeros compresses to ~1 MiB: a zero-filled start, then the same
  // sync-flushed 1 MiB segment (compressed against a zero dictionary) repeated.
  const sync = { finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 9 } as const;
  const prefix = zlib.deflateRawSync(Buffer.alloc(1 << 20), sync);
  const segment = zlib.deflateRawSync(Buffer.alloc(1 << 20), { ...sync, dictionary: Buffer.alloc(32 * 1024) });
  const payload = Buffer.concat([prefix, ...Array.from({ length: 1023 }, () => segment)]);
  // A masked (client-to-server) BINARY frame with RSV1 and an all-zero mask.
  const header = Buffer.alloc(14);
  header[0] = 0xc2;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(payload.length), 2);
  const frame = Buffer.concat([header, payload]);
  const ext = new PerMessageDeflate().fork();
  t.equal(ext.accept("permessage-deflate"), "");
  const limit = 16 * 1024 * 1024;
  const server = new Connection(ConnectionType.SERVER, { extensions: [ext], maxMessageSize: limit });
  let received = 0;
  let close: CloseConnection | null = null;
  let fed = 0;
  for (let at = 0; at < frame.length && close === null; at += 16384) {
    server.receiveData(frame.subarray(at, at + 16384));
    fed += Math.min(16384, frame.length - at);
    for (const e of server.events()) {
      if (e instanceof BytesMessage) received += e.data.length;
      else if (e instanceof CloseConnection) close = e;
    }
  }
  t.ok(close !== null, "the connection is failed");
  t.equal(close?.code, 1009, "with 1009");
  const reason = "Message exceeds maxMessageSize (16777216) once decoded by permessage-deflate";
  t.equal(close?.reason, reason, "the reason names the limit (not wsproto's internal 'error in extension')");
  // What the peer reads: the close frame the server answers with carries that reason.
  const sent = server.send(close!.response());
  t.same([sent[0], sent[1]], [0x88, 2 + reason.length], "an unmasked close frame, code and reason");
  t.equal((sent[2]! << 8) | sent[3]!, 1009);
  t.equal(new TextDecoder().decode(sent.subarray(4)), reason);
  t.ok(received <= limit, `${received} bytes were delivered before`);
  t.ok(fed < 64 * 1024, `after ${fed} of ${frame.length} bytes`);
});
