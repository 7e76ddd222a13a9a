/**
 * The command-line walk the bench scripts share: `--name value` options and
 * `--name` switches, each handled by the script's own table, so that every
 * script keeps its options and its messages and none repeats the loop.
 *
 * @module
 */

/** What a bench script accepts, and what it says when the arguments are wrong. */
export interface OptionTable {
  /** Switches without a value, by key (`quick` for `--quick`). */
  flags?: Record<string, () => void>;
  /**
   * Options with a value, by key (`basePort` for `--base-port`); `arg` is
   * the option as written.
   */
  values: Record<string, (value: string, arg: string) => void>;
  /** The error for the last option when its value is missing. */
  missing(arg: string): Error;
  /** The error for an option the table does not know. */
  unknown(arg: string): Error;
}

/**
 * The key of an option: its name without the leading `--`, dashes followed
 * by a letter turned camelCase; `undefined` when `arg` does not start with
 * `--`.
 *
 * @example
 * ```ts
 * import { optionKey } from "./_options.ts";
 * console.assert(optionKey("--base-port") === "basePort");
 * console.assert(optionKey("7") === undefined);
 * ```
 */
export function optionKey(arg: string): string | undefined {
  if (!arg.startsWith("--")) return undefined;
  return arg.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Walks `argv` in order: a switch runs its function; any other argument
 * takes the next one as its value and hands it to its function in
 * `table.values`.
 *
 * @param argv The arguments, e.g. `Deno.args`.
 * @param table What each option does, and the two errors.
 * @throws {Error} `table.missing(arg)` when the last argument is an option
 *   that wants a value, and `table.unknown(arg)` when an option is not in
 *   the table (tested in that order).
 *
 * @example
 * ```ts
 * import { parseArgs } from "./_options.ts";
 * const o = { rounds: 3, quick: false };
 * parseArgs(["--quick", "--rounds", "2"], {
 *   flags: { quick: () => o.quick = true },
 *   values: { rounds: (value) => o.rounds = Number(value) },
 *   missing: (arg) => new TypeError(`Option "${arg}" needs a value`),
 *   unknown: (arg) => new TypeError(`Unknown option "${arg}"`),
 * });
 * console.assert(o.quick && o.rounds === 2);
 * ```
 */
export function parseArgs(argv: readonly string[], table: OptionTable): void {
  const flags = table.flags ?? {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const key = optionKey(arg);
    if (key !== undefined && Object.hasOwn(flags, key)) {
      flags[key]();
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw table.missing(arg);
    if (key === undefined || !Object.hasOwn(table.values, key)) {
      throw table.unknown(arg);
    }
    table.values[key](value, arg);
  }
}
