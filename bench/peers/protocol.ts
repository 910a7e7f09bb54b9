/**
 * The parent side of the benchmark peers (bench/peers/*.ts): start one in a
 * process of its own and talk to it over IPC, one request at a time.
 */
import { fork, type ChildProcess } from "node:child_process";

/** Memory and CPU time of a peer process (memory after two garbage collections). */
export interface ServerStats {
  rss: number;
  heapUsed: number;
  /** The V8 heap's committed size (used or not). */
  heapTotal: number;
  external: number;
  /** User + system CPU time since the process started, in microseconds. */
  cpuMicros: number;
}

/** What the load clients report: round trips timed over the run. */
export interface LoadResult {
  sent: number;
  received: number;
  /** Round-trip times in milliseconds. */
  p50: number;
  p99: number;
}

/** A request to a peer. */
export type PeerRequest =
  | { id: number; cmd: "stats" | "cpu" | "exit" | "close" }
  | { id: number; cmd: "snapshot"; path: string }
  | { id: number; cmd: "open"; port: number; count: number; deflate: boolean; echoBytes: number }
  | { id: number; cmd: "load"; ms: number; interval: number; size: number };

/** A peer's answer (id 0: the peer is ready). */
export interface PeerReply {
  id: number;
  port?: number;
  stats?: ServerStats;
  load?: LoadResult;
  path?: string;
  error?: string;
}

type Request = PeerRequest extends infer T ? (T extends { id: number } ? Omit<T, "id"> : never) : never;

/** A running peer process. */
export class Peer {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (reply: PeerReply) => void>();
  #next = 1;
  /** The peer's first reply (a server's port). */
  readonly ready: Promise<PeerReply>;

  constructor(script: string, args: string[], nodeArgs: string[] = []) {
    this.#child = fork(new URL(script, import.meta.url).pathname, args, {
      execArgv: ["--expose-gc", "--import", "tsx", ...nodeArgs],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.ready = new Promise((resolve, reject) => {
      this.#waiting.set(0, resolve);
      this.#child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
    });
    this.#child.on("message", (reply: PeerReply) => {
      const waiter = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      waiter?.(reply);
    });
  }

  /** Send a request and wait for its reply (an `error` in the reply rejects). */
  request(request: Request): Promise<PeerReply> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, (reply) => (reply.error === undefined ? resolve(reply) : reject(new Error(reply.error))));
      this.#child.send({ ...request, id });
    });
  }

  /** Ask the peer to exit, and wait until it has (killed by pid after 5 s). */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((r) => this.#child.once("exit", r));
    this.#child.send({ id: -1, cmd: "exit" });
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}
