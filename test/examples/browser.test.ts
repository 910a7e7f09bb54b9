// examples/browser: a page and its WebSocket served by Node with this
// project; headless Chromium loads the page, whose own WebSocket talks to
// our server with permessage-deflate.
import t from "tap";
import { launchChromium, openPage } from "../helpers/browser.ts";
import { BIN, startPeer, tsx } from "../helpers/process.ts";

interface PageResult {
  protocol: string;
  extensions: string;
  replies: string[];
}

t.test("the browser example: Chromium's WebSocket against our server", async (t) => {
  const server = await startPeer(t, BIN.node, tsx("examples/browser/server.ts", "--port", "0"));
  const chrome = await launchChromium(t);
  const page = await openPage(chrome, server.url);
  await page.waitForFunction(() => "__result" in window, null, { timeout: 30000 });
  const result = await page.evaluate(() => (window as unknown as { __result: PageResult }).__result);
  t.equal(result.protocol, "echo.v1", "subprotocol agreed");
  t.match(result.extensions, /^permessage-deflate/, "permessage-deflate agreed with the browser");
  t.same(
    result.replies,
    ["echo: hello from the browser", `echo: ${"compress me ".repeat(1000)}`.slice(0, 60) + "…", "<binary 1,2,3,250>"],
    "text and binary replies in order",
  );
  // The page's form sends what the user types.
  await page.fill("#text", "typed in the page");
  await page.click("button");
  await page.waitForFunction(() => document.getElementById("log")!.textContent!.includes("← echo: typed in the page"), null, {
    timeout: 10000,
  });
  t.pass("a message typed in the page came back");
  await page.close();
  t.match(server.stderr(), /browser connected \(extensions: permessage-deflate/, "the server saw deflate too");
  t.equal(chrome.log.filter((l) => l.startsWith("[pageerror]")).length, 0, `no page errors\n${chrome.log.join("\n")}`);
});
