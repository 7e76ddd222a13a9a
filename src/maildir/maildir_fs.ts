/**
 * The file system seam of {@linkcode MaildirStorage} and
 * {@linkcode PasswdFileAuth}: every file access they make goes through this
 * interface, so the core stays free of runtime APIs. The default
 * implementation (over Node's fs/promises API, which Deno, Bun and Node
 * all provide) is loaded lazily from `src/runtime/node_fs.ts`.
 *
 * @module
 */

/** What {@linkcode MaildirFs.stat} tells about a path. */
export interface MaildirFileInfo {
  /** A regular file (not a symbolic link to one). */
  isFile: boolean;
  /** A directory (not a symbolic link to one). */
  isDirectory: boolean;
  /** A symbolic link. */
  isSymlink: boolean;
  /** Size in bytes. */
  size: number;
  /** Last modification time, in milliseconds since the epoch. */
  mtimeMs: number;
}

/**
 * One name in a directory, with its kind as the directory itself records it
 * (`d_type`): a final symbolic link is reported as `"symlink"`, never
 * followed.
 */
export interface MaildirDirEntry {
  /** The name inside the directory. */
  name: string;
  /** What the name is, without following a symbolic link. */
  kind: "file" | "directory" | "symlink" | "other";
}

/**
 * Files of at most this many octets (64 KiB) are read whole through
 * {@linkcode MaildirFs.readNoFollow} where the host has it: a message
 * served, or one counted for its size, costs one buffer of its own size
 * instead of a stream and its chunk buffer.
 *
 * @example
 * ```ts
 * import { SMALL_FILE } from "./maildir_fs.ts";
 * console.assert(SMALL_FILE === 65536);
 * ```
 */
export const SMALL_FILE = 64 * 1024;

/**
 * The file operations the Maildir and passwd-file backends need. Paths use
 * `/` separators. Methods report a missing path through their return value
 * (`undefined` or `false`), and throw for any other failure.
 *
 * @example A read-only wrapper that refuses every change
 * ```ts
 * import type { MaildirFs } from "@x/pop3d/maildir";
 *
 * function readOnly(fs: MaildirFs): MaildirFs {
 *   const refuse = () => Promise.reject(new Error("Read-only"));
 *   return { ...fs, rename: refuse, unlink: refuse, createExclusive: refuse };
 * }
 * ```
 */
