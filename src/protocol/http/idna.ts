/**
 * Host names to and from their ASCII form, as Python's `"idna"` codec (IDNA
 * 2003, RFC 3490) does it for wsproto: labels are split on the four IDNA dots;
 * an ASCII label passes through unchanged (case kept, so `host:port` and
 * `[::1]:8080` work); a non-ASCII label is nameprepped and punycoded
 * (RFC 3492) behind `xn--`. Decoding turns `xn--` labels back and checks the
 * round trip.
 *
 * Nameprep (RFC 3491) is approximated by NFKC + lower-casing + removing the
 * characters it maps to nothing (soft hyphen, joiners, variation selectors),
 * then refusing the prohibited classes (controls, spaces, private use...):
 * the same result for every host seen in practice, without carrying the
 * stringprep tables.
 *
 * Invariants: pure; every failure is an `IdnaError` (the handshake turns it
 * into `WS_ERR_INVALID_HOST` or a 400).
 * @module
 */

const BASE = 36;
const T_MIN = 1;
const T_MAX = 26;
const SKEW = 38;
const DAMP = 700;
const INITIAL_BIAS = 72;
const INITIAL_N = 128;
const MAX_LABEL = 63;
const ACE_PREFIX = "xn--";

/**
 * An invalid host name; the caller turns it into the right protocol error.
 * @example
 * ```ts
 * try { hostToAscii("a..b"); } catch (e) { if (e instanceof IdnaError) console.log(e.message); }
 * ```
 */
export class IdnaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IdnaError";
  }
}

function adapt(delta: number, numPoints: number, firstTime: boolean): number {
  delta = firstTime ? Math.floor(delta / DAMP) : delta >> 1;
  delta += Math.floor(delta / numPoints);
  let k = 0;
  while (delta > ((BASE - T_MIN) * T_MAX) >> 1) {
    delta = Math.floor(delta / (BASE - T_MIN));
    k += BASE;
  }
  return k + Math.floor(((BASE - T_MIN + 1) * delta) / (delta + SKEW));
}

function digitChar(d: number): string {
  // 0..25 -> a..z, 26..35 -> 0..9
  return String.fromCharCode(d < 26 ? d + 97 : d + 22);
}

function charDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 22;
  if (code >= 0x41 && code <= 0x5a) return code - 0x41;
  if (code >= 0x61 && code <= 0x7a) return code - 0x61;
  return BASE;
}

/**
 * RFC 3492 §6.3: punycode-encode a string of code points (no prefix).
 * @example
 * ```ts
 * punycodeEncode("bücher"); // "bcher-kva"
 * ```
 */
export function punycodeEncode(input: string): string {
  const points = Array.from(input, (c) => c.codePointAt(0)!);
  let output = "";
  for (const p of points) if (p < 0x80) output += String.fromCharCode(p);
  const basicLength = output.length;
  let handled = basicLength;
  if (basicLength > 0) output += "-";
  let n = INITIAL_N;
  let delta = 0;
  let bias = INITIAL_BIAS;
  while (handled < points.length) {
    let m = Infinity;
    for (const p of points) if (p >= n && p < m) m = p;
    delta += (m - n) * (handled + 1);
    n = m;
    for (const p of points) {
      if (p < n) delta++;
      if (p === n) {
        let q = delta;
        for (let k = BASE; ; k += BASE) {
          const t = k <= bias ? T_MIN : k >= bias + T_MAX ? T_MAX : k - bias;
          if (q < t) break;
          output += digitChar(t + ((q - t) % (BASE - t)));
          q = Math.floor((q - t) / (BASE - t));
        }
        output += digitChar(q);
        bias = adapt(delta, handled + 1, handled === basicLength);
        delta = 0;
        handled++;
      }
    }
    delta++;
    n++;
  }
  return output;
}

/**
 * RFC 3492 §6.2: decode punycode (no prefix) back to a string.
 * @throws IdnaError on malformed input.
 * @example
 * ```ts
 * punycodeDecode("bcher-kva"); // "bücher"
 * ```
 */
