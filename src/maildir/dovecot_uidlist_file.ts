/**
 * Dovecot's UIDLs for a Maildir that has a `dovecot-uidlist`, read and
 * kept up to date beside a running Dovecot: new mail gets its UID the way
 * Dovecot gives it, under Dovecot's `dovecot-uidlist.lock`, and the file is
 * changed the way Dovecot changes it (lines appended; rewritten through a
 * temporary file and a rename when appending is not possible). All file
 * access goes through {@linkcode MaildirFs}.
 *
 * The lock, as Dovecot 2.3 (`file_dotlock`, maildir-uidlist.c) keeps it
 * and as measured against Dovecot 2.3.19 here:
 * - The lock is `dovecot-uidlist.lock` beside the file, created
 *   exclusively. Dovecot's own is empty; a dotlock holding `<pid>:<host>`
 *   is checked by process id. We write `<pid>:<host>`, so a Dovecot that
 *   finds our lock after we died removes it at once.
 * - Stale: a `<pid>:<host>` lock of this host whose process is gone; or
 *   a lock that has not changed, while the uidlist has not changed either,
 *   for 2 minutes (Dovecot's `MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT`; a
 *   Dovecot holding the lock through a long sync touches it every 10 s).
 *   Dovecot measures the 2 minutes from when it first sees the lock (a
 *   10-minute-old empty lock delayed its POP3 login by 123 s); we read
 *   them from the modification times, so a POP3 login never waits that
 *   long. Otherwise we wait at most `lockTimeoutMs`, then leave the new
 *   mail without a UID for this session: it is not served until a later
 *   session (or Dovecot) has numbered it, so no client ever sees a UIDL
 *   that Dovecot would not list.
 *
 * @module
 */

import type { MaildirFs } from "./maildir_fs.ts";
import {
  assignDovecotUids,
  type DovecotUidlist,
  formatDovecotUidlist,
  formatDovecotUidlistRecords,
  parseDovecotUidlist,
} from "./dovecot_uidlist.ts";
import { dovecotPop3View } from "./dovecot_pop3_view.ts";
import {
  compileDovecotUidlFormat,
  DOVECOT_DEFAULT_UIDL_FORMAT,
} from "./dovecot_uidl_format.ts";

/** The name of Dovecot's UID map inside a Maildir. */
export const DOVECOT_UIDLIST_NAME = "dovecot-uidlist";
/** The name of the lock file that guards {@linkcode DOVECOT_UIDLIST_NAME}. */
export const DOVECOT_UIDLIST_LOCK_NAME = "dovecot-uidlist.lock";

/** Options for {@linkcode loadDovecotUidls}. */
export interface DovecotUidlOptions {
  /**
   * Dovecot's `pop3_uidl_format` (`%u`, `%v`, `%f`, `%g`).
   *
   * @default {"%08Xu%08Xv"}
   */
  format?: string;
  /**
   * Gives UIDs to messages the uidlist does not know yet and writes them
   * to the file, as Dovecot would. When `false`, such messages are
   * returned in `pending`.
   *
   * @default {true}
   */
  assign?: boolean;
  /**
   * How long the lock file and the uidlist must have been unchanged before
   * a lock counts as stale, in milliseconds.
   *
   * @default {120000}
   */
  staleLockMs?: number;
  /**
   * How long to wait for a lock that another process holds, in
   * milliseconds, before leaving new mail for a later session.
   *
   * @default {5000}
   */
  lockTimeoutMs?: number;
}

/** One message as Dovecot's POP3 server lists it. */
export interface DovecotUidl {
  /** The IMAP UID. */
  uid: number;
  /** The UIDL. */
  uidl: string;
  /** The position in Dovecot's POP3 order, from 0. */
  order: number;
  /**
   * The size Dovecot lists, when it is known without reading the file
   * (`,W=` in the name or the record's `W`); otherwise count the file
   * with every bare LF as two octets.
   */
  size: number | undefined;
}

/** The result of {@linkcode loadDovecotUidls}. */
export interface DovecotUidls {
  /** The mailbox's UIDVALIDITY. */
  uidValidity: number;
  /** By file name up to `:` (the `:2,<flags>` part removed). */
  messages: Map<string, DovecotUidl>;
  /**
   * Names that have no UID yet (the lock was busy or `assign` is off):
   * leave them out of this session so that no client sees a UIDL that
   * Dovecot would not list.
   */
  pending: string[];
}

const HELD = new Set<string>();
const DECODER = new TextDecoder();
const ENCODER = new TextEncoder();

