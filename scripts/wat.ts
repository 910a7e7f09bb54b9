/**
 * A tiny WebAssembly text-format assembler: just enough of the language for
 * src/protocol/bytes/mask.wat (one memory, functions with i32/v128 params and
 * locals, folded instructions, block/loop labels, the i32 and SIMD ops that
 * file uses). No wat2wasm is needed to build or check the embedded module:
 * `node --import tsx scripts/mask-wasm.ts` regenerates src/protocol/bytes/mask-wasm.ts
 * from the .wat with it, and test/protocol/bytes/mask.test.ts checks that they match.
 * An unknown instruction or form is an error, never silently skipped.
 */

type Sexp = string | Sexp[];

/** Parse the text into S-expressions (comments `;; ...` and `(; ... ;)` dropped). */
function parse(text: string): Sexp[] {
  const src = text.replace(/\(;[\s\S]*?;\)/g, " ").replace(/;;[^\n]*/g, " ");
  const tokens = src.match(/"(?:[^"\\]|\\.)*"|[()]|[^\s()]+/g) ?? [];
  let i = 0;
  const list = (): Sexp[] => {
    const out: Sexp[] = [];
    while (i < tokens.length) {
      const tok = tokens[i++]!;
      if (tok === "(") out.push(list());
      else if (tok === ")") return out;
      else out.push(tok);
    }
    return out;
  };
  return list();
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(JSON.parse(s) as string)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

const VALTYPES: Record<string, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** Plain instructions: opcode bytes (after 0xfd for SIMD). */
const PLAIN: Record<string, number[]> = {
  "i32.eqz": [0x45],
  "i32.eq": [0x46],
  "i32.ne": [0x47],
  "i32.lt_u": [0x49],
  "i32.gt_u": [0x4b],
  "i32.le_u": [0x4d],
  "i32.ge_u": [0x4f],
  "i32.add": [0x6a],
  "i32.sub": [0x6b],
  "i32.and": [0x71],
  "i32.or": [0x72],
  "i32.xor": [0x73],
  "i32.shl": [0x74],
  "i32.shr_u": [0x76],
  "i32.rotl": [0x77],
  "i32.rotr": [0x78],
  "i32x4.splat": [0xfd, 0x11],
  "v128.xor": [0xfd, 0x51],
  return: [0x0f],
  drop: [0x1a],
};

/** Memory instructions: opcode bytes and natural alignment (log2). */
const MEMORY: Record<string, [number[], number]> = {
  "i32.load": [[0x28], 2],
  "i32.load8_u": [[0x2d], 0],
  "i32.store": [[0x36], 2],
  "i32.store8": [[0x3a], 0],
  "v128.load": [[0xfd, 0x00], 4],
  "v128.store": [[0xfd, 0x0b], 4],
};

function fail(message: string): never {
  throw new Error(`wat: ${message}`);
}

function atom(x: Sexp | undefined, what: string): string {
  if (typeof x !== "string") fail(`expected ${what}, got ${JSON.stringify(x)}`);
  return x;
}

