// Command line for ws-api-client.js under Deno or Bun, using the runtime's
// own WebSocket:
//   deno run -A ws-api-client-cli.js URL [--big BYTES]
//   bun ws-api-client-cli.js URL [--big BYTES]
import { runClient } from "./ws-api-client.js";

const args = globalThis.Deno ? Deno.args : process.argv.slice(2);
const exit = (code) => (globalThis.Deno ? Deno.exit(code) : process.exit(code));
const url = args.find((a) => !a.startsWith("--"));
const bigAt = args.indexOf("--big");
const big = bigAt >= 0 ? Number(args[bigAt + 1]) : 0;

const watchdog = setTimeout(() => {
  console.error("client failed: no result within 60 s");
  exit(1);
}, 60000);

try {
  const result = await runClient(url, { big });
  clearTimeout(watchdog);
  console.log(JSON.stringify(result));
  exit(0);
} catch (e) {
  console.error(`client failed: ${e && e.stack ? e.stack : e}`);
  exit(1);
}
