/**
 * Headless Chromium for the tests: /usr/bin/chromium started by us (so it is
 * killed by pid), driven through playwright-core over the DevTools protocol.
 * @module
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, extname } from "node:path";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type Page } from "playwright-core";
import { BIN, startPeer, type Teardown } from "./process.ts";

/** A running headless Chromium. */
export interface Chromium {
  browser: Browser;
  pid: number;
  /** Console lines and page errors of every page opened through {@link openPage}. */
  log: string[];
}

/** Launch headless Chromium bound to loopback (with `extraArgs` added to its flags); closed and killed in teardown. */
export async function launchChromium(t: Teardown, extraArgs: string[] = []): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), "wsproto-chromium-"));
  t.teardown(() => rmSync(profile, { recursive: true, force: true }));
  // Teardown order matters: first ask the browser to quit over DevTools (so
  // it reaps its own zygote and renderer processes), then kill it by pid.
  const kills: Array<() => unknown> = [];
  let browser: Browser | undefined;
  t.teardown(async () => {
    await browser?.close().catch(() => {});
    for (const kill of kills) await kill();
  });
  const peer = await startPeer(
    { teardown: (fn) => kills.push(fn) },
    BIN.chromium,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
      `--user-data-dir=${profile}`,
      ...extraArgs,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "about:blank",
    ],
    { ready: /DevTools listening on (ws:\/\/\S+)/, readyOn: "stderr", timeoutMs: 30000 },
  );
  browser = await chromium.connectOverCDP(peer.url, { timeout: 30000 });
  return { browser, pid: peer.pid, log: [] };
}

/** Open `url` in a new page, recording its console and errors in `chrome.log`. */
export async function openPage(chrome: Chromium, url: string): Promise<Page> {
  const context = chrome.browser.contexts()[0] ?? (await chrome.browser.newContext());
  const page = await context.newPage();
  page.on("console", (m) => chrome.log.push(`[console.${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => chrome.log.push(`[pageerror] ${e.message}`));
  await page.goto(url, { timeout: 15000 });
  return page;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

/**
 * Serve the files of `dir` (only names in `files`) over HTTP on 127.0.0.1;
 * closed in teardown. Returns the base URL with a trailing slash.
 */
export async function serveStatic(t: Teardown, dir: string, files: string[]): Promise<string> {
  const server: Server = createServer((req, res) => {
    const name = (req.url ?? "/").split("?")[0]!.slice(1);
    if (!files.includes(name)) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(name)] ?? "application/octet-stream" });
    res.end(readFileSync(join(dir, name)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  t.teardown(() => server.closeAllConnections());
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}/`;
}
