/**
 * Adds a user to a Dovecot passwd-file, or sets a user's password, with a
 * hashed password (SHA512-CRYPT unless `--scheme` says otherwise).
 *
 * The password is read from the first line of standard input (or from the
 * `POP3D_PASSWORD` environment variable), never from the command line where
 * other users could see it in the process list.
 *
 * ```sh
 * echo 'secret' | deno run -A examples/adduser.ts /etc/pop3d.passwd alice
 * echo 'secret' | bun examples/adduser.ts --scheme PBKDF2 passwd bob
 * echo 'secret' | node examples/adduser.ts --mail maildir:/var/mail/c passwd carol
 * ```
 *
 * @module
 */

import { readFile, rename, writeFile } from "node:fs/promises";
import process from "node:process";
import { parseArgs } from "node:util";
import { hashPassword, type HashScheme } from "../src/auth/password_scheme.ts";

const SCHEMES: HashScheme[] = [
  "SHA512-CRYPT",
  "SHA256-CRYPT",
  "PBKDF2",
  "SSHA512",
  "SSHA256",
  "PLAIN",
];
const USAGE = `Usage: adduser.ts [--scheme ${
  SCHEMES.join("|")
}] [--rounds N] [--mail maildir:PATH] PASSWD_FILE USER
The password is read from standard input (first line) or POP3D_PASSWORD.`;

async function readPassword(): Promise<string> {
  const fromEnv = process.env.POP3D_PASSWORD;
  if (fromEnv !== undefined) return fromEnv;
  if (process.stdin.isTTY) process.stderr.write("Password: ");
  let text = "";
  for await (const chunk of process.stdin) {
    text += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    if (text.includes("\n")) break;
  }
  return text.split(/\r?\n/)[0];
}

/** Returns the new file text with the user's line added or updated. */
function upsert(
  text: string,
  user: string,
  hash: string,
  mail?: string,
): string {
  const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
  const index = lines.findIndex((line) => line.split(":")[0] === user);
  if (index === -1) {
    const extra = mail === undefined ? "" : `mail=${mail}`;
    lines.push(`${user}:${hash}::::::${extra}`);
  } else {
    if (mail !== undefined) {
      throw new Error("Cannot change mail= of an existing user; edit the file");
    }
    const fields = lines[index].split(":");
    fields[1] = hash;
    // A Dovecot extra field may contain ":" (mail=maildir:...), so only the
    // password is replaced and the rest of the line kept as it was.
    const rest = fields.slice(2).join(":");
    lines[index] = `${user}:${hash}${rest === "" ? "" : `:${rest}`}`;
  }
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      scheme: { type: "string", default: "SHA512-CRYPT" },
      rounds: { type: "string" },
      mail: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || positionals.length !== 2) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const [file, user] = positionals;
  const scheme = values.scheme.toUpperCase() as HashScheme;
  if (!SCHEMES.includes(scheme)) {
    console.error(`Unknown scheme "${values.scheme}"\n${USAGE}`);
    return 2;
  }
  if (!/^[^\s:/\\\0]+$/.test(user) || user === "." || user === "..") {
    console.error(`Invalid user name "${user}"`);
    return 2;
  }
  const password = await readPassword();
  if (password === "") {
    console.error("Refusing an empty password");
    return 2;
  }
  if (scheme === "PLAIN" && password.includes(":")) {
    console.error('A PLAIN password cannot contain ":"');
    return 2;
  }
  const rounds = values.rounds === undefined
    ? undefined
    : Number(values.rounds);
  const hash = await hashPassword(password, { scheme, rounds });
  let text = "";
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw error;
  }
  const updated = upsert(text, user, hash, values.mail);
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, updated, { mode: 0o600, flag: "wx" });
  await rename(temp, file);
  const existed = text.split("\n").some((line) => line.startsWith(`${user}:`));
  console.error(
    `${existed ? "Updated" : "Added"} ${user} (${scheme}) in ${file}`,
  );
  return 0;
}

process.exitCode = await main();
