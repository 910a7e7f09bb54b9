/**
 * The scripted raw peer: one WebSocket session over a real socket, driven
 * byte by byte by a conformance case and recording what the endpoint under
 * test does, in the manner of Autobahn's fuzzer.
 *
 * It plays either role. As the client it masks every frame (RFC 6455 §5.1);
 * as the server it never does. It records the peer's messages, pings and
 * pongs in arrival order, its close frame, who started the close, whether
 * the closing handshake completed before TCP closed, and every framing
 * fault of the peer (`violations`). It answers pings and a close as a
 * well-behaved endpoint would, and, as the server, closes TCP first after
 * the closing handshake (RFC 6455 §7.1.1).
 *
 * Inbound frames are processed strictly in order through one promise chain,
 * because inflating (node:zlib) is asynchronous.
 * @module
 */
import { randomFillSync } from "node:crypto";
import type { Socket } from "node:net";
import { closePayload, encodeFrame, FrameReader, isValidUtf8, OP, type FrameSpec, type RawFrame } from "./raw-frame.ts";
import type { RawDeflate } from "./raw-deflate.ts";

/** One thing the peer under test did, as Autobahn records it. */
export type Received =
  | { kind: "message"; binary: boolean; data: Buffer }
  | { kind: "ping"; payload: Buffer }
  | { kind: "pong"; payload: Buffer }
  | { kind: "timeout"; tag: string };

/** How to put bytes on the wire. */
export interface Pacing {
  /** Write in pieces of this many bytes, each written (and flushed) separately. */
  chop?: number;
  /** Wait this long between pieces (and after the last one). */
  delayMs?: number;
  /** Let the bytes leave alone, not merged with the next write (Autobahn's `sync`). */
  sync?: boolean;
}

/** The peer's close frame as received. */
export interface ReceivedClose {
  code: number | null;
  reason: Buffer;
  at: number;
}

/** Options of {@link RawPeer}. */
export interface RawPeerOptions {
  role: "client" | "server";
  socket: Socket;
  /** Bytes that followed the handshake head. */
  rest?: Buffer;
  deflate?: RawDeflate | null;
  /** How long a client waits for the server to close TCP after the closing handshake. @default 5000 */
  closeTimeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One scripted session. */
export class RawPeer {
  readonly role: "client" | "server";
  readonly socket: Socket;
  readonly deflate: RawDeflate | null;
  /** Everything the peer did, in order (until its close frame). */
  readonly received: Received[] = [];
  /** Keep message payloads in `received` (bulk cases turn this off and use `nextMessage`). */
  keepLog = true;
  /** Framing faults of the peer (masking, opcodes, UTF-8, close payload ...). */
  readonly violations: string[] = [];
  closeReceived: ReceivedClose | null = null;
  closeSent: { code: number | null; at: number } | null = null;
  /** Who started the close: "me" (close frame or drop first), "peer", or null while open. */
  closer: "me" | "peer" | null = null;
  /** The fuzzer had to drop TCP itself after the closing handshake (as a client: "FAILED BY CLIENT"). */
  droppedAfterClose = false;
  /** The fuzzer dropped TCP to end a case the peer should have ended ("kill_after"). */
  killed = false;
  /** TCP closed by the peer (FIN or reset) before we closed it. */
  tcpClosedByPeer = false;
  tcpClosedAt: number | null = null;
  /** When the last bytes were handed to the socket. */
  lastSendAt = 0;
  readonly closed: Promise<void>;

  readonly #reader: FrameReader;
  #chain: Promise<void> = Promise.resolve();
  #fragments: Buffer[] = [];
  #messageOpcode = -1;
  #messageCompressed = false;
  #waiters = new Set<() => void>();
  #inbox: Received[] = [];
  #closeTimeoutMs: number;
  #socketClosed = false;
  #closeTimer: NodeJS.Timeout | null = null;

