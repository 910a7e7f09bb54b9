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
  return { result, frames: assembler.frameCount };
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
    t.equal(assembler.frameCount, count);
  }
});

t.test("a session takes a binary frame read in many chunks whole from the engine: one allocation of its size, no assembly", async (t) => {
  const { acceptWebSocket } = await import("../../src/streams/sessions.ts");
  const { memoryPair, RawPeer } = await import("./_helpers.ts");
  const { ConnectionType } = await import("../../src/protocol/types.ts");
  for (const fragments of [false, true]) {
    const sizes: number[] = [];
    const allocate = (size: number): Uint8Array => {
      sizes.push(size);
      return new Uint8Array(size);
    };
    const pair = memoryPair();
    const server = acceptWebSocket(pair.server, { closeTimeout: 2000, extensions: [], allocate, fragments } as never);
    const peer = new RawPeer(ConnectionType.CLIENT, pair.client);
    await peer.connect();
    const s = await server.opened;
    const payload = new Uint8Array(300_000).map((_, i) => i % 251);
    const frame = peer.conn.send(new BytesMessage({ data: payload }));
    // The frame arrives in 7 KiB chunks, as a socket may read it.
    for (let at = 0; at < frame.byteLength; at += 7168) void peer.write(frame.slice(at, at + 7168));
    const reader = s.readable.getReader();
    if (!fragments) {
      const { value } = await reader.read();
      t.same(value, payload, "the message is intact");
      t.same(sizes, [300_000], "one allocation, of the payload's size");
    } else {
      let total = 0;
      let pieces = 0;
      for (;;) {
        const { value } = (await reader.read()) as { value: { data: Uint8Array; messageFinished: boolean } };
        total += value.data.byteLength;
        pieces++;
        if (value.messageFinished) break;
      }
      t.equal(total, 300_000, "fragments: true: the pieces add up");
      t.ok(pieces > 1, `fragments: true: ${pieces} pieces streamed as they came`);
      t.same(sizes, [], "fragments: true: nothing is gathered");
    }
    server.close();
    await peer.close();
    await server.closed.catch(() => {});
  }
});
