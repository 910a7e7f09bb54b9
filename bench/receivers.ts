/**
 * Raw receiving clients for the fan-out benchmarks (broadcast, topics): they
 * do the opening handshake (no extensions, so nothing is compressed) and
 * count the bytes after it, cheaply, so the server's side is what is
 * measured.
 */
import { createConnection, type Socket } from "node:net";

/** Raw clients that complete the handshake and count the bytes after it. */
export class Receivers {
  readonly sockets: Socket[] = [];
  total = 0;
  #waiter: { target: number; resolve: () => void } | null = null;

  static async open(port: number, count: number): Promise<Receivers> {
    const receivers = new Receivers();
    for (let start = 0; start < count; start += 100) {
      const batch = Array.from({ length: Math.min(100, count - start) }, () => receivers.#connect(port));
      await Promise.all(batch);
    }
    return receivers;
  }

  #connect(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(port, "127.0.0.1");
      socket.setNoDelay(true);
      this.sockets.push(socket);
      socket.write(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      let head = "";
      const onHead = (chunk: Buffer): void => {
        head += chunk.toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!head.startsWith("HTTP/1.1 101")) {
          reject(new Error(`handshake failed: ${head.slice(0, 40)}`));
          return;
        }
        socket.off("data", onHead);
        socket.on("data", (c: Buffer) => this.#count(c.byteLength));
        this.#count(head.length - end - 4);
        resolve();
      };
      socket.on("data", onHead);
      socket.on("error", reject);
    });
  }

  #count(bytes: number): void {
    this.total += bytes;
    const waiter = this.#waiter;
    if (waiter !== null && this.total >= waiter.target) {
      this.#waiter = null;
      waiter.resolve();
    }
  }

  until(target: number): Promise<void> {
    if (this.total >= target) return Promise.resolve();
    return new Promise((resolve) => (this.#waiter = { target, resolve }));
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Milliseconds since the epoch, with sub-millisecond precision, comparable across processes of one machine. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Record, for each message of `frameBytes` bytes (header included) that
 * arrives on `socket`, how long ago it was published: the publisher wrote
 * {@link wallClock} as a float64 (little-endian) at the payload's start,
 * `headerBytes` into the frame.
 */
export function recordLatency(socket: Socket, frameBytes: number, headerBytes: number, samples: number[]): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= frameBytes) {
      samples.push(wallClock() - pending.readDoubleLE(headerBytes));
      pending = pending.subarray(frameBytes);
    }
  });
}

/** The `p`-quantile (0..1) of `values`. */
export function quantile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}
