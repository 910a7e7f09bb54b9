/**
 * A runner for the wsproto 1.2 conformance vectors
 * (test/fixtures/wsproto-1.2-vectors.json, committed here; its
 * `conventions` key explains the format).
 *
 * Generic over the object under test: anything with `state`, `send`,
 * `receiveData`, `events` (and `initiateUpgradeConnection` for handshake
 * vectors) is an {@link Endpoint}. What differs per suite is passed in
 * {@link RunnerOptions}:
 * - `setups`: how to build an endpoint for a setup `kind` ("Connection" has a
 *   default; the handshake suite adds "WSConnection");
 * - `makeExtension`: how to build an extension from its JSON spec (the
 *   deflate suite provides PerMessageDeflate);
 * - `extensionToJson`: what of an extension to compare in received events;
 * - `compareCompressed`: how to check a send step of a `zlib_dependent`
 *   vector (by inflating) instead of comparing bytes exactly;
 * - `deviations`: the places where the project deliberately differs from
 *   wsproto 1.2 (conformance/README.md). Each one patches the recorded steps
 *   into the better behaviour, which the runner then asserts, and the runner
 *   checks the patch really changes something.
 *
 * Error mapping: a recorded Python-specific exception (`python_specific`)
 * is expected as a `LocalProtocolError` when the step is the caller's doing
 * (send, initiate_upgrade) and as a `RemoteProtocolError` when it comes from
 * received bytes. wsproto's `Event X(...) cannot be sent in state S.`
 * messages are compared structurally (type name and state), other
 * LocalProtocolError/RemoteProtocolError messages exactly.
 */
import { createHash } from "node:crypto";
import type { Test } from "tap";
import { readFileSync } from "node:fs";
import { Connection } from "../../src/protocol/frames/connection.ts";
import { LocalProtocolError, RemoteProtocolError } from "../../src/protocol/errors.ts";
import {
  AcceptConnection,
  BytesMessage,
  CloseConnection,
  Message,
  Ping,
  Pong,
  RejectConnection,
  RejectData,
  Request,
  TextMessage,
  type Event,
} from "../../src/protocol/events.ts";
import type { Extension } from "../../src/protocol/extensions/extension.ts";
import type { ConnectionOptions } from "../../src/protocol/options.ts";
import { sequentialRandom } from "../../src/protocol/bytes/random.ts";
import { ConnectionState, ConnectionType, type Headers, type RandomSource } from "../../src/protocol/types.ts";

/** The tap test object the runner asserts with. */
export type TapLike = Test;

// ---- the JSON format --------------------------------------------------------

/** A JSON object from the vectors file. */
export type Json = Record<string, unknown>;

export interface VectorSetup {
  kind: string;
  role?: "client" | "server";
  extensions?: ExtensionSpec[];
  name?: string;
}

/** `{ name, init?, finalize?, accept? }`: see the file's `conventions["setup.extensions"]`. */
export interface ExtensionSpec {
  name: string;
  init?: Json;
  finalize?: string;
  accept?: string;
  [key: string]: unknown;
}

export interface StepExpect {
  ok?: boolean;
  state_after?: string;
  error?: string;
  message?: string;
  python_specific?: boolean;
  event_hint?: Json | null;
  events?: Json[];
  event?: Json | null;
  bytes_hex?: string;
  bytes_text?: string;
  bytes_len?: number;
  bytes_prefix_hex?: string;
  bytes_sha256?: string;
  frames?: FrameJson[];
  [key: string]: unknown;
}

export interface Step {
  op: "receive" | "events" | "next_event" | "send" | "send_hint" | "initiate_upgrade";
  data_hex?: string;
  eof?: boolean;
  event?: Json;
  headers?: Array<[string, string]>;
  path?: string;
  expect: StepExpect;
}

export interface FrameJson {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  payload_len: number;
  mask_hex?: string;
  payload_hex?: string;
  payload_sha256?: string;
}

