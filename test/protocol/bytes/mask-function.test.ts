// An injected masking primitive (ConnectionOptions.mask, bufferutil's shape):
// maskCopyWith and builtinMask against the scalar reference; the engine with
// a masker gives the same events and the same frames as without, whole and
// streamed, split at every chunk boundary; short payloads stay on the
// built-in loop; a bad option is a LocalProtocolError.
import t from "tap";
import { NATIVE_MIN, builtinMask, maskCopy, maskCopyWith, packKey, type MaskFunction } from "../../../src/protocol/bytes/mask.ts";
import { Connection } from "../../../src/protocol/frames/connection.ts";
import { BytesMessage, Ping, type Event } from "../../../src/protocol/events.ts";
import { LocalProtocolError } from "../../../src/protocol/errors.ts";
import { pickConnectionOptions, type ConnectionOptions } from "../../../src/protocol/options.ts";
import { sequentialRandom } from "../../../src/protocol/bytes/random.ts";
import { ConnectionType } from "../../../src/protocol/types.ts";
import { pseudoRandom, referenceMask } from "./mask-check.ts";

/** bufferutil's mask as its fallback.js writes it: the semantics a MaskFunction must have. */
const scalarMask: MaskFunction = (source, mask, output, offset, length) => {
  for (let i = 0; i < length; i++) output[offset + i] = source[i]! ^ mask[i & 3]!;
};

