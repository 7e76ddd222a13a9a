/**
 * Users and mail for the program: Maildirs and a Dovecot passwd-file, or
 * PostgreSQL.
 *
 * @module
 */

import { PasswdFileAuth } from "../auth/passwd_file_auth.ts";
import type { Pop3dAuth } from "../auth/types.ts";
import { MaildirStorage } from "../maildir/maildir_storage.ts";
import { PostgresAuth } from "../postgres/postgres_auth.ts";
import { PostgresStorage } from "../postgres/postgres_storage.ts";
import type { MaildropStore } from "../storage/maildrop_handle.ts";
import type { LmtpDelivery } from "../lmtp/lmtpd.ts";
import { MaildirDeliver } from "../maildir/maildir_deliver.ts";
import type { Config } from "./config.ts";
import type { Host } from "./host.ts";
import type { Log } from "./log.ts";
import { openPostgres } from "./postgres_driver.ts";
import { ConfigError } from "./settings.ts";

/** Auth and storage, and what SIGHUP and shutdown do to them. */
export interface Backend {
  /** The auth callbacks. */
  auth: Pop3dAuth<unknown>;
  /** The storage callbacks. */
  storage: MaildropStore<unknown>;
  /** Where LMTP delivers into the same users' mail. */
  delivery: LmtpDelivery<unknown>;
  /** For the startup line. */
  description: string;
  /** Re-reads the users (the passwd-file). */
  reload(): Promise<void>;
  /** Releases locks and connections. */
  close(): Promise<void>;
}

/**
 * Opens the backend the settings name, checking that it can be used.
 *
 * @throws {ConfigError} When the Maildir root or passwd-file cannot be used.
 * @throws {PostgresDriverError} When PostgreSQL cannot be reached.
 *
 * @example
 * ```ts ignore
 * const backend = await openBackend(config, nodeHost(), log);
 * ```
 */
export async function openBackend(
  config: Config,
  host: Host,
  log: Log,
): Promise<Backend> {
  if (config.postgres !== undefined) {
    const pg = await openPostgres(
      config.postgres as string,
      config["postgres-driver"] as string | undefined,
    );
    const storage = new PostgresStorage(pg.db, {
      onError: (error) => log.line("error", { error: String(error) }),
    });
    return {
      auth: new PostgresAuth(pg.db) as Pop3dAuth<unknown>,
      storage: storage as MaildropStore<unknown>,
      delivery: storage as LmtpDelivery<unknown>,
      description: `PostgreSQL (${pg.driver})`,
      reload: () => Promise.resolve(),
      async close() {
        await storage.close();
        await pg.close();
      },
    };
  }
  const root = config.maildir as string;
  const passwd = config.passwd as string;
  const syncMetadata = config["sync-metadata"] !== false;
  if (await host.isDirectory(root) !== true) {
    throw new ConfigError(`--maildir ${root}: not a directory`);
  }
  const auth = new PasswdFileAuth({
    path: passwd,
    mailRoot: root,
    syncMetadata,
    onWarning: (message, line) =>
      log.line("passwd-warning", { file: passwd, line, message }),
    onError: (error) =>
      log.line("error", { file: passwd, error: String(error) }),
  });
  try {
    await auth.reload();
  } catch (error) {
    throw new ConfigError(
      `--passwd ${passwd}: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
  const storage = new MaildirStorage({
    root,
    syncMetadata,
    onError: (error) => log.line("error", { error: String(error) }),
  });
  return {
    auth: auth as Pop3dAuth<unknown>,
    storage: storage as MaildropStore<unknown>,
    delivery: new MaildirDeliver({ root }) as LmtpDelivery<unknown>,
    description: `Maildirs under ${root}, users of ${passwd}`,
    reload: () => auth.reload(),
    close: () => Promise.resolve(),
  };
}
