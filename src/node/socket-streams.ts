/**
 * The WHATWG side of the Node socket adapter: a socket as a
 * `{ readable, writable }` pair of byte streams, made when a user of
 * `fromNodeSocket` reads `transport.readable` or `transport.writable` (a
 * WebSocket session takes the socket's own port instead, socket.ts).
 *
 * Invariants:
 * - readable: bytes are queued up to `readableHighWaterMark` BYTES, then the
 *   socket is paused until the consumer pulls; `head` comes first; the
 *   socket's end of stream closes it, a socket error or a close without end
 *   errors it.
 * - writable: a write resolves at once while the socket's own buffer is below
 *   its high-water mark and otherwise waits for `'drain'`; writes issued in
 *   one tick are corked into one system call; `close()` is `end()` and resolves
 *   once everything is flushed; `abort()` is `destroy()`.
 * - The socket is destroyed once both sides are done (ended or cancelled and
 *   closed or aborted), so nothing outlives the transport.
 * @module
 */
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { StreamsImplementation } from "../streams/streams-implementation.ts";
import type { ByteTransport } from "../streams/transport.ts";

/** The adapter's options, resolved (defaults applied, marks validated) by `fromNodeSocket`. */
export interface SocketStreamsOptions {
  readonly head: Uint8Array;
  readonly readableHighWaterMark: number;
  readonly writableHighWaterMark: number;
  readonly allowHalfOpen: boolean;
  readonly streams: StreamsImplementation;
}

const byteSize = (chunk: Uint8Array): number => chunk.byteLength;

/** The two streams over `socket` (see the module comment for their rules). */
export function socketStreams(socket: Socket | Duplex, options: SocketStreamsOptions): ByteTransport {
  const { streams: impl, readableHighWaterMark, writableHighWaterMark, head } = options;
  socket.allowHalfOpen = options.allowHalfOpen;

  let readDone = false; // ended, errored or cancelled
  let writeDone = false; // closed, errored or aborted
  let readCancelled = false;
  const destroyIfDone = (): void => {
    if (readDone && writeDone && !socket.destroyed) socket.destroy();
  };

  // ---- readable -----------------------------------------------------------
  let readController!: ReadableStreamDefaultController<Uint8Array>;
  const finishRead = (error?: unknown): void => {
    if (readDone) return;
    readDone = true;
    socket.off("data", onData);
    if (!readCancelled) {
      if (error === undefined) readController.close();
      else readController.error(error);
    }
    destroyIfDone();
  };
  const onData = (chunk: Uint8Array | string): void => {
    if (readCancelled) return; // draining after cancel(): discard
    // A socket with an encoding set would hand us strings; we never set one.
    if (typeof chunk === "string") chunk = new TextEncoder().encode(chunk);
    readController.enqueue(chunk);
    // RFC-free plumbing: stop reading while the consumer is behind.
    if ((readController.desiredSize ?? 0) <= 0) socket.pause();
  };
  const onEnd = (): void => finishRead();

  const readable = new impl.ReadableStream<Uint8Array>(
    {
      start(controller) {
        readController = controller;
        if (head.byteLength > 0) controller.enqueue(head);
        if (socket.readableEnded) {
          finishRead();
          return;
        }
        if (socket.destroyed) {
          finishRead(new Error("socket destroyed before the transport was created"));
          return;
        }
        socket.pause();
        socket.on("data", onData);
      },
      pull() {
        if (!readDone) socket.resume();
      },
      cancel() {
        readCancelled = true;
        // Keep reading and discarding, so the peer's FIN still arrives and a
        // peer blocked on a full window can finish; the socket goes when the
        // write side is done as well.
        if (!readDone) {
          readDone = true;
          socket.resume();
        }
        destroyIfDone();
      },
    },
    { highWaterMark: readableHighWaterMark, size: byteSize },
  );

  // ---- writable -----------------------------------------------------------
  let writeController!: WritableStreamDefaultController;
  let waiter: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  let corked = false;
  let socketError: unknown = null;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  const settleWaiter = (error?: unknown): void => {
    const w = waiter;
    waiter = null;
    if (w) error === undefined ? w.resolve() : w.reject(error);
  };
  const onDrain = (): void => settleWaiter();

  const writable = new impl.WritableStream<Uint8Array>(
    {
      start(controller) {
        writeController = controller;
      },
      write(chunk) {
        if (socketError !== null) throw socketError;
        if (socket.destroyed || socket.writableEnded) throw new Error("socket is closed");
        // Writes issued in the same tick leave in one writev.
        if (!corked) {
          corked = true;
          socket.cork();
          process.nextTick(uncork);
        }
        if (socket.write(chunk)) return;
        return new Promise<void>((resolve, reject) => {
          waiter = { resolve, reject };
        });
      },
      close() {
        return new Promise<void>((resolve, reject) => {
          if (socket.destroyed) {
            writeDone = true;
            reject(socketError ?? new Error("socket is closed"));
            return;
          }
          const done = (error?: unknown): void => {
            socket.off("finish", onFinish);
            socket.off("close", onCloseBeforeFinish);
            writeDone = true;
            destroyIfDone();
            if (error === undefined) resolve();
            else reject(error);
          };
          const onFinish = (): void => done();
          const onCloseBeforeFinish = (): void => done(socketError ?? new Error("socket closed before end"));
          socket.once("finish", onFinish);
          socket.once("close", onCloseBeforeFinish);
          socket.end();
        });
      },
      abort(reason) {
        writeDone = true;
        settleWaiter(reason ?? new Error("transport aborted"));
        finishRead(reason ?? new Error("transport aborted"));
        socket.destroy();
      },
    },
    { highWaterMark: writableHighWaterMark, size: byteSize },
  );

  // ---- socket lifecycle ---------------------------------------------------
  const onError = (error: unknown): void => {
    socketError = error;
    settleWaiter(error);
    finishRead(error);
    if (!writeDone) {
      writeDone = true;
      writeController.error(error);
    }
  };
  const onClose = (): void => {
    socket.off("drain", onDrain);
    socket.off("end", onEnd);
    socket.off("error", onError);
    socket.off("close", onClose);
    const error = socketError ?? new Error("socket closed");
    settleWaiter(error);
    finishRead(error);
    if (!writeDone) {
      writeDone = true;
      writeController.error(error);
    }
  };
  socket.on("drain", onDrain);
  socket.on("end", onEnd);
  socket.on("error", onError);
  socket.on("close", onClose);

  return { readable, writable };
}
