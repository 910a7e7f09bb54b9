// The client scenario of README.md written against the WHATWG `WebSocket`
// alone, so that Deno, Bun and Chromium run the same code with their own
// WebSocket implementations. Steps the WHATWG API cannot express (sending
// fragments or pings) are left out.

/** A queue of message events and the close event of one WebSocket. */
function channel(ws) {
  const queue = [];
  const waiters = [];
  let closed = null;
  const push = (item) => {
    const w = waiters.shift();
    if (w) w(item);
    else queue.push(item);
  };
  ws.addEventListener("message", (e) => push({ kind: "message", data: e.data }));
  ws.addEventListener("close", (e) => {
    closed = { kind: "close", code: e.code, reason: e.reason, wasClean: e.wasClean };
    push(closed);
  });
  return {
    next(timeoutMs = 30000) {
      if (queue.length) return Promise.resolve(queue.shift());
      if (closed) return Promise.resolve(closed);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("timed out waiting for a message")), timeoutMs);
        waiters.push((item) => {
          clearTimeout(timer);
          resolve(item);
        });
      });
    },
  };
}

function open(url, protocols) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    ws.binaryType = "arraybuffer";
    const ch = channel(ws);
    const timer = setTimeout(() => reject(new Error("timed out opening " + url)), 15000);
    ws.addEventListener("open", () => {
      clearTimeout(timer);
      resolve({ ws, ch });
    });
    ws.addEventListener("error", () => {
      clearTimeout(timer);
      reject(new Error("could not open " + url));
    });
  });
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function expectText(ch, want, step) {
  const got = await ch.next();
  check(got.kind === "message" && typeof got.data === "string", `${step}: expected text, got ${JSON.stringify(got)}`);
  check(got.data === want, `${step}: got ${JSON.stringify(got.data.slice(0, 80))}`);
}

async function expectBytes(ch, want, step) {
  const got = await ch.next();
  check(got.kind === "message" && got.data instanceof ArrayBuffer, `${step}: expected binary, got ${got.kind}`);
  check(sameBytes(new Uint8Array(got.data), want), `${step}: bytes differ (${got.data.byteLength} bytes)`);
}

function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

/**
 * Run the scenario against `url`; resolves with the summary, rejects with
 * the first failure.
 */
export async function runClient(url, { big = 0 } = {}) {
  const steps = [];
  const { ws, ch } = await open(url, ["chat", "superchat"]);
  const result = { protocol: ws.protocol, extensions: ws.extensions, steps };
  steps.push("open");

  const text = "héllo wörld ✓ 🚀";
  ws.send(text);
  await expectText(ch, text, "text");
  steps.push("text");

  const data = new Uint8Array(1024).map((_, i) => i & 255);
  ws.send(data);
  await expectBytes(ch, data, "binary");
  steps.push("binary");

  ws.send("");
  await expectText(ch, "", "empty-text");
  steps.push("empty-text");
  ws.send(new Uint8Array(0));
  await expectBytes(ch, new Uint8Array(0), "empty-binary");
  steps.push("empty-binary");

  const long = "frag:" + "abcdefghij".repeat(300);
  ws.send(long);
  await expectText(ch, long, "server-fragmented");
  steps.push("server-fragmented");

  ws.send("ping:xyz");
  const pong = await ch.next();
  // A server that cannot send pings says so; the step is then left out.
  check(pong.kind === "message" && (pong.data === "pong:xyz" || pong.data === "pong:unsupported"), `server-ping: ${JSON.stringify(pong)}`);
  if (pong.data === "pong:xyz") steps.push("server-ping");

  if (big) {
    const payload = randomBytes(big);
    ws.send(payload);
    await expectBytes(ch, payload, "big");
    steps.push("big");
  }

  ws.close(4000, "bye");
  const c = await ch.next();
  check(c.kind === "close" && c.code === 4000 && c.reason === "bye", `close: ${JSON.stringify(c)}`);
  check(c.wasClean, "close: not clean");
  steps.push("close");

  const second = await open(url, ["chat"]);
  second.ws.send("close:4001:server-bye");
  const s = await second.ch.next();
  check(s.kind === "close" && s.code === 4001 && s.reason === "server-bye", `server-close: ${JSON.stringify(s)}`);
  check(s.wasClean, "server-close: not clean");
  steps.push("server-close");
  return result;
}
