/**
 * Client sockets that read into one buffer the process shares (Node's
 * `onread`), for the connections `connectNodeWebSocket` opens itself over
 * plain TCP. Without it Node allocates a fresh 64 KiB buffer for every read
 * (and the garbage collector frees them again): on a loopback echo of 1 MiB
 * messages that costs more than the whole WebSocket layer.
 *
 * Invariants:
 * - A read's bytes are valid only while its callback runs: the socket's port
 *   hands them on as lent (`TransportPort.lendsReads`) and the engine copies
 *   what it keeps (`borrowedInput`).
 * - One buffer serves every such socket: libuv reads into it and calls back
 *   before it reads again, into any socket (one thread, one read at a time).
 * - Such a socket emits no `'data'`: only its port reads it (never the WHATWG
 *   pair of `fromNodeSocket`, and never a step before the handshake).
 * @module
 */
import { connect as netConnect, type Socket } from "node:net";

/** Bytes read at most per read (Node's own read size). */
const READ_BUFFER_SIZE = 64 * 1024;
let shared: Uint8Array | null = null;

/** Where a socket's reads go: its port, once started. */
export interface LentReads {
  /** The port's delivery, once it started (`null` before). */
  deliver: ((chunk: Uint8Array) => void) | null;
  /** A chunk read before the port started (copied; reading then waits for the port). */
  early: Uint8Array | null;
}

const registry = new WeakMap<object, LentReads>();

/** A TCP connection whose reads land in the shared buffer and go to its port ({@link lentReadsOf}). */
export function connectLendingReads(host: string, port: number): Socket {
  const buffer = (shared ??= new Uint8Array(READ_BUFFER_SIZE));
  const reads: LentReads = { deliver: null, early: null };
  const socket = netConnect({
    host,
    port,
    onread: {
      buffer,
      callback: (n: number): boolean => {
        const chunk = new Uint8Array(buffer.buffer, buffer.byteOffset, n);
        if (reads.deliver !== null) {
          reads.deliver(chunk);
          return true;
        }
        // Not started yet (a server that speaks first): keep a copy and stop reading until the port starts.
        reads.early = reads.early === null ? chunk.slice() : concat(reads.early, chunk);
        return false;
      },
    },
  });
  registry.set(socket, reads);
  return socket;
}

/** The lent reads of a socket {@link connectLendingReads} opened, else `undefined`. */
export function lentReadsOf(socket: object): LentReads | undefined {
  return registry.get(socket);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
