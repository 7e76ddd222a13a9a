/**
 * A {@linkcode MaildropStore} over Maildir folders (`new/`, `cur/`, `tmp/`),
 * as Postfix, Dovecot, Courier, procmail and fetchmail write them.
 *
 * @module
 */

import type {
  MaildropHandle,
  MaildropStore,
  OpenMaildropContext,
} from "../storage/maildrop_handle.ts";
import { lazyMaildirFs, type MaildirFs } from "./maildir_fs.ts";
import { MAILDIR_LOCK_NAME, MaildirLock } from "./maildir_lock.ts";
import { MaildirMaildrop } from "./maildir_maildrop.ts";
import { forgetSize, MaildirCaches } from "./maildir_caches.ts";
import { MaildirRoot } from "./maildir_root.ts";
import { MaildirSnapshot } from "./maildir_snapshot.ts";
import { scanMaildir } from "./maildir_scan.ts";
import type { MaildirUidlSources } from "./maildir_uidl_source.ts";
import { findKeywordLetter } from "./dovecot_keywords.ts";
import {
  type MaildirStorageOptions,
  maildirStorageSettings,
} from "./maildir_storage_options.ts";

export { MAILDIR_LOCK_NAME };

// Maildirs locked by sessions of this process, by real directory path, so
// that "alice", "./alice" and a link to it are one lock.
const LOCKED = new Set<string>();

/**
 * Serves Maildir folders: one Maildir per storage reference, confined to
 * `root`. {@linkcode MaildirStorage.openMaildrop} takes a lock file that
 * other processes respect, moves `new/` mail to `cur/` and takes a
 * snapshot, so message numbers stay fixed for the session; mail delivered
 * later appears in the next session. UIDLs are the unique part of the file
 * names, so they survive restarts, `new/`→`cur/` moves and flag changes.
 * Sizes come from `,W=` when present, otherwise they are counted once (bare
 * LF as CRLF) and cached by the name up to `:` (message files never change).
 * A later login whose `cur/` is unchanged reuses the last listing. Messages
 * of at most 64 KiB are read whole, larger ones streamed from their files; a
 * delete unlinks them.
 *
 * A Maildir whose `cur/`, `new/` or `tmp/` is not a real directory (a
 * symbolic link, say) is refused with `-ERR [SYS/PERM]` and reported to
 * `onError`; a link inside `cur/` or `new/` is never listed, read, renamed
 * or unlinked.
 *
 * @example Serving `/var/mail/<user>` Maildirs
 * ```ts ignore
 * import { MaildirStorage, PasswdFileAuth } from "@x/pop3d/maildir";
 * import { Pop3d } from "@x/pop3d";
 *
 * const storage = new MaildirStorage({ root: "/var/mail" });
 * const auth = new PasswdFileAuth({ path: "/etc/pop3d.passwd", mailRoot: "/var/mail" });
 * const server = new Pop3d({ storage, auth, port: 1110 });
 * ```
 *
 * @example Reading a Maildir directly
 * ```ts
 * import { MaildirStorage } from "@x/pop3d/maildir";
 *
 * // Serves /var/mail/alice/{new,cur,tmp}.
 * const storage = new MaildirStorage({ root: "/var/mail" });
 * const signal = new AbortController().signal;
 * const handle = await storage.openMaildrop("alice", { user: "alice", signal })
 *   .catch(() => null);
 * if (handle) {
 *   try {
 *     for (let n = 1; n <= handle.count; n++) {
 *       console.log(n, handle.uid(n), handle.size(n));
 *     }
 *   } finally {
 *     await handle.close();
 *   }
 * }
 * ```
 */
export class MaildirStorage implements MaildropStore<string> {
  #root: MaildirRoot;
  #markSeen: boolean;
  #staleLockMs: number;
  #getFs: () => Promise<MaildirFs>;
  #onError: (error: unknown) => void;
  #caches = new MaildirCaches();
  #uidlSources: MaildirUidlSources;
  #deletedKeyword: string | undefined;

