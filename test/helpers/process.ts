/**
 * Spawning real peers for interop and example tests.
 *
 * Invariants: every process started here is bound to loopback by its own
 * arguments, is killed by pid (SIGTERM, then SIGKILL after a grace period) in
 * the test's teardown, and every wait has a timeout whose failure message
 * carries the process's stderr and the tail of its stdout.
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The repository root (absolute path, with a trailing slash). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Absolute paths of the executables the tests use. */
export const BIN = {
  node: process.execPath,
  tsx: `${ROOT}node_modules/.bin/tsx`,
  deno: `${ROOT}node_modules/.bin/deno`,
  bun: `${ROOT}node_modules/.bin/bun`,
  // The Debian interpreter, which has python3-wsproto and python3-websockets
  // (a `python3` found first on PATH may be another one without them).
  python: "/usr/bin/python3",
  chromium: "/usr/bin/chromium",
} as const;

/**
 * Arguments to run a TypeScript file with Node and tsx's loader in ONE
 * process (the `tsx` binary forks a child, which a SIGKILL of the parent
 * would leave behind): `spawn(BIN.node, tsx("examples/x.ts", ...args))`.
 */
export function tsx(file: string, ...args: string[]): string[] {
  return ["--import", "tsx", file.startsWith("/") ? file : `${ROOT}${file}`, ...args];
}

/** Whether an executable exists (used to give a clear failure, not to skip). */
export function have(path: string): boolean {
  return existsSync(path);
}

/** The part of a tap `Test` this helper needs. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Options for {@link startPeer} and {@link runPeer}. */
export interface PeerOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Milliseconds to wait for the ready line (startPeer) or the exit (runPeer). @default 20000 */
  timeoutMs?: number;
  /** What the ready line looks like; group 1 is the URL. @default /listening on (\S+)/ */
  ready?: RegExp;
  /** Which output carries the ready line. @default "stdout" */
  readyOn?: "stdout" | "stderr";
  /** Text written to the process's stdin, which is then closed. */
  stdin?: string | Uint8Array;
}

/** A running peer process. */
export interface Peer {
  readonly pid: number;
  /** The URL from the ready line, e.g. `ws://127.0.0.1:40123/`. */
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the exit status once the process has exited. */
  readonly exited: Promise<ExitStatus>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  kill(graceMs?: number): Promise<ExitStatus>;
}

/** How a process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The result of {@link runPeer}. */
export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

const live = new Set<ChildProcess>();

function describe(cmd: string, args: readonly string[]): string {
  const short = (s: string) => (s.startsWith(ROOT) ? s.slice(ROOT.length) : s);
  return [cmd, ...args].map(short).join(" ");
}

function tail(text: string, max = 2000): string {
  return text.length > max ? "…" + text.slice(-max) : text;
}

function launch(cmd: string, args: readonly string[], options: PeerOptions) {
  const child = spawn(cmd, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  live.add(child);
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => (out += d));
  child.stderr!.on("data", (d: string) => (err += d));
  child.stdin!.on("error", () => {}); // the peer may exit before reading stdin
  if (options.stdin !== undefined) child.stdin!.end(options.stdin);
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on("error", (e) => {
      err += `\n[spawn error] ${e.message}`;
      live.delete(child);
      resolve({ code: null, signal: null });
    });
    child.on("close", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const kill = async (graceMs = 3000): Promise<ExitStatus> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }, graceMs);
      const status = await exited;
      clearTimeout(timer);
      return status;
    }
    return exited;
  };
  return { child, exited, kill, stdout: () => out, stderr: () => err };
}

/**
 * Start a long-running peer (a server) and wait for its ready line
 * (`listening on ws://127.0.0.1:PORT/`). The process is killed by pid in
 * `t`'s teardown.
 */
export async function startPeer(
  t: Teardown,
  cmd: string,
  args: readonly string[],
  options: PeerOptions = {},
): Promise<Peer> {
  const timeoutMs = options.timeoutMs ?? 20000;
  const ready = options.ready ?? /listening on (\S+)/;
  const p = launch(cmd, args, options);
  const stream = options.readyOn === "stderr" ? p.child.stderr! : p.child.stdout!;
  t.teardown(() => p.kill());
  const url = await new Promise<string>((resolve, reject) => {
    let seen = "";
    const onData = (d: string) => {
      seen += d;
      const m = ready.exec(seen);
      if (m) {
        cleanup();
        resolve(m[1] ?? m[0]);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      void p.kill();
      reject(
        new Error(
          `${describe(cmd, args)}: no ready line within ${timeoutMs} ms\n` +
            `stdout: ${tail(p.stdout())}\nstderr: ${tail(p.stderr())}`,
        ),
      );
    }, timeoutMs);
    void p.exited.then((s) => {
      cleanup();
      reject(
        new Error(
          `${describe(cmd, args)} exited (code ${s.code}, signal ${s.signal}) before its ready line\n` +
            `stdout: ${tail(p.stdout())}\nstderr: ${tail(p.stderr())}`,
        ),
      );
    });
    function cleanup() {
      clearTimeout(timer);
      stream.off("data", onData);
    }
    stream.on("data", onData);
  });
  const port = Number(/:(\d+)(?:\/|$)/.exec(url)?.[1] ?? NaN);
  return { pid: p.child.pid!, url, port, child: p.child, stdout: p.stdout, stderr: p.stderr, exited: p.exited, kill: p.kill };
}

/**
 * Run a peer to completion (a client script) with a timeout; on timeout the
 * process is killed and the result says so in `stderr`.
 */
export async function runPeer(
  t: Teardown,
  cmd: string,
  args: readonly string[],
  options: PeerOptions = {},
): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 20000;
  const p = launch(cmd, args, options);
  t.teardown(() => p.kill());
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.kill(1000);
  }, timeoutMs);
  const status = await p.exited;
  clearTimeout(timer);
  const stderr = p.stderr() + (timedOut ? `\n[killed: no exit within ${timeoutMs} ms]` : "");
  return { ...status, stdout: p.stdout(), stderr };
}

/**
 * An assertion message: just `what` when `ok`, else `what` with the peer's
 * output (see {@link explain}).
 */
export function says(ok: boolean, what: string, r: { stdout: string; stderr: string } | Peer): string {
  return ok ? what : explain(what, r);
}

/** A failure message for a peer that did not do what it should. */
export function explain(what: string, r: { stdout: string; stderr: string } | Peer): string {
  const out = typeof r.stdout === "function" ? r.stdout() : r.stdout;
  const err = typeof r.stderr === "function" ? r.stderr() : r.stderr;
  return `${what}\nstdout: ${tail(out)}\nstderr: ${tail(err)}`;
}

// A test file that crashes must not leave processes behind.
process.once("exit", () => {
  for (const child of live) {
    try {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/**
 * Run a TypeScript script of the project (`node --import tsx`) to its end and
 * collect its output; killed by pid after `timeoutMs`.
 */
export function runScript(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}
