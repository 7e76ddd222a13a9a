/**
 * Parses a POP3 command line.
 *
 * @module
 */

import { Pop3SyntaxError } from "../errors.ts";

/**
 * Every command keyword the server knows. The session's command table
 * (`src/session/commands.ts`) has exactly one row per name; the compiler
 * checks that they match.
 */
export const COMMAND_NAMES = [
  "USER",
  "PASS",
  "APOP",
  "AUTH",
  "STLS",
  "CAPA",
  "QUIT",
  "STAT",
  "LIST",
  "RETR",
  "DELE",
  "NOOP",
  "RSET",
  "TOP",
  "UIDL",
  "UTF8",
  "LANG",
] as const;

/** A command keyword the server knows. */
export type CommandName = typeof COMMAND_NAMES[number];

const NAMES: ReadonlySet<string> = new Set<string>(COMMAND_NAMES);

/** One parsed command line. */
export interface Command {
  /** The keyword, upper-cased; `undefined` for a keyword the server does not know. */
  name: CommandName | undefined;
  /** The keyword as sent, upper-cased (for messages and events). */
  verb: string;
  /** Space-separated arguments. */
  args: string[];
  /** Everything after the keyword and one space, verbatim (PASS may hold spaces). */
  rest: string;
}

const decoder = new TextDecoder();
/** ASCII lines up to this long are turned into text without the decoder. */
const ASCII_MAX = 1024;

/**
 * Parses one command line (without its line end).
 *
 * @throws {Pop3SyntaxError} On an empty line, NUL or other control bytes.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./command.ts";
 * const cmd = parseCommand(new TextEncoder().encode("pass my secret"));
 * console.assert(cmd.name === "PASS" && cmd.rest === "my secret");
 * ```
 */
export function parseCommand(line: Uint8Array): Command {
  if (line.length === 0) throw new Pop3SyntaxError("Empty command line");
  let ascii = true;
  for (let i = 0; i < line.length; i++) {
    const b = line[i];
    if (b < 0x20 && b !== 0x09 || b === 0x7f) {
      throw new Pop3SyntaxError("Invalid characters in command line");
    }
    if (b > 0x7f) ascii = false;
  }
  // ASCII, nearly every line: no TextDecoder call (its fixed cost, ~2 µs on
  // Node, was most of the parse).
  const text = ascii && line.length <= ASCII_MAX
    ? String.fromCharCode.apply(null, line as unknown as number[])
    : decoder.decode(line);
  const space = text.indexOf(" ");
  const verb = (space === -1 ? text : text.slice(0, space)).toUpperCase();
  const rest = space === -1 ? "" : text.slice(space + 1);
  const args = rest.split(" ").filter((a) => a !== "");
  const name = NAMES.has(verb) ? verb as CommandName : undefined;
  return { name, verb, args, rest };
}

const DIGITS = /^[0-9]{1,15}$/;

/**
 * Parses a non-negative decimal argument.
 *
 * @throws {Pop3SyntaxError} When the argument is missing or not all digits.
 *
 * @example
 * ```ts
 * import { parseNumber } from "./command.ts";
 * console.assert(parseNumber("42", "message number") === 42);
 * ```
 */
export function parseNumber(arg: string | undefined, what: string): number {
  if (arg === undefined) throw new Pop3SyntaxError(`Missing ${what}`);
  if (!DIGITS.test(arg)) {
    throw new Pop3SyntaxError(`Invalid ${what}: "${arg.slice(0, 20)}"`);
  }
  return Number(arg);
}
