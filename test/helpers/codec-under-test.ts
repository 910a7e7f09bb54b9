// The DeflateCodec that test/protocol/extensions/deflate-codec.test.ts
// checks: pako by default; test/node/zlib.test.ts selects the
// native codec, then imports that file to run the same contract on it.
import type { DeflateCodec } from "../../src/protocol/extensions/deflate-codec.ts";
import { pakoCodec } from "../../src/protocol/extensions/pako-codec.ts";

export let codecUnderTest: DeflateCodec = pakoCodec;

/** Select the codec the contract tests create deflaters and inflaters with. */
export function useCodec(codec: DeflateCodec): void {
  codecUnderTest = codec;
}