export interface VectorCase {
  label: string;
  setup?: VectorSetup | null;
  steps: Step[];
  note?: string;
  rng_calls?: unknown[];
}

export interface Vector {
  id: string;
  category: string;
  description: string;
  setup: VectorSetup | null;
  steps?: Step[] | null;
  cases?: VectorCase[];
  table?: Json[];
  zlib_dependent?: boolean;
  rng_calls?: unknown[];
}

export interface VectorFile {
  generator: unknown;
  library: unknown;
  conventions: Json;
  vectors: Vector[];
}

/** Where the copy of the vectors lives in the repository. */
export const VECTORS_PATH = new URL("../fixtures/wsproto-1.2-vectors.json", import.meta.url);

let cached: VectorFile | undefined;
/** The parsed vectors file (read once). */
export function loadVectors(): VectorFile {
  cached ??= JSON.parse(readFileSync(VECTORS_PATH, "utf8")) as VectorFile;
  return cached;
}

/** One vector by id (throws when absent, so a renamed vector fails loudly). */
export function findVector(id: string): Vector {
  const v = loadVectors().vectors.find((x) => x.id === id);
  if (v === undefined) throw new Error(`no vector ${id}`);
  return v;
}

// ---- bytes ------------------------------------------------------------------

/** Fresh bytes from lowercase hex (a new buffer every call: the engine may unmask in place). */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new Error(`odd hex: ${hex}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** SHA-256 hex digest. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** `*_hex` or `*_repeat` ({hex, count}) field `base` of `json` as bytes, or `undefined`. */
export function bytesField(json: Json, base: string): Uint8Array | undefined {
  const hex = json[`${base}_hex`];
  if (typeof hex === "string") return fromHex(hex);
  const rep = json[`${base}_repeat`] as { hex: string; count: number } | undefined;
  if (rep !== undefined) {
    const unit = fromHex(rep.hex);
    const out = new Uint8Array(unit.length * rep.count);
    for (let i = 0; i < rep.count; i++) out.set(unit, i * unit.length);
    return out;
  }
  return undefined;
}

/**
 * Decode a byte string into frames, independently of src/ (a straightforward
 * RFC 6455 §5.2 reader), to check a send step's `frames`.
 */
export function decodeFrames(bytes: Uint8Array): Array<FrameJson & { payload: Uint8Array }> {
  const frames: Array<FrameJson & { payload: Uint8Array }> = [];
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    const b1 = bytes[i + 1]!;
    let len = b1 & 0x7f;
    let p = i + 2;
    if (len === 126) {
      len = bytes[p]! * 256 + bytes[p + 1]!;
      p += 2;
    } else if (len === 127) {
      len = 0;
      for (let k = 0; k < 8; k++) len = len * 256 + bytes[p + k]!;
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let mask: Uint8Array | undefined;
    if (masked) {
      mask = bytes.slice(p, p + 4);
      p += 4;
    }
    const payload = bytes.slice(p, p + len);
    if (payload.length !== len) throw new Error("truncated frame");
    if (mask) for (let k = 0; k < len; k++) payload[k] = payload[k]! ^ mask[k & 3]!;
    const frame: FrameJson & { payload: Uint8Array } = {
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      masked,
      payload_len: len,
      payload,
    };
    if (mask) frame.mask_hex = toHex(mask);
    frames.push(frame);
    i = p + len;
  }
  return frames;
}

// ---- events <-> JSON ----------------------------------------------------------

/** Build an extension from its JSON spec for a role. */
export type MakeExtension = (spec: ExtensionSpec, role: "client" | "server") => Extension;

/** Compare-view of an extension in a received event (default: name and enabled). */
export type ExtensionToJson = (ext: Extension) => Json;

const defaultExtensionToJson: ExtensionToJson = (ext) => ({ name: ext.name, enabled: ext.enabled() });

function noExtensions(spec: ExtensionSpec): Extension {
  throw new Error(`this suite cannot build extension ${spec.name}: pass makeExtension in RunnerOptions`);
}

/** Context a JSON event is built in. */
export interface EventContext {
  role: "client" | "server";
  makeExtension: MakeExtension;
}

const headersOf = (v: unknown): Headers => ((v as Headers | undefined) ?? []).map(([n, x]) => [n, x]);

/**
 * Our event for a vector's event JSON (snake_case fields, `*_hex`/`*_repeat`
 * bytes). A close with `code: null` (Python's "no code") becomes code 1005,
 * which is how this API spells "no status"; `code_is_enum` has no meaning here.
 */
export function eventFromJson(json: Json, ctx: EventContext): Event {
  const flags = {
    frameFinished: (json["frame_finished"] as boolean | undefined) ?? true,
    messageFinished: (json["message_finished"] as boolean | undefined) ?? true,
  };
  switch (json["type"]) {
    case "TextMessage":
      return new TextMessage({ data: json["data"] as string, ...flags });
    case "BytesMessage":
      return new BytesMessage({ data: bytesField(json, "data") ?? new Uint8Array(0), ...flags });
    case "Message":
      return new Message({
        data: bytesField(json, "data") ?? (json["data"] as string),
        ...flags,
      });
    case "Ping":
      return new Ping({ payload: bytesField(json, "payload") ?? new Uint8Array(0) });
    case "Pong":
      return new Pong({ payload: bytesField(json, "payload") ?? new Uint8Array(0) });
    case "CloseConnection":
      return new CloseConnection({
        code: (json["code"] as number | null | undefined) ?? 1005,
        reason: (json["reason"] as string | null | undefined) ?? null,
      });
    case "Request":
      return new Request({
        host: json["host"] as string,
        target: json["target"] as string,
        extensions: ((json["extensions"] as Array<string | ExtensionSpec> | undefined) ?? []).map((e) =>
          typeof e === "string" ? e : ctx.makeExtension(e, ctx.role),
        ),
        extraHeaders: headersOf(json["extra_headers"]),
        subprotocols: (json["subprotocols"] as string[] | undefined) ?? [],
      });
    case "AcceptConnection":
      return new AcceptConnection({
        subprotocol: (json["subprotocol"] as string | null | undefined) ?? null,
        extensions: ((json["extensions"] as ExtensionSpec[] | undefined) ?? []).map((e) =>
          ctx.makeExtension(e, ctx.role),
        ),
        extraHeaders: headersOf(json["extra_headers"]),
      });
    case "RejectConnection":
      return new RejectConnection({
        statusCode: (json["status_code"] as number | undefined) ?? 400,
        headers: headersOf(json["headers"]),
        hasBody: (json["has_body"] as boolean | undefined) ?? false,
      });
    case "RejectData":
      return new RejectData({
        data: bytesField(json, "data") ?? new Uint8Array(0),
        bodyFinished: (json["body_finished"] as boolean | undefined) ?? true,
      });
    default:
      throw new Error(`unknown event type in vector: ${String(json["type"])}`);
  }
}

/** The vector JSON shape of one of our events (for comparison). */
export function eventToJson(event: Event, extensionToJson: ExtensionToJson = defaultExtensionToJson): Json {
  switch (event.type) {
    case "TextMessage":
    case "BytesMessage":
    case "Message":
      return typeof event.data === "string"
        ? { type: event.type, data: event.data, frame_finished: event.frameFinished, message_finished: event.messageFinished }
        : {
            type: event.type,
            data_hex: toHex(event.data),
            frame_finished: event.frameFinished,
            message_finished: event.messageFinished,
          };
    case "Ping":
    case "Pong":
      return { type: event.type, payload_hex: toHex(event.payload) };
    case "CloseConnection":
      return { type: event.type, code: event.code, reason: event.reason };
    case "Request":
      return {
        type: event.type,
        host: event.host,
        target: event.target,
        extensions: event.extensions.map((e) => (typeof e === "string" ? e : extensionToJson(e))),
        extra_headers: event.extraHeaders,
        subprotocols: event.subprotocols,
      };
    case "AcceptConnection":
      return {
        type: event.type,
        subprotocol: event.subprotocol,
        extensions: event.extensions.map(extensionToJson),
        extra_headers: event.extraHeaders,
      };
    case "RejectConnection":
      return { type: event.type, status_code: event.statusCode, headers: event.headers, has_body: event.hasBody };
    case "RejectData":
      return { type: event.type, data_hex: toHex(event.data), body_finished: event.bodyFinished };
  }
}

const META_KEYS = new Set(["reason_compare", "code_is_enum"]);

/**
 * Compare one of our events with an expected event JSON: every expected
 * field (but `reason` when `reason_compare` is false); extension objects
 * only on the keys `extensionToJson` reports.
 */
export function compareEvent(
  t: TapLike,
  actual: Event | null | undefined,
  expected: Json | null | undefined,
  what: string,
  extensionToJson: ExtensionToJson = defaultExtensionToJson,
): void {
  if (expected === null || expected === undefined) {
    t.equal(actual ?? null, null, `${what}: no event`);
    return;
  }
  if (actual === null || actual === undefined) {
    t.fail(`${what}: expected ${String(expected["type"])}, got nothing`);
    return;
  }
  const json = eventToJson(actual, extensionToJson);
  t.equal(json["type"], expected["type"], `${what}: type`);
  for (const [key, want] of Object.entries(expected)) {
    if (key === "type" || META_KEYS.has(key)) continue;
    if (key === "reason" && expected["reason_compare"] === false) continue;
    if (key === "extensions" && Array.isArray(want)) {
      const got = (json["extensions"] as unknown[] | undefined) ?? [];
      t.equal(got.length, want.length, `${what}: number of extensions`);
      want.forEach((w, i) => {
        const g = got[i];
        if (typeof w === "string" || typeof g === "string") t.same(g, w, `${what}: extensions[${i}]`);
        else for (const k of Object.keys(g as Json)) t.same((g as Json)[k], (w as Json)[k], `${what}: extensions[${i}].${k}`);
      });
      continue;
    }
    t.same(json[key], want, `${what}: ${key}`);
  }
}

// ---- running ------------------------------------------------------------------

/** What the runner drives. `WSConnection`, `Connection` and `H11Handshake` all fit. */
export interface Endpoint {
  readonly state: number;
  send(event: Event): Uint8Array;
  receiveData(data: Uint8Array | null): void;
  events(): Iterator<Event> & Iterable<Event>;
  initiateUpgradeConnection?(headers: Headers, path: string): void;
}

/** Everything a setup factory gets. */
export interface SetupContext {
  setup: VectorSetup;
  role: "client" | "server";
  /** The deterministic RNG the vectors were recorded with (00, 01, 02, ...). */
  random: RandomSource;
  /** Extension instances built from `setup.extensions` (with init/finalize/accept applied by `makeExtension`). */
  extensions: Extension[];
  /** Extra options a deviation asks for. */
  options: ConnectionOptions;
}

export type SetupFactory = (ctx: SetupContext) => Endpoint;

/** A deliberate difference from wsproto 1.2 (see conformance/README.md). */
export interface Deviation {
  /** Vector id. */
  id: string;
  /** Case label, for vectors with `cases`. */
  label?: string;
  /** Why we differ: the README row. */
  why: string;
  /** The recorded steps rewritten into the behaviour this project asserts. */
  patch(steps: Step[]): Step[];
  /** Options for the setup (e.g. limits). */
  options?: ConnectionOptions;
}

/** Check a send step of a `zlib_dependent` vector (by inflating, not by exact bytes). */
export type CompareCompressed = (
  t: TapLike,
  args: { expect: StepExpect; actual: Uint8Array; role: "client" | "server"; step: Step },
) => void;

export interface RunnerOptions {
  /** Endpoint factories by `setup.kind`; "Connection" has a default. */
  setups?: Record<string, SetupFactory>;
  makeExtension?: MakeExtension;
  extensionToJson?: ExtensionToJson;
  compareCompressed?: CompareCompressed;
  deviations?: Deviation[];
}

/** The default "Connection" setup: `new Connection(role, { random, extensions, ...options })`. */
export const connectionSetup: SetupFactory = (ctx) =>
  new Connection(ctx.role === "client" ? ConnectionType.CLIENT : ConnectionType.SERVER, {
    random: ctx.random,
    extensions: ctx.extensions,
    ...ctx.options,
  });

/** Deep copy of recorded steps (for deviation patches). */
export function cloneSteps(steps: Step[]): Step[] {
  return JSON.parse(JSON.stringify(steps)) as Step[];
}

function stateName(state: number): string {
  for (const [name, value] of Object.entries(ConnectionState)) if (value === state) return name;
  return String(state);
}

const CANNOT_SEND = /^Event (\w+)\(.*\) cannot be sent in state ConnectionState\.(\w+)\.$/s;
// (handshake suite) wsproto's `Event X(...) cannot be sent during the handshake`, compared by type name.
const DURING_HANDSHAKE = /^Event (\w+)\(.*\) cannot be sent during the handshake$/s;

function checkError(t: TapLike, step: Step, error: unknown, what: string, ctx: Required<Pick<RunnerOptions, "extensionToJson">>): void {
  const expect = step.expect;
  let wantClass = expect.error!;
  if (expect.python_specific) {
    wantClass = step.op === "receive" ? "RemoteProtocolError" : "LocalProtocolError";
  }
  const cls = wantClass === "RemoteProtocolError" ? RemoteProtocolError : LocalProtocolError;
  if (wantClass !== "RemoteProtocolError" && wantClass !== "LocalProtocolError") {
    t.fail(`${what}: unexpected expected error class ${wantClass}`);
    return;
  }
  if (!(error instanceof cls)) {
    t.fail(`${what}: expected ${wantClass}, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    return;
  }
  t.ok(true, `${what}: raises ${wantClass}`);
  t.match(error.code, /^WS_ERR_/, `${what}: error has a WS_ERR_ code`);
  if (!expect.python_specific && expect.message !== undefined) {
    const m = CANNOT_SEND.exec(expect.message);
    const hs = DURING_HANDSHAKE.exec(expect.message);
    if (hs) {
      t.equal(error.message, `Event ${hs[1]} cannot be sent during the handshake`, `${what}: message`);
    } else if (m) {
      t.equal(error.message, `Event ${m[1]} cannot be sent in state ConnectionState.${m[2]}.`, `${what}: message`);
    } else {
      t.equal(error.message, expect.message, `${what}: message`);
    }
  }
  if ("event_hint" in expect) {
    const hint = error instanceof RemoteProtocolError ? error.eventHint : null;
    compareEvent(t, hint, expect.event_hint ?? null, `${what}: event_hint`, ctx.extensionToJson);
  }
}

