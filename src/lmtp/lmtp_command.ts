/**
 * LMTP commands (RFC 2033, with RFC 5321's syntax): the command table and
 * the parser of one command line.
 *
 * @module
 */

/** The commands an LMTP server implements. */
export type LmtpCommandName =
  | "LHLO"
  | "MAIL"
  | "RCPT"
  | "DATA"
  | "RSET"
  | "NOOP"
  | "QUIT";

/**
 * Where an LMTP session stands: before `LHLO`, between transactions, after
 * `MAIL`, after at least one accepted `RCPT`, or closed.
 */
export type LmtpState = "start" | "ready" | "mail" | "rcpt" | "closed";

/** One row of the command table. */
export interface LmtpCommandSpec {
  /** The verb. */
  readonly name: LmtpCommandName;
  /** The states that accept it; elsewhere it gets `503 5.5.1`. */
  readonly states: readonly LmtpState[];
  /** Whether it takes an argument: `"none"` refuses one with `501 5.5.4`. */
  readonly argument: "none" | "required" | "optional";
}

const ANY: readonly LmtpState[] = ["start", "ready", "mail", "rcpt"];

/**
 * The command table: which commands exist, where they are valid and what
 * they take. Dispatch and state gating read it.
 *
 * @example
 * ```ts
 * import { LMTP_COMMANDS } from "./lmtp_command.ts";
 * console.assert(LMTP_COMMANDS.DATA.states.includes("rcpt"));
 * ```
 */
export const LMTP_COMMANDS: Readonly<Record<LmtpCommandName, LmtpCommandSpec>> =
  Object.freeze({
    LHLO: { name: "LHLO", states: ANY, argument: "required" },
    MAIL: { name: "MAIL", states: ["ready"], argument: "required" },
    RCPT: { name: "RCPT", states: ["mail", "rcpt"], argument: "required" },
    DATA: { name: "DATA", states: ["rcpt"], argument: "none" },
    RSET: { name: "RSET", states: ANY, argument: "none" },
    NOOP: { name: "NOOP", states: ANY, argument: "optional" },
    QUIT: { name: "QUIT", states: ANY, argument: "none" },
  });

/**
 * SMTP verbs that exist but that this server does not implement: they get
 * `502 5.5.1` rather than `500 5.5.1`.
 */
const KNOWN_UNIMPLEMENTED = new Set([
  "HELO",
  "EHLO",
  "VRFY",
  "EXPN",
  "HELP",
  "TURN",
  "ETRN",
  "BDAT",
  "AUTH",
  "STARTTLS",
  "SEND",
  "SAML",
  "SOML",
]);

/** A parsed command line: a verb from the table and its argument text. */
export interface LmtpCommand {
  /** The verb, upper case. */
  readonly name: LmtpCommandName;
  /** Everything after the verb and one space; `""` when none. */
  readonly argument: string;
}

/** A line that is no command of the table. */
export interface LmtpUnknownCommand {
  /** `"unknown"` or `"unimplemented"` (an SMTP verb LMTP here lacks). */
  readonly name: "unknown" | "unimplemented";
  /** The verb as sent, upper case, at most 16 characters, for logs. */
  readonly verb: string;
}

/**
 * Splits a command line (without CRLF) into its verb and argument.
 *
 * @param line The line as text (Latin-1 decoded, so bytes survive).
 * @returns The command, or what kind of unknown verb it is.
 *
 * @example
 * ```ts
 * import { parseLmtpCommand } from "./lmtp_command.ts";
 * const cmd = parseLmtpCommand("rcpt TO:<alice@example.org>");
 * console.assert(cmd.name === "RCPT");
 * console.assert("argument" in cmd && cmd.argument === "TO:<alice@example.org>");
 * ```
 */
export function parseLmtpCommand(
  line: string,
): LmtpCommand | LmtpUnknownCommand {
  const space = line.indexOf(" ");
  const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
  const argument = space === -1 ? "" : line.slice(space + 1);
  if (Object.hasOwn(LMTP_COMMANDS, verb)) {
    return { name: verb as LmtpCommandName, argument };
  }
  const shown = verb.replace(/[^\x21-\x7e]/g, "?").slice(0, 16);
  return {
    name: KNOWN_UNIMPLEMENTED.has(verb) ? "unimplemented" : "unknown",
    verb: shown,
  };
}

/** A parsed `MAIL FROM:` or `RCPT TO:` argument. */
export interface LmtpPath {
  /** The address without angle brackets and source route; `""` for `<>`. */
  readonly address: string;
  /** ESMTP parameters, keys upper case; a keyword without `=` maps to `""`. */
  readonly params: ReadonlyMap<string, string>;
}

