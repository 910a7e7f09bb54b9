// Test helpers for the streams layer: in-memory transports and a raw peer
// that speaks the protocol through a bare WSConnection (so tests can send
// exactly the bytes they want).
import { WSConnection } from "../../src/protocol/ws-connection.ts";
import { AcceptConnection, Request, type Event } from "../../src/protocol/events.ts";
import { ConnectionType } from "../../src/protocol/types.ts";
import type { ByteTransport } from "../../src/streams/sessions.ts";

/** One direction of an in-memory link, counting bytes taken by the reader. */
export interface Link {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  /** Bytes the reading side has pulled so far. */
  readonly pulled: () => number;
  /** Error both ends (a transport killed mid-stream). */
  kill: (reason?: unknown) => void;
  /** Resolves when the reading side cancelled or the writing side closed/aborted. */
  readonly ended: Promise<string>;
}

/** A one-way byte pipe holding at most 4 chunks, with a byte counter. */
export function link(): Link {
  let pulled = 0;
  let endedResolve!: (how: string) => void;
  const ended = new Promise<string>((r) => (endedResolve = r));
  const queue: Uint8Array[] = [];
  let closed = false;
  let dataWaiter: (() => void) | null = null; // the reader waits for data
  let spaceWaiter: (() => void) | null = null; // the writer waits for room
  const wake = (which: "data" | "space"): void => {
    const w = which === "data" ? dataWaiter : spaceWaiter;
    if (which === "data") dataWaiter = null;
    else spaceWaiter = null;
    w?.();
  };
  let readController!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>(
    {
      start(c) {
        readController = c;
      },
      async pull(c) {
        while (queue.length === 0 && !closed) await new Promise<void>((r) => (dataWaiter = r));
        const chunk = queue.shift();
        if (chunk) {
          pulled += chunk.byteLength;
          c.enqueue(chunk);
          wake("space");
        } else c.close();
      },
      cancel() {
        closed = true;
        queue.length = 0;
        wake("space");
        endedResolve("cancelled");
      },
    },
    { highWaterMark: 0 },
  );
  const writable = new WritableStream<Uint8Array>(
    {
      async write(chunk) {
        if (closed) throw new Error("link closed");
        queue.push(chunk);
        wake("data");
        while (queue.length > 4 && !closed) await new Promise<void>((r) => (spaceWaiter = r));
      },
      close() {
        closed = true;
        wake("data");
        endedResolve("closed");
      },
      abort() {
        closed = true;
        wake("data");
        endedResolve("aborted");
      },
    },
    { highWaterMark: 1 },
  );
  return {
    readable,
    writable,
    pulled: () => pulled,
    kill(reason = new Error("killed")) {
      closed = true;
      try {
        readController.error(reason);
      } catch {
        // already closed
      }
      wake("data");
      wake("space");
      endedResolve("killed");
    },
    ended,
  };
}

/** Two in-memory transports joined back to back. */
export function memoryPair(): { client: ByteTransport; server: ByteTransport; toServer: Link; toClient: Link } {
  const toServer = link();
  const toClient = link();
  return {
    client: { readable: toClient.readable, writable: toServer.writable },
    server: { readable: toServer.readable, writable: toClient.writable },
    toServer,
    toClient,
  };
}

/**
 * A peer driven by hand: a bare WSConnection on a transport. It reads in the
 * background into a list of events; `write` sends raw bytes.
 */
export class RawPeer {
  readonly conn: WSConnection;
  readonly events: Event[] = [];
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #waiters: Array<() => void> = [];
  eof = false;
  reading = true;

  constructor(type: ConnectionType, transport: ByteTransport) {
    this.conn = new WSConnection(type);
    this.#reader = transport.readable.getReader();
    this.#writer = transport.writable.getWriter();
    void this.#loop();
  }

  async #loop(): Promise<void> {
    try {
      for (;;) {
        while (!this.reading) await new Promise((r) => setTimeout(r, 5));
        const { value, done } = await this.#reader.read();
        if (done) break;
        this.conn.receiveData(value);
        for (const e of this.conn.events()) this.events.push(e);
        this.#notify();
      }
    } catch {
      // killed
    }
    this.eof = true;
    this.#notify();
  }

  #notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Wait until `pred` holds over the events seen (or EOF). */
  async until(pred: (events: Event[]) => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this.events)) {
      if (this.eof) throw new Error("peer saw EOF before the condition held");
      if (Date.now() > deadline) throw new Error("timed out waiting on the raw peer");
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 20);
      });
    }
  }

  async untilEof(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.eof) {
      if (Date.now() > deadline) throw new Error("timed out waiting for EOF");
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 20);
      });
    }
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.#writer.write(bytes);
  }

  send(event: Event): Promise<void> {
    return this.write(this.conn.send(event));
  }

  close(): Promise<void> {
    return this.#writer.close();
  }

  abort(): Promise<void> {
    return this.#writer.abort();
  }

  /** Server role: wait for the request and accept it. */
  async accept(accept: AcceptConnection = new AcceptConnection()): Promise<void> {
    await this.until((evs) => evs.some((e) => e.type === "Request"));
    await this.send(accept);
  }

  /** Client role: send a request and wait for the accept. */
  async connect(request = new Request({ host: "example.com", target: "/" })): Promise<void> {
    await this.send(request);
    await this.until((evs) => evs.some((e) => e.type === "AcceptConnection"));
  }
}

export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let gcFunction: (() => void) | null = null;
/** A full garbage collection (so memory measurements count live bytes only). */
export async function collectGarbage(): Promise<void> {
  if (gcFunction === null) {
    const v8 = await import("node:v8");
    const vm = await import("node:vm");
    v8.setFlagsFromString("--expose-gc");
    gcFunction = vm.runInNewContext("gc") as () => void;
  }
  gcFunction();
  await new Promise((r) => setImmediate(r));
  gcFunction();
}

/** Live JS heap plus array buffers, after a full collection. */
export async function liveBytes(): Promise<number> {
  await collectGarbage();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** What `p` rejects with (it must reject): for assertions on an error's class, code and message. */
export async function rejection<E = Error>(p: Promise<unknown>): Promise<E> {
  try {
    await p;
  } catch (error) {
    return error as E;
  }
  throw new Error("expected a rejection");
}
