/**
 * A {@linkcode MaildropStore} over Maildir folders (`new/`, `cur/`, `tmp/`),
 * as Postfix, Dovecot, Courier, procmail and fetchmail write them.
 *
 * @module
 */

import { Pop3Error } from "../errors.ts";
import type {
  MaildropHandle,
  MaildropStore,
  OpenMaildropContext,
} from "../storage/maildrop_handle.ts";
import {
  isStrictlyInside,
  normalizePath,
  resolveInside,
} from "../_util/path.ts";
import {
  lazyMaildirFs,
  type MaildirDirEntry,
  type MaildirFileInfo,
  type MaildirFs,
} from "./maildir_fs.ts";
import { MAILDIR_LOCK_NAME, MaildirLock } from "./maildir_lock.ts";
import { MaildirMaildrop } from "./maildir_maildrop.ts";
import { forgetSize, MaildirCaches } from "./maildir_caches.ts";
import { MaildirSnapshot } from "./maildir_snapshot.ts";
import { scanMaildir } from "./maildir_scan.ts";
import type { DovecotUidlOptions } from "./dovecot_uidlist_file.ts";
import { compileDovecotUidlFormat } from "./dovecot_uidl_format.ts";
import type { MaildirUidlSources } from "./maildir_uidl_source.ts";
import {
  DEFAULT_DELETED_KEYWORD,
  findKeywordLetter,
  isKeyword,
} from "./dovecot_keywords.ts";

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

export { MAILDIR_LOCK_NAME };

/** Options for {@linkcode MaildirStorage}. */
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

// Maildirs locked by sessions of this process, by real directory path, so
// that "alice", "./alice" and a link to it are one lock.
const LOCKED = new Set<string>();
const SUBDIRS = ["cur", "new", "tmp"] as const;

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
  #root: string;
  #markSeen: boolean;
  #staleLockMs: number;
  #create: boolean;
  #getFs: () => Promise<MaildirFs>;
  #onError: (error: unknown) => void;
  #caches = new MaildirCaches();
  // The root's real path, resolved at the first login and again only when
  // a Maildir seems to lie outside it (the root link was moved).
  #realRoot: string | undefined;
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
    this.#root = normalizePath(options.root);
    this.#markSeen = options.markSeen ?? true;
    this.#staleLockMs = stale;
    this.#create = options.create ?? true;
    this.#getFs = lazyMaildirFs(options.fs, { syncMetadata });
    this.#onError = options.onError ?? (() => {});
    this.#uidlSources = uidlSources(options);
    this.#deletedKeyword = deletedKeyword(options.deletedFlag);
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
    const dir = typeof mbox === "string"
      ? resolveInside(this.#root, mbox)
      : undefined;
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
    const [exists, key] = await this.#confine(fs, dir);
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

  /**
   * Checks symlinks against the root, creates a missing Maildir and checks
   * that `cur/`, `new/` and `tmp/` are real directories. Returns whether
   * the Maildir exists now, and its real path (or `dir` when it does not).
   */
  async #confine(
    fs: MaildirFs,
    dir: string,
  ): Promise<[exists: boolean, key: string]> {
    // The deepest existing ancestor must resolve inside the root, so that
    // neither reading nor mkdir can follow a link out of it.
    let existing = dir;
    let real = await fs.realPath(existing);
    while (real === undefined && isStrictlyInside(this.#root, existing)) {
      existing = existing.slice(0, existing.lastIndexOf("/")) || "/";
      real = await fs.realPath(existing);
    }
    const cached = this.#realRoot;
    let realRoot = cached ?? await this.#resolveRoot(fs);
    let inside = isConfined(realRoot, real, existing === dir);
    if (!inside && cached !== undefined) {
      // The root itself may have moved since it was resolved.
      realRoot = await this.#resolveRoot(fs);
      inside = isConfined(realRoot, real, existing === dir);
    }
    if (!inside) {
      throw new RangeError(
        `Cannot open Maildir: "${dir}" resolves outside the root`,
      );
    }
    if (existing !== dir && !this.#create) return [false, dir];
    // The kinds of cur/, new/ and tmp/, from one listing of the Maildir
    // where the file system gives kinds (else a stat each).
    const kinds = existing === dir ? await listSubdirs(fs, dir) : new Map();
    for (const sub of SUBDIRS) {
      const path = `${dir}/${sub}`;
      let kind = kinds?.get(sub);
      if (kinds === undefined || kind === "other") {
        kind = kindOf(await fs.stat(path));
      }
      if (kind === undefined && this.#create) {
        await fs.mkdir(path);
        kind = kindOf(await fs.stat(path));
      }
      if (kind !== undefined && kind !== "directory") {
        this.#onError(
          new Error(
            `Refused Maildir "${dir}": "${sub}" is not a real directory (a symbolic link or a file)`,
          ),
        );
        throw new Pop3Error("Maildir is not usable", "SYS/PERM");
      }
    }
    // A Maildir created just now: its real path, for the key.
    return [true, existing === dir ? real! : (await fs.realPath(dir)) ?? dir];
  }

  async #resolveRoot(fs: MaildirFs): Promise<string> {
    const realRoot = await fs.realPath(this.#root);
    if (realRoot === undefined) {
      throw new Error(`Cannot open Maildir: root "${this.#root}" is missing`);
    }
    this.#realRoot = normalizePath(realRoot);
    return this.#realRoot;
  }
}

type Kind = MaildirDirEntry["kind"];

function kindOf(info: MaildirFileInfo | undefined): Kind | undefined {
  if (info === undefined) return undefined;
  return info.isSymlink
    ? "symlink"
    : info.isDirectory
    ? "directory"
    : info.isFile
    ? "file"
    : "other";
}

/**
 * The kinds of the Maildir's `cur`, `new` and `tmp` as its directory lists
 * them (a name missing from the map is missing), or `undefined` when the
 * file system cannot list kinds. A Maildir that is not a directory (a
 * symbolic link to one is) is an error.
 */
async function listSubdirs(
  fs: MaildirFs,
  dir: string,
): Promise<Map<string, Kind> | undefined> {
  const notADirectory = () =>
    new Error(`Cannot open Maildir: "${dir}" is not a directory`);
  if (fs.readDirKinds === undefined) {
    const info = await fs.stat(dir);
    if (info !== undefined && !info.isDirectory && !info.isSymlink) {
      throw notADirectory();
    }
    return undefined;
  }
  let entries: MaildirDirEntry[] | undefined;
  try {
    entries = await fs.readDirKinds(dir);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ENOTDIR") throw notADirectory();
    throw error;
  }
  const kinds = new Map<string, Kind>();
  for (const entry of entries ?? []) {
    if ((SUBDIRS as readonly string[]).includes(entry.name)) {
      kinds.set(entry.name, entry.kind);
    }
  }
  return kinds;
}

/**
 * Whether `real`, the real path of a Maildir (`whole`) or of its deepest
 * existing ancestor, lies inside the real root (an ancestor may be the root).
 */
function isConfined(
  realRoot: string,
  real: string | undefined,
  whole: boolean,
): boolean {
  if (real === undefined) return false;
  const path = normalizePath(real);
  return isStrictlyInside(realRoot, path) || (!whole && path === realRoot);
}