/** A scalar masker that records the lengths it was asked to mask. */
function recordingMask(): { mask: MaskFunction; lengths: number[] } {
  const lengths: number[] = [];
  return {
    lengths,
    mask: (source, mask, output, offset, length) => {
      lengths.push(length);
      scalarMask(source, mask, output, offset, length);
    },
  };
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const LENGTHS = [0, 1, 3, 31, 32, 33, NATIVE_MIN - 1, NATIVE_MIN, NATIVE_MIN + 1, 125, 126, 1000, 1024, 4099, 70_000];

t.test("builtinMask is bufferutil's mask: every length 0-300 and large ones, every output offset", async (t) => {
  const key = new Uint8Array([0x12, 0x9a, 0xff, 0x01]);
  let failures = 0;
  for (const length of [...Array.from({ length: 301 }, (_, i) => i), 1023, 1024, 1025, 40_000, 100_003]) {
    const src = pseudoRandom(length, length + 1);
    for (const offset of [0, 1, 2, 3, 5]) {
      const a = new Uint8Array(length + offset);
      const b = new Uint8Array(length + offset);
      builtinMask(src, key, a, offset, length);
      scalarMask(src, key, b, offset, length);
      if (hex(a) !== hex(b)) failures++;
    }
  }
  t.equal(failures, 0);
});

t.test("maskCopyWith: a masker or not, copied or in place, every phase and source offset", async (t) => {
  const key = new Uint8Array([0xa1, 0x02, 0x7c, 0xe4]);
  const key32 = packKey(key);
  let failures = 0;
  let cases = 0;
  for (const length of [0, 1, 17, 63, 64, 65, 200, 1024, 5000, 33_000]) {
    const data = pseudoRandom(length + 8, length * 3 + 7);
    for (const masker of [null, scalarMask]) {
      for (let phase = 0; phase < 4; phase++) {
        for (const srcStart of [0, 1, 3, 6]) {
          cases++;
          const expected = referenceMask(data.subarray(srcStart, srcStart + length), key, phase);
          const out = new Uint8Array(length + 2);
          maskCopyWith(masker, data, srcStart, out, 2, length, key32, phase);
          const inPlace = Uint8Array.from(data);
          maskCopyWith(masker, inPlace, srcStart, inPlace, srcStart, length, key32, phase);
          if (hex(out.subarray(2)) !== hex(expected) || hex(inPlace.subarray(srcStart, srcStart + length)) !== hex(expected)) {
            failures++;
          }
          // And the built-in maskCopy agrees.
          const builtin = new Uint8Array(length);
          maskCopy(data, srcStart, builtin, 0, length, key32, phase);
          if (hex(builtin) !== hex(expected)) failures++;
        }
      }
    }
  }
  t.equal(failures, 0, `${cases} cases`);
});

t.test("a masker sees payloads from NATIVE_MIN bytes only, and its key bytes are rotated to the phase", async (t) => {
  const { mask, lengths } = recordingMask();
  const key32 = packKey(new Uint8Array([1, 2, 3, 4]));
  maskCopyWith(mask, new Uint8Array(NATIVE_MIN - 1), 0, new Uint8Array(NATIVE_MIN), 0, NATIVE_MIN - 1, key32, 0);
  t.same(lengths, [], "a short payload stays on the built-in loop");
  const out = new Uint8Array(NATIVE_MIN);
  maskCopyWith(mask, new Uint8Array(NATIVE_MIN), 0, out, 0, NATIVE_MIN, key32, 2);
  t.same(lengths, [NATIVE_MIN]);
  t.same(Array.from(out.subarray(0, 4)), [3, 4, 1, 2], "zeros masked from phase 2 show the key from its byte 2");
});

/** Masked client frames of `sizes` (binary), with a ping between, as one byte string. */
function clientFrames(sizes: number[]): Uint8Array {
  const client = new Connection(ConnectionType.CLIENT, { random: sequentialRandom(7) });
  const parts: Uint8Array[] = [];
  for (const [i, size] of sizes.entries()) {
    parts.push(client.send(new BytesMessage({ data: pseudoRandom(size, i + 1) })));
    if (i === 0) parts.push(client.send(new Ping({ payload: pseudoRandom(100, 99) })));
  }
  return Buffer.concat(parts);
}

/** Feed `bytes` to a server split at `splits`, and describe every event. */
function serverEvents(bytes: Uint8Array, splits: number[], options: ConnectionOptions): string[] {
  const server = new Connection(ConnectionType.SERVER, options);
  const out: string[] = [];
  let start = 0;
  for (const end of [...splits, bytes.length]) {
    // A copy per chunk: the engine unmasks received chunks in place.
    server.receiveData(Uint8Array.from(bytes.subarray(start, end)));
    start = end;
    for (const event of server.events() as Generator<Event>) {
      if (event.type === "BytesMessage") out.push(`bytes ${event.frameFinished} ${event.messageFinished} ${hex(event.data)}`);
      else if (event.type === "Ping") out.push(`ping ${hex(event.payload)}`);
      else out.push(event.type);
    }
  }
  return out;
}

t.test("parsing with a masker: the same events as without, whole and streamed, at many splits", async (t) => {
  const sizes = [5, NATIVE_MIN, 300, 70_000, 16, 1024];
  const bytes = clientFrames(sizes);
  const splitSets: number[][] = [[]];
  for (let at = 1; at < 400; at += 7) splitSets.push([at]);
  for (const step of [1000, 4096, 65_536, 9_999]) {
    const splits: number[] = [];
    for (let at = step; at < bytes.length; at += step) splits.push(at);
    splitSets.push(splits);
  }
  for (const wholeFramesUpTo of [0, 1 << 20]) {
    const { mask, lengths } = recordingMask();
    let mismatches = 0;
    for (const splits of splitSets) {
      const expected = serverEvents(bytes, splits, { wholeFramesUpTo });
      const actual = serverEvents(bytes, splits, { wholeFramesUpTo, mask });
      if (expected.join("\n") !== actual.join("\n")) mismatches++;
    }
    t.equal(mismatches, 0, `wholeFramesUpTo ${wholeFramesUpTo}: ${splitSets.length} ways of splitting`);
    t.ok(lengths.length > 0, "the masker was used");
    t.ok(
      lengths.every((n) => n >= NATIVE_MIN),
      "and only for pieces of NATIVE_MIN bytes or more",
    );
  }
});

t.test("building with a masker: the same frames as without, every size around the thresholds", async (t) => {
  const { mask, lengths } = recordingMask();
  const plain = new Connection(ConnectionType.CLIENT, { random: sequentialRandom(3) });
  const masked = new Connection(ConnectionType.CLIENT, { random: sequentialRandom(3), mask });
  let mismatches = 0;
  for (const size of LENGTHS) {
    const data = pseudoRandom(size, size + 5);
    const event = new BytesMessage({ data });
    if (hex(plain.send(event)) !== hex(masked.send(event))) mismatches++;
  }
  t.equal(mismatches, 0);
  t.same(
    lengths,
    LENGTHS.filter((n) => n >= NATIVE_MIN),
    "one masker call per frame of NATIVE_MIN bytes or more, straight into the frame",
  );
});

t.test("a server's frames do not use the masker; a client's unmasked reads do not either", async (t) => {
  const { mask, lengths } = recordingMask();
  const server = new Connection(ConnectionType.SERVER, { mask });
  const frame = server.send(new BytesMessage({ data: pseudoRandom(5000, 1) }));
  const client = new Connection(ConnectionType.CLIENT, { mask });
  client.receiveData(frame);
  const [event] = [...client.events()] as Event[];
  t.equal(event?.type, "BytesMessage");
  t.same(lengths, []);
});

t.test("the mask option: a function or null, anything else refused; picked with the other engine options", async (t) => {
  t.throws(() => new Connection(ConnectionType.SERVER, { mask: 42 as never }), LocalProtocolError);
  try {
    new Connection(ConnectionType.SERVER, { mask: "bufferutil" as never });
  } catch (error) {
    t.equal((error as LocalProtocolError).code, "WS_ERR_INVALID_OPTION");
  }
  t.doesNotThrow(() => new Connection(ConnectionType.SERVER, { mask: null }));
  t.equal(pickConnectionOptions({ mask: scalarMask }).mask, scalarMask);
  t.equal(pickConnectionOptions({ mask: null }).mask, null);
  t.notOk("mask" in pickConnectionOptions({}));
});