  constructor(options: RawPeerOptions) {
    this.role = options.role;
    this.socket = options.socket;
    this.deflate = options.deflate ?? null;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.#reader = new FrameReader({ expectMasked: this.role === "server", allowedRsv: this.deflate ? 4 : 0 });
    this.socket.setNoDelay(true);
    this.closed = new Promise((resolve) => {
      this.socket.once("close", () => {
        this.#socketClosed = true;
        this.tcpClosedAt ??= Date.now();
        if (this.#closeTimer) clearTimeout(this.#closeTimer);
        this.#notify();
        resolve();
      });
    });
    this.socket.on("end", () => {
      if (this.tcpClosedAt === null) {
        this.tcpClosedByPeer = true;
        this.tcpClosedAt = Date.now();
      }
      this.closer ??= "peer";
      this.#notify();
    });
    this.socket.on("error", () => {
      if (this.tcpClosedAt === null) {
        this.tcpClosedByPeer = true;
        this.tcpClosedAt = Date.now();
      }
      this.closer ??= "peer";
    });
    this.socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    if (options.rest && options.rest.length > 0) this.#onData(options.rest);
    this.socket.resume();
  }

  /** `true` once TCP is gone. */
  get isClosed(): boolean {
    return this.#socketClosed;
  }

  /** `true` while the session may still carry data (no close frame seen or sent, TCP up). */
  get isOpen(): boolean {
    return !this.#socketClosed && this.closeReceived === null && this.closeSent === null && this.tcpClosedAt === null;
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Resolve when `pred()` holds (re-checked on every event) or after `ms`; returns whether it held. */
  waitFor(pred: () => boolean, ms: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(ok);
      };
      const check = (): void => {
        if (pred()) done(true);
      };
      const timer = setTimeout(() => done(pred()), ms);
      this.#waiters.add(check);
    });
  }

  /** The next message, pong or ping from the inbox (null on timeout or close). */
  async next(ms: number): Promise<Received | null> {
    await this.waitFor(() => this.#inbox.length > 0 || this.closeReceived !== null || this.#socketClosed, ms);
    return this.#inbox.shift() ?? null;
  }

  /** Autobahn's continue_later(t, tag): pause; if still open after `ms`, record `("timeout", tag)`. */
  async timeout(tag: string, ms: number): Promise<void> {
    await this.waitFor(() => this.closeReceived !== null || this.tcpClosedAt !== null, ms);
    if (this.closeReceived === null && this.tcpClosedAt === null) this.#record({ kind: "timeout", tag });
  }

  /** Pause without recording anything. */
  sleep(ms: number): Promise<void> {
    return sleep(ms);
  }

  #record(event: Received): void {
    if (this.keepLog || event.kind !== "message") this.received.push(event);
    this.#inbox.push(event);
    this.#notify();
  }

  // ---- sending ---------------------------------------------------------------------------

