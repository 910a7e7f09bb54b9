/**
 * UTF-8 helpers on top of the platform's `TextEncoder` / `TextDecoder`:
 * strict incremental validation of received text, well-formedness of strings
 * to send, and truncation at a code-point boundary.
 *
 * Invariants: received text is validated strictly (no replacement
 * characters); the encoding scratch is kept only up to 192 KiB.
 * @module
 */

// `ignoreBOM: true` keeps a leading U+FEFF as data (WHATWG decoders strip it
// by default; a WebSocket text message is not a document).
const STRICT_OPTIONS = { fatal: true, ignoreBOM: true } as const;
const STRICT = new TextDecoder("utf-8", STRICT_OPTIONS);
const ENCODER = new TextEncoder();
const STREAM = { stream: true } as const;
const FLUSH = { stream: false } as const;

/**
 * An incremental strict UTF-8 decoder for one text message at a time.
 * RFC 6455 §8.1: an endpoint MUST fail the connection (1007) on invalid
 * UTF-8 in a text message; it fails as soon as the invalid byte arrives
 * (the platform decoder rejects impossible prefixes immediately in streaming
 * mode), and a sequence left incomplete at the end of the message fails
 * when the message ends.
 * @example
 * ```ts
 * const v = new Utf8StreamDecoder();
 * v.decode(new Uint8Array([0xe2, 0x82]), false); // ""
 * v.decode(new Uint8Array([0xac]), true); // "€"
 * ```
 */
export class Utf8StreamDecoder {
  // One decoder per connection, reused: a final (non-streaming) decode
  // resets it, and after an error the connection stops parsing.
  readonly #decoder = new TextDecoder("utf-8", STRICT_OPTIONS);

  /**
   * Decode the next piece; `last` flushes (an incomplete sequence then
   * fails). Returns `null` when the bytes are not valid UTF-8.
   */
  decode(bytes: Uint8Array, last: boolean): string | null {
    try {
      return this.#decoder.decode(bytes, last ? FLUSH : STREAM);
    } catch {
      this.reset();
      return null;
    }
  }

  /** Forget any partial sequence (start a new message). */
  reset(): void {
    try {
      this.#decoder.decode();
    } catch {
      // A dangling partial sequence: the decoder is reset either way.
    }
  }
}

/**
 * Strictly decode a whole buffer; `null` when it is not valid UTF-8.
 * @example
 * ```ts
 * decodeUtf8(new Uint8Array([0x62, 0x79, 0x65])); // "bye"
 * decodeUtf8(new Uint8Array([0xff])); // null
 * ```
 */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return STRICT.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * UTF-8 encode a string (the caller has checked it with {@link isWellFormed}).
 * @example
 * ```ts
 * encodeUtf8("€"); // e2 82 ac
 * ```
 */
export function encodeUtf8(text: string): Uint8Array {
  return ENCODER.encode(text);
}

// A reusable buffer for encoding text that is copied into a frame at once.
const SCRATCH_MAX = 192 * 1024;
let scratch = new Uint8Array(4096);

/**
 * UTF-8 encode `text` into a shared scratch buffer and return a view of the
 * bytes, valid only until the next call: for callers that copy the bytes
 * right away (into a frame), saving an allocation per message. Long texts get
 * a fresh array.
 * @example
 * ```ts
 * const bytes = encodeUtf8Transient("hi"); // use before the next call
 * ```
 */
export function encodeUtf8Transient(text: string): Uint8Array {
  const worst = text.length * 3;
  if (worst > SCRATCH_MAX) return ENCODER.encode(text);
  if (worst > scratch.length) scratch = new Uint8Array(Math.min(SCRATCH_MAX, Math.max(worst, scratch.length * 2)));
  const { written } = ENCODER.encodeInto(text, scratch);
  return new Uint8Array(scratch.buffer, 0, written);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
type MaybeWellFormed = { isWellFormed?: () => boolean };
const nativeIsWellFormed = (String.prototype as unknown as MaybeWellFormed).isWellFormed;

/**
 * `true` when `text` has no lone surrogate, i.e. it has a UTF-8 encoding.
 * (`TextEncoder` would silently replace a lone surrogate with U+FFFD, which
 * would send something else than the caller asked for.) Uses the native
 * `String.prototype.isWellFormed` where the platform has it (ES2024).
 * @example
 * ```ts
 * isWellFormed("ok"); // true
 * isWellFormed("\uD800"); // false
 * ```
 */
export function isWellFormed(text: string): boolean {
  if (nativeIsWellFormed !== undefined) return nativeIsWellFormed.call(text);
  return !LONE_SURROGATE.test(text);
}

/**
 * The longest prefix of the UTF-8 `bytes` that is at most `max` bytes long
 * and ends at a code-point boundary (a partial trailing character is dropped).
 * @example
 * ```ts
 * truncateUtf8(encodeUtf8("a€"), 3); // 61 (the euro sign does not fit whole)
 * ```
 */
export function truncateUtf8(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length <= max) return bytes;
  let end = max;
  // Walk back over continuation bytes (10xxxxxx) to the lead byte of the
  // character that straddles the limit, and cut before it.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
