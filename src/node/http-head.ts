/**
 * The HTTP/1.1 response heads the Node client reads off a socket before a
 * session takes it over: a proxy's answer to CONNECT, and (only with
 * `followRedirects`) the server's answer to the opening request, to see
 * whether it is a redirect. Parsed by the protocol's `HttpReader`, the same
 * reader the session uses.
 *
 * Invariants: reads at most `limit` head bytes (plus what arrived in the
 * same chunks); keeps every byte read, so the session can be handed the
 * answer untouched; leaves the socket paused with its listeners removed.
 * @module
 */
import type { Duplex } from "node:stream";
import { concatBytes } from "../protocol/bytes/encoding.ts";
import type { HttpEvent, ResponseHead } from "../protocol/http/message.ts";
import { HttpReader } from "../protocol/http/reader.ts";

/** Most header fields read in a head here (a longer one is handed to the session, which has its own limits). */
const MAX_HEADERS = 1024;

/** What {@link readResponseHead} read. */
export interface ResponseHeadRead {
  /** Every byte read, the head included. */
  readonly bytes: Uint8Array;
  /** The first response head; `null` when the peer ended first or the head is malformed or over the limit. */
  readonly head: ResponseHead | null;
  /** Why the head is `null` when the bytes were at fault (an `HttpError`'s message). */
  readonly malformed: string | null;
  /** The bytes after the head (a CONNECT tunnel's first bytes from the server), framing removed. */
  readonly rest: Uint8Array;
}

/**
 * Read from `socket` up to the end of an HTTP response head (at most `limit`
 * bytes of head). A socket error rejects with that error.
 * @example
 * ```ts
 * const { head, rest } = await readResponseHead(socket, 16384);
 * if (head?.statusCode === 200) socket.unshift(rest);
 * ```
 */
export function readResponseHead(socket: Duplex, limit: number): Promise<ResponseHeadRead> {
  return new Promise((resolve, reject) => {
    const reader = new HttpReader("response", { maxHeadSize: limit, maxHeaders: MAX_HEADERS });
    const parts: Uint8Array[] = [];
    const after: Uint8Array[] = [];
    let head: ResponseHead | null = null;
    let malformed: string | null = null;
    const finish = (error?: unknown): void => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onError);
      socket.off("close", onEnd);
      socket.pause();
      if (error !== undefined) {
        reject(error);
        return;
      }
      if (head !== null) after.push(reader.takeTrailing());
      resolve({ bytes: concatBytes(parts), head, malformed, rest: concatBytes(after) });
    };
    const onData = (chunk: Uint8Array): void => {
      parts.push(chunk);
      const events: HttpEvent[] = [];
      let failed = false;
      try {
        reader.push(chunk, events);
      } catch (error) {
        failed = true;
        malformed = error instanceof Error ? error.message : String(error);
      }
      for (const event of events) {
        if (head === null) {
          if (event.type === "head" && event.head.kind === "response") head = event.head;
        } else if (event.type === "data") after.push(event.data);
      }
      if (head !== null) malformed = null;
      if (head !== null || failed) finish();
    };
    const onEnd = (): void => finish();
    const onError = (error: unknown): void => finish(error);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", onError);
    socket.resume();
  });
}

/**
 * A response head's field, the first of that name (lower-case), or `null`.
 * @example
 * ```ts
 * headerValue(head, "location"); // "/next"
 * ```
 */
export function headerValue(head: { readonly headers: ReadonlyArray<readonly [string, string]> }, name: string): string | null {
  for (const [field, value] of head.headers) if (field === name) return value;
  return null;
}

/**
 * The status line of a head as it was sent (for messages).
 * @example
 * ```ts
 * statusLine(head); // "HTTP/1.1 407 Proxy Authentication Required"
 * ```
 */
export function statusLine(head: ResponseHead): string {
  return `HTTP/${head.httpVersion} ${head.statusCode}${head.reason === "" ? "" : ` ${head.reason}`}`;
}
