// MessageAssembler: a message in pieces comes out whole and exact, text and
// binary, with few pieces (kept as they are) and many (one growing buffer),
// empty pieces and multi-byte characters included; frames are counted.
import t from "tap";
import { BytesMessage, TextMessage } from "../../src/protocol/events.ts";
import { MessageAssembler } from "../../src/streams/session/assembly.ts";

function feedText(pieces: string[]): { result: string | Uint8Array | null; frames: number } {
  const assembler = new MessageAssembler(true);
  let result: string | Uint8Array | null = null;
  pieces.forEach((data, i) => {
    result = assembler.add(new TextMessage({ data, frameFinished: true, messageFinished: i === pieces.length - 1 }));
  });
  return { result, frames: assembler.frames };
}

t.test("text: few and many pieces, multi-byte characters and empty pieces", async (t) => {
  for (const count of [1, 2, 16, 17, 1000]) {
    const pieces = Array.from({ length: count }, (_, i) => (i % 3 === 0 ? "" : i % 3 === 1 ? "é😀" : `piece ${i} `));
    const { result, frames } = feedText(pieces);
    t.equal(result, pieces.join(""), `${count} pieces`);
    t.equal(frames, count, "every frame counted, empty ones too");
  }
});

t.test("binary: few and many pieces, and a frame read in several chunks counts once", async (t) => {
  for (const count of [1, 2, 16, 17, 5000]) {
    const assembler = new MessageAssembler(false);
    const expected: number[] = [];
    let result: string | Uint8Array | null = null;
    for (let i = 0; i < count; i++) {
      const data = new Uint8Array(i % 4).fill(i & 0xff);
      expected.push(...data);
      // Each frame arrives as two reads: the first not finishing the frame.
      assembler.add(new BytesMessage({ data: data.subarray(0, 1), frameFinished: false, messageFinished: false }));
      result = assembler.add(new BytesMessage({ data: data.subarray(1), frameFinished: true, messageFinished: i === count - 1 }));
    }
    t.same(result, new Uint8Array(expected), `${count} frames`);
    t.equal((result as Uint8Array).constructor, Uint8Array);
    t.equal(assembler.frames, count);
  }
});
