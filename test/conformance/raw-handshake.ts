/**
 * An independent HTTP/1.1 upgrade handshake (RFC 6455 §4) for the raw
 * conformance peer: a client side (send a request, check the 101) and a
 * server side (read a request, answer 101), plus a small parser for
 * `Sec-WebSocket-Extensions` (RFC 7692 §5) that honours quoted values.
 *
 * Like raw-frame.ts it shares nothing with src/protocol.
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import type { Socket } from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEAD = 64 * 1024;

/** RFC 6455 §4.2.2: the Sec-WebSocket-Accept value for a key. */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

/** A parsed HTTP head. Header names lower-cased; repeated headers kept in order. */
export interface HttpHead {
  startLine: string;
  headers: Array<[string, string]>;
}

/** All values of a header, joined by ", " (RFC 9110 §5.3). */
export function headerValue(head: HttpHead, name: string): string | null {
  const values = head.headers.filter(([n]) => n === name).map(([, v]) => v);
  return values.length === 0 ? null : values.join(", ");
}

/**
 * Read one HTTP head from `socket`; resolves with it and the bytes that
 * followed the blank line. Rejects on EOF, an error or a too-large head.
 */
export function readHead(socket: Socket, timeoutMs = 10_000): Promise<{ head: HttpHead; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error("timed out waiting for the HTTP head")), timeoutMs);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) {
        if (buf.length > MAX_HEAD) finish(new Error("HTTP head too large"));
        return;
      }
      const text = buf.subarray(0, end).toString("latin1");
      const rest = buf.subarray(end + 4);
      const lines = text.split("\r\n");
      const startLine = lines.shift() ?? "";
      const headers: Array<[string, string]> = [];
      for (const line of lines) {
        const colon = line.indexOf(":");
        if (colon <= 0) return finish(new Error(`malformed header line ${JSON.stringify(line)}`));
        headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
      }
      finish(null, { head: { startLine, headers }, rest });
    };
    const onEnd = (): void => finish(new Error(`connection closed during the handshake (${buf.length} bytes read)`));
    const onError = (err: Error): void => finish(err);
    function finish(err: Error | null, value?: { head: HttpHead; rest: Buffer }): void {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onError);
      socket.pause();
      if (err) reject(err);
      else resolve(value!);
    }
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", onError);
    socket.resume();
  });
}

/** One extension offer or response item: its name and parameters (value `null` when bare). */
export interface ExtensionItem {
  name: string;
  params: Map<string, string | null>;
}

/**
 * Parse `Sec-WebSocket-Extensions` (RFC 6455 §9.1 grammar): comma-separated
 * items of `;`-separated parameters, values as tokens or quoted strings.
 */
export function parseExtensions(value: string | null): ExtensionItem[] {
  if (value === null) return [];
  const items: ExtensionItem[] = [];
  let i = 0;
  const n = value.length;
  const skipWs = (): void => {
    while (i < n && (value[i] === " " || value[i] === "\t")) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && !",;= \t\"".includes(value[i]!)) i++;
    return value.slice(start, i);
  };
  while (i < n) {
    skipWs();
    if (value[i] === ",") {
      i++;
      continue;
    }
    const name = token();
    const params = new Map<string, string | null>();
    skipWs();
    while (i < n && value[i] === ";") {
      i++;
      skipWs();
      const key = token();
      skipWs();
      let val: string | null = null;
      if (value[i] === "=") {
        i++;
        skipWs();
        if (value[i] === '"') {
          i++;
          let s = "";
          while (i < n && value[i] !== '"') {
            if (value[i] === "\\") i++;
            s += value[i] ?? "";
            i++;
          }
          i++;
          val = s;
        } else val = token();
      }
      params.set(key.toLowerCase(), val);
      skipWs();
    }
    if (name) items.push({ name: name.toLowerCase(), params });
    skipWs();
    if (i < n && value[i] !== ",") i++; // garbage: skip a character rather than loop forever
  }
  return items;
}

