// Shared by the handshake tests (test/protocol/handshake/): an extension with public fields, and
// checks of the two error kinds.
import type { Test } from "tap";
import { LocalProtocolError, RemoteProtocolError } from "../../src/protocol/errors.ts";
import type { RejectConnection } from "../../src/protocol/events.ts";
import { Extension } from "../../src/protocol/extensions/extension.ts";

/** A test extension with public fields (the default fork() copies own fields). */
export class Marker extends Extension {
  readonly name: string;
  on = false;
  offerValue: unknown;
  acceptValue: unknown;
  log: string[];
  constructor(name = "x-marker", offerValue: unknown = true, acceptValue: unknown = true, log: string[] = []) {
    super();
    this.name = name;
    this.offerValue = offerValue;
    this.acceptValue = acceptValue;
    this.log = log;
  }
  override enabled(): boolean {
    return this.on;
  }
  override offer(): boolean | string {
    return this.offerValue as boolean | string;
  }
  override accept(offer: string): boolean | string | null {
    this.log.push(`accept ${offer}`);
    if (this.acceptValue !== null && this.acceptValue !== false) this.on = true;
    return this.acceptValue as boolean | string | null;
  }
  override finalize(offer: string): void {
    this.log.push(`finalize ${offer}`);
    if (offer.includes("refuse")) throw new TypeError("bad parameter");
    this.on = true;
  }
}

export function rpe(t: Test, fn: () => unknown, message: string | RegExp, status: number | null, code?: string): RemoteProtocolError | null {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof RemoteProtocolError)) {
      t.fail(`expected RemoteProtocolError, got ${String(e)}`);
      return null;
    }
    if (typeof message === "string") t.equal(e.message, message);
    else t.match(e.message, message);
    if (status === null) t.equal(e.eventHint, null);
    else t.equal((e.eventHint as RejectConnection | null)?.statusCode, status, `hint ${status}`);
    if (code !== undefined) t.equal(e.code, code);
    return e;
  }
  t.fail(`expected RemoteProtocolError ${String(message)}`);
  return null;
}

export function lpe(t: Test, fn: () => unknown, code: string | RegExp, what: string): void {
  try {
    fn();
    t.fail(`${what}: expected LocalProtocolError`);
  } catch (e) {
    t.ok(e instanceof LocalProtocolError, `${what}: LocalProtocolError`);
    if (e instanceof LocalProtocolError) t.match(e.code, code, `${what}: code`);
  }
}
