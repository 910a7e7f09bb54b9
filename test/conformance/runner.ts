/**
 * Runs conformance cases over real loopback TCP and judges them with
 * Autobahn's rules (`behavior` from the recorded events, `behaviorClose`
 * from how the session ended), for either role:
 *
 * - `serverTarget(host, port)`: the raw peer is the client and connects to
 *   the server under test (Autobahn's fuzzingclient).
 * - `FuzzingServer` + a client launcher: the raw peer is the server and the
 *   client under test connects to `/runCase?case=<id>` (fuzzingserver).
 *
 * Cases run one after another, as Autobahn runs them.
 * @module
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { paramsFromResponse, RawDeflate } from "./raw-deflate.ts";
import { clientHandshake, serverHandshake } from "./raw-handshake.ts";
import { RawPeer, type Received } from "./raw-peer.ts";
import type { CaseEnv, ConformanceCase, Expectation, Label } from "./corpus.ts";

/** The overall verdict of a case. */
export type Verdict = "OK" | "NON-STRICT" | "FAILED" | "INFORMATIONAL" | "UNIMPLEMENTED";
export type CloseVerdict = "OK" | "FAILED" | "UNCLEAN" | "WRONG CODE" | "FAILED BY CLIENT" | "INFORMATIONAL";

/** The result of one case. */
export interface CaseResult {
  id: string;
  group: string;
  title: string;
  extra: boolean;
  verdict: Verdict;
  behavior: Verdict;
  behaviorClose: CloseVerdict;
  /** Why it is not OK, or what informational case observed. */
  detail: string;
  /** The endpoint's close code (null: no close frame). */
  closeCode: number | null;
  durationMs: number;
  notes: string[];
}

/** How to reach the endpoint under test for one connection of a case. */
export interface Target {
  /** The raw peer's role. */
  readonly role: "client" | "server";
  open(c: ConformanceCase, connection: number): Promise<RawPeer>;
  /** Called after each connection ended (the client launcher's outcome, for notes). */
  finish?(c: ConformanceCase, connection: number): Promise<string | null>;
}

/** Options of {@link runCases}. */
export interface RunOptions {
  failFastMs?: number;
  full?: boolean;
  /** Bytes per 12/13 case when not `full`. @default 262144 */
  pmdBudget?: number;
  /** Most messages per 12/13 case when not `full`. @default 200 */
  pmdMaxCount?: number;
  /** Called after each case (progress output). */
  onResult?: (r: CaseResult) => void;
}

/** Wait for `promise`, but at most `ms`; the timer is cleared either way (no stray timers keep the process alive). */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Connect the raw client to a server under test. */
export function serverTarget(host: string, port: number, path = "/"): Target {
  return {
    role: "client",
    async open(c) {
      const socket = connect({ host, port });
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      socket.pause();
      const hs = await clientHandshake(socket, {
        host: `${host}:${port}`,
        path: `${path}${path.includes("?") ? "&" : "?"}case=${encodeURIComponent(c.id)}`,
        ...(c.deflate ? { extensions: c.deflate.clientOffer } : {}),
      }).catch((err: unknown) => {
        socket.destroy();
        throw err;
      });
      const pmd = hs.extensions.find((e) => e.name === "permessage-deflate");
      if (hs.extensions.length > 0 && (!c.deflate || !pmd || hs.extensions.length > 1)) {
        socket.destroy();
        throw new Error(`server accepted extensions that were not offered: ${hs.extensions.map((e) => e.name).join(", ")}`);
      }
      const deflate = pmd ? new RawDeflate("client", paramsFromResponse(pmd)) : null;
      return new RawPeer({ role: "client", socket, rest: hs.rest, deflate });
    },
  };
}

/** Launches the client under test against a URL; resolves when it is done (or throws its error). */
export type ClientLauncher = (url: string) => Promise<unknown>;

