/**
 * Where a command line is parsed, gated and handled: the command table
 * gives the row, and one boundary turns every error into a reply.
 *
 * @module
 */

import { Pop3Error, Pop3SyntaxError } from "../errors.ts";
import { type Command, parseCommand } from "../protocol/command.ts";
import { LINE_TOO_LONG } from "../protocol/line_framer.ts";
import { err } from "../protocol/reply.ts";
import { CallbackTimeoutError } from "./call.ts";
import { checkArgs, COMMANDS, transcriptLine } from "./commands.ts";
import type { SessionContext } from "./context.ts";

/**
 * Runs one command line: parse, transcript, length and state checks from
 * the command table, argument checks, then the row's handler.
 *
 * @example
 * ```ts ignore
 * await runCommand(session, new TextEncoder().encode("STAT"));
 * ```
 */
export async function runCommand(
  s: SessionContext,
  line: Uint8Array | typeof LINE_TOO_LONG,
): Promise<void> {
  const observer = s.observer;
  if (line === LINE_TOO_LONG) {
    observer.transcript(s.id, "C", "<line too long>");
    return bad(s, "Command line too long");
  }
  let cmd: Command;
  try {
    cmd = parseCommand(line);
  } catch (error) {
    observer.transcript(s.id, "C", `<invalid line of ${line.length} octets>`);
    return bad(s, (error as Error).message);
  }
  if (observer.wantsTranscript) {
    observer.transcript(s.id, "C", transcriptLine(cmd));
  }
  const spec = cmd.name === undefined ? undefined : COMMANDS[cmd.name];
  if (line.length + 2 > s.config.maxLineLength && !spec?.longLine) {
    return bad(s, "Command line too long");
  }
  if (spec === undefined) return bad(s, "Unknown command");
  if (!spec.states.includes(s.state)) {
    return bad(s, `${cmd.name} is not valid in this state`);
  }
  const started = observer.wantsCommands ? Date.now() : 0;
  let success = true;
  try {
    checkArgs(spec, cmd);
    await spec.handler(s, cmd);
  } catch (error) {
    success = false;
    s.out.send(toReply(s, error));
    if (error instanceof Pop3SyntaxError) countBad(s);
  }
  if (observer.wantsCommands) {
    s.emit({
      type: "command",
      id: s.id,
      remote: s.remote,
      verb: cmd.verb,
      ok: success,
      durationMs: Date.now() - started,
    });
  }
}

/**
 * The one boundary that turns errors into replies: a `Pop3Error` keeps its
 * text and code, a syntax error is a plain `-ERR`, anything else is
 * reported and never shown to the client.
 *
 * @example
 * ```ts ignore
 * s.out.send(toReply(s, new Pop3Error("Locked", "IN-USE")));
 * ```
 */
export function toReply(s: SessionContext, error: unknown): string {
  if (error instanceof Pop3Error) return err(error.message, error.code);
  // A callback abandoned because the session ended at once: not a fault.
  if (s.signal.aborted && error === s.signal.reason) {
    return err("Session closed", "SYS/TEMP");
  }
  if (error instanceof Pop3SyntaxError) return err(error.message);
  s.report(error);
  if (error instanceof CallbackTimeoutError) {
    return err("Storage did not answer in time", "SYS/TEMP");
  }
  return err("Internal server error", "SYS/TEMP");
}

/** Answers `-ERR message` and counts a bad command. */
function bad(s: SessionContext, message: string): void {
  s.out.send(err(message));
  countBad(s);
}

/** Counts a bad command; closes the session after `maxBadCommands`. */
function countBad(s: SessionContext): void {
  if (++s.badCommands >= s.config.maxBadCommands) {
    s.out.send(err("Too many bad commands, closing connection"));
    s.end("limit");
  }
}