/** Serialize one extension item. */
export function formatExtension(item: ExtensionItem): string {
  const parts = [item.name];
  for (const [k, v] of item.params) parts.push(v === null ? k : `${k}=${v}`);
  return parts.join("; ");
}

/** Options of {@link clientHandshake}. */
export interface ClientHandshakeOptions {
  host: string;
  path: string;
  /** The `Sec-WebSocket-Extensions` offer, if any. */
  extensions?: string;
}

/** The outcome of a raw client handshake. */
export interface ClientHandshakeResult {
  response: HttpHead;
  /** The negotiated extension items from the 101 response. */
  extensions: ExtensionItem[];
  /** Bytes that followed the response head (the first frames). */
  rest: Buffer;
}

/** Play the client half of the opening handshake on a connected socket. */
export async function clientHandshake(socket: Socket, options: ClientHandshakeOptions): Promise<ClientHandshakeResult> {
  const key = randomBytes(16).toString("base64");
  const lines = [
    `GET ${options.path} HTTP/1.1`,
    `Host: ${options.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (options.extensions) lines.push(`Sec-WebSocket-Extensions: ${options.extensions}`);
  socket.write(lines.join("\r\n") + "\r\n\r\n");
  const { head, rest } = await readHead(socket);
  const status = /^HTTP\/1\.1 (\d{3})/.exec(head.startLine);
  if (!status || status[1] !== "101") throw new Error(`expected 101, got ${JSON.stringify(head.startLine)}`);
  // RFC 6455 §4.1: the client MUST fail the connection unless these hold.
  if (headerValue(head, "upgrade")?.toLowerCase() !== "websocket") throw new Error("101 without Upgrade: websocket");
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(headerValue(head, "connection") ?? "")) throw new Error("101 without Connection: Upgrade");
  if (headerValue(head, "sec-websocket-accept") !== acceptKey(key)) throw new Error("wrong Sec-WebSocket-Accept");
  return { response: head, extensions: parseExtensions(headerValue(head, "sec-websocket-extensions")), rest };
}

/** Options of {@link serverHandshake}. */
export interface ServerHandshakeOptions {
  /** Decide the `Sec-WebSocket-Extensions` response from the offers (null: none). */
  negotiate?: (offers: ExtensionItem[], request: HttpHead) => ExtensionItem | null;
}

/** The outcome of a raw server handshake. */
export interface ServerHandshakeResult {
  request: HttpHead;
  path: string;
  offers: ExtensionItem[];
  accepted: ExtensionItem | null;
  rest: Buffer;
}

/** Play the server half of the opening handshake on an accepted socket. */
export async function serverHandshake(socket: Socket, options: ServerHandshakeOptions = {}): Promise<ServerHandshakeResult> {
  const { head, rest } = await readHead(socket);
  const m = /^GET (\S+) HTTP\/1\.1$/.exec(head.startLine);
  const reject = (why: string): never => {
    socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    throw new Error(why);
  };
  if (!m) return reject(`bad request line ${JSON.stringify(head.startLine)}`);
  const key = headerValue(head, "sec-websocket-key");
  // RFC 6455 §4.2.1: the handshake MUST contain these headers.
  if (!key || Buffer.from(key, "base64").length !== 16) return reject("missing or bad Sec-WebSocket-Key");
  if (headerValue(head, "sec-websocket-version") !== "13") return reject("Sec-WebSocket-Version is not 13");
  if (headerValue(head, "upgrade")?.toLowerCase() !== "websocket") return reject("no Upgrade: websocket");
  if (!headerValue(head, "host")) return reject("no Host");
  const offers = parseExtensions(headerValue(head, "sec-websocket-extensions"));
  const accepted = options.negotiate ? options.negotiate(offers, head) : null;
  const lines = [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${acceptKey(key)}`,
  ];
  if (accepted) lines.push(`Sec-WebSocket-Extensions: ${formatExtension(accepted)}`);
  socket.write(lines.join("\r\n") + "\r\n\r\n");
  return { request: head, path: m[1]!, offers, accepted, rest };
}
