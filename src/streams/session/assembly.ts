/**
 * Assembly of a message that arrives in pieces (several frames, or a frame
 * read in several chunks) into one whole `string` or `Uint8Array`.
 *
 * Invariants:
 * - One growing buffer per message, no object per piece: text pieces are
 *   re-encoded into it (the engine already validated them) and decoded once
 *   at the end. It holds at most `maxMessageSize` bytes (the engine fails the
 *   connection with 1009 past that) and grows by doubling, so its capacity is
 *   below `2 × maxMessageSize` and below twice what was received.
 * - Frames are counted, empty ones too; past `maxFragments` the session fails
 *   the connection with 1008 (policy violation, as `ws` does).
 * - Made when the first piece of a message arrives and dropped once the
 *   message is whole: a connection receiving whole messages holds none.
 * @module
 */
import type { BytesMessage, TextMessage } from "../../protocol/events.ts";
import { allocUninitialised } from "./util.ts";

const MIN_CAPACITY = 1024;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** One message being assembled. */
export class MessageAssembler {
  readonly text: boolean;
  #buffer: Uint8Array;
  #size = 0;
  /** Frames received so far (a frame read in several chunks counts once). */
  frames = 0;

  constructor(text: boolean) {
    this.text = text;
    this.#buffer = allocUninitialised(MIN_CAPACITY);
  }

  /** Bytes held (capacity), for the memory bound. */
  get capacity(): number {
    return this.#buffer.byteLength;
  }

  /** Add one piece; the whole message when `event` finishes it. */
  add(event: TextMessage | BytesMessage): string | Uint8Array | null {
    if (event.frameFinished) this.frames++;
    const data = event.data;
    if (typeof data === "string") {
      if (data.length > 0) {
        // UTF-8 takes at most 3 bytes per UTF-16 unit.
        this.#reserve(data.length * 3);
        this.#size += textEncoder.encodeInto(data, this.#buffer.subarray(this.#size)).written;
      }
    } else if (data.byteLength > 0) {
      this.#reserve(data.byteLength);
      this.#buffer.set(data, this.#size);
      this.#size += data.byteLength;
    }
    if (!event.messageFinished) return null;
    const bytes = this.#buffer.subarray(0, this.#size);
    if (this.text) return textDecoder.decode(bytes);
    // A view when little is wasted, else an array of the message's own size
    // (a view would keep up to twice the message alive behind it).
    return this.#size * 4 >= this.#buffer.byteLength * 3 ? bytes : bytes.slice();
  }

  #reserve(more: number): void {
    const needed = this.#size + more;
    if (needed <= this.#buffer.byteLength) return;
    const grown = allocUninitialised(Math.max(needed, this.#buffer.byteLength * 2));
    grown.set(this.#buffer.subarray(0, this.#size));
    this.#buffer = grown;
  }
}