/**
 * Computes Dovecot's UIDLs, POP3 order and known sizes for the messages
 * of a Maildir, giving UIDs to new mail first (under the uidlist's lock).
 * Returns `undefined` when the Maildir has no `dovecot-uidlist`, so that
 * the caller keeps its own UIDLs.
 *
 * @param fs File access.
 * @param dir The Maildir (the directory holding `cur/` and `new/`).
 * @param names The names of the message files in `new/` and `cur/`.
 * @param options Format, assignment and lock settings.
 * @returns UIDs and UIDLs by base name, or `undefined` without a uidlist.
 * @throws {SyntaxError} When the uidlist is corrupt (the message names the
 * file and the line).
 * @throws {RangeError} For a bad `format` or timing option.
 *
 * @example Listing a Maildir the way Dovecot does
 * ```ts ignore
 * import { loadDovecotUidls } from "@x/pop3d";
 * import { nodeFs } from "@x/pop3d/runtime"; // any MaildirFs
 *
 * const dir = "/var/mail/alice";
 * const names = ["1700000060.M1P1.host,S=683,W=704:2,S"];
 * const map = await loadDovecotUidls(nodeFs(), dir, names);
 * console.log(map?.messages.get("1700000060.M1P1.host,S=683,W=704")?.uidl);
 * ```
 */
export async function loadDovecotUidls(
  fs: MaildirFs,
  dir: string,
  names: readonly string[],
  options: DovecotUidlOptions = {},
): Promise<DovecotUidls | undefined> {
  const format = options.format ?? DOVECOT_DEFAULT_UIDL_FORMAT;
  compileDovecotUidlFormat(format);
  const staleLockMs = positive(options.staleLockMs, 120_000, "staleLockMs");
  const lockTimeoutMs = positive(options.lockTimeoutMs, 5_000, "lockTimeoutMs");
  const path = `${dir}/${DOVECOT_UIDLIST_NAME}`;
  const first = await readUidlist(fs, path);
  if (first === undefined) return undefined;
  let list = first.list;
  let view = dovecotPop3View(list, names, { format });
  if (view.unassigned.length > 0 && options.assign !== false) {
    const lockPath = `${dir}/${DOVECOT_UIDLIST_LOCK_NAME}`;
    if (await lockUidlist(fs, dir, { staleLockMs, lockTimeoutMs })) {
      try {
        // Read again under the lock: Dovecot may have numbered them meanwhile.
        const locked = await readUidlist(fs, path);
        if (locked !== undefined) {
          list = locked.list;
          const fresh = dovecotPop3View(list, names, { format }).unassigned;
          await addRecords(fs, path, locked, fresh);
        }
      } finally {
        await unlockUidlist(fs, lockPath);
      }
      view = dovecotPop3View(list, names, { format });
    }
  }
  const messages = new Map<string, DovecotUidl>();
  view.messages.forEach((m, order) => {
    messages.set(m.baseName, { uid: m.uid, uidl: m.uidl, order, size: m.size });
  });
  return { uidValidity: list.uidValidity, messages, pending: view.unassigned };
}

/** Internal; shared with `dovecot_uidlist_cache.ts`. */
export async function readUidlist(
  fs: MaildirFs,
  path: string,
): Promise<{ list: DovecotUidlist; bytes: Uint8Array } | undefined> {
  const bytes = await fs.readFile(path);
  if (bytes === undefined) return undefined;
  try {
    return { list: parseDovecotUidlist(bytes), bytes };
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new SyntaxError(`${error.message} (${path})`, { cause: error });
  }
}

/**
 * Appends the new records, or rewrites the file when it cannot append.
 * Internal; shared with `dovecot_uidlist_cache.ts`.
 */
export async function addRecords(
  fs: MaildirFs,
  path: string,
  read: { list: DovecotUidlist; bytes: Uint8Array },
  names: readonly string[],
): Promise<void> {
  const { list, bytes } = read;
  const wasVersion3 = list.version === 3;
  const added = assignDovecotUids(list, names);
  if (added.length === 0) return;
  const endsWithNewline = bytes.length > 0 && bytes[bytes.length - 1] === 10;
  if (wasVersion3 && endsWithNewline && fs.appendFile !== undefined) {
    // Dovecot appends without touching the header: readers take the larger
    // of N and the last UID + 1.
    const appended = await fs.appendFile(
      path,
      formatDovecotUidlistRecords(added),
    );
    if (appended) return;
  }
  await fs.replaceFile(path, formatDovecotUidlist(list));
}

