/**
 * RFC 6856: the UTF8 and LANG commands.
 *
 * @module
 */

import { Pop3Error } from "../errors.ts";
import type { Command } from "../protocol/command.ts";
import { ok } from "../protocol/reply.ts";
import type { SessionContext } from "./context.ts";

/** The languages replies are written in: tag and name (RFC 6856 §3). */
export const LANGUAGES: readonly (readonly [tag: string, name: string])[] = [
  ["en", "English"],
];

/**
 * UTF8 (RFC 6856 §2): enables UTF-8 in the AUTHORIZATION state. Classic
 * Outlook sends it after login too and gives up the download on `-ERR`, so
 * there it is answered `+OK` as well (nothing changes: the maildrop is open).
 *
 * @example
 * ```ts ignore
 * utf8(s); // "+OK UTF8 enabled"
 * ```
 */
export function utf8(s: SessionContext): void {
  if (s.state === "auth") s.utf8 = true;
  s.out.send(
    ok(s.state === "auth" ? "UTF8 enabled" : "UTF8 already in effect"),
  );
}

/**
 * Whether a language range (RFC 4647 basic filtering) matches a tag.
 */
function matches(range: string, tag: string): boolean {
  const r = range.toLowerCase();
  return r === "*" || r === tag || tag.startsWith(r + "-");
}

/**
 * LANG (RFC 6856 §3): without an argument lists the languages; with a
 * language range switches to the first language it matches (`*` is the
 * default language).
 *
 * @throws {Pop3Error} For a range that matches no language.
 *
 * @example
 * ```ts ignore
 * lang(s, parseCommand(encode("LANG en"))); // "+OK en English"
 * ```
 */
export function lang(s: SessionContext, cmd: Command): void {
  if (cmd.args.length === 0) {
    const lines = LANGUAGES.map(([tag, name]) => `${tag} ${name}`);
    s.out.send(
      ["+OK Language listing follows", ...lines, ".", ""].join("\r\n"),
    );
    return;
  }
  const range = cmd.args[0];
  const found = LANGUAGES.find(([tag]) => matches(range, tag));
  if (!found) throw new Pop3Error("Unsupported language");
  s.language = found[0];
  s.out.send(ok(`${found[0]} ${found[1]}`));
}
