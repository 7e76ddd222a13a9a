/**
 * The subcommands that manage users: `user add`, `user del` and `pw`.
 * Passwords come from standard input (or `POP3D_PASSWORD`), never from the
 * command line, where other users could read them.
 *
 * @module
 */

import { hashPassword, type HashScheme } from "../auth/password_scheme.ts";
import { PostgresAuth } from "../postgres/postgres_auth.ts";
import { createSchema } from "../postgres/schema.ts";
import type { Config } from "./config.ts";
import type { Host } from "./host.ts";
import { openPostgres } from "./postgres_driver.ts";
import { ConfigError } from "./settings.ts";

async function readPassword(host: Host): Promise<string> {
  const password = host.env("POP3D_PASSWORD") ?? await host.readLine();
  if (password === "") {
    throw new ConfigError(
      "Refusing an empty password (give it on standard input)",
    );
  }
  return password;
}

function checkName(name: string | undefined): string {
  if (name === undefined) throw new ConfigError("Missing the user NAME");
  if (!/^[^\s:/\\\0]+$/.test(name) || name === "." || name === "..") {
    throw new ConfigError(`Invalid user name ${JSON.stringify(name)}`);
  }
  return name;
}

function hashOptions(config: Config) {
  return {
    scheme: config.scheme as HashScheme,
    rounds: config.rounds as number | undefined,
  };
}

/**
 * `pop3d pw`: prints the hash of the password read from standard input,
 * like `doveadm pw`.
 *
 * @example
 * ```ts ignore
 * await pw(nodeHost(), config); // prints {SHA512-CRYPT}$6$...
 * ```
 */
export async function pw(host: Host, config: Config): Promise<number> {
  const password = await readPassword(host);
  if (config.scheme === "PLAIN" && password.includes(":")) {
    throw new ConfigError(
      'A PLAIN password cannot contain ":" in a passwd-file',
    );
  }
  host.out(`${await hashPassword(password, hashOptions(config))}\n`);
  return 0;
}

function lines(text: string): string[] {
  return text === "" ? [] : text.replace(/\n$/, "").split("\n");
}

/**
 * `pop3d user add NAME` and `pop3d user del NAME`, on the passwd-file
 * (`--passwd`) or in PostgreSQL (`--postgres`).
 *
 * @example
 * ```ts ignore
 * await user(nodeHost(), config, "add", "alice");
 * ```
 */
export async function user(
  host: Host,
  config: Config,
  action: string | undefined,
  name: string | undefined,
): Promise<number> {
  if (action !== "add" && action !== "del") {
    throw new ConfigError("Usage: pop3d user add|del NAME (see --help)");
  }
  const who = checkName(name);
  if (config.postgres !== undefined) {
    const pg = await openPostgres(
      config.postgres as string,
      config["postgres-driver"] as string | undefined,
    );
    try {
      await createSchema(pg.db);
      const auth = new PostgresAuth(pg.db);
      if (action === "add") {
        const password = await readPassword(host);
        await auth.addUser(who, password, { hash: true });
        host.err(`Added ${who} to PostgreSQL\n`);
        return 0;
      }
      if (!await auth.removeUser(who)) {
        host.err(`No user ${JSON.stringify(who)} in PostgreSQL\n`);
        return 1;
      }
      host.err(`Removed ${who} from PostgreSQL (the mail stays)\n`);
      return 0;
    } finally {
      await pg.close();
    }
  }
  const file = config.passwd as string | undefined;
  if (file === undefined) {
    throw new ConfigError("user add/del needs --passwd FILE or --postgres URL");
  }
  let text = "";
  try {
    text = await host.readText(file);
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT" || action === "del") {
      throw new ConfigError(
        `--passwd ${file}: cannot read: ${(error as Error).message}`,
      );
    }
  }
  const all = lines(text);
  const index = all.findIndex((line) => line.split(":")[0] === who);
  if (action === "del") {
    if (index === -1) {
      host.err(`No user ${JSON.stringify(who)} in ${file}\n`);
      return 1;
    }
    all.splice(index, 1);
    await host.writeTextAtomic(file, all.length ? `${all.join("\n")}\n` : "");
    host.err(`Removed ${who} from ${file} (the Maildir stays)\n`);
    return 0;
  }
  const password = await readPassword(host);
  if (config.scheme === "PLAIN" && password.includes(":")) {
    throw new ConfigError(
      'A PLAIN password cannot contain ":" in a passwd-file',
    );
  }
  const hash = await hashPassword(password, hashOptions(config));
  if (index === -1) {
    all.push(`${who}:${hash}::::::`);
  } else {
    // Only the password changes: extra fields (mail=maildir:...) stay.
    const fields = all[index].split(":");
    fields[1] = hash;
    all[index] = fields.join(":");
  }
  await host.writeTextAtomic(file, `${all.join("\n")}\n`);
  host.err(
    `${
      index === -1 ? "Added" : "Updated"
    } ${who} (${config.scheme}) in ${file}\n`,
  );
  return 0;
}
