/**
 * Native masking for the engine on Node: `bufferutil`'s `mask`, when the
 * package is installed and its native build loads (it is an optional
 * dependency of this package, as it is of `ws`).
 *
 * Answers: which masking primitive the Node helpers hand the engine
 * (`ConnectionOptions.mask`), and how to turn it off.
 *
 * - `bufferutil` is loaded lazily, on the first call, through
 *   `createRequire` (it is CommonJS), and only once per process.
 * - Its `index.js` quietly falls back to a JavaScript byte loop
 *   (`fallback.js`) when the native build does not load; that loop is
 *   slower than the engine's own WebAssembly SIMD and word loop, so it is
 *   refused and the engine keeps its default.
 * - `WSPROTO_NO_BUFFERUTIL=1` in the environment (read once, at the first
 *   call) refuses it too, as `ws`'s `WS_NO_BUFFER_UTIL` does: for tests and
 *   for comparing the two paths. The results are identical either way.
 * @module
 */
import { createRequire } from "node:module";
import type { MaskFunction } from "../protocol/bytes/mask.ts";

/** The shape of the `bufferutil` module this file uses. */
interface BufferUtil {
  mask?: unknown;
}

// undefined: not looked for yet.
let loaded: MaskFunction | null | undefined;

/**
 * `bufferutil`'s native `mask(source, mask, output, offset, length)` when it
 * is installed and its native build loads, else `null` (the engine's
 * default: WebAssembly SIMD, JavaScript for short payloads). The Node
 * helpers pass it as the `mask` option; a caller building sessions with
 * `acceptWebSocket`/`connectWebSocket` on Node may pass it too.
 * `WSPROTO_NO_BUFFERUTIL=1` makes it `null`.
 * @example
 * ```ts
 * import { acceptWebSocket } from "wsproto/streams";
 * import { fromNodeSocket, nodeMasker } from "wsproto/node";
 * const ws = acceptWebSocket(fromNodeSocket(socket), { mask: nodeMasker() });
 * ```
 */
export function nodeMasker(): MaskFunction | null {
  if (loaded === undefined) {
    if (forcedFallback()) {
      reason = "WSPROTO_NO_BUFFERUTIL=1";
      loaded = null;
    } else {
      loaded = loadBufferUtil();
    }
  }
  return loaded;
}

/** `WSPROTO_NO_BUFFERUTIL=1`; an environment the program may not read (Deno without `--allow-env`) counts as unset. */
function forcedFallback(): boolean {
  try {
    return process.env["WSPROTO_NO_BUFFERUTIL"] === "1";
  } catch {
    return false;
  }
}

/**
 * Which masking the Node helpers use: `"bufferutil"` or `"builtin"` (the
 * engine's WebAssembly SIMD and JavaScript), with the reason when builtin.
 * @example
 * ```ts
 * nodeMaskerStatus(); // { masker: "bufferutil" } when it is installed
 * ```
 */
export function nodeMaskerStatus(): { masker: "bufferutil" } | { masker: "builtin"; reason: string } {
  if (nodeMasker() !== null) return { masker: "bufferutil" };
  return { masker: "builtin", reason };
}

// Why bufferutil is not used (for nodeMaskerStatus).
let reason = "";

function loadBufferUtil(): MaskFunction | null {
  let require: NodeJS.Require;
  let bufferUtil: BufferUtil;
  try {
    require = createRequire(import.meta.url);
    bufferUtil = require("bufferutil") as BufferUtil;
  } catch (error) {
    // Not installed, or a runtime that may not load it (Deno without --allow-env / --allow-ffi).
    reason = `bufferutil could not be loaded (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`;
    return null;
  }
  const mask = bufferUtil.mask;
  if (typeof mask !== "function") {
    reason = "bufferutil has no mask function";
    return null;
  }
  try {
    const fallback = require("bufferutil/fallback.js") as BufferUtil;
    if (fallback.mask === mask) {
      reason = "bufferutil's native build did not load (its JavaScript fallback is slower than ours)";
      return null;
    }
  } catch {
    // A bufferutil without fallback.js: what loaded is its native build.
  }
  return mask as MaskFunction;
}

/**
 * Forget what was loaded, so that the next {@link nodeMasker} looks again
 * (and reads `WSPROTO_NO_BUFFERUTIL` again). For tests.
 * @internal
 * @example
 * ```ts
 * process.env.WSPROTO_NO_BUFFERUTIL = "1";
 * resetNodeMasker();
 * nodeMasker(); // null
 * ```
 */
export function resetNodeMasker(): void {
  loaded = undefined;
  reason = "";
}
