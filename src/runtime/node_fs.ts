/**
 * The default {@linkcode MaildirFs}, over `node:fs/promises`, which Deno,
 * Bun and Node all implement.
 *
 * @module
 */

import * as fsp from "node:fs/promises";
import { constants, readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";
import process from "node:process";
import type {
  MaildirDirEntry,
  MaildirFileInfo,
  MaildirFs,
} from "../maildir/maildir_fs.ts";

const CHUNK_SIZE = 64 * 1024;

/**
 * Returns the {@linkcode MaildirFs} over `node:fs/promises`.
 *
 * @returns The file system used when no `fs` option is given.
 *
 * @example
 * ```ts
 * import { nodeFs } from "./node_fs.ts";
 * const fs = nodeFs();
 * console.assert(fs.pid() > 0 && fs.isProcessAlive(fs.pid()));
 * ```
 */
export function nodeFs(): MaildirFs {
  return {
    readDir: (path) => missingAsUndefined(fsp.readdir(path)),
    readDirKinds: async (path) => {
      const found = await missingAsUndefined(
        fsp.readdir(path, { withFileTypes: true }),
      );
      return found?.map((d): MaildirDirEntry => ({
        name: d.name,
        kind: d.isSymbolicLink()
          ? "symlink"
          : d.isFile()
          ? "file"
          : d.isDirectory()
          ? "directory"
          : "other",
      }));
    },
    stat: async (path) => {
      const s = await missingAsUndefined(fsp.lstat(path));
      return s === undefined ? undefined : toInfo(s);
    },
    realPath: (path) => missingAsUndefined(fsp.realpath(path)),
    openRead,
    readNoFollow,
    readFile: async (path) => {
      const data = await missingAsUndefined(fsp.readFile(path));
      return data === undefined ? undefined : new Uint8Array(data);
    },
    createExclusive,
    replaceFile: async (path, data) => {
      const temp = tempName(path);
      await fsp.writeFile(temp, data, { flag: "wx", mode: 0o600 });
      try {
        await fsp.rename(temp, path);
      } catch (error) {
        await fsp.unlink(temp).catch(() => {});
        throw error;
      }
    },
    appendFile: async (path, data) => {
      // "a" without create: O_APPEND on an existing file only.
      const flags = constants.O_WRONLY | constants.O_APPEND;
      const handle = await missingAsUndefined(fsp.open(path, flags));
      if (handle === undefined) return false;
      try {
        let done = 0;
        while (done < data.length) {
          done += (await handle.write(data, done)).bytesWritten;
        }
      } finally {
        await handle.close();
      }
      return true;
    },
    rename: async (from, to) =>
      (await missingAsUndefined(fsp.rename(from, to).then(() => true))) ??
        false,
    unlink: async (path) =>
      (await missingAsUndefined(fsp.unlink(path).then(() => true))) ?? false,
    mkdir: async (path) => {
      await fsp.mkdir(path, { recursive: true, mode: 0o700 });
    },
    writeNew,
    syncDir,
    hostname: () => hostname(),
    pid: () => process.pid,
    isProcessAlive,
    hostKey,
  };
}

let cachedHostKey: string | null | undefined;

/** Boot id + pid namespace on Linux; `undefined` elsewhere. */
function hostKey(): string | undefined {
  if (cachedHostKey === undefined) {
    try {
      const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8")
        .trim();
      const ns = readlinkSync("/proc/self/ns/pid");
      cachedHostKey = /^[\x21-\x7e]+$/.test(boot + ns) ? `${boot}/${ns}` : null;
    } catch {
      cachedHostKey = null;
    }
  }
  return cachedHostKey ?? undefined;
}

function toInfo(s: {
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

async function openRead(
  path: string,
): Promise<ReadableStream<Uint8Array> | undefined> {
  const flags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);
  const handle = await missingAsUndefined(fsp.open(path, flags));
  if (handle === undefined) return undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const buffer = new Uint8Array(CHUNK_SIZE);
        const { bytesRead } = await handle.read(buffer, 0, CHUNK_SIZE, null);
        if (bytesRead === 0) {
          await close();
          controller.close();
        } else {
          controller.enqueue(buffer.subarray(0, bytesRead));
        }
      } catch (error) {
        await close().catch(() => {});
        controller.error(error);
      }
    },
    cancel: close,
  }, { highWaterMark: 0 });
}

async function readNoFollow(
  path: string,
  maxBytes: number,
): Promise<Uint8Array | null | undefined> {
  const flags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);
  const handle = await missingAsUndefined(fsp.open(path, flags));
  if (handle === undefined) return undefined;
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) return null;
    // One read more than the size sees the end (or a file that grew).
    const buffer = new Uint8Array(size + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(
        buffer,
        length,
        buffer.length - length,
        null,
      );
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return length > size ? null : buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

async function createExclusive(
  path: string,
  data: Uint8Array,
): Promise<boolean> {
  // Write the content under a unique name first, then link it into place:
  // link(2) fails atomically if the target exists, even on NFS, and the
  // lock never exists half-written.
  const temp = tempName(path);
  await fsp.writeFile(temp, data, { flag: "wx", mode: 0o600 });
  try {
    await fsp.link(temp, path);
    return true;
  } catch (error) {
    if (codeOf(error) === "EEXIST") return false;
    if (!["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"].includes(codeOf(error))) {
      throw error;
    }
    // No hard links here: fall back to O_EXCL.
    try {
      await fsp.writeFile(path, data, { flag: "wx", mode: 0o600 });
      return true;
    } catch (inner) {
      if (codeOf(inner) === "EEXIST") return false;
      throw inner;
    }
  } finally {
    await fsp.unlink(temp).catch(() => {});
  }
}

async function writeNew(
  path: string,
  data: Uint8Array,
  options: { sync?: boolean } = {},
): Promise<void> {
  const handle = await fsp.open(path, "wx", 0o600);
  try {
    await handle.writeFile(data);
    if (options.sync) await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await fsp.unlink(path).catch(() => {});
    throw error;
  }
  await handle.close();
}

async function syncDir(path: string): Promise<void> {
  const handle = await fsp.open(path, constants.O_RDONLY);
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems (and Windows) cannot fsync a directory.
    if (!["EINVAL", "EISDIR", "EPERM", "ENOTSUP"].includes(codeOf(error))) {
      throw error;
    }
  } finally {
    await handle.close();
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return codeOf(error) === "EPERM";
  }
}

function tempName(path: string): string {
  const random = crypto.getRandomValues(new Uint32Array(2)).join("");
  return `${path}.${hostname()}.${process.pid}.${random}.tmp`;
}

async function missingAsUndefined<T>(
  promise: Promise<T>,
): Promise<T | undefined> {
  try {
    return await promise;
  } catch (error) {
    if (codeOf(error) === "ENOENT") return undefined;
    throw error;
  }
}

function codeOf(error: unknown): string {
  return typeof error === "object" && error !== null && "code" in error
    ? String(error.code)
    : "";
}
