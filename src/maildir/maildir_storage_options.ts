/**
 * The options of `MaildirStorage`, their defaults and their checks.
 *
 * @module
 */

import type { DovecotUidlOptions } from "./dovecot_uidlist_file.ts";
import { compileDovecotUidlFormat } from "./dovecot_uidl_format.ts";
import type { MaildirFs } from "./maildir_fs.ts";
import type { MaildirUidlSources } from "./maildir_uidl_source.ts";
import { DEFAULT_DELETED_KEYWORD, isKeyword } from "./dovecot_keywords.ts";

/**
 * Options for `MaildirStorage`.
 *
 * @example Keep on server, and leave a missing Maildir empty
 * ```ts
 * import type { MaildirStorageOptions } from "./maildir_storage_options.ts";
 * const options: MaildirStorageOptions = {
 *   root: "/var/mail",
 *   deletedFlag: true,
 *   create: false,
 * };
 * console.assert(options.root === "/var/mail");
 * ```
 */
export interface MaildirStorageOptions {
  /**
   * The directory holding every Maildir. A storage reference is a Maildir
   * path relative to it (`"alice"`), or an absolute path inside it.
   */
  root: string;
  /**
   * Marks a message seen (`:2,S`) once it has been sent whole, like Dovecot.
   * A `TOP` that stops early leaves the flags unchanged.
   *
   * @default {true}
   */
  markSeen?: boolean;
  /**
   * Age in milliseconds after which a lock file that was not refreshed
   * counts as stale. A held lock is refreshed every third of this time. A
   * lock is stale at once only when that is certain: its process instance
   * is this one and no longer holds it, or its process is dead and ran on
   * this boot of this host in this pid namespace (see
   * {@linkcode MaildirFs.hostKey}); a host name and pid alone never are.
   *
   * @default {300000}
   */
  staleLockMs?: number;
  /**
   * Creates a missing Maildir (`cur/`, `new/`, `tmp/`) at login, like
   * Dovecot; otherwise a missing Maildir is an empty maildrop.
   *
   * @default {true}
   */
  create?: boolean;
  /**
   * UIDLs of Maildirs that Dovecot served: when a Maildir has a
   * `dovecot-uidlist` file, its order, UIDLs (`pop3_uidl_format`, `P`
   * overrides, `O` order) and sizes are used, and new mail gets its UID
   * the way Dovecot would assign it (written back under
   * `dovecot-uidlist.lock`), so that clients do not download everything
   * again and Dovecot lists the same UIDLs. `false` ignores the file;
   * an object sets the format and lock timings.
   *
   * @default {true}
   */
  dovecotUidl?: boolean | DovecotUidlOptions;
  /**
   * UIDLs from Courier's `courierpop3dsizelist`, when a Maildir has one
   * (after Dovecot's, if both exist). Mail Courier did not list follows,
   * with this storage's own UIDLs.
   *
   * @default {false}
   */
  courierUidl?: boolean;
  /**
   * "Keep on server" (Dovecot's `pop3_deleted_flag`): DELE and QUIT do not
   * unlink a message's file but add a keyword's flag letter to its `:2,`
   * flags, and later sessions do not list files that carry it. The letter
   * (`a` + index) is the keyword's in the Maildir's `dovecot-keywords`
   * file, where the keyword is added if missing, as Dovecot does. `true`
   * uses `$POP3Deleted`; a string names the keyword (an IMAP atom).
   *
   * @default {false}
   */
  deletedFlag?: boolean | string;
  /** File access; the default (over Node's fs API) when omitted. */
  fs?: MaildirFs;
  /**
   * For the default file access (no `fs`): list directories, `lstat`,
   * resolve links, take the lock and read small files with synchronous
   * calls. On a local disk each takes microseconds, against 70 to 500 µs
   * for a call that goes through the runtime's thread pool, so a login
   * costs far less; but while one runs every session of the process
   * waits. On a network file system (NFS) or a slow disk set `false`, so
   * that one slow call delays only its own session. Large messages are
   * streamed asynchronously either way.
   *
   * @default {true}
   */
  syncMetadata?: boolean;
  /**
   * Receives errors that do not fail the client's command (for example a
   * failed `:2,S` rename). No message content or password is passed.
   */
  onError?: (error: unknown) => void;
}

/**
 * {@linkcode MaildirStorageOptions} checked, with their defaults filled in.
 */