export function punycodeDecode(input: string): string {
  const output: number[] = [];
  const basicEnd = input.lastIndexOf("-");
  for (let j = 0; j < Math.max(basicEnd, 0); j++) {
    const c = input.charCodeAt(j);
    if (c >= 0x80) throw new IdnaError("non-basic code point before the delimiter");
    output.push(c);
  }
  let n = INITIAL_N;
  let i = 0;
  let bias = INITIAL_BIAS;
  for (let pos = basicEnd > 0 ? basicEnd + 1 : 0; pos < input.length; ) {
    const oldi = i;
    let w = 1;
    for (let k = BASE; ; k += BASE) {
      if (pos >= input.length) throw new IdnaError("truncated punycode");
      const digit = charDigit(input.charCodeAt(pos++));
      if (digit >= BASE) throw new IdnaError("invalid punycode digit");
      i += digit * w;
      if (i > 0x7fffffff) throw new IdnaError("punycode overflow");
      const t = k <= bias ? T_MIN : k >= bias + T_MAX ? T_MAX : k - bias;
      if (digit < t) break;
      w *= BASE - t;
      if (w > 0x7fffffff) throw new IdnaError("punycode overflow");
    }
    const count = output.length + 1;
    bias = adapt(i - oldi, count, oldi === 0);
    n += Math.floor(i / count);
    i %= count;
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) throw new IdnaError("invalid code point in punycode");
    output.splice(i, 0, n);
    i++;
  }
  let out = "";
  for (let j = 0; j < output.length; j += 1024) out += String.fromCodePoint(...output.slice(j, j + 1024));
  return out;
}

// A `:port` suffix is not part of the name (wsproto's codec punycodes it along with the last label).
const PORT = /:[0-9]*$/;
const DOTS = /[.\u3002\uff0e\uff61]/;
// RFC 3454 table B.1: code points nameprep maps to nothing.
const MAPPED_TO_NOTHING = /[\u00ad\u034f\u1806\u180b-\u180d\u200b-\u200d\u2060\ufe00-\ufe0f\ufeff]/g;

const PROHIBITED = /[\p{Cc}\p{Co}\p{Cs}\p{Zs}\p{Zl}\p{Zp}\u200e\u200f\u202a-\u202e\u206a-\u206f\ufff9-\ufffd]/u;

// eslint-disable-next-line no-control-regex
const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s);

function labelToAscii(label: string): string {
  if (isAscii(label)) {
    if (label.length === 0 || label.length > MAX_LABEL) throw new IdnaError("label empty or too long");
    return label;
  }
  const prepped = label.replace(MAPPED_TO_NOTHING, "").normalize("NFKC").toLowerCase().normalize("NFKC");
  // Every code point costs at least one output character, so a longer label cannot fit.
  if (prepped.length === 0 || prepped.length > MAX_LABEL) throw new IdnaError("label empty or too long");
  if (isAscii(prepped)) return prepped;
  // RFC 3491 §5: controls, spaces, private use, surrogates and bidi/format controls are prohibited.
  if (PROHIBITED.test(prepped)) throw new IdnaError("label contains a prohibited character");
  if (prepped.toLowerCase().startsWith(ACE_PREFIX)) throw new IdnaError("label starts with the ACE prefix");
  const encoded = ACE_PREFIX + punycodeEncode(prepped);
  if (encoded.length > MAX_LABEL) throw new IdnaError("label too long");
  return encoded;
}

/**
 * A host (optionally with `:port`) to its ASCII form.
 * @throws IdnaError for an empty or over-long label or a label that cannot be encoded.
 * @example
 * ```ts
 * hostToAscii("bücher.example:8080"); // "xn--bcher-kva.example:8080"
 * ```
 */
export function hostToAscii(host: string): string {
  const port = PORT.exec(host);
  if (port !== null) return hostToAscii(host.slice(0, port.index)) + port[0];
  if (host.length === 0) return host;
  const labels = host.split(DOTS);
  // A single trailing dot (an absolute name) is kept.
  const trailing = labels.length > 1 && labels[labels.length - 1] === "";
  if (trailing) labels.pop();
  const out = labels.map(labelToAscii).join(".");
  return trailing ? out + "." : out;
}

/**
 * An ASCII host back to Unicode: `xn--` labels (any case) are decoded and
 * must round-trip; other labels pass through unchanged.
 * @throws IdnaError for invalid punycode.
 * @example
 * ```ts
 * hostToUnicode("xn--7ks3rz39bh7u"); // "芝士汉堡"
 * ```
 */
export function hostToUnicode(host: string): string {
  if (!host.toLowerCase().includes(ACE_PREFIX)) return host;
  const port = PORT.exec(host);
  if (port !== null) return hostToUnicode(host.slice(0, port.index)) + port[0];
  return host
    .split(".")
    .map((label) => {
      if (!label.toLowerCase().startsWith(ACE_PREFIX)) return label;
      if (label.length > MAX_LABEL) throw new IdnaError("label too long");
      const decoded = punycodeDecode(label.slice(ACE_PREFIX.length));
      // RFC 3490 §4.2 step 7: the label must survive ToASCII unchanged (ignoring case).
      let again: string;
      try {
        again = labelToAscii(decoded);
      } catch {
        throw new IdnaError(`IDNA label ${JSON.stringify(label)} does not round-trip`);
      }
      if (again.toLowerCase() !== label.toLowerCase()) {
        throw new IdnaError(`IDNA label ${JSON.stringify(label)} does not round-trip`);
      }
      return decoded;
    })
    .join(".");
}