/** Assemble the text of one module into its binary encoding. */
export function assemble(text: string): Uint8Array {
  const top = parse(text);
  const mod = top[0];
  if (top.length !== 1 || !Array.isArray(mod) || mod[0] !== "module") fail("expected one (module ...)");
  const types: number[][] = [];
  const funcs: number[] = [];
  const codes: number[][] = [];
  const exports: number[][] = [];
  let memory: number[] | null = null;

  for (const field of mod.slice(1)) {
    if (!Array.isArray(field)) fail(`unexpected ${field}`);
    const kind = field[0];
    let rest = field.slice(1);
    const exportName = (): string | null => {
      const e = rest[0];
      if (Array.isArray(e) && e[0] === "export") {
        rest = rest.slice(1);
        return atom(e[1], "an export name");
      }
      return null;
    };
    if (kind === "memory") {
      const ex = exportName();
      if (ex !== null) exports.push([...name(ex), 0x02, 0]);
      const min = Number(atom(rest[0], "a page count"));
      memory = rest.length > 1 ? [0x01, ...uleb(min), ...uleb(Number(atom(rest[1], "a max")))] : [0x00, ...uleb(min)];
    } else if (kind === "func") {
      if (typeof rest[0] === "string" && rest[0].startsWith("$")) rest = rest.slice(1);
      const ex = exportName();
      const index = funcs.length;
      if (ex !== null) exports.push([...name(ex), 0x00, index]);
      const locals = new Map<string, number>();
      const params: number[] = [];
      const results: number[] = [];
      const localTypes: number[] = [];
      let body: Sexp[] = [];
      for (let i = 0; i < rest.length; i++) {
        const item = rest[i]!;
        if (Array.isArray(item) && (item[0] === "param" || item[0] === "local")) {
          const list = item[0] === "param" ? params : localTypes;
          const parts = item.slice(1).map((p) => atom(p, "a type"));
          if (parts[0]?.startsWith("$")) {
            locals.set(parts[0], params.length + localTypes.length);
            list.push(VALTYPES[parts[1]!] ?? fail(`type ${parts[1]}`));
          } else {
            for (const p of parts) list.push(VALTYPES[p] ?? fail(`type ${p}`));
          }
        } else if (Array.isArray(item) && item[0] === "result") {
          for (const p of item.slice(1)) results.push(VALTYPES[atom(p, "a type")] ?? fail(`type ${p}`));
        } else {
          body = rest.slice(i);
          break;
        }
      }
      const sig = [0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))];
      let typeIndex = types.findIndex((t) => t.join() === sig.join());
      if (typeIndex < 0) typeIndex = types.push(sig) - 1;
      funcs.push(typeIndex);
      const out: number[] = [];
      const labels: Array<string | null> = [];
      const localIndex = (x: Sexp | undefined): number => {
        const s = atom(x, "a local");
        if (s.startsWith("$")) return locals.get(s) ?? fail(`unknown local ${s}`);
        return Number(s);
      };
      const depth = (x: Sexp | undefined): number => {
        const s = atom(x, "a label");
        if (!s.startsWith("$")) return Number(s);
        const at = labels.lastIndexOf(s);
        if (at < 0) fail(`unknown label ${s}`);
        return labels.length - 1 - at;
      };
      const instr = (e: Sexp): void => {
        if (!Array.isArray(e)) fail(`only folded instructions are supported, got ${e}`);
        const op = atom(e[0], "an instruction");
        let args = e.slice(1);
        if (op === "block" || op === "loop") {
          let label: string | null = null;
          if (typeof args[0] === "string" && args[0].startsWith("$")) {
            label = args[0];
            args = args.slice(1);
          }
          out.push(op === "block" ? 0x02 : 0x03, 0x40);
          labels.push(label);
          for (const a of args) instr(a);
          labels.pop();
          out.push(0x0b);
          return;
        }
        const immediates: string[] = [];
        while (typeof args[0] === "string") immediates.push(args.shift() as string);
        for (const a of args) instr(a);
        if (op === "local.get" || op === "local.set" || op === "local.tee") {
          out.push(op === "local.get" ? 0x20 : op === "local.set" ? 0x21 : 0x22, ...uleb(localIndex(immediates[0])));
        } else if (op === "br" || op === "br_if") {
          out.push(op === "br" ? 0x0c : 0x0d, ...uleb(depth(immediates[0])));
        } else if (op === "i32.const") {
          out.push(0x41, ...sleb(Number(atom(immediates[0], "a constant")) | 0));
        } else if (op in MEMORY) {
          const [code, align] = MEMORY[op]!;
          let offset = 0;
          let a = align;
          for (const imm of immediates) {
            if (imm.startsWith("offset=")) offset = Number(imm.slice(7));
            else if (imm.startsWith("align=")) a = Math.log2(Number(imm.slice(6)));
            else fail(`immediate ${imm}`);
          }
          out.push(...code, ...uleb(a), ...uleb(offset));
        } else if (op in PLAIN) {
          if (immediates.length !== 0) fail(`${op} takes no immediates`);
          out.push(...PLAIN[op]!);
        } else {
          fail(`unsupported instruction ${op}`);
        }
      };
      for (const e of body) instr(e);
      out.push(0x0b);
      // Locals: one entry per run of the same type.
      const runs: number[][] = [];
      for (const t of localTypes) {
        const last = runs[runs.length - 1];
        if (last && last[1] === t) last[0]!++;
        else runs.push([1, t]);
      }
      const fn = [...vec(runs.map(([n, t]) => [...uleb(n!), t!])), ...out];
      codes.push([...uleb(fn.length), ...fn]);
    } else {
      fail(`unsupported module field ${String(kind)}`);
    }
  }
  const bytes = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  bytes.push(...section(1, vec(types)));
  bytes.push(...section(3, vec(funcs.map((f) => uleb(f)))));
  if (memory !== null) bytes.push(...section(5, vec([memory])));
  bytes.push(...section(7, vec(exports)));
  bytes.push(...section(10, vec(codes)));
  return Uint8Array.from(bytes);
}
