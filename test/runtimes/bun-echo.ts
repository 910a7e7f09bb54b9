// Run by Bun (see runtimes.test.ts). Bun's own sockets (Bun.listen /
// Bun.connect) are callback-based, with no web streams, so they are wrapped
// here into a { readable, writable } byte-stream pair (byte-counted
// back-pressure through pause/resume and 'drain', partial writes queued);
// then our server and client talk over them, with and without
// permessage-deflate. Then the same over node:net through our Node adapter,
// which Bun runs too. Prints one JSON line.
import { maskSelfCheck } from "../protocol/bytes/mask-check.ts";
import { createConnection, createServer, type Socket as NetSocket } from "node:net";
import { acceptWebSocket, connectWebSocket, type ByteTransport } from "../../src/streams/sessions.ts";
import { fromNodeSocket } from "../../src/node/index.ts";
import { PerMessageDeflate } from "../../src/protocol/extensions/index.ts";

interface BunSocket {
  write(data: Uint8Array): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  data: BunTransport;
}
declare const Bun: {
  listen(options: object): { port: number; stop(force?: boolean): void };
  connect(options: object): Promise<BunSocket>;
};

/** A Bun socket as web streams. */
class BunTransport implements ByteTransport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #pending: Uint8Array | null = null;
  #drained: (() => void) | null = null;
  #ended = false;

  constructor(socket: BunSocket) {
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#controller = c;
        },
        pull: () => socket.resume(),
        cancel: () => socket.terminate(),
      },
      { highWaterMark: 64 * 1024, size: (b) => b.byteLength },
    );
    this.writable = new WritableStream<Uint8Array>(
      {
        write: (chunk) => {
          const written = socket.write(chunk);
          if (written === chunk.byteLength) return;
          this.#pending = chunk.subarray(Math.max(0, written));
          return new Promise<void>((resolve) => (this.#drained = resolve));
        },
        close: () => socket.end(),
        abort: () => socket.terminate(),
      },
      { highWaterMark: 64 * 1024, size: (b) => b.byteLength },
    );
    this.socket = socket;
  }
  readonly socket: BunSocket;

  onData(data: Uint8Array): void {
    if (this.#ended) return;
    this.#controller.enqueue(data.slice()); // Bun may reuse its receive buffer
    if ((this.#controller.desiredSize ?? 0) <= 0) this.socket.pause();
  }
  onDrain(): void {
    while (this.#pending) {
      const written = this.socket.write(this.#pending);
      if (written >= this.#pending.byteLength) {
        this.#pending = null;
        const d = this.#drained;
        this.#drained = null;
        d?.();
      } else if (written <= 0) return;
      else this.#pending = this.#pending.subarray(written);
    }
  }
  onEnd(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#controller.close();
  }
  onError(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#controller.error(error);
  }
}

const handlers = {
  open(socket: BunSocket) {
    socket.data ??= new BunTransport(socket);
  },
  data(socket: BunSocket, data: Uint8Array) {
    socket.data.onData(data);
  },
  drain(socket: BunSocket) {
    socket.data.onDrain();
  },
  end(socket: BunSocket) {
    socket.data.onEnd();
  },
  close(socket: BunSocket) {
    socket.data?.onEnd();
  },
  error(socket: BunSocket, error: unknown) {
    socket.data?.onError(error);
  },
};

async function exchange(transport: ByteTransport, url: string, deflate: boolean): Promise<object> {
  const ws = connectWebSocket(transport, { url, extensions: deflate ? [new PerMessageDeflate()] : [] });
  const { readable, writable, extensions } = await ws.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  const big = new Uint8Array(1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  const sent: Array<string | Uint8Array> = ["hello from bun", "ünïcode ✓", big, new Uint8Array(0)];
  for (const m of sent) void writer.write(m);
  let same = true;
  for (const m of sent) {
    const got = (await reader.read()).value;
    if (typeof m === "string") same &&= got === m;
    else same &&= got instanceof Uint8Array && got.length === m.length && got.every((b, i) => b === m[i]);
  }
  const rtt = await ws.ping();
  ws.close({ closeCode: 1000, reason: "bun done" });
  return { extensions, same, pinged: rtt >= 0, closed: await ws.closed };
}

function serve(transport: ByteTransport): void {
  const ws = acceptWebSocket(transport, { extensions: [new PerMessageDeflate()] });
  ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  ws.closed.catch(() => {});
}

const result: Record<string, unknown> = { runtime: "bun" };
const server = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    ...handlers,
    open(socket: BunSocket) {
      handlers.open(socket);
      serve(socket.data);
    },
  },
});
for (const deflate of [false, true]) {
  const socket = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: handlers });
  socket.data ??= new BunTransport(socket);
  result[deflate ? "bunSockets+deflate" : "bunSockets"] = await exchange(socket.data, `ws://127.0.0.1:${server.port}/`, deflate);
}
server.stop(true);

// node:net through the Node adapter, under Bun.
const netServer = createServer((socket: NetSocket) => serve(fromNodeSocket(socket)));
await new Promise<void>((r) => netServer.listen(0, "127.0.0.1", r));
const netPort = (netServer.address() as { port: number }).port;
result["nodeNet+deflate"] = await exchange(
  fromNodeSocket(createConnection(netPort, "127.0.0.1")),
  `ws://127.0.0.1:${netPort}/`,
  true,
);
netServer.close();
// Masking on this runtime, both paths, against the scalar reference.
result["mask"] = maskSelfCheck({ lengths: [...Array.from({ length: 301 }, (_, i) => i), 1024, 4099, 65536 + 13, 200_001] });
console.log(JSON.stringify(result));
process.exit(0);
