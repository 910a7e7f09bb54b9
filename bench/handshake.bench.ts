/**
 * The opening handshake: the accept token (our synchronous SHA-1 against
 * node:crypto), a whole client+server handshake in memory, and the HTTP head
 * reader fed whole and one byte at a time (linear: the cost per byte must not
 * grow with the head).
 */
import { createHash } from "node:crypto";
import { WSConnection } from "../src/protocol/ws-connection.ts";
import { HttpReader } from "../src/protocol/http/reader.ts";
import { AcceptConnection, Request } from "../src/protocol/events.ts";
import { ACCEPT_GUID, generateAcceptToken } from "../src/protocol/handshake/accept-key.ts";
import { ConnectionType } from "../src/protocol/types.ts";
import { compare, median, printTable, rate } from "./util.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const rows = [
  await compare(
    "accept token (SHA-1 + base64)",
    " tokens/s",
    () => rate(() => generateAcceptToken(KEY), 1),
    () => rate(() => createHash("sha1").update(KEY + ACCEPT_GUID).digest("base64"), 1),
    { baselineName: "node:crypto" },
  ),
];
printTable("handshake building blocks", rows);

function handshake(): void {
  const client = new WSConnection(ConnectionType.CLIENT);
  const server = new WSConnection(ConnectionType.SERVER);
  server.receiveData(
    client.send(new Request({ host: "example.com", target: "/chat", subprotocols: ["chat"], extraHeaders: [["Origin", "http://example.com"]] })),
  );
  for (const _ of server.events());
  client.receiveData(server.send(new AcceptConnection({ subprotocol: "chat" })));
  for (const _ of client.events());
}

const rounds = Number(process.env["BENCH_ROUNDS"] ?? 7);
const perSecond: number[] = [];
for (let i = 0; i < rounds; i++) perSecond.push(await rate(handshake, 1));
console.log(`\nfull client+server handshake in memory: ${median(perSecond).toFixed(0)} handshakes/s (median of ${rounds})`);

console.log("\n| head size | whole | one byte at a time | ns per byte (bytewise) |\n| ---: | ---: | ---: | ---: |");
for (const size of [4096, 16384, 65536, 262144]) {
  const lines: string[] = [];
  let len = 40;
  while (len < size - 60) {
    const line = `X-H${lines.length}: ${"v".repeat(40)}\r\n`;
    lines.push(line);
    len += line.length;
  }
  const text = `GET / HTTP/1.1\r\nHost: h\r\n${lines.join("")}\r\n`;
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  const limits = { maxHeadSize: 1 << 20, maxHeaders: 1 << 20 };
  const three = async (fn: () => void): Promise<number> => {
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) runs.push(await rate(fn, 1));
    return median(runs);
  };
  const whole = await three(() => new HttpReader("request", limits).push(bytes));
  const bytewise = await three(() => {
    const r = new HttpReader("request", limits);
    for (let i = 0; i < bytes.length; i++) r.push(bytes.subarray(i, i + 1));
  });
  console.log(
    `| ${bytes.length} B | ${((whole * bytes.length) / 1e6).toFixed(1)} MB/s | ${((bytewise * bytes.length) / 1e6).toFixed(2)} MB/s | ${(1e9 / (bytewise * bytes.length)).toFixed(0)} |`,
  );
}
