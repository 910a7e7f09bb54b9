/**
 * The pools of released compressors and decompressors that
 * `PerMessageDeflate` shares between connections (its `"medium"` and
 * `"low"` memory presets release them between messages).
 *
 * Invariants:
 * - Bound: at most `SPARES_MAX` (4) of each per codec and parameter key;
 *   a codec's pools go with the codec (a `WeakMap`).
 * - A spare handed to another connection is reset (and primed with that
 *   connection's history) first; only its previous owner gets it as is.
 * @module
 */
import type { DeflateCodec, Deflater, DeflaterOptions, Inflater } from "./deflate-codec.ts";

/** Released compressors and decompressors kept per codec and parameters. */
const SPARES_MAX = 4;

// The pools: per codec, per parameter key, released instances, the most
// recently released last. JavaScript runs one call at a time and every use of
// a codec instance is synchronous within one frame or message, so sharing
// them is safe. A released compressor remembers whose context it holds: if
// that connection sends again before anyone else took it, it continues as
// is (no reset, no priming: a busy connection pays nothing for the pool).
interface SpareDeflater {
  readonly deflater: Deflater;
  /** The connection whose context it holds (then it is not reset yet), or null. */
  readonly owner: object | null;
}
const spareDeflaters = new WeakMap<DeflateCodec, Map<string, SpareDeflater[]>>();
const spareInflaters = new WeakMap<DeflateCodec, Map<number, Inflater[]>>();

/**
 * A compressor for `owner`'s next message: its own, still untouched in the
 * pool, as is; else a clean spare, or (pool full) the least recently
 * released one, reset and primed with `history`; else a new one.
 */
export function takeDeflater(codec: DeflateCodec, options: DeflaterOptions, owner: object, history: Uint8Array | null): Deflater {
  const list = spareDeflaters.get(codec)?.get(`${options.windowBits}/${options.level}/${options.memLevel}`);
  if (list !== undefined && list.length > 0) {
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i]!.owner === owner) return list.splice(i, 1)[0]!.deflater;
    }
    // Another's: only a clean one, or the least recently released once the
    // pool is full (below that, a few busy connections each keep their own).
    let at = list.findIndex((spare) => spare.owner === null);
    if (at < 0 && list.length >= SPARES_MAX) at = 0;
    if (at >= 0) {
      const spare = list.splice(at, 1)[0]!.deflater;
      spare.reset(history ?? undefined);
      return spare;
    }
  }
  const deflater = codec.createDeflater(options);
  if (history !== null) deflater.reset(history);
  return deflater;
}

/** Release a compressor; `owner` is the connection whose context it still holds (null: none to keep). */
export function giveBackDeflater(codec: DeflateCodec, options: DeflaterOptions, deflater: Deflater, owner: object | null): void {
  let byKey = spareDeflaters.get(codec);
  if (byKey === undefined) spareDeflaters.set(codec, (byKey = new Map()));
  const key = `${options.windowBits}/${options.level}/${options.memLevel}`;
  let list = byKey.get(key);
  if (list === undefined) byKey.set(key, (list = []));
  // Full: the least recently released one is dropped (garbage collected).
  if (list.length >= SPARES_MAX) list.shift();
  list.push({ deflater, owner });
}

/** A decompressor with `windowBits`: a spare (already reset) or a new one. */
export function takeInflater(codec: DeflateCodec, windowBits: number): Inflater {
  return spareInflaters.get(codec)?.get(windowBits)?.pop() ?? codec.createInflater({ windowBits });
}

/** Release a decompressor: reset, and kept if the pool has room. */
export function giveBackInflater(codec: DeflateCodec, windowBits: number, inflater: Inflater): void {
  inflater.reset();
  let byBits = spareInflaters.get(codec);
  if (byBits === undefined) spareInflaters.set(codec, (byBits = new Map()));
  let list = byBits.get(windowBits);
  if (list === undefined) byBits.set(windowBits, (list = []));
  if (list.length < SPARES_MAX) list.push(inflater);
}
