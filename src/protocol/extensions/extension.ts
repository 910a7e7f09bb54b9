/**
 * The extension contract (wsproto's `Extension`, hooks in camelCase).
 *
 * Lifecycle: the user configures an extension object and passes it to a
 * handshake. For each connection the handshake calls {@link Extension.fork}
 * and negotiates on the fork (`offer` + `finalize` on a client, `accept` on a
 * server), so the configured object is never mutated and two connections
 * never share state. The frame layer then calls the `frame*` hooks of every
 * fork whose `enabled()` is true, in list order.
 *
 * Invariants: the frame layer never calls a hook of a fork that is not
 * `enabled()`; inbound hooks report a peer's fault by returning a close code.
 * @module
 */
import type { Opcode } from "../types.ts";

/** The three reserved bits of a frame header. */
export interface RsvBits {
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
}

/** No reserved bit set. */
export const NO_RSV: RsvBits = Object.freeze({ rsv1: false, rsv2: false, rsv3: false });

/**
 * What the frame layer tells an extension about the connection it serves.
 */
export interface FrameProtocolView {
  /** `true` on the client side. */
  readonly client: boolean;
  /** Largest message (after decompression) the connection accepts, in bytes. */
  readonly maxMessageSize: number;
  /**
   * `false` while the message being sent was asked to go uncompressed
   * (`Message.compress === false`); a compressing extension reads it at the
   * message's first frame, before compressing anything. Absent means `true`.
   */
  readonly compress?: boolean;
}

/**
 * A close code: returned by an inbound hook to fail the connection with it.
 */
export type CloseCode = number;

/**
 * Base class of WebSocket extensions. Subclass it and override the hooks you
 * need; the defaults do nothing (as wsproto's do).
 * @example
 * ```ts
 * class Rsv3Marker extends Extension {
 *   readonly name = "x-marker";
 *   #on = false;
 *   override enabled() { return this.#on; }
 *   override offer() { return true; }
 *   override finalize() { this.#on = true; }
 *   override frameInboundHeader() { return { rsv1: false, rsv2: false, rsv3: true }; }
 * }
 * ```
 */
export abstract class Extension {
  /** The token used in `Sec-WebSocket-Extensions`. */
  abstract readonly name: string;

  /** Disabled extensions are ignored by the frame layer. */
  enabled(): boolean {
    return false;
  }

  /**
   * A fresh, not yet negotiated copy with the same configuration; the
   * handshake negotiates on it so the configured object stays untouched.
   * The default copies own fields shallowly; override when state is deeper.
   */
  fork(): Extension {
    return Object.assign(Object.create(Object.getPrototypeOf(this) as object) as Extension, this);
  }

  /** Client: `true` to offer the bare name, `false` not to offer, a string for `name; <params>`. */
  offer(): boolean | string {
    return false;
  }

  /**
   * Server: answer a client's offer (`"name; params"`): `null`/`false`
   * declines, `true` accepts with the bare name, a string accepts with those
   * parameters (`""` means the bare name). Accepting enables the extension.
   */
  accept(_offer: string): boolean | string | null {
    return null;
  }

  /**
   * Client: apply the server's accepted item (`"name; params"`). Throw a
   * `RemoteProtocolError` if the server's answer is unacceptable.
   */
  finalize(_offer: string): void {}

  /**
   * Called for each received frame header; return the reserved bits this
   * extension claims for the frame, or a close code to fail the connection.
   */
  frameInboundHeader(
    _proto: FrameProtocolView,
    _opcode: Opcode,
    _rsv: RsvBits,
    _payloadLength: number,
  ): RsvBits | CloseCode {
    return NO_RSV;
  }

  /** Transform a chunk of received (unmasked) payload, or return a close code. */
  frameInboundPayloadData(_proto: FrameProtocolView, data: Uint8Array): Uint8Array | CloseCode {
    return data;
  }

  /**
   * Called when a received frame's payload is complete; bytes returned are
   * appended to the frame's data; a number is a close code.
   */
  frameInboundComplete(_proto: FrameProtocolView, _fin: boolean): Uint8Array | CloseCode | null {
    return null;
  }

  /** Transform every outgoing frame; return its reserved bits and payload. */
  frameOutbound(
    _proto: FrameProtocolView,
    _opcode: Opcode,
    rsv: RsvBits,
    data: Uint8Array,
    _fin: boolean,
  ): [RsvBits, Uint8Array] {
    return [rsv, data];
  }
}