export interface MaildirStorageSettings {
  /** The root as given. */
  root: string;
  /** See {@linkcode MaildirStorageOptions.markSeen}. */
  markSeen: boolean;
  /** See {@linkcode MaildirStorageOptions.staleLockMs}. */
  staleLockMs: number;
  /** See {@linkcode MaildirStorageOptions.create}. */
  create: boolean;
  /** See {@linkcode MaildirStorageOptions.fs}. */
  fs: MaildirFs | undefined;
  /** See {@linkcode MaildirStorageOptions.syncMetadata}. */
  syncMetadata: boolean;
  /** Where UIDLs come from: `dovecotUidl` and `courierUidl`. */
  uidlSources: MaildirUidlSources;
  /** The keyword of `deletedFlag`, or `undefined` when DELE unlinks. */
  deletedKeyword: string | undefined;
  /** See {@linkcode MaildirStorageOptions.onError}; never missing. */
  onError: (error: unknown) => void;
}

/**
 * Checks the options of a `MaildirStorage` and fills in the defaults.
 *
 * @param options The options as the caller gave them.
 * @returns The settings the storage runs with.
 * @throws {TypeError} When `root` is missing or empty.
 * @throws {RangeError} When `staleLockMs` is not a positive number, or
 *   `dovecotUidl.format` is not a format Dovecot accepts.
 * @throws {TypeError} When `dovecotUidl`, `courierUidl`, `deletedFlag` or
 *   `syncMetadata` has the wrong type.
 * @throws {RangeError} When `deletedFlag` is not an IMAP keyword.
 *
 * @example
 * ```ts
 * import { maildirStorageSettings } from "./maildir_storage_options.ts";
 * const settings = maildirStorageSettings({ root: "/var/mail", deletedFlag: true });
 * console.assert(settings.deletedKeyword === "$POP3Deleted");
 * console.assert(settings.staleLockMs === 300_000);
 * ```
 */
export function maildirStorageSettings(
  options: MaildirStorageOptions,
): MaildirStorageSettings {
  if (typeof options?.root !== "string" || options.root === "") {
    throw new TypeError("Cannot create MaildirStorage: root is required");
  }
  const stale = options.staleLockMs ?? 300_000;
  if (!(stale > 0) || !Number.isFinite(stale)) {
    throw new RangeError(
      `Cannot create MaildirStorage: staleLockMs must be a positive number, got ${stale}`,
    );
  }
  const syncMetadata = options.syncMetadata ?? true;
  if (typeof syncMetadata !== "boolean") {
    throw new TypeError(
      "Cannot create MaildirStorage: syncMetadata must be a boolean",
    );
  }
  return {
    root: options.root,
    markSeen: options.markSeen ?? true,
    staleLockMs: stale,
    create: options.create ?? true,
    fs: options.fs,
    syncMetadata,
    onError: options.onError ?? (() => {}),
    uidlSources: uidlSources(options),
    deletedKeyword: deletedKeyword(options.deletedFlag),
  };
}

function uidlSources(options: MaildirStorageOptions): MaildirUidlSources {
  const dovecot = options.dovecotUidl ?? true;
  const courier = options.courierUidl ?? false;
  if (
    typeof dovecot !== "boolean" &&
    (dovecot === null || typeof dovecot !== "object")
  ) {
    throw new TypeError(
      "Cannot create MaildirStorage: dovecotUidl must be a boolean or an object",
    );
  }
  if (typeof courier !== "boolean") {
    throw new TypeError(
      "Cannot create MaildirStorage: courierUidl must be a boolean",
    );
  }
  if (typeof dovecot === "object" && dovecot.format !== undefined) {
    compileDovecotUidlFormat(dovecot.format);
  }
  return {
    dovecot: dovecot === false ? false : dovecot === true ? {} : dovecot,
    courier,
  };
}

function deletedKeyword(value: unknown): string | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return DEFAULT_DELETED_KEYWORD;
  if (typeof value !== "string") {
    throw new TypeError(
      "Cannot create MaildirStorage: deletedFlag must be a boolean or a keyword",
    );
  }
  if (!isKeyword(value)) {
    throw new RangeError(
      `Cannot create MaildirStorage: deletedFlag must be an IMAP keyword, got "${
        value.slice(0, 40)
      }"`,
    );
  }
  return value;
}
