/**
 * `broadcast`: one message to many sessions, framed once where the bytes can
 * be shared. Portable (no `node:*`): `WebSocketServer` uses it, and so can a
 * server on Deno or Bun holding its own set of sessions.
 *
 * Answers: which connections can share one frame, which need their own
 * compressed copy, and which are skipped (slow, closing, mid-fragment).
 *
 * Invariants:
 * - A message is framed once for every connection that can share the bytes:
 *   all connections without permessage-deflate (or sending it uncompressed:
 *   `compress: false`, under the threshold), and, per set of compression
 *   parameters, the connections whose server compressor has no context
 *   takeover. A connection with context takeover compresses its own copy
 *   (its window is its own; RFC 7692 §7.1.1).
 * - Bounded memory: a connection whose outbound buffer (bytes the transport
 *   has not written yet) is over `backpressureLimit` is skipped (or, with
 *   `closeOnBackpressureLimit`, closed with 1008), so a peer that never reads
 *   makes the sender hold at most `backpressureLimit` plus one message for it.
 * - Nothing is written to a connection that is not OPEN, or that is in the
 *   middle of sending a fragmented message of its own.
 *
 * What it touches of a session beyond its public methods (to be exposed on
 * purpose by the session): `session.connection` (the engine: its `state`,
 * `sendingMessage`, `extensions` and `send()`), `session.bufferedAmount` and
 * `session.writeFrames(bytes)`.
 * @module
 */
import { Connection } from "../protocol/frames/connection.ts";
import { LocalProtocolError } from "../protocol/errors.ts";
import { Message } from "../protocol/events.ts";
import { PerMessageDeflate } from "../protocol/extensions/permessage-deflate.ts";
import { buildFrame } from "../protocol/frames/frame.ts";
import { ConnectionState } from "../protocol/types.ts";
import { encodeUtf8, isWellFormed } from "../protocol/bytes/utf8.ts";
import type { WebSocketSession } from "./session/session.ts";

/**
 * What {@link broadcast} uses of a session: `connection`, and two members
 * the session marks internal (`bufferedAmount`, `writeFrames`), so the
 * published signature names `WebSocketSession` itself.
 */
type BroadcastTarget = Pick<WebSocketSession<unknown>, "connection" | "bufferedAmount" | "writeFrames" | "close">;

/** Options of {@link broadcast} (`WebSocketServer.broadcast` takes `except` and `compress`). */
export interface BroadcastOptions {
  /** A session not to send to (usually the sender). */
  except?: WebSocketSession<unknown>;
  /** `false` sends the message uncompressed to every connection. @default permessage-deflate's own rule */
  compress?: boolean;
  /** Bytes a connection may have waiting to be written before it is skipped. @default 1048576 */
  backpressureLimit?: number;
  /** Close (1008) a connection over `backpressureLimit` instead of skipping it. @default false */
  closeOnBackpressureLimit?: boolean;
}

/** Default {@link BroadcastOptions.backpressureLimit}: 1 MiB, as uWebSockets' `maxBackpressure`. */
export const DEFAULT_BACKPRESSURE_LIMIT = 1024 * 1024;
const FIN = 0x80;

/**
 * Send one message to every session of `sessions` (but `except`), framed once
 * where the bytes can be shared; returns how many sessions it was written to.
 * A text message is TEXT, bytes BINARY.
 * @throws LocalProtocolError for a string that is not valid UTF-16, or a message of another type (nothing is sent).
 * @example
 * ```ts
 * import { broadcast, type WebSocketSession } from "wsproto/streams";
 * const sessions = new Set<WebSocketSession>(); // add each session once opened, delete it once closed
 * const delivered = broadcast(sessions, "hello everyone");
 * ```
 */
export function broadcast(sessions: Iterable<WebSocketSession<unknown>>, message: string | Uint8Array, options: BroadcastOptions = {}): number {
  let payload: Uint8Array;
  let opcode: number;
  if (typeof message === "string") {
    if (!isWellFormed(message)) {
      throw new LocalProtocolError("Text contains a lone surrogate (not encodable as UTF-8)", "WS_ERR_INVALID_UTF16");
    }
    payload = encodeUtf8(message);
    opcode = 0x1;
  } else if (message instanceof Uint8Array) {
    payload = message;
    opcode = 0x2;
  } else {
    throw new LocalProtocolError("broadcast takes a string or a Uint8Array", "WS_ERR_INVALID_DATA_TYPE");
  }
  const limit = options.backpressureLimit ?? DEFAULT_BACKPRESSURE_LIMIT;
  const compress = options.compress;
  let plain: Uint8Array | null = null; // the uncompressed frame, shared
  const shared = new Map<unknown, Map<string, Uint8Array>>(); // codec -> parameters -> compressed frame
  const event = (): Message => (compress === undefined ? new Message({ data: message }) : new Message({ data: message, compress }));
  let delivered = 0;
  for (const session of sessions as Iterable<BroadcastTarget>) {
    if (session === options.except) continue;
    const engine = session.connection;
    const connection = engine instanceof Connection ? engine : engine.connection;
    if (connection === null || connection.state !== ConnectionState.OPEN || connection.sendingMessage) continue;
    if (session.bufferedAmount > limit) {
      if (options.closeOnBackpressureLimit === true) {
        try {
          session.close({ closeCode: 1008, reason: "backpressure limit" });
        } catch {
          // Already closing.
        }
      }
      continue;
    }
    let frame: Uint8Array;
    const extensions = connection.extensions;
    const pmd = extensions.length === 1 && extensions[0] instanceof PerMessageDeflate ? extensions[0] : null;
    if (extensions.length === 0 || (pmd !== null && (compress === false || payload.byteLength < pmd.threshold))) {
      // Sent as is: the same bytes for everyone (an uncompressed message leaves a compressor untouched).
      frame = plain ??= buildFrame(FIN | opcode, payload, null);
    } else if (pmd !== null && pmd.serverNoContextTakeover) {
      // RFC 7692 §7.1.1.1: every message starts afresh, so equal parameters give equal bytes.
      let byCodec = shared.get(pmd.codec);
      if (byCodec === undefined) shared.set(pmd.codec, (byCodec = new Map()));
      const key = `${pmd.serverMaxWindowBits}:${pmd.level}:${pmd.memLevel}`;
      let bytes = byCodec.get(key);
      if (bytes === undefined) {
        bytes = connection.send(event());
        byCodec.set(key, bytes);
      }
      frame = bytes;
    } else {
      // Context takeover (or another extension): this connection's own compressor.
      frame = connection.send(event());
    }
    if (session.writeFrames(frame)) delivered++;
  }
  return delivered;
}