// wsproto 1.2 sends status lines with an empty reason phrase (`HTTP/1.1 101 `);
// we send RFC 9110's phrase, which some clients require (a deviation the
// README lists). Written out here, independently of src/protocol/http/status.ts.
const REASON_PHRASES: Record<string, string> = {
  "101": "Switching Protocols",
  "400": "Bad Request",
  "401": "Unauthorized",
  "403": "Forbidden",
  "426": "Upgrade Required",
  "431": "Request Header Fields Too Large",
};

/** A recorded response's bytes (hex) with the reason phrase this project sends on its status line. */
export function withReasonPhrase(hex: string): string {
  const text = new TextDecoder("latin1").decode(fromHex(hex));
  const m = /^HTTP\/1\.1 (\d{3}) \r\n/.exec(text);
  if (!m) return hex;
  const phrase = REASON_PHRASES[m[1]!];
  if (phrase === undefined) throw new Error(`no reason phrase written down for ${m[1]}`);
  return toHex(new TextEncoder().encode(`HTTP/1.1 ${m[1]} ${phrase}`)) + hex.slice(toHex(new TextEncoder().encode(`HTTP/1.1 ${m[1]} `)).length);
}

function checkBytes(t: TapLike, step: Step, actual: Uint8Array, what: string): void {
  const e = step.expect;
  if (e.bytes_hex !== undefined) t.equal(toHex(actual), withReasonPhrase(e.bytes_hex), `${what}: bytes`);
  if (e.bytes_len !== undefined) t.equal(actual.length, e.bytes_len, `${what}: byte length`);
  if (e.bytes_prefix_hex !== undefined) {
    t.equal(toHex(actual.subarray(0, e.bytes_prefix_hex.length / 2)), e.bytes_prefix_hex, `${what}: byte prefix`);
  }
  if (e.bytes_sha256 !== undefined) t.equal(sha256Hex(actual), e.bytes_sha256, `${what}: sha256`);
  if (e.frames !== undefined) {
    const frames = decodeFrames(actual);
    t.equal(frames.length, e.frames.length, `${what}: number of frames`);
    e.frames.forEach((want, i) => {
      const got = frames[i];
      if (got === undefined) return;
      for (const [key, value] of Object.entries(want)) {
        if (key === "payload_hex") t.equal(toHex(got.payload), value, `${what}: frame ${i} payload`);
        else if (key === "payload_sha256") t.equal(sha256Hex(got.payload), value, `${what}: frame ${i} payload sha256`);
        else t.same((got as unknown as Json)[key], value, `${what}: frame ${i} ${key}`);
      }
    });
  }
}