/** Options for {@linkcode lockUidlist}. */
interface LockOptions {
  staleLockMs: number;
  lockTimeoutMs: number;
}

/**
 * Takes `dovecot-uidlist.lock` in `dir`, removing a stale one. Internal;
 * shared with `dovecot_uidlist_cache.ts`.
 *
 * In this process, a path is claimed in `HELD` before any await, so that
 * only one caller at a time tries the file or judges it stale: a lock file
 * with this process's pid that no caller holds was left behind, but one
 * that a caller has just created (its `createExclusive` not yet resolved)
 * is not, and two sessions taking the lock at once must not remove each
 * other's.
 *
 * @returns `false` when another process still held it after the timeout.
 */
export async function lockUidlist(
  fs: MaildirFs,
  dir: string,
  options: LockOptions,
): Promise<boolean> {
  const lockPath = `${dir}/${DOVECOT_UIDLIST_LOCK_NAME}`;
  const content = ENCODER.encode(`${fs.pid()}:${fs.hostname()}`);
  const deadline = Date.now() + options.lockTimeoutMs;
  let pause = 10;
  for (;;) {
    if (!HELD.has(lockPath)) {
      HELD.add(lockPath);
      let taken = false;
      let stale = false;
      try {
        taken = await fs.createExclusive(lockPath, content);
        stale = !taken && await isStale(fs, dir, options.staleLockMs);
        if (stale) await fs.unlink(lockPath);
      } finally {
        if (!taken) HELD.delete(lockPath);
      }
      if (taken) return true;
      if (stale) continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
    pause = Math.min(pause * 2, 200);
  }
}

/** Internal; shared with `dovecot_uidlist_cache.ts`. */
export async function unlockUidlist(
  fs: MaildirFs,
  lockPath: string,
): Promise<void> {
  try {
    const raw = await fs.readFile(lockPath);
    // Remove it only while it is still ours (not broken and retaken).
    if (
      raw !== undefined &&
      DECODER.decode(raw) === `${fs.pid()}:${fs.hostname()}`
    ) {
      await fs.unlink(lockPath);
    }
  } finally {
    // Only now may another caller here take it (or judge it left behind).
    HELD.delete(lockPath);
  }
}

/**
 * A lock is stale by Dovecot's rules when it is a dotlock of a dead local
 * process, or when neither it nor the uidlist changed for `staleLockMs`.
 */
async function isStale(
  fs: MaildirFs,
  dir: string,
  staleLockMs: number,
): Promise<boolean> {
  const lockPath = `${dir}/${DOVECOT_UIDLIST_LOCK_NAME}`;
  const lock = await fs.stat(lockPath);
  if (lock === undefined) return true;
  const raw = lock.size > 0 && lock.size < 512
    ? await fs.readFile(lockPath)
    : undefined;
  const owner = /^(\d+):(.*)$/.exec(
    raw === undefined ? "" : DECODER.decode(raw),
  );
  if (owner !== null && owner[2] === fs.hostname()) {
    const pid = Number(owner[1]);
    if (pid === fs.pid()) return true; // ours, but not held: left behind
    if (!fs.isProcessAlive(pid)) return true;
    return false; // Dovecot never overrides a live local process's dotlock
  }
  const uidlist = await fs.stat(`${dir}/${DOVECOT_UIDLIST_NAME}`);
  const changed = Math.max(lock.mtimeMs, uidlist?.mtimeMs ?? 0);
  return Date.now() - changed >= staleLockMs;
}

/**
 * The lock timings of `options`, checked as {@linkcode loadDovecotUidls}
 * checks them.
 *
 * @throws {RangeError} For a negative or non-finite timing.
 *
 * @example
 * ```ts ignore
 * dovecotLockTimes({ lockTimeoutMs: 50 }); // { staleLockMs: 120000, lockTimeoutMs: 50 }
 * ```
 */
export function dovecotLockTimes(
  options: DovecotUidlOptions,
): { staleLockMs: number; lockTimeoutMs: number } {
  return {
    staleLockMs: positive(options.staleLockMs, 120_000, "staleLockMs"),
    lockTimeoutMs: positive(options.lockTimeoutMs, 5_000, "lockTimeoutMs"),
  };
}

function positive(
  value: number | undefined,
  fallback: number,
  name: string,
): number {
  const result = value ?? fallback;
  if (
    typeof result !== "number" || !(result >= 0) || !Number.isFinite(result)
  ) {
    throw new RangeError(
      `Cannot load Dovecot UIDLs: ${name} must be a non-negative number, got ${value}`,
    );
  }
  return result;
}