/** The raw server for testing clients: one connection per case at `/runCase?case=<id>`. */
export class FuzzingServer implements Target {
  readonly role = "server" as const;
  readonly #server: Server;
  readonly #launch: ClientLauncher;
  #queue: Socket[] = [];
  #waiting: Array<(s: Socket) => void> = [];
  #client: Promise<string | null> | null = null;
  #sockets = new Set<Socket>();
  port = 0;

  constructor(launch: ClientLauncher) {
    this.#launch = launch;
    this.#server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
      socket.pause();
      const w = this.#waiting.shift();
      if (w) w(socket);
      else this.#queue.push(socket);
    });
  }

  async listen(host = "127.0.0.1"): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, host, resolve));
    const addr = this.#server.address();
    this.port = typeof addr === "object" && addr ? addr.port : 0;
    return `ws://${host}:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #next(ms: number): Promise<Socket> {
    const s = this.#queue.shift();
    if (s) return Promise.resolve(s);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = this.#waiting.filter((w) => w !== got);
        reject(new Error("the client under test did not connect"));
      }, ms);
      const got = (sock: Socket): void => {
        clearTimeout(timer);
        resolve(sock);
      };
      this.#waiting.push(got);
    });
  }

  async open(c: ConformanceCase, connection: number): Promise<RawPeer> {
    const url = `ws://127.0.0.1:${this.port}/runCase?case=${encodeURIComponent(c.id)}&connection=${connection}`;
    this.#client = this.#launch(url).then(
      () => null,
      (err: unknown) => `the client under test threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
    );
    const socket = await this.#next(10_000);
    const hs = await serverHandshake(socket, {
      negotiate: (offers) => (c.deflate ? c.deflate.serverAccept(offers) : null),
    }).catch((err: unknown) => {
      socket.destroy();
      throw err;
    });
    const deflate = hs.accepted ? new RawDeflate("server", paramsFromResponse(hs.accepted)) : null;
    return new RawPeer({ role: "server", socket, rest: hs.rest, deflate });
  }

  async finish(): Promise<string | null> {
    const client = this.#client;
    this.#client = null;
    if (!client) return null;
    return within(client, 5000, "the client under test did not finish within 5 s of the close");
  }
}

// ---- judging ---------------------------------------------------------------------------

function sameEvent(a: Received, b: Received): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case "message":
      return b.kind === "message" && a.binary === b.binary && a.data.equals(b.data);
    case "ping":
    case "pong":
      return (b.kind === "ping" || b.kind === "pong") && a.payload.equals(b.payload);
    case "timeout":
      return b.kind === "timeout" && a.tag === b.tag;
  }
}

function matches(exp: Expectation, received: Received[], env: CaseEnv): boolean {
  if (typeof exp === "function") return exp(received, env);
  return exp.length === received.length && exp.every((e, i) => sameEvent(e, received[i]!));
}

/** A short human form of an event list, for failure details. */
export function describeEvents(list: Received[]): string {
  if (list.length === 0) return "nothing";
  const one = (e: Received): string => {
    switch (e.kind) {
      case "message": {
        const d = e.data;
        const shown = e.binary || d.length > 40 ? `${d.length} bytes${d.length <= 16 ? ` ${d.toString("hex")}` : ""}` : JSON.stringify(d.toString("utf8"));
        return `${e.binary ? "binary" : "text"} ${shown}`;
      }
      case "ping":
      case "pong":
        return `${e.kind} ${e.payload.length <= 20 ? JSON.stringify(e.payload.toString("latin1")) : `${e.payload.length} bytes`}`;
      case "timeout":
        return `timeout ${e.tag}`;
    }
  };
  const shown = list.slice(0, 6).map(one);
  if (list.length > 6) shown.push(`... (${list.length} events)`);
  return shown.join(", ");
}

interface ConnectionOutcome {
  behavior: Verdict;
  behaviorClose: CloseVerdict;
  detail: string;
  closeCode: number | null;
  notes: string[];
}

async function runConnection(c: ConformanceCase, target: Target, options: RunOptions, connection: number): Promise<ConnectionOutcome> {
  const env: CaseEnv = {
    role: target.role,
    failFastMs: options.failFastMs ?? 5000,
    full: options.full ?? false,
    pmdBudget: options.pmdBudget ?? 256 * 1024,
    pmdMaxCount: options.pmdMaxCount ?? 200,
    failures: [],
    notes: [],
    completed: false,
    connection,
  };
  let peer: RawPeer;
  try {
    peer = await target.open(c, connection);
  } catch (err) {
    const fin = target.finish ? await target.finish(c, connection) : null;
    return {
      behavior: "FAILED",
      behaviorClose: "FAILED",
      detail: `opening handshake failed: ${(err as Error).message}${fin ? `; ${fin}` : ""}`,
      closeCode: null,
      notes: [],
    };
  }
  const started = Date.now();
  const deadline = started + c.timeoutMs;
  const left = (): number => Math.max(0, deadline - Date.now());
  let scriptError: unknown = null;
  const script = c.run(peer, env).catch((err: unknown) => {
    scriptError = err;
  });
  await within(script, c.timeoutMs, undefined);
  // A harness fault (e.g. a missing payload corpus) fails the case now
  // rather than after its whole timeout.
  if (scriptError !== null) peer.drop();

  const expectations = Object.entries(c.expect) as Array<[Label, Expectation]>;
  const matched = (): boolean => expectations.some(([, e]) => matches(e, peer.received, env));
  if (c.close.closedByMe) {
    // Autobahn closes with 1000 as soon as the received events match; else at its timer.
    await peer.waitFor(() => !peer.isOpen || matched(), left());
    if (peer.closeSent === null && !peer.isClosed && peer.closeReceived === null) await peer.close(1000);
  } else {
    // The endpoint must fail the connection; kill_after when it does not.
    await peer.waitFor(() => peer.closeReceived !== null || peer.tcpClosedAt !== null, left());
    if (peer.closeReceived === null && peer.tcpClosedAt === null) await peer.kill();
  }
  // The closing handshake, then TCP.
  const closedInTime = await peer.waitFor(() => peer.isClosed, 5000);
  if (!closedInTime) {
    env.notes.push("TCP still open 5 s after the close; dropped");
    peer.drop();
  }
  await within(script, 1000, undefined);
  peer.deflate?.close();
  const clientOutcome = target.finish ? await target.finish(c, connection) : null;

  // behavior: the first expected list equal to what was received.
  let behavior: Verdict = "FAILED";
  let detail = "";
  for (const [label, exp] of expectations) {
    if (matches(exp, peer.received, env)) {
      behavior = label;
      break;
    }
  }
  if (behavior !== "OK") {
    const ok = c.expect.OK;
    detail = `expected (OK) ${ok === undefined || typeof ok === "function" ? "a complete echo run" : describeEvents(ok)}, received ${describeEvents(peer.received)}`;
  }
  if (env.failures.length > 0) {
    behavior = env.failures[0]!.startsWith("UNIMPLEMENTED") ? "UNIMPLEMENTED" : "FAILED";
    detail = env.failures.join("; ");
  }
  if (scriptError !== null) {
    behavior = "FAILED";
    detail = `harness error: ${String(scriptError)}`;
  }
  if (peer.violations.length > 0) {
    behavior = "FAILED";
    detail = `the endpoint broke the protocol: ${peer.violations.join("; ")}${detail ? `; ${detail}` : ""}`;
  }
  if (clientOutcome !== null) {
    env.notes.push(clientOutcome);
    if (clientOutcome.includes("threw") && !/ProtocolError/.test(clientOutcome)) {
      behavior = "FAILED";
      detail = `${clientOutcome}${detail ? `; ${detail}` : ""}`;
    }
  }

  // behaviorClose, in Autobahn's order.
  const closedByMe = peer.closer === "me";
  const clean = peer.closeSent !== null && peer.closeReceived !== null && !peer.killed;
  const code = peer.closeReceived?.code ?? null;
  let behaviorClose: CloseVerdict;
  let closeDetail = "";
  if (c.close.closedByMe !== closedByMe) {
    behaviorClose = "FAILED";
    closeDetail = c.close.closedByMe
      ? "the endpoint closed first, though the peer was to start the close"
      : `the endpoint did not fail the connection within ${c.timeoutMs} ms (the peer had to)`;
  } else if (c.close.requireClean && !clean) {
    behaviorClose = "UNCLEAN";
    closeDetail = `the closing handshake did not complete before TCP closed (close sent: ${peer.closeSent !== null}, close received: ${peer.closeReceived !== null})`;
  } else if (code !== null && !c.close.codes.includes(code)) {
    behaviorClose = "WRONG CODE";
    closeDetail = `close code ${code}, expected ${c.close.codes.join(" or ")} or none`;
  } else if (target.role === "client" && peer.droppedAfterClose) {
    behaviorClose = "FAILED BY CLIENT";
    closeDetail = "the server did not close TCP after the closing handshake (RFC 6455 §7.1.1)";
  } else {
    behaviorClose = "OK";
  }
  if (behaviorClose === "FAILED" && c.close.wrongEndpointFatal) behavior = "FAILED";
  if (behaviorClose === "WRONG CODE" && c.close.wrongCodeFatal) behavior = "FAILED";
  if (closeDetail) detail = detail ? `${detail}; ${closeDetail}` : closeDetail;

  // How soon the endpoint failed the connection.
  if (!c.close.closedByMe) {
    const at = peer.closeReceived?.at ?? peer.tcpClosedAt;
    if (at !== null && at !== undefined && !peer.killed) {
      env.notes.push(at >= peer.lastSendAt ? `failed ${at - peer.lastSendAt} ms after the last byte was sent` : "failed before every byte was sent");
    }
  }
  env.notes.push(`close ${code ?? "none"}${clean ? ", clean" : ""}`);
  return { behavior, behaviorClose, detail, closeCode: code, notes: env.notes };
}

const RANK: Record<Verdict, number> = { OK: 0, INFORMATIONAL: 0, "NON-STRICT": 1, UNIMPLEMENTED: 2, FAILED: 3 };

/** Run one case (all its connections) and judge it. */
export async function runCase(c: ConformanceCase, target: Target, options: RunOptions = {}): Promise<CaseResult> {
  const started = Date.now();
  const n = c.connections ?? 1;
  let worst: ConnectionOutcome | null = null;
  let worstAt = 0;
  const notes: string[] = [];
  for (let i = 0; i < n; i++) {
    const o = await runConnection(c, target, options, i);
    const v = combine(c, o);
    if (worst === null || RANK[v] > RANK[combine(c, worst)]) {
      worst = o;
      worstAt = i;
    }
    if (n === 1) notes.push(...o.notes);
  }
  const o = worst!;
  const verdict = combine(c, o);
  let detail = o.detail;
  if (n > 1) {
    notes.push(`${n} connections`);
    if (verdict !== "OK") detail = `connection ${worstAt} (split after byte ${worstAt + 1}): ${detail}`;
  }
  if (c.informational) {
    const label = o.behavior;
    detail = `behavior ${label}, close ${o.behaviorClose}${o.detail ? ` (${o.detail})` : ""}`;
  }
  const result: CaseResult = {
    id: c.id,
    group: c.group,
    title: c.title,
    extra: c.extra ?? false,
    verdict,
    behavior: c.informational ? "INFORMATIONAL" : o.behavior,
    behaviorClose: c.informational ? "INFORMATIONAL" : o.behaviorClose,
    detail,
    closeCode: o.closeCode,
    durationMs: Date.now() - started,
    notes,
  };
  options.onResult?.(result);
  return result;
}

function combine(c: ConformanceCase, o: ConnectionOutcome): Verdict {
  if (c.informational) return "INFORMATIONAL";
  if (o.behavior === "FAILED" || o.behavior === "UNIMPLEMENTED") return o.behavior;
  if (o.behaviorClose !== "OK") return "FAILED";
  return o.behavior;
}

/** Run cases one after another. */
export async function runCases(cases: readonly ConformanceCase[], target: Target, options: RunOptions = {}): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of cases) results.push(await runCase(c, target, options));
  return results;
}
