/**
 * Events: what the application sends and receives. Every event is an
 * instance of an exported class (so `instanceof` works as `isinstance` does
 * in wsproto) and carries a readonly literal `type` equal to its class name,
 * so a `switch (event.type)` over {@link Event} narrows.
 *
 * Invariants: every field is readonly; `Event` is the closed union, and
 * `assertNever` makes a switch over it exhaustive.
 * @module
 */
import type { Extension } from "./extensions/extension.ts";
import type { Headers } from "./types.ts";
import { LocalProtocolError } from "./errors.ts";

const EMPTY = new Uint8Array(0);

/** Options of {@link Request}. */
export interface RequestOptions {
  host: string;
  target: string;
  /** Client: extension objects to offer. Server (received): the raw offer strings. @default [] */
  extensions?: Array<Extension | string>;
  /** @default [] */
  extraHeaders?: Headers;
  /** @default [] */
  subprotocols?: string[];
}

/**
 * The opening handshake request (client sends, server receives).
 * @example
 * ```ts
 * const bytes = ws.send(new Request({ host: "example.com", target: "/chat", subprotocols: ["chat"] }));
 * ```
 */
export class Request {
  readonly type = "Request" as const;
  readonly host: string;
  readonly target: string;
  readonly extensions: Array<Extension | string>;
  readonly extraHeaders: Headers;
  readonly subprotocols: string[];
  constructor(options: RequestOptions) {
    this.host = options.host;
    this.target = options.target;
    this.extensions = options.extensions ?? [];
    this.extraHeaders = options.extraHeaders ?? [];
    this.subprotocols = options.subprotocols ?? [];
  }
}

/** Options of {@link AcceptConnection}. */
export interface AcceptConnectionOptions {
  /** @default null */
  subprotocol?: string | null;
  /** @default [] */
  extensions?: Extension[];
  /** @default [] */
  extraHeaders?: Headers;
}

/**
 * The handshake succeeded (server sends it to accept; client receives it).
 * @example
 * ```ts
 * const bytes = ws.send(new AcceptConnection({ subprotocol: "chat" }));
 * ```
 */
export class AcceptConnection {
  readonly type = "AcceptConnection" as const;
  readonly subprotocol: string | null;
  readonly extensions: Extension[];
  readonly extraHeaders: Headers;
  constructor(options: AcceptConnectionOptions = {}) {
    this.subprotocol = options.subprotocol ?? null;
    this.extensions = options.extensions ?? [];
    this.extraHeaders = options.extraHeaders ?? [];
  }
}

/** Options of {@link RejectConnection}. */
export interface RejectConnectionOptions {
  /** @default 400 */
  statusCode?: number;
  /** @default [] */
  headers?: Headers;
  /** @default false */
  hasBody?: boolean;
  /**
   * The reason phrase of the status line (RFC 9112 §4: optional text). The
   * default, empty, is byte for byte what wsproto sends.
   * @default ""
   */
  reason?: string;
}

/**
 * The handshake was refused with an HTTP response; a body follows as
 * {@link RejectData} events when `hasBody`.
 * @example
 * ```ts
 * ws.send(new RejectConnection({ statusCode: 403, hasBody: true }));
 * ws.send(new RejectData({ data: new TextEncoder().encode("go away") }));
 * ```
 */
export class RejectConnection {
  readonly type = "RejectConnection" as const;
  readonly statusCode: number;
  readonly headers: Headers;
  readonly hasBody: boolean;
  /** The status line's reason phrase (`""` unless given). */
  declare readonly reason?: string;
  constructor(options: RejectConnectionOptions = {}) {
    this.statusCode = options.statusCode ?? 400;
    this.headers = options.headers ?? [];
    this.hasBody = options.hasBody ?? false;
    // Set only when given, so events compare equal to wsproto's field for field.
    if (options.reason !== undefined) (this as { reason?: string }).reason = options.reason;
  }
}

/** Options of {@link RejectData}. */
export interface RejectDataOptions {
  data: Uint8Array;
  /** @default true */
  bodyFinished?: boolean;
}

/**
 * A piece of a rejection response body.
 * @example
 * ```ts
 * ws.send(new RejectData({ data: body, bodyFinished: true }));
 * ```
 */
export class RejectData {
  readonly type = "RejectData" as const;
  readonly data: Uint8Array;
  readonly bodyFinished: boolean;
  constructor(options: RejectDataOptions) {
    this.data = options.data;
    this.bodyFinished = options.bodyFinished ?? true;
  }
}

/**
 * Where a received {@link CloseConnection} came from:
 * - `"local"`: made by the application (the default for events you construct);
 * - `"remote"`: the peer sent a close frame;
 * - `"protocol-error"`: the engine found a violation in the peer's frames; `code` is what to answer with;
 * - `"abnormal"`: the transport ended without a close frame (code 1006).
 */
export type CloseOrigin = "local" | "remote" | "protocol-error" | "abnormal";

/** Options of {@link CloseConnection}. */
export interface CloseConnectionOptions {
  code: number;
  /** @default null */
  reason?: string | null;
  /** @default "local" */
  origin?: CloseOrigin;
}

/**
 * The closing handshake, or a connection failure with the close code to send.
 * `origin` tells a close frame from the peer from one the engine produced.
 * @example
 * ```ts
 * for (const event of ws.events()) {
 *   if (event.type === "CloseConnection") socket.write(ws.send(event.response()));
 * }
 * ```
 */