/**
 * Run recorded steps against a fresh endpoint. `zlib` says whether byte
 * expectations come from zlib (then `compareCompressed`, when given, decides).
 */
export function runSteps(
  t: TapLike,
  endpoint: Endpoint,
  steps: Step[],
  options: RunnerOptions & { role: "client" | "server"; zlib?: boolean },
): void {
  const extensionToJson = options.extensionToJson ?? defaultExtensionToJson;
  const ctx: EventContext = { role: options.role, makeExtension: options.makeExtension ?? noExtensions };
  let lastError: unknown = null;
  steps.forEach((step, index) => {
    const what = `step ${index} ${step.op}`;
    const expect = step.expect;
    let result: unknown;
    let error: unknown = null;
    let threw = false;
    try {
      switch (step.op) {
        case "receive":
          endpoint.receiveData(step.eof ? null : fromHex(step.data_hex ?? ""));
          break;
        case "events":
          result = [...endpoint.events()];
          break;
        case "next_event": {
          const r = endpoint.events().next();
          result = r.done ? null : r.value;
          break;
        }
        case "send":
          result = endpoint.send(eventFromJson(step.event!, ctx));
          break;
        case "send_hint": {
          const hint = lastError instanceof RemoteProtocolError ? lastError.eventHint : null;
          if (hint === null) throw new Error("send_hint without a previous event hint");
          result = endpoint.send(hint);
          break;
        }
        case "initiate_upgrade":
          if (!endpoint.initiateUpgradeConnection) throw new Error("endpoint has no initiateUpgradeConnection");
          endpoint.initiateUpgradeConnection(headersOf(step.headers), step.path ?? "/");
          break;
        default:
          throw new Error(`unknown op ${String((step as Step).op)}`);
      }
    } catch (e) {
      threw = true;
      error = e;
    }
    if (expect.error !== undefined) {
      if (!threw) t.fail(`${what}: expected ${expect.error}, nothing raised`);
      else checkError(t, step, error, what, { extensionToJson });
      lastError = error;
    } else if (threw) {
      t.fail(`${what}: unexpected ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    } else if (step.op === "events") {
      const got = result as Event[];
      const want = expect.events ?? [];
      t.equal(got.length, want.length, `${what}: number of events (${got.map((e) => e.type).join(", ")})`);
      want.forEach((w, i) => compareEvent(t, got[i], w, `${what}: event ${i}`, extensionToJson));
    } else if (step.op === "next_event") {
      compareEvent(t, result as Event | null, expect.event ?? null, `${what}: event`, extensionToJson);
    } else if (step.op === "send" || step.op === "send_hint") {
      const bytes = result as Uint8Array;
      t.ok(bytes instanceof Uint8Array, `${what}: returns a Uint8Array`);
      if (options.zlib && options.compareCompressed) {
        options.compareCompressed(t, { expect, actual: bytes, role: options.role, step });
      } else {
        checkBytes(t, step, bytes, what);
      }
    }
    if (expect.state_after !== undefined) {
      t.equal(stateName(endpoint.state), expect.state_after, `${what}: state after`);
    }
  });
}

function buildEndpoint(setup: VectorSetup, options: RunnerOptions, extra: ConnectionOptions): Endpoint {
  const role = setup.role ?? "client";
  const makeExtension = options.makeExtension ?? noExtensions;
  const factory = options.setups?.[setup.kind] ?? (setup.kind === "Connection" ? connectionSetup : undefined);
  if (factory === undefined) throw new Error(`no setup factory for kind ${setup.kind}`);
  return factory({
    setup,
    role,
    random: sequentialRandom(),
    extensions: (setup.extensions ?? []).map((spec) => makeExtension(spec, role)),
    options: extra,
  });
}

/**
 * Run one vector (each case on a fresh endpoint) as tap subtests, applying
 * matching deviations. Vectors of kind "function" are not handled here.
 */
export function runVector(t: TapLike, vector: Vector, options: RunnerOptions = {}): void {
  const deviations = options.deviations ?? [];
  const runOne = (name: string, setup: VectorSetup | null | undefined, steps: Step[], label?: string): void => {
    t.test(name, async (tt) => {
      if (!setup) throw new Error(`${name}: no setup`);
      const deviation = deviations.find((d) => d.id === vector.id && d.label === label);
      let run = steps;
      if (deviation) {
        run = deviation.patch(cloneSteps(steps));
        tt.notSame(run, steps, `deviation (${deviation.why}) changes the recorded expectation`);
      }
      const endpoint = buildEndpoint(setup, options, deviation?.options ?? {});
      runSteps(tt, endpoint, run, { ...options, role: setup.role ?? "client", zlib: vector.zlib_dependent === true });
    });
  };
  if (vector.cases) {
    for (const c of vector.cases) runOne(`${vector.id} / ${c.label}`, c.setup ?? vector.setup, c.steps, c.label);
  } else if (vector.steps) {
    runOne(vector.id, vector.setup, vector.steps);
  }
}

/**
 * Every deviation must match a vector (and case) that exists, so a renamed
 * vector cannot leave a deviation silently unused.
 */
export function checkDeviationsExist(t: TapLike, deviations: Deviation[]): void {
  for (const d of deviations) {
    const v = loadVectors().vectors.find((x) => x.id === d.id);
    t.ok(v !== undefined, `deviation vector ${d.id} exists`);
    if (v && d.label !== undefined) t.ok(v.cases?.some((c) => c.label === d.label), `deviation case ${d.id} / ${d.label} exists`);
  }
}

/** A compact, comparable view of events (type, data as text or hex, flags, close code/reason/origin). */
export function briefEvents(events: Event[]): unknown[] {
  return events.map((e) => {
    switch (e.type) {
      case "TextMessage":
        return ["text", e.data, e.frameFinished, e.messageFinished];
      case "BytesMessage":
        return ["bytes", toHex(e.data), e.frameFinished, e.messageFinished];
      case "Ping":
      case "Pong":
        return [e.type, toHex(e.payload)];
      case "CloseConnection":
        return ["close", e.code, e.reason, e.origin];
      default:
        return [e.type];
    }
  });
}