  #mask(): Buffer | null {
    if (this.role !== "client") return null;
    const key = Buffer.allocUnsafe(4);
    randomFillSync(key);
    return key;
  }

  /** Write raw bytes with the given pacing; resolves when they are handed to the kernel. */
  async sendRaw(bytes: Uint8Array, pacing: Pacing = {}): Promise<void> {
    if (this.#socketClosed || this.socket.destroyed) return;
    const chop = pacing.chop ?? 0;
    if (chop > 0 && chop < bytes.length) {
      for (let i = 0; i < bytes.length; i += chop) {
        if (this.#socketClosed) return;
        await this.#write(bytes.subarray(i, Math.min(i + chop, bytes.length)));
        if (pacing.delayMs) await sleep(pacing.delayMs);
        else if (chop < 64) await new Promise((r) => setImmediate(r));
      }
    } else {
      await this.#write(bytes);
      if (pacing.delayMs) await sleep(pacing.delayMs);
    }
    if (pacing.sync) await new Promise((r) => setImmediate(r));
  }

  #write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) return resolve();
      this.socket.write(bytes, () => resolve());
      // The answer to the endpoint's close is not part of what the case sent.
      if (this.closeReceived === null) this.lastSendAt = Date.now();
    });
  }

  /** Serialize a frame as this peer sends it (masked when playing the client). */
  encode(spec: Omit<FrameSpec, "mask">): Buffer {
    return encodeFrame({ ...spec, mask: this.#mask() });
  }

  /** Send one frame exactly as specified (masked when playing the client). */
  sendFrame(spec: Omit<FrameSpec, "mask">, pacing: Pacing = {}): Promise<void> {
    return this.sendFrames([spec], pacing);
  }

  /** Several frames in one write (or chopped as one byte stream). */
  async sendFrames(specs: Array<Omit<FrameSpec, "mask">>, pacing: Pacing = {}): Promise<void> {
    const bytes = Buffer.concat(specs.map((s) => encodeFrame({ ...s, mask: this.#mask() })));
    let sentClose = false;
    for (const s of specs) {
      // A well-formed close starts the closing handshake; a malformed one (RSV bits) is just bytes.
      if (s.opcode === OP.CLOSE && (s.rsv ?? 0) === 0 && this.closeSent === null) {
        const p = typeof s.payload === "string" ? Buffer.from(s.payload) : s.payload;
        this.closeSent = { code: p && p.length >= 2 ? (p[0]! << 8) | p[1]! : null, at: Date.now() };
        if (this.closeReceived === null) this.closer ??= "me";
        sentClose = true;
      }
    }
    await this.sendRaw(bytes, pacing);
    if (sentClose) this.#afterCloseExchange();
  }

  /**
   * Send a data message, compressed when deflate was negotiated (RSV1 on the
   * first frame only, RFC 7692 §6.1), split into frames of `fragmentSize`.
   */
  async sendMessage(
    data: Uint8Array | string,
    options: { binary?: boolean; fragmentSize?: number; compress?: boolean } & Pacing = {},
  ): Promise<void> {
    const raw = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const binary = options.binary ?? typeof data !== "string";
    const compress = (options.compress ?? true) && this.deflate !== null;
    const payload = compress ? await this.deflate!.compress(raw) : raw;
    const size = options.fragmentSize ?? 0;
    const frames: Array<Omit<FrameSpec, "mask">> = [];
    if (size <= 0 || payload.length <= size) {
      frames.push({ opcode: binary ? OP.BINARY : OP.TEXT, rsv: compress ? 4 : 0, payload });
    } else {
      for (let i = 0; i < payload.length; i += size) {
        frames.push({
          opcode: i === 0 ? (binary ? OP.BINARY : OP.TEXT) : OP.CONTINUATION,
          rsv: i === 0 && compress ? 4 : 0,
          fin: i + size >= payload.length,
          payload: payload.subarray(i, i + size),
        });
      }
    }
    const pacing: Pacing = {};
    if (options.chop !== undefined) pacing.chop = options.chop;
    if (options.delayMs !== undefined) pacing.delayMs = options.delayMs;
    if (options.sync !== undefined) pacing.sync = options.sync;
    if (frames.length === 1 || pacing.chop) await this.sendFrames(frames, pacing);
    else {
      // Many frames: one write per batch keeps syscalls bounded without merging the whole message.
      const batch = Math.max(1, Math.floor(65536 / Math.max(size, 1)));
      for (let i = 0; i < frames.length; i += batch) await this.sendFrames(frames.slice(i, i + batch), pacing);
    }
  }

  /** Start (or answer) the closing handshake. */
  close(code: number | null = 1000, reason: string | Uint8Array = ""): Promise<void> {
    if (this.closeSent !== null || this.#socketClosed) return Promise.resolve();
    return this.sendFrame({ opcode: OP.CLOSE, payload: closePayload(code, reason) });
  }

  /** Drop TCP (ends a case the peer should have ended). */
  drop(): void {
    if (this.#socketClosed) return;
    if (this.tcpClosedAt === null) this.closer ??= "me";
    this.socket.destroy();
  }

  /**
   * Autobahn's kill_after: the peer did not end the session in time. Send
   * close 1001 if no close was sent yet, then drop TCP shortly after.
   */
  async kill(): Promise<void> {
    if (this.#socketClosed) return;
    this.killed = true;
    this.closer ??= "me";
    if (this.closeSent === null) {
      await this.close(1001);
      await this.waitFor(() => this.#socketClosed, 500);
    }
    this.drop();
  }

  /** Once both close frames passed: the server closes TCP; a client waits for the server to. */
  #afterCloseExchange(): void {
    if (this.closeSent === null || this.closeReceived === null || this.#socketClosed) return;
    if (this.role === "server") {
      // RFC 6455 §7.1.1: the server SHOULD close the TCP connection first.
      this.socket.end();
      this.#closeTimer = setTimeout(() => this.socket.destroy(), this.#closeTimeoutMs);
    } else if (this.#closeTimer === null) {
      this.#closeTimer = setTimeout(() => {
        if (!this.#socketClosed && !this.tcpClosedByPeer) {
          this.droppedAfterClose = true;
          this.socket.destroy();
        }
      }, this.#closeTimeoutMs);
    }
  }

  // ---- receiving -------------------------------------------------------------------------

  #onData(chunk: Buffer): void {
    const frames = this.#reader.push(chunk);
    if (this.#reader.violation !== null && !this.violations.includes(this.#reader.violation)) {
      this.violations.push(this.#reader.violation);
    }
    for (const frame of frames) this.#chain = this.#chain.then(() => this.#onFrame(frame));
    this.#chain = this.#chain.catch((err: unknown) => {
      this.violations.push(`harness error: ${String(err)}`);
    });
  }

  async #onFrame(frame: RawFrame): Promise<void> {
    if (this.closeReceived !== null) {
      // RFC 6455 §5.5.1: after sending a Close frame, the endpoint MUST NOT send any more data frames.
      this.violations.push(`frame (opcode ${frame.opcode}) after the peer's close`);
      return;
    }
    switch (frame.opcode) {
      case OP.TEXT:
      case OP.BINARY:
        if (this.#messageOpcode !== -1) {
          this.violations.push("new data frame while a fragmented message is in progress");
          return;
        }
        this.#messageOpcode = frame.opcode;
        this.#messageCompressed = (frame.rsv & 4) !== 0;
        this.#fragments = [frame.payload];
        if (frame.fin) await this.#endMessage();
        return;
      case OP.CONTINUATION:
        if (this.#messageOpcode === -1) {
          this.violations.push("continuation frame without a message in progress");
          return;
        }
        this.#fragments.push(frame.payload);
        if (frame.fin) await this.#endMessage();
        return;
      case OP.PING:
        this.#record({ kind: "ping", payload: frame.payload });
        if (this.closeSent === null) await this.sendFrame({ opcode: OP.PONG, payload: frame.payload });
        return;
      case OP.PONG:
        this.#record({ kind: "pong", payload: frame.payload });
        return;
      case OP.CLOSE:
        this.#onClose(frame.payload);
        return;
    }
  }

  async #endMessage(): Promise<void> {
    const binary = this.#messageOpcode === OP.BINARY;
    let data = this.#fragments.length === 1 ? this.#fragments[0]! : Buffer.concat(this.#fragments);
    const compressed = this.#messageCompressed;
    this.#fragments = [];
    this.#messageOpcode = -1;
    if (compressed) {
      try {
        data = await this.deflate!.decompress(data);
      } catch (err) {
        this.violations.push(`cannot inflate the peer's message: ${(err as Error).message}`);
        return;
      }
    }
    // RFC 6455 §8.1: a text message MUST be valid UTF-8.
    if (!binary && !isValidUtf8(data)) this.violations.push("the peer sent a text message that is not valid UTF-8");
    this.#record({ kind: "message", binary, data });
  }

  #onClose(payload: Buffer): void {
    let code: number | null = null;
    if (payload.length === 1) this.violations.push("the peer sent a 1-byte close payload");
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      // RFC 6455 §7.4: codes an endpoint may send.
      const ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
      if (!ok) this.violations.push(`the peer sent close code ${code}`);
      if (!isValidUtf8(payload.subarray(2))) this.violations.push("the peer's close reason is not valid UTF-8");
    }
    this.closeReceived = { code, reason: payload.subarray(2), at: Date.now() };
    this.closer ??= this.closeSent === null ? "peer" : "me";
    if (this.closeSent === null) {
      // Answer with the same code, as a conforming endpoint does (RFC 6455 §5.5.1).
      void this.close(code, "");
    } else this.#afterCloseExchange();
    this.#notify();
  }
}
