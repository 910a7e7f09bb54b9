// The streams implementation: native where the platform has it; where it
// does not (checked in a child process without global streams) a clear error
// until the application injects one (web-streams-polyfill here), never a
// polyfill loaded behind its back.
import t from "tap";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as ponyfill from "web-streams-polyfill";
import {
  hasNativeStreams,
  streamsImplementation,
  useStreamsImplementation,
  type StreamsImplementation,
} from "../../src/streams/streams-implementation.ts";
import { acceptWebSocket, connectWebSocket } from "../../src/streams/sessions.ts";
import { WebSocketCodec } from "../../src/streams/codec.ts";
import { Connection } from "../../src/protocol/frames/connection.ts";
import { ConnectionType } from "../../src/protocol/types.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

t.test("Node has global streams: they are used", async (t) => {
  t.ok(hasNativeStreams());
  t.equal(streamsImplementation().ReadableStream, globalThis.ReadableStream);
});

t.test("an injected implementation is used for every stream made afterwards, and can be reset", async (t) => {
  const impl = ponyfill as unknown as StreamsImplementation;
  useStreamsImplementation(impl);
  t.teardown(() => useStreamsImplementation(null));
  const codec = new WebSocketCodec(new Connection(ConnectionType.CLIENT));
  t.ok(codec.decoder instanceof impl.TransformStream, "the codec's transforms come from it");
  // A transport made of the same implementation, end to end (pipeTo works within one implementation).
  const a = new impl.TransformStream<Uint8Array, Uint8Array>();
  const b = new impl.TransformStream<Uint8Array, Uint8Array>();
  const server = acceptWebSocket({ readable: a.readable, writable: b.writable }, { extensions: [] });
  const client = connectWebSocket({ readable: b.readable, writable: a.writable }, { host: "h", extensions: [] });
  const [s, c] = await Promise.all([server.opened, client.opened]);
  t.ok(c.readable instanceof impl.ReadableStream);
  t.notOk(c.readable instanceof globalThis.ReadableStream, "no native stream in the mix");
  void s.readable.pipeTo(s.writable);
  const writer = c.writable.getWriter();
  await writer.write("injected");
  t.equal((await c.readable.getReader().read()).value, "injected");
  client.close();
  await client.closed;
  useStreamsImplementation(null);
  t.equal(streamsImplementation().ReadableStream, globalThis.ReadableStream, "reset to the native one");
});

t.test("without global streams: a clear error until one is injected, then it works (and the globals are left alone)", async (t) => {
  const child = spawn(process.execPath, ["--import", "tsx", "test/streams/fixtures/no-global-streams.ts"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  t.teardown(() => {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  child.stderr.on("data", (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  t.equal(code, 0, err);
  t.same(JSON.parse(out.trim().split("\n").pop()!), {
    native: false,
    withoutInjection: {
      name: "LocalProtocolError",
      code: "WS_ERR_NO_STREAMS",
      message:
        "This platform has no global ReadableStream, WritableStream and TransformStream: " +
        'install one and pass it to useStreamsImplementation() first, e.g. useStreamsImplementation(await import("web-streams-polyfill"))',
    },
    isPolyfill: true,
    globalsUntouched: true,
    readableIsPolyfill: true,
    echo: "through the polyfill",
    closed: { closeCode: 1000, reason: "" },
  });
});