/**
 * Parses the argument of `MAIL` (`FROM:<path> params`) or `RCPT`
 * (`TO:<path> params`). A space after the colon is tolerated.
 *
 * @param keyword `"FROM"` or `"TO"`.
 * @param argument The argument text of the command.
 * @returns The path and its parameters, or `undefined` for bad syntax.
 *
 * @example
 * ```ts
 * import { parsePath } from "./lmtp_command.ts";
 * const path = parsePath("FROM", "FROM:<a@b.example> SIZE=100 BODY=8BITMIME");
 * console.assert(path?.address === "a@b.example");
 * console.assert(path?.params.get("SIZE") === "100");
 * ```
 */
export function parsePath(
  keyword: "FROM" | "TO",
  argument: string,
): LmtpPath | undefined {
  const prefix = `${keyword}:`;
  if (argument.slice(0, prefix.length).toUpperCase() !== prefix) {
    return undefined;
  }
  let rest = argument.slice(prefix.length);
  if (rest.startsWith(" ")) rest = rest.slice(1);
  if (!rest.startsWith("<")) return undefined;
  // Find the closing ">" outside a quoted local part.
  let quoted = false;
  let close = -1;
  for (let i = 1; i < rest.length; i++) {
    const c = rest[i];
    if (quoted && c === "\\") i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === ">") {
      close = i;
      break;
    }
  }
  if (close === -1) return undefined;
  let address = rest.slice(1, close);
  // A source route (`@a,@b:user@host`, RFC 5321 §4.1.2) is ignored.
  if (address.startsWith("@")) {
    const colon = address.indexOf(":");
    if (colon === -1) return undefined;
    address = address.slice(colon + 1);
  }
  if (hasControlOrSpace(address.replace(/"(?:[^"\\]|\\.)*"/g, ""))) {
    return undefined;
  }
  const params = new Map<string, string>();
  const tail = rest.slice(close + 1);
  if (tail !== "" && !tail.startsWith(" ")) return undefined;
  for (const word of tail.split(" ")) {
    if (word === "") continue;
    const eq = word.indexOf("=");
    const key = (eq === -1 ? word : word.slice(0, eq)).toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(key)) return undefined;
    params.set(key, eq === -1 ? "" : word.slice(eq + 1));
  }
  return { address, params };
}

/**
 * The local part of an address: everything before the last `@`, with the
 * quotes of a quoted local part removed; the whole text when it has no `@`
 * (`postmaster`).
 *
 * @param address An address as {@linkcode parsePath} returns it.
 * @returns The local part.
 *
 * @example
 * ```ts
 * import { localPart } from "./lmtp_command.ts";
 * console.assert(localPart("alice@example.org") === "alice");
 * console.assert(localPart('"a b"@example.org') === "a b");
 * ```
 */
export function localPart(address: string): string {
  const at = address.lastIndexOf("@");
  const local = at === -1 ? address : address.slice(0, at);
  if (local.length >= 2 && local.startsWith('"') && local.endsWith('"')) {
    return local.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  return local;
}

function hasControlOrSpace(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * The `503` text for a command sent in a state that does not allow it.
 *
 * @example
 * ```ts
 * import { outOfOrder } from "./lmtp_command.ts";
 * console.assert(outOfOrder("RCPT", "ready") === "Send MAIL first");
 * ```
 */
export function outOfOrder(name: LmtpCommandName, state: LmtpState): string {
  if (state === "start") return "Send LHLO first";
  switch (name) {
    case "MAIL":
      return "Nested MAIL command";
    case "RCPT":
      return "Send MAIL first";
    case "DATA":
      return state === "mail" ? "No valid recipients" : "Send MAIL first";
    default:
      return "Bad sequence of commands";
  }
}

/**
 * Checks the parameters of `MAIL FROM:` (`SIZE=` and `BODY=` only):
 * `undefined` when they are fine, `"too-big"` when the announced size
 * exceeds `maxMessageSize`, or the code and text of a syntax error.
 *
 * @example
 * ```ts
 * import { mailParamProblem } from "./lmtp_command.ts";
 * console.assert(mailParamProblem(new Map([["SIZE", "10"]]), 100) === undefined);
 * console.assert(mailParamProblem(new Map([["SIZE", "999"]]), 100) === "too-big");
 * ```
 */
export function mailParamProblem(
  params: ReadonlyMap<string, string>,
  maxMessageSize: number,
): "too-big" | [code: number, text: string] | undefined {
  for (const [key, value] of params) {
    if (key === "SIZE") {
      if (!/^\d{1,20}$/.test(value)) return [501, "Bad SIZE parameter"];
      if (Number(value) > maxMessageSize) return "too-big";
    } else if (key === "BODY") {
      const body = value.toUpperCase();
      if (body !== "7BIT" && body !== "8BITMIME") {
        return [501, "Unsupported BODY type"];
      }
    } else {
      return [555, `Unsupported parameter ${key}`];
    }
  }
  return undefined;
}
