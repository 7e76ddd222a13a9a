/**
 * Internal: what the asynchronous and the synchronous calls of
 * {@linkcode nodeFs} share (conversions of `node:fs` results, temporary
 * names, error codes).
 *
 * @module
 */

import process from "node:process";
import type {
  MaildirDirEntry,
  MaildirFileInfo,
  MaildirFs,
} from "../maildir/maildir_fs.ts";

/** The calls of a {@linkcode MaildirFs} that come in an asynchronous and a synchronous kind. */
export type MetadataCalls = Omit<
  MaildirFs,
  | "openRead"
  | "writeNew"
  | "syncDir"
  | "hostname"
  | "pid"
  | "isProcessAlive"
  | "hostKey"
  | "processStart"
  | "threadId"
  | "isThreadAlive"
>;

/** Runs `call`, ignoring any error (best-effort clean-up). */
export function ignore(call: () => unknown): void {
  try {
    call();
  } catch {
    // best effort
  }
}

/** A plain Uint8Array view of a Buffer (whose slice() would share memory). */
export function asBytes(data: Uint8Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A `node:fs` Dirent as a {@linkcode MaildirDirEntry}. */
export function toDirEntry(d: {
  name: string;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}): MaildirDirEntry {
  return {
    name: d.name,
    kind: kindOf(d.isSymbolicLink(), d.isFile(), d.isDirectory()),
  };
}

/** A directory entry's kind; a link is a link, never what it points to. */
export function kindOf(
  symlink: boolean,
  file: boolean,
  directory: boolean,
): MaildirDirEntry["kind"] {
  return symlink
    ? "symlink"
    : file
    ? "file"
    : directory
    ? "directory"
    : "other";
}

/** A `node:fs` Stats as a {@linkcode MaildirFileInfo}. */
export function toInfo(s: {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  size: number;
  mtimeMs: number;
}): MaildirFileInfo {
  return {
    isFile: s.isFile(),
    isDirectory: s.isDirectory(),
    isSymlink: s.isSymbolicLink(),
    size: s.size,
    mtimeMs: s.mtimeMs,
  };
}

/** Error codes of a file system without hard links (the lock then uses O_EXCL). */
export const NO_HARD_LINKS = ["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"];

/**
 * What makes this process's (or worker thread's) temporary names its own:
 * random once, then a counter. Threads of one process share the pid, and
 * a pid comes back after a restart; 64 random bits tell them apart. A
 * random draw per name cost Node ~20 µs per session.
 */
const TEMP_PREFIX = crypto.getRandomValues(new Uint32Array(2)).join("");
let tempCount = 0;

/** A unique temporary name next to `path`. */
export function tempName(host: string, path: string): string {
  return `${path}.${host}.${process.pid}.${TEMP_PREFIX}-${++tempCount}.tmp`;
}

/** An error's `code` (`ENOENT`, ...), or `""`. */
export function codeOf(error: unknown): string {
  return typeof error === "object" && error !== null && "code" in error
    ? String(error.code)
    : "";
}
