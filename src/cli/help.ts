/**
 * `pop3d --help`, written from the settings table.
 *
 * @module
 */

import { SETTINGS } from "./settings.ts";

const USAGE = `Usage:
  pop3d [serve] [--config FILE] [OPTIONS]   run the server (the default)
  pop3d check-config [--config FILE] [OPTIONS]
                                            check the settings and exit
  pop3d user add NAME [--passwd FILE | --postgres URL] [-s SCHEME]
                                            add a user or set its password
                                            (password on standard input)
  pop3d user del NAME [--passwd FILE | --postgres URL]
  pop3d pw [-s SCHEME] [-r ROUNDS]          hash a password from standard
                                            input, like doveadm pw

Settings come from flags, or from --config FILE: one "key = value" per line
with the flag's name as key ("idle-timeout = 10m"), "#" comment lines, and
list keys (hostname) repeated. Flags override the file. Durations take ms,
s, m or h; a bare number is milliseconds. SIGHUP reloads the certificate,
the passwd-file, the limits and the log settings; SIGTERM and SIGINT stop
listening and let open sessions finish within --drain-timeout.
`;

/**
 * The help text.
 *
 * @example
 * ```ts
 * import { helpText } from "./help.ts";
 * console.assert(helpText().includes("--idle-timeout TIME"));
 * ```
 */
export function helpText(): string {
  const out = [USAGE];
  let group = "";
  for (const s of SETTINGS) {
    if (s.group !== group) {
      group = s.group;
      out.push(`\n${group}:`);
    }
    const flag = `${s.short ? `-${s.short}, ` : ""}--${s.key} ${s.arg}`;
    const def = s.default === undefined
      ? ""
      : ` (default: ${
        Array.isArray(s.default) ? s.default.join(", ") : String(s.default)
      }${s.kind === "duration" ? " ms" : ""})`;
    out.push(`  ${flag.padEnd(36)} ${s.help}${def}`);
  }
  return `${out.join("\n")}\n`;
}
