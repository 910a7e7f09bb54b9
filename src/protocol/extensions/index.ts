/**
 * The extensions this library implements (the `Extension` contract itself is
 * exported from `./extension.ts`).
 *
 * Invariant: a barrel; it defines nothing.
 * @module
 */
export { PerMessageDeflate, SUPPORTED_EXTENSIONS } from "./permessage-deflate.ts";
export type { PerMessageDeflateOptions } from "./pmd-params.ts";
export { pakoCodec } from "./pako-codec.ts";
export type {
  DeflateCodec,
  Deflater,
  DeflaterOptions,
  Inflater,
  InflaterOptions,
  InflateFailure,
} from "./deflate-codec.ts";
