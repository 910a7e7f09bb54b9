// Masking (src/protocol/bytes/mask.ts) against a scalar reference on both paths,
// the embedded WebAssembly bytes against their .wat source, and the frame
// layer end to end with the JavaScript fallback forced.
import t from "tap";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { MASK_WASM } from "../../../src/protocol/bytes/mask-wasm.ts";
import {
  WASM_BLOCK,
  WASM_MIN,
  maskCopy,
  maskImplementation,
  maskInPlace,
  packKey,
  useJavaScriptMasking,
} from "../../../src/protocol/bytes/mask.ts";
import { buildFrame, xorMask } from "../../../src/protocol/frames/frame.ts";
import { Connection } from "../../../src/protocol/frames/connection.ts";
import { BytesMessage, type Event } from "../../../src/protocol/events.ts";
import { ConnectionType } from "../../../src/protocol/types.ts";
import { assemble } from "../../../scripts/wat.ts";
import { renderMaskWasm } from "../../../scripts/mask-wasm.ts";
import { maskSelfCheck, pseudoRandom, referenceMask } from "./mask-check.ts";

const root = new URL("../../../", import.meta.url).pathname;

t.test("the embedded module is the assembled mask.wat, and the generated file is current", async (t) => {
  const assembled = assemble(readFileSync(root + "src/protocol/bytes/mask.wat", "utf8"));
  t.same(Array.from(MASK_WASM), Array.from(assembled), "MASK_WASM = assemble(mask.wat)");
  t.equal(readFileSync(root + "src/protocol/bytes/mask-wasm.ts", "utf8"), renderMaskWasm(), "mask-wasm.ts regenerated as is");
  t.ok(WebAssembly.validate(MASK_WASM), "Node 20 validates it (SIMD)");
  t.equal(maskImplementation(), "wasm", "Node 20 masks long payloads in WebAssembly");
});

t.test("the assembler refuses what it does not know", async (t) => {
  t.throws(() => assemble("(module (func (i64.popcnt (i32.const 1))))"), /unsupported instruction i64.popcnt/);
  t.throws(() => assemble("(module (table 1 funcref))"), /unsupported module field table/);
  t.throws(() => assemble("(module (func (br $nowhere)))"), /unknown label/);
});

t.test("every length 0-300 and large sizes, all phases and alignments, in place and copied, both paths", async (t) => {
  const result = maskSelfCheck();
  t.equal(result.implementation, "wasm");
  t.equal(result.failure, null, "no mismatch against the scalar reference");
  t.ok(result.cases > 301 * 4 * 4 * 4, `${result.cases} cases per path`);
});

t.test("every mask byte value at every key position (short and long payloads, both paths)", async (t) => {
  const keys: Uint8Array[] = [];
  for (let v = 0; v < 256; v++) {
    keys.push(new Uint8Array([v, 0, 0, 0]), new Uint8Array([0, v, 0, 0]), new Uint8Array([0, 0, v, 0]), new Uint8Array([0, 0, 0, v]));
    keys.push(new Uint8Array([v, v ^ 0x55, 255 - v, (v * 7) & 0xff]));
  }
  const result = maskSelfCheck({ lengths: [7, 33, WASM_MIN + 5], keys });
  t.equal(result.failure, null);
});

t.test("random payloads, keys, phases and offsets (fast-check), both paths", async (t) => {
  for (const forced of [false, true]) {
    useJavaScriptMasking(forced);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 * WASM_BLOCK + 100 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 7 }),
        (length, key, phase, srcOffset, dstOffset) => {
          const data = pseudoRandom(length + srcOffset, length + phase);
          const src = data.subarray(srcOffset);
          const expected = referenceMask(src, key, phase);
          const dst = new Uint8Array(length + dstOffset);
          maskCopy(data, srcOffset, dst, dstOffset, length, packKey(key), phase);
          const inPlace = Uint8Array.from(data);
          maskInPlace(inPlace, srcOffset, srcOffset + length, packKey(key), phase);
          return (
            Buffer.from(dst.subarray(dstOffset)).equals(Buffer.from(expected)) &&
            Buffer.from(inPlace.subarray(srcOffset)).equals(Buffer.from(expected))
          );
        },
      ),
      { numRuns: 200 },
    );
  }
  useJavaScriptMasking(false);
  t.equal(maskImplementation(), "wasm", "back on WebAssembly");
});

t.test("xorMask and buildFrame agree with the reference on both paths", async (t) => {
  for (const forced of [false, true]) {
    useJavaScriptMasking(forced);
    const key = new Uint8Array([9, 8, 7, 6]);
    for (const length of [0, 5, 31, 32, 125, 126, WASM_MIN, 65535, 65536, 70001]) {
      const payload = pseudoRandom(length, 3 + length);
      const frame = buildFrame(0x82, payload, key);
      const header = frame.length - length;
      t.same(Array.from(frame.subarray(header - 4, header)), [9, 8, 7, 6], `key in place (${length})`);
      t.ok(Buffer.from(frame.subarray(header)).equals(Buffer.from(referenceMask(payload, key, 0))), `payload masked (${length}, ${forced ? "js" : "wasm"})`);
      const copy = Uint8Array.from(payload);
      xorMask(copy, 1, length, key, 1);
      t.ok(Buffer.from(copy.subarray(1)).equals(Buffer.from(referenceMask(payload.subarray(1), key, 1))), `xorMask (${length})`);
    }
  }
  useJavaScriptMasking(false);
});

t.test("masked frames split anywhere across chunks parse to the same bytes on both paths", async (t) => {
  for (const forced of [false, true]) {
    useJavaScriptMasking(forced);
    const client = new Connection(ConnectionType.CLIENT);
    const payload = pseudoRandom(100_003, 77);
    const wire = client.send(new BytesMessage({ data: payload }));
    for (const cut of [1, 7, 14, 15, 1000, 40_001, 99_999]) {
      const server = new Connection(ConnectionType.SERVER, { maxMessageSize: 1 << 20 });
      // Chunks of `cut` bytes (copies: the reader unmasks them in place).
      for (let i = 0; i < wire.length; i += cut) server.receiveData(wire.slice(i, i + cut));
      const parts: Uint8Array[] = [];
      for (const event of server.events() as Generator<Event>) {
        if (event.type === "BytesMessage") parts.push(event.data);
      }
      t.ok(Buffer.concat(parts).equals(Buffer.from(payload)), `cut every ${cut} bytes (${forced ? "js" : "wasm"})`);
    }
  }
  useJavaScriptMasking(false);
});