export interface MaildirFs {
  /** Lists the names in a directory, or `undefined` when it is missing. */
  readDir(path: string): Promise<string[] | undefined>;
  /**
   * Optional: lists a directory with each name's kind, in one call and
   * without a `stat` per name, or `undefined` when it is missing. Without
   * it, the Maildir snapshot uses {@linkcode MaildirFs.readDir} and a
   * {@linkcode MaildirFs.stat} per name.
   */
  readDirKinds?(path: string): Promise<MaildirDirEntry[] | undefined>;
  /**
   * Describes a path without following a final symbolic link (`lstat`), or
   * returns `undefined` when it is missing.
   */
  stat(path: string): Promise<MaildirFileInfo | undefined>;
  /** Resolves every symbolic link in `path`; `undefined` when missing. */
  realPath(path: string): Promise<string | undefined>;
  /**
   * Opens a regular file for reading, refusing to follow a final symbolic
   * link where the host can, and streams it in chunks; `undefined` when the
   * file is missing. The file is open once the promise resolves, so a later
   * rename or unlink does not affect the stream.
   */
  openRead(path: string): Promise<ReadableStream<Uint8Array> | undefined>;
  /**
   * Optional: reads a whole regular file of at most `maxBytes` octets in one
   * go, refusing a final symbolic link like {@linkcode MaildirFs.openRead};
   * `undefined` when the file is missing, `null` when it is larger than
   * `maxBytes` (the caller then streams it). Small messages are served
   * through it without a stream.
   */
  readNoFollow?(
    path: string,
    maxBytes: number,
  ): Promise<Uint8Array | null | undefined>;
  /** Reads a whole (small) file, or returns `undefined` when missing. */
  readFile(path: string): Promise<Uint8Array | undefined>;
  /**
   * Creates `path` with `data` atomically, only if nothing exists there
   * (a hard link from a temporary file, or `O_EXCL`). Returns `false` when
   * `path` already exists.
   */
  createExclusive(path: string, data: Uint8Array): Promise<boolean>;
  /**
   * Appends `data` to an existing file with one write (`O_APPEND`), the
   * way Dovecot adds lines to `dovecot-uidlist`; `false` when the file is
   * missing (it is never created). Optional: without it, the Dovecot UID
   * map rewrites the file with {@linkcode MaildirFs.replaceFile} instead.
   */
  appendFile?(path: string, data: Uint8Array): Promise<boolean>;
  /** Replaces the content of `path` atomically (temporary file + rename). */
  replaceFile(path: string, data: Uint8Array): Promise<void>;
  /** Renames a file; `false` when `from` is missing. */
  rename(from: string, to: string): Promise<boolean>;
  /** Removes a file; `false` when it was already missing. */
  unlink(path: string): Promise<boolean>;
  /** Creates a directory and its parents; no error if it exists. */
  mkdir(path: string): Promise<void>;
  /**
   * Optional: creates a new file with `data`, failing if `path` exists
   * (`O_EXCL`), and flushes it to disk (`fsync`) before resolving when
   * `sync` is set. Mail delivery uses it for `tmp/` files; without it,
   * delivery falls back to {@linkcode MaildirFs.createExclusive}.
   */
  writeNew?(
    path: string,
    data: Uint8Array,
    options?: { sync?: boolean },
  ): Promise<void>;
  /**
   * Optional: flushes a directory's entries to disk (`fsync` on the
   * directory), so that a rename into it survives a crash.
   */
  syncDir?(path: string): Promise<void>;
  /** The host name written into lock files. */
  hostname(): string;
  /** The id of this process, written into lock files. */
  pid(): number;
  /** Tells whether a process with this id runs on this host. */
  isProcessAlive(pid: number): boolean;
  /**
   * Identifies this boot of this host and this process's pid namespace
   * (Linux: the boot id and `/proc/self/ns/pid`), or `undefined` when the
   * host cannot tell. Only locks written under the same key have pids that
   * {@linkcode MaildirFs.isProcessAlive} can judge; other locks become
   * stale by age alone.
   */
  hostKey?(): string | undefined;
  /**
   * When this process started (Linux: the start time in `/proc/self/stat`),
   * the same in each of its threads, or `undefined` when the host cannot
   * tell. With the pid it tells another thread of this process (the
   * workers of `pop3d --workers`), whose lock is held, from an earlier
   * process that had this pid, whose lock is stale.
   */
  processStart?(): string | undefined;
  /**
   * The id of the calling thread within this process (Linux: the thread id
   * in `/proc/thread-self`), or `undefined` when the host cannot tell.
   * Written into lock files, so that a thread of this process can tell a
   * lock of a thread that died (a crashed worker of `pop3d --workers`) from
   * one a live thread holds.
   */
  threadId?(): string | undefined;
  /**
   * Tells whether the thread with this {@linkcode MaildirFs.threadId} still
   * runs in this process (Linux: `/proc/self/task/ID` exists).
   */
  isThreadAlive?(id: string): boolean;
}

/**
 * A getter of the file system to use: `given`, or else the default over
 * Node's fs API, imported on the first call (so that code which passes its
 * own `fs` never loads it).
 *
 * @param given The caller's file system, if any.
 * @param options For the default: whether metadata calls and small files
 *   use the synchronous functions (`false` when omitted).
 * @returns A function that resolves with the same file system every time.
 *
 * @example
 * ```ts ignore
 * const getFs = lazyMaildirFs(options.fs, { syncMetadata: true });
 * const fs = await getFs();
 * ```
 */
export function lazyMaildirFs(
  given?: MaildirFs,
  options?: { syncMetadata?: boolean },
): () => Promise<MaildirFs> {
  let loading: Promise<MaildirFs> | undefined = given
    ? Promise.resolve(given)
    : undefined;
  return () =>
    loading ??= import("../runtime/node_fs.ts").then((m) =>
      m.nodeFs({ syncMetadata: options?.syncMetadata ?? false })
    );
}
