/**
 * The extensions this library implements (the `Extension` contract itself is
 * exported from `./extension.ts`).
 * @module
 */
export { PerMessageDeflate, SUPPORTED_EXTENSIONS, type PerMessageDeflateOptions } from "./permessage-deflate.ts";
export {
  pakoCodec,
  type DeflateCodec,
  type Deflater,
  type DeflaterOptions,
  type Inflater,
  type InflaterOptions,
  type InflateFailure,
} from "./deflate-codec.ts";
