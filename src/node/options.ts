/**
 * What every Node helper (`acceptNodeUpgrade`, `connectNodeWebSocket`, the
 * HTTP/2 pair) sets up the same way: the default extensions (permessage-deflate
 * on native zlib) and the socket adapter's share of the caller's options.
 *
 * Invariants: no state; each call returns fresh objects (an extension
 * instance is never shared between two connections).
 * @module
 */
import { PerMessageDeflate } from "../protocol/extensions/permessage-deflate.ts";
import type { NodeSocketOptions } from "./socket.ts";
import { nodeZlibCodec } from "./zlib.ts";

/**
 * The default extensions of the Node helpers: those of the streams layer
 * (permessage-deflate, messages under 1 KiB sent as they are), on native zlib.
 * @example
 * ```ts
 * acceptWebSocket(transport, { extensions: options.extensions ?? nodeExtensions() });
 * ```
 */
export function nodeExtensions(): PerMessageDeflate[] {
  return [new PerMessageDeflate({ threshold: 1024, codec: nodeZlibCodec })];
}

/** The adapter options a helper's caller may give (beside the session's). */
export type AdapterOptions = Pick<NodeSocketOptions, "readableHighWaterMark" | "writableHighWaterMark" | "streams">;

/**
 * The socket adapter's options out of a helper's options (only those given:
 * the adapter applies its own defaults), with `head` delivered first.
 * @example
 * ```ts
 * fromNodeSocket(socket, adapterOptionsOf(options, head));
 * ```
 */
export function adapterOptionsOf(options: AdapterOptions, head?: Uint8Array): NodeSocketOptions {
  const adapter: NodeSocketOptions = {};
  if (head !== undefined) adapter.head = head;
  if (options.readableHighWaterMark !== undefined) adapter.readableHighWaterMark = options.readableHighWaterMark;
  if (options.writableHighWaterMark !== undefined) adapter.writableHighWaterMark = options.writableHighWaterMark;
  if (options.streams !== undefined) adapter.streams = options.streams;
  return adapter;
}
