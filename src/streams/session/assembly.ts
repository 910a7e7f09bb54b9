/**
 * Assembly of a message that arrives in pieces (several frames, or a frame
 * read in several chunks) into one whole `string` or `Uint8Array`.
 *
 * Invariants:
 * - The first 16 pieces are kept as they came (a large frame read in a few
 *   chunks is joined with one copy); past that, one growing buffer, no object
 *   per piece: text pieces are re-encoded into it (the engine already
 *   validated them) and decoded once at the end. The message is at most
 *   `maxMessageSize` bytes (the engine fails the connection with 1009 past
 *   that); the buffer grows by doubling (text reserves 3 bytes per UTF-16
 *   unit), so it is below `3 × maxMessageSize`. The kept pieces are views of
 *   transport reads, so they hold at most 16 reads.
 * - Frames are counted, empty ones too; past `maxFragments` the session fails
 *   the connection with 1008 (policy violation, as `ws` does).
 * - Made when the first piece of a message arrives and dropped once the
 *   message is whole: a connection receiving whole messages holds none.
 * @module
 */
import type { BytesMessage, TextMessage } from "../../protocol/events.ts";
import { allocUninitialised, concat, plainBytes } from "./messages.ts";

/**
 * Pieces kept as they are before switching to the growing buffer: a large
 * frame read in a few chunks is then joined with one copy (or one string
 * join), and a message in many small pieces costs no object per piece.
 */
const MAX_PIECES = 16;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** One message being assembled. */
export class MessageAssembler {
  readonly text: boolean;
  /** The first pieces, as they came (at most MAX_PIECES). */
  #pieces: Array<string | Uint8Array> | null = [];
  #piecesSize = 0;
  /** The growing buffer, once there were more pieces than that. */
  #buffer: Uint8Array | null = null;
  #size = 0;
  /** Frames received so far (a frame read in several chunks counts once). */
  frameCount = 0;

  constructor(text: boolean) {
    this.text = text;
  }

  /** Add one piece; the whole message when `event` finishes it. */
  add(event: TextMessage | BytesMessage): string | Uint8Array | null {
    if (event.frameFinished) this.frameCount++;
    const data = event.data;
    const length = typeof data === "string" ? data.length : data.byteLength;
    const pieces = this.#pieces;
    if (pieces !== null && (pieces.length < MAX_PIECES || length === 0)) {
      if (length > 0) {
        pieces.push(data);
        this.#piecesSize += length;
      }
    } else {
      if (pieces !== null) {
        this.#pieces = null;
        for (const piece of pieces) this.#append(piece);
      }
      this.#append(data);
    }
    if (!event.messageFinished) return null;
    if (this.#pieces !== null) return this.#joinPieces(this.#pieces);
    const bytes = this.#buffer!.subarray(0, this.#size);
    if (this.text) return textDecoder.decode(bytes);
    // A view when little is wasted, else an array of the message's own size
    // (a view would keep up to twice the message alive behind it).
    return this.#size * 4 >= this.#buffer!.byteLength * 3 ? bytes : bytes.slice();
  }

  #joinPieces(pieces: Array<string | Uint8Array>): string | Uint8Array {
    if (this.text) return (pieces as string[]).join("");
    if (pieces.length === 1) {
      return plainBytes(pieces[0] as Uint8Array);
    }
    return pieces.length === 0 ? new Uint8Array(0) : concat(pieces as Uint8Array[], this.#piecesSize);
  }

  #append(data: string | Uint8Array): void {
    if (typeof data === "string") {
      if (data.length === 0) return;
      // UTF-8 takes at most 3 bytes per UTF-16 unit.
      const buffer = this.#reserve(data.length * 3);
      this.#size += textEncoder.encodeInto(data, buffer.subarray(this.#size)).written;
    } else if (data.byteLength > 0) {
      this.#reserve(data.byteLength).set(data, this.#size);
      this.#size += data.byteLength;
    }
  }

  #reserve(more: number): Uint8Array {
    const buffer = this.#buffer;
    const needed = this.#size + more;
    if (buffer !== null && needed <= buffer.byteLength) return buffer;
    const grown = allocUninitialised(Math.max(needed, (buffer?.byteLength ?? 0) * 2, 1024));
    if (buffer !== null) grown.set(buffer.subarray(0, this.#size));
    this.#buffer = grown;
    return grown;
  }
}
