/**
 * Start examples/echo-server.ts (the server under test) as a child process
 * on a free loopback port, and stop it by pid.
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A running echo server. */
export interface EchoServerProcess {
  port: number;
  child: ChildProcess;
  /** Everything it wrote to stderr (its log), for failure reports. */
  stderr: () => string;
  stop: () => Promise<void>;
}

/** Spawn `node --import tsx examples/echo-server.ts --port 0 --quiet` and wait for its address. */
export function startEchoServer(timeoutMs = 30_000): Promise<EchoServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "examples/echo-server.ts", "--port", "0", "--host", "127.0.0.1", "--quiet"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    if (err.length < 1 << 20) err += d;
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`echo server did not start within ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      out += d;
      const m = /listening on ws:\/\/[^:]+:(\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child, stderr: () => err, stop });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`echo server exited with ${code}: ${err}`));
    });
  });
}
