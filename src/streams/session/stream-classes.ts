/**
 * The classes of a session's `readable` and `writable`: subclasses of the
 * streams implementation's own (made once per implementation), so they are
 * real `ReadableStream` and `WritableStream` objects everywhere. Only
 * `pipeTo` between two of them changes: it runs the direct way (pipe.ts)
 * when that cannot be told apart from the standard one.
 *
 * Answers: how does `pipeTo` know its destination is a session's writable;
 * why does a forgotten `writer.write()` after the peer left crash nothing.
 * @module
 */
import type { StreamsImplementation } from "../streams-implementation.ts";
import type { SessionCore } from "./core.ts";
import { noop } from "./promises.ts";
import type { WebSocketWritable } from "./types.ts";

interface SessionStreamClasses {
  Readable: new (s: SessionCore, source: UnderlyingDefaultSource<unknown>, strategy: QueuingStrategy<unknown>) => ReadableStream<unknown>;
  Writable: new (
    s: SessionCore,
    sink: UnderlyingSink<WebSocketWritable>,
    strategy: QueuingStrategy<WebSocketWritable>,
  ) => WritableStream<WebSocketWritable>;
}

const classes = new WeakMap<StreamsImplementation, SessionStreamClasses>();

/** The session's stream classes for a streams implementation (made on first use). */
export function sessionStreamClasses(impl: StreamsImplementation): SessionStreamClasses {
  let made = classes.get(impl);
  if (made !== undefined) return made;

  class SessionWritable extends impl.WritableStream<WebSocketWritable> {
    readonly #s: SessionCore;
    constructor(s: SessionCore, sink: UnderlyingSink<WebSocketWritable>, strategy: QueuingStrategy<WebSocketWritable>) {
      super(sink, strategy);
      this.#s = s;
    }
    static coreOf(value: unknown): SessionCore | null {
      return typeof value === "object" && value !== null && #s in value ? value.#s : null;
    }
    /**
     * A writer whose `write()` promises are marked handled: they still reject
     * for whoever awaits them, but one nobody awaits (a write after the peer
     * left, fired and forgotten as `ws.send()` is) does not crash the process.
     */
    override getWriter(): WritableStreamDefaultWriter<WebSocketWritable> {
      const writer = super.getWriter();
      const write = writer.write;
      writer.write = function (this: WritableStreamDefaultWriter<WebSocketWritable>, chunk?: WebSocketWritable): Promise<void> {
        const written = write.call(this, chunk);
        written.catch(noop);
        return written;
      };
      return writer;
    }
  }

  class SessionReadable extends impl.ReadableStream<unknown> {
    readonly #s: SessionCore;
    constructor(s: SessionCore, source: UnderlyingDefaultSource<unknown>, strategy: QueuingStrategy<unknown>) {
      super(source, strategy);
      this.#s = s;
    }
    override pipeTo(destination: WritableStream<unknown>, options?: StreamPipeOptions): Promise<void> {
      const dest = SessionWritable.coreOf(destination);
      if (dest !== null && !this.locked && !destination.locked) {
        const s = this.#s;
        const piped = s.parts.pipeDirect(s, dest, this, destination as WritableStream<WebSocketWritable>, options);
        if (piped !== null) return piped;
      }
      return super.pipeTo(destination, options);
    }
  }

  made = { Readable: SessionReadable, Writable: SessionWritable };
  classes.set(impl, made);
  return made;
}