  /**
   * Creates the storage over Maildirs under `options.root`; nothing is read until first use.
   *
   * @param options The root directory and behaviour switches.
   * @throws {TypeError} When `root` is missing or empty.
   * @throws {RangeError} When `staleLockMs` is not a positive number, or
   *   `dovecotUidl.format` is not a format Dovecot accepts.
   * @throws {TypeError} When `dovecotUidl`, `courierUidl`, `deletedFlag` or
   *   `syncMetadata` has the wrong type.
   * @throws {RangeError} When `deletedFlag` is not an IMAP keyword.
   */
  constructor(options: MaildirStorageOptions) {
    const settings = maildirStorageSettings(options);
    this.#root = new MaildirRoot(settings.root, settings);
    this.#markSeen = settings.markSeen;
    this.#staleLockMs = settings.staleLockMs;
    this.#getFs = lazyMaildirFs(settings.fs, {
      syncMetadata: settings.syncMetadata,
    });
    this.#onError = settings.onError;
    this.#uidlSources = settings.uidlSources;
    this.#deletedKeyword = settings.deletedKeyword;
  }

  /**
   * Resolves a storage reference to its Maildir path inside the root.
   *
   * @param mbox A path relative to the root, or an absolute path inside it.
   * @returns The normalized Maildir path.
   * @throws {RangeError} When the reference escapes the root.
   *
   * @example
   * ```ts
   * import { MaildirStorage } from "@x/pop3d/maildir";
   * const storage = new MaildirStorage({ root: "/var/mail" });
   * console.assert(storage.path("alice") === "/var/mail/alice");
   * ```
   */
  path(mbox: string): string {
    const dir = typeof mbox === "string" ? this.#root.resolve(mbox) : undefined;
    if (dir === undefined) {
      throw new RangeError(
        `Cannot open Maildir: "${String(mbox)}" is outside the root`,
      );
    }
    return dir;
  }

  /**
   * Takes the Maildir's lock file and a snapshot of its messages.
   *
   * @param mbox The storage reference.
   * @param context The session's user and abort signal.
   * @returns The session's handle, or `null` when another session or
   *   process holds the lock, or the session was killed meanwhile (then
   *   nothing stays locked).
   * @throws {RangeError} When the reference escapes the root.
   * @throws {Pop3Error} `SYS/PERM` when `cur/`, `new/` or `tmp/` is not a
   *   real directory.
   */
  async openMaildrop(
    mbox: string,
    context?: OpenMaildropContext,
  ): Promise<MaildropHandle | null> {
    const fs = await this.#getFs();
    const dir = this.path(mbox);
    // One key per real directory; a missing Maildir (create: false) is an
    // empty maildrop without a lock file, still locked in this process.
    const [exists, key] = await this.#root.confine(fs, dir);
    if (LOCKED.has(key)) return null;
    LOCKED.add(key);
    let lock: MaildirLock | undefined;
    try {
      if (exists) {
        lock = await MaildirLock.acquire(fs, `${dir}/${MAILDIR_LOCK_NAME}`, {
          staleLockMs: this.#staleLockMs,
          onError: this.#onError,
        });
        if (lock === undefined) {
          LOCKED.delete(key);
          return null;
        }
      }
      if (context?.signal.aborted) {
        LOCKED.delete(key);
        await lock?.release();
        return null;
      }
      const cache = this.#caches.get(key);
      const keyword = this.#deletedKeyword;
      const hidden = exists && keyword !== undefined
        ? await findKeywordLetter(fs, dir, keyword)
        : undefined;
      const snapshot = exists
        ? await scanMaildir(fs, dir, cache, this.#uidlSources, hidden)
        : new MaildirSnapshot([], new Uint32Array(0), { kind: "own" });
      return new MaildirMaildrop({
        fs,
        dir,
        snapshot,
        onWrongSize: (base) => forgetSize(cache, base),
        markSeen: this.#markSeen,
        deletedKeyword: this.#deletedKeyword,
        onError: this.#onError,
        release: async () => {
          LOCKED.delete(key);
          await lock?.release();
        },
      });
    } catch (error) {
      LOCKED.delete(key);
      await lock?.release().catch(() => {});
      throw error;
    }
  }
}
