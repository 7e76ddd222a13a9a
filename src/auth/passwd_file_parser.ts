/**
 * The Dovecot `passwd-file` format
 * (`user:{SCHEME}hash:uid:gid:gecos:home:shell:extra`): lines to entries,
 * with the Maildir path of each user confined to the mail root.
 *
 * @module
 */

import { passwordScheme } from "./password_scheme.ts";
import { resolveInside } from "../_util/path.ts";

/** One parsed line of a passwd-file. */
export interface PasswdEntry {
  /** The user name (first field). */
  user: string;
  /** The password field, `{SCHEME}data` or a bare crypt string. */
  password: string;
  /** The scheme of {@linkcode PasswdEntry.password}, upper case. */
  scheme: string;
  /** The Maildir path relative to the mail root. */
  mailbox: string;
  /** The home directory field (may be empty). */
  home: string;
  /** The extra fields (`key=value`, space separated), by key. */
  extra: ReadonlyMap<string, string>;
  /** The 1-based line number. */
  line: number;
}

/**
 * Parses the text of a passwd-file. Unusable lines go to `onWarning` and
 * are skipped; the first line of a duplicated user wins.
 *
 * @param text The file's content.
 * @param mailRoot The Maildir root that every mailbox must lie inside.
 * @param onWarning Receives a message and the 1-based line number.
 * @returns The usable entries by user name.
 *
 * @example
 * ```ts
 * import { parsePasswdFile } from "@x/pop3d/maildir";
 * const users = parsePasswdFile("bob:{PLAIN}pw\nbad line\n", "/var/mail", () => {});
 * console.assert(users.get("bob")?.mailbox === "bob" && users.size === 1);
 * ```
 */
export function parsePasswdFile(
  text: string,
  mailRoot: string,
  onWarning: (message: string, line: number) => void,
): Map<string, PasswdEntry> {
  const users = new Map<string, PasswdEntry>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const content = lines[i].replace(/\r$/, "");
    if (content.trim() === "" || content.trimStart().startsWith("#")) continue;
    const result = parseLine(content, line, mailRoot);
    if (typeof result === "string") {
      onWarning(`Skipping passwd-file line ${line}: ${result}`, line);
    } else if (users.has(result.user)) {
      onWarning(
        `Skipping passwd-file line ${line}: user "${result.user}" appears on line ${
          users.get(result.user)?.line
        } already`,
        line,
      );
    } else {
      users.set(result.user, result);
    }
  }
  return users;
}

function parseLine(
  content: string,
  line: number,
  mailRoot: string,
): PasswdEntry | string {
  const fields = content.split(":");
  // A crypt or PBKDF2 hash contains no ":", but a {PLAIN} password may:
  // Dovecot splits on ":" as well, so such passwords cannot be stored.
  if (fields.length < 2) return "expected at least user:password";
  const [user, password] = fields;
  const home = fields[5] ?? "";
  const extraText = fields.slice(7).join(":");
  if (user === "") return "the user name is empty";
  if (!/^[^\s/\\\0]+$/.test(user) || user === "." || user === "..") {
    return "the user name contains a space, slash or backslash";
  }
  if (password === "") return `user "${user}" has an empty password`;
  const scheme = passwordScheme(password);
  if (scheme === undefined) {
    const name = /^\{([^}]*)\}/.exec(password)?.[1] ?? "CRYPT";
    return `user "${user}" has an unsupported password scheme "${name}"`;
  }
  const extra = new Map<string, string>();
  for (const field of extraText.split(/\s+/)) {
    if (field === "") continue;
    const eq = field.indexOf("=");
    extra.set(
      eq === -1 ? field : field.slice(0, eq),
      eq === -1 ? "" : field.slice(eq + 1),
    );
  }
  let mailbox = user;
  const mail = extra.get("userdb_mail") ?? extra.get("mail");
  if (mail !== undefined && mail !== "") {
    const location = mailLocation(mail, user, home);
    if (typeof location !== "string") {
      return `user "${user}": ${location.error}`;
    }
    mailbox = location;
  }
  const path = resolveInside(mailRoot, mailbox);
  if (path === undefined) {
    return `the mailbox of user "${user}" lies outside the mail root`;
  }
  mailbox = path.slice(
    mailRoot === "." ? 0 : mailRoot.length + (mailRoot === "/" ? 0 : 1),
  );
  return { user, password, scheme, mailbox, home, extra, line };
}

/** Expands `maildir:PATH[:OPTIONS]` with `~`, `%u`, `%n`, `%d`. */
function mailLocation(
  mail: string,
  user: string,
  home: string,
): string | { error: string } {
  const match = /^maildir:([^:]+)/i.exec(mail);
  if (match === null) {
    return { error: "only maildir: mail locations are supported" };
  }
  const at = user.indexOf("@");
  const vars: Record<string, string> = {
    u: user,
    user,
    n: at === -1 ? user : user.slice(0, at),
    username: at === -1 ? user : user.slice(0, at),
    d: at === -1 ? "" : user.slice(at + 1),
    domain: at === -1 ? "" : user.slice(at + 1),
    h: home,
    home,
    "%": "%",
  };
  let bad = false;
  let path = match[1].replace(/%(?:\{(\w+)\}|(.))/g, (_, long, short) => {
    const value = vars[long ?? short];
    if (value === undefined) bad = true;
    return value ?? "";
  });
  if (bad) return { error: "the mail location uses an unknown %variable" };
  if (path === "~" || path.startsWith("~/")) {
    if (home === "") {
      return { error: "the mail location uses ~ without a home" };
    }
    path = home + path.slice(1);
  }
  return path;
}
