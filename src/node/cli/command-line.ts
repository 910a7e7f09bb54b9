/**
 * What the `wsproto` programs share about their command line: how they name
 * themselves, and reading options with node:util's `parseArgs`, where a
 * mistake prints one line, the usage line and a hint, and exits 2.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** How a command-line program names itself in its messages. */
export interface ProgramNames {
  /** Before each error message: `echo-server`, `wsproto serve`. */
  prefix: string;
  /** In the usage line: `echo-server.ts`, `wsproto serve`. */
  usage: string;
}

/** A usage error: one line saying what is wrong, the usage line, exit 2 (no stack trace). */
export function usageError(names: ProgramNames, usage: string, message: string): never {
  process.stderr.write(`${names.prefix}: ${message}\n${usage}\nTry '${names.usage} --help' for more.\n`);
  process.exit(2);
}

/**
 * `parseArgs` over `args`, or a usage error (node:util's message, less its
 * advice about "--", which does not apply here).
 * @example
 * ```ts
 * const { values } = parseCommandLine(args, names, USAGE, { port: { type: "string" } }, false);
 * ```
 */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig["options"]>, P extends boolean>(
  args: readonly string[],
  names: ProgramNames,
  usage: string,
  options: O,
  allowPositionals: P,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: P }>> {
  try {
    return parseArgs({ args: [...args], options, allowPositionals });
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).split(". To specify")[0]!.replace(/^Option/, "option").replace(/^Unknown/, "unknown");
    return usageError(names, usage, message);
  }
}