export class CloseConnection {
  readonly type = "CloseConnection" as const;
  readonly code: number;
  readonly reason: string | null;
  readonly origin: CloseOrigin;
  constructor(options: CloseConnectionOptions) {
    this.code = options.code;
    this.reason = options.reason ?? null;
    this.origin = options.origin ?? "local";
  }
  /** The close to send back: the same code and reason. */
  response(): CloseConnection {
    return new CloseConnection({ code: this.code, reason: this.reason });
  }
}

/** Options of {@link Message} and its subclasses. */
export interface MessageOptions<D> {
  data: D;
  /** @default true */
  frameFinished?: boolean;
  /** @default true */
  messageFinished?: boolean;
  /**
   * Sending only: `false` sends this message uncompressed even when
   * permessage-deflate is on (RFC 7692 §6: compression is per message, marked
   * by RSV1 on its first frame). Read at a message's first frame; decided
   * before anything is compressed, so context takeover stays in step.
   * @default undefined (the extension decides, e.g. by its threshold)
   */
  compress?: boolean;
}

/** The three message event type names. */
export type MessageTypeName = "Message" | "TextMessage" | "BytesMessage";

/**
 * The shape shared by the three message classes, with its `type` tag as a
 * parameter. (At run time `TextMessage` and `BytesMessage` extend
 * {@link Message}, so `instanceof Message` holds for all three; for the type
 * checker they extend this shape, so that `new Message({ data })` written
 * inline where an `Event` is expected infers `type: "Message"`.)
 */
export interface MessageShape<D extends string | Uint8Array, T extends MessageTypeName> {
  readonly type: T;
  readonly data: D;
  readonly frameFinished: boolean;
  readonly messageFinished: boolean;
  readonly compress?: boolean;
}

/**
 * A data message or a piece of one. Sending a plain `Message` sends TEXT when
 * `data` is a string, BINARY otherwise.
 * @example
 * ```ts
 * ws.send(new Message({ data: "text or bytes" }));
 * ```
 */
export class Message<D extends string | Uint8Array = string | Uint8Array> implements MessageShape<D, "Message"> {
  readonly type: "Message" = "Message";
  readonly data: D;
  readonly frameFinished: boolean;
  readonly messageFinished: boolean;
  /** `false`: send uncompressed (see {@link MessageOptions.compress}); absent unless given. */
  declare readonly compress?: boolean;
  constructor(options: MessageOptions<D>) {
    this.data = options.data;
    this.frameFinished = options.frameFinished ?? true;
    this.messageFinished = options.messageFinished ?? true;
    if (options.compress !== undefined) (this as { compress?: boolean }).compress = options.compress;
  }
}

/** `Message` seen by the type checker as a base with any tag (see {@link MessageShape}). */
const TaggedMessage = Message as unknown as new <D extends string | Uint8Array, T extends MessageTypeName>(
  options: MessageOptions<D>,
) => MessageShape<D, T>;

/**
 * A text message (or piece of one).
 * @example
 * ```ts
 * ws.send(new TextMessage({ data: "hello" }));
 * ```
 */
export class TextMessage extends TaggedMessage<string, "TextMessage"> {
  constructor(options: MessageOptions<string>) {
    super(options);
    (this as { type: MessageTypeName }).type = "TextMessage";
  }
}

/**
 * A binary message (or piece of one).
 * @example
 * ```ts
 * ws.send(new BytesMessage({ data: new Uint8Array([1, 2, 3]) }));
 * ```
 */
export class BytesMessage extends TaggedMessage<Uint8Array, "BytesMessage"> {
  constructor(options: MessageOptions<Uint8Array>) {
    super(options);
    (this as { type: MessageTypeName }).type = "BytesMessage";
  }
}

/** Options of {@link Ping} and {@link Pong}. */
export interface PingOptions {
  /** @default empty */
  payload?: Uint8Array;
}

/**
 * A ping; answer it with `response()`.
 * @example
 * ```ts
 * ws.send(new Ping({ payload: new TextEncoder().encode("are you there") }));
 * ```
 */
export class Ping {
  readonly type = "Ping" as const;
  readonly payload: Uint8Array;
  constructor(options: PingOptions = {}) {
    this.payload = options.payload ?? EMPTY;
  }
  /** The pong that answers this ping (same payload). */
  response(): Pong {
    return new Pong({ payload: this.payload });
  }
}

/**
 * A pong, in answer to a ping or unsolicited (a heartbeat).
 * @example
 * ```ts
 * ws.send(new Pong());
 * ```
 */
export class Pong {
  readonly type = "Pong" as const;
  readonly payload: Uint8Array;
  constructor(options: PingOptions = {}) {
    this.payload = options.payload ?? EMPTY;
  }
}

/** The closed union of every event; `switch (event.type)` narrows it. */
export type Event =
  | Request
  | AcceptConnection
  | RejectConnection
  | RejectData
  | CloseConnection
  | Message
  | TextMessage
  | BytesMessage
  | Ping
  | Pong;

/** Every `type` name of {@link Event}. */
export const EVENT_TYPES = [
  "Request",
  "AcceptConnection",
  "RejectConnection",
  "RejectData",
  "CloseConnection",
  "Message",
  "TextMessage",
  "BytesMessage",
  "Ping",
  "Pong",
] as const satisfies ReadonlyArray<Event["type"]>;

/**
 * Fails to compile when a switch over `Event["type"]` misses a case; at run
 * time (an object that is no event) it raises a {@link LocalProtocolError}.
 */
export function assertNever(value: never, what = "event"): never {
  const name = (value as { type?: unknown } | null)?.type;
  throw new LocalProtocolError(`Unknown ${what}: ${String(name ?? value)}`, "WS_ERR_UNKNOWN_EVENT");
}
