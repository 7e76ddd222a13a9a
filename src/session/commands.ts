/**
 * The command table: one row per command with the states it is allowed in,
 * the shape of its arguments, how the transcript shows it, the capability
 * it adds to CAPA, and its handler. Dispatch, state gating, argument checks,
 * redaction and CAPA all read this table, so adding a command is one
 * handler and one row (and its name in `COMMAND_NAMES`).
 *
 * @module
 */

import { Pop3SyntaxError } from "../errors.ts";
import type { Command, CommandName } from "../protocol/command.ts";
import { apop, pass, user } from "./authorization.ts";
import {
  canStartTls,
  mechanisms,
  plaintextAllowed,
  sessionCapabilities,
  stls,
} from "./capabilities.ts";
import type { SessionContext } from "./context.ts";
import { lang, utf8 } from "./languages.ts";
import { auth } from "./sasl_exchange.ts";
import type { SessionState } from "./state.ts";
import {
  dele,
  list,
  noop,
  quit,
  retr,
  rset,
  stat,
  top,
  uidl,
} from "./transaction.ts";

/** One row of the command table. */
export interface CommandSpec {
  /** The states the command is allowed in. */
  readonly states: readonly SessionState[];
  /**
   * `[min, max]` space-separated arguments, or `"rest"`: the handler takes
   * the text after the keyword as it is (a password may hold spaces).
   */
  readonly args: readonly [number, number] | "rest";
  /** The transcript line, when the arguments hold secrets. */
  readonly redact?: (cmd: Command) => string;
  /** The CAPA line this command adds in the session's state now, if any. */
  readonly capability?: (s: SessionContext) => string | undefined;
  /** Whether the line may be as long as `maxAuthLineLength` (AUTH). */
  readonly longLine?: boolean;
  /** Runs the command; its state and arguments are already checked. */
  readonly handler: (s: SessionContext, cmd: Command) => void | Promise<void>;
}

const AUTH_STATE = ["auth"] as const;
const TRANS_STATE = ["trans"] as const;
const BOTH = ["auth", "trans"] as const;

const inAuth = (s: SessionContext, line: string | false): string | undefined =>
  s.state === "auth" && line ? line : undefined;

/**
 * The commands, in the order their capabilities appear in CAPA.
 *
 * @example
 * ```ts ignore
 * const spec = COMMANDS.RETR; // { states: ["trans"], args: [1, 1], ... }
 * ```
 */
export const COMMANDS: { readonly [K in CommandName]: CommandSpec } = {
  TOP: {
    states: TRANS_STATE,
    args: [2, 2],
    capability: () => "TOP",
    handler: top,
  },
  UIDL: {
    states: TRANS_STATE,
    args: [0, 1],
    capability: () => "UIDL",
    handler: uidl,
  },
  USER: {
    states: AUTH_STATE,
    args: "rest",
    capability: (s) => inAuth(s, plaintextAllowed(s) && "USER"),
    handler: user,
  },
  AUTH: {
    states: AUTH_STATE,
    args: [0, 2],
    longLine: true,
    redact: (cmd) =>
      cmd.args.length > 1
        ? `AUTH ${cmd.args[0]} <redacted>`
        : `AUTH ${cmd.args[0] ?? ""}`.trim(),
    capability: (s) => {
      const names = s.state === "auth" ? mechanisms(s) : [];
      return names.length > 0 ? `SASL ${names.join(" ")}` : undefined;
    },
    handler: auth,
  },
  STLS: {
    states: AUTH_STATE,
    args: [0, 0],
    capability: (s) => inAuth(s, canStartTls(s) && "STLS"),
    handler: stls,
  },
  // RFC 6856 allows UTF8 only before login; classic Outlook sends it after
  // login too and aborts on -ERR, so it is answered there as well.
  UTF8: { states: BOTH, args: [0, 0], capability: () => "UTF8", handler: utf8 },
  LANG: { states: BOTH, args: [0, 1], capability: () => "LANG", handler: lang },
  PASS: {
    states: AUTH_STATE,
    args: "rest",
    redact: () => "PASS <redacted>",
    handler: pass,
  },
  APOP: {
    states: AUTH_STATE,
    args: [2, 2],
    redact: (cmd) => `APOP ${cmd.args[0] ?? ""} <redacted>`,
    handler: apop,
  },
  CAPA: { states: BOTH, args: [0, 0], handler: capa },
  QUIT: { states: BOTH, args: [0, 0], handler: quit },
  STAT: { states: TRANS_STATE, args: [0, 0], handler: stat },
  LIST: { states: TRANS_STATE, args: [0, 1], handler: list },
  RETR: { states: TRANS_STATE, args: [1, 1], handler: retr },
  DELE: { states: TRANS_STATE, args: [1, 1], handler: dele },
  NOOP: { states: TRANS_STATE, args: [0, 0], handler: noop },
  RSET: { states: TRANS_STATE, args: [0, 0], handler: rset },
};

/**
 * The transcript line of a command, without secrets.
 *
 * @example
 * ```ts ignore
 * transcriptLine(parseCommand(encode("PASS x"))); // "PASS <redacted>"
 * ```
 */
export function transcriptLine(cmd: Command): string {
  if (cmd.name === undefined) return "<unknown command>";
  const redact = COMMANDS[cmd.name].redact;
  if (redact) return redact(cmd);
  return cmd.rest === "" ? cmd.name : `${cmd.name} ${cmd.rest}`;
}

/**
 * Checks the arguments of a command against its row.
 *
 * @throws {Pop3SyntaxError} For too few or too many arguments.
 *
 * @example
 * ```ts ignore
 * checkArgs(COMMANDS.RETR, cmd);
 * ```
 */
export function checkArgs(spec: CommandSpec, cmd: Command): void {
  if (spec.args === "rest") return;
  const [min, max] = spec.args;
  if (cmd.args.length < min) {
    throw new Pop3SyntaxError(`Missing argument for ${cmd.verb}`);
  }
  if (cmd.args.length > max) {
    throw new Pop3SyntaxError(`Too many arguments for ${cmd.verb}`);
  }
}

/** CAPA (RFC 2449): the rows' capabilities, then the session's own. */
function capa(s: SessionContext): void {
  const lines = ["+OK Capability list follows"];
  for (const spec of Object.values(COMMANDS) as CommandSpec[]) {
    const line = spec.capability?.(s);
    if (line) lines.push(line);
  }
  lines.push(...sessionCapabilities(s), ".", "");
  s.out.send(lines.join("\r\n"));
}
