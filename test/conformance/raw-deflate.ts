/**
 * permessage-deflate (RFC 7692) for the raw conformance peer, on node:zlib
 * (not pako, which our src/protocol uses), so a shared bug cannot hide.
 *
 * The negotiated parameters decide the windows and the context resets:
 * each side compresses with its own `*_max_window_bits` and inflates with
 * the other's, and drops its context after every message when the matching
 * `*_no_context_takeover` was agreed. Inflating with exactly the agreed
 * window makes a peer that uses a larger one fail visibly ("invalid distance
 * too far back"), which is what 13.3 / 13.5 check.
 * @module
 */
import * as zlib from "node:zlib";
import type { ExtensionItem } from "./raw-handshake.ts";

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** The agreed parameters of one permessage-deflate session. */
export interface DeflateParams {
  clientNoContextTakeover: boolean;
  serverNoContextTakeover: boolean;
  clientMaxWindowBits: number;
  serverMaxWindowBits: number;
}

/** Read the agreed parameters from the server's response item (RFC 7692 §7). */
export function paramsFromResponse(item: ExtensionItem): DeflateParams {
  const bits = (name: string): number => {
    const v = item.params.get(name);
    if (v === undefined || v === null) return 15;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 8 || n > 15) throw new Error(`bad ${name}=${v}`);
    return n;
  };
  return {
    clientNoContextTakeover: item.params.has("client_no_context_takeover"),
    serverNoContextTakeover: item.params.has("server_no_context_takeover"),
    clientMaxWindowBits: bits("client_max_window_bits"),
    serverMaxWindowBits: bits("server_max_window_bits"),
  };
}

function zlibBits(bits: number): number {
  // zlib cannot deflate raw streams with an 8-bit window; node:zlib uses 9 (RFC 7692 §7.1.2.1 allows a smaller one).
  return Math.max(bits, 9);
}

function run(stream: zlib.DeflateRaw | zlib.InflateRaw, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer): void => void chunks.push(c);
    const onError = (e: Error): void => {
      stream.off("data", onData);
      reject(e);
    };
    stream.on("data", onData);
    stream.once("error", onError);
    stream.write(data);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.off("data", onData);
      stream.off("error", onError);
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
  });
}

/** One side's compressor and decompressor. */
export class RawDeflate {
  readonly params: DeflateParams;
  readonly #isClient: boolean;
  #deflater: zlib.DeflateRaw | null = null;
  #inflater: zlib.InflateRaw | null = null;

  constructor(role: "client" | "server", params: DeflateParams) {
    this.#isClient = role === "client";
    this.params = params;
  }

  get #ownBits(): number {
    return this.#isClient ? this.params.clientMaxWindowBits : this.params.serverMaxWindowBits;
  }
  get #peerBits(): number {
    return this.#isClient ? this.params.serverMaxWindowBits : this.params.clientMaxWindowBits;
  }
  get #ownReset(): boolean {
    return this.#isClient ? this.params.clientNoContextTakeover : this.params.serverNoContextTakeover;
  }
  get #peerReset(): boolean {
    return this.#isClient ? this.params.serverNoContextTakeover : this.params.clientNoContextTakeover;
  }

  /** Compress one whole message; RFC 7692 §7.2.1: drop the trailing 00 00 ff ff. */
  async compress(message: Buffer): Promise<Buffer> {
    this.#deflater ??= zlib.createDeflateRaw({ windowBits: zlibBits(this.#ownBits), memLevel: 8 });
    const out = await run(this.#deflater, message);
    if (this.#ownReset) {
      this.#deflater.close();
      this.#deflater = null;
    }
    if (out.length >= 4 && out.subarray(out.length - 4).equals(TAIL)) return out.subarray(0, out.length - 4);
    return out;
  }

  /** Inflate one whole message (its frames' payloads joined); RFC 7692 §7.2.2: append 00 00 ff ff. */
  async decompress(payload: Buffer): Promise<Buffer> {
    // An 8-bit peer window cannot be inflated by zlib with windowBits 8 in raw mode; 9 is a superset.
    this.#inflater ??= zlib.createInflateRaw({ windowBits: zlibBits(this.#peerBits) });
    try {
      const out = await run(this.#inflater, Buffer.concat([payload, TAIL]));
      if (this.#peerReset) {
        this.#inflater.close();
        this.#inflater = null;
      }
      return out;
    } catch (err) {
      this.#inflater = null;
      throw err;
    }
  }

  close(): void {
    this.#deflater?.close();
    this.#inflater?.close();
    this.#deflater = this.#inflater = null;
  }
}
