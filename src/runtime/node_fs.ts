/**
 * The default {@linkcode MaildirFs}, over `node:fs`, which Deno, Bun and
 * Node all implement: asynchronous calls throughout, or synchronous ones for
 * metadata and small files (`syncMetadata`).
 *
 * @module
 */

import * as fsp from "node:fs/promises";
import { constants, readFileSync, readlinkSync, statSync } from "node:fs";
import { hostname } from "node:os";
import process from "node:process";
import type { MaildirFs } from "../maildir/maildir_fs.ts";
import {
  codeOf,
  type MetadataCalls,
  NO_HARD_LINKS,
  tempName,
  toDirEntry,
  toInfo,
} from "./_node_fs_common.ts";
import { syncCalls } from "./_node_fs_sync.ts";
import { type ReadInto, withReadInto } from "../_util/read_into.ts";

// Bytes per read of a streamed message. Measured on a 50 MiB RETR (Deno,
// Bun, Node 24; bench/real_path.ts --parts bulk): 256 KiB used 15-17% less
// server CPU per byte than 64 KiB on Deno and Bun, and 1 MiB no less than
// 256 KiB; Node was about even. A larger chunk holds more memory per RETR.
const CHUNK_SIZE = 256 * 1024;

/** Options for {@linkcode nodeFs}. */
export interface NodeFsOptions {
  /**
   * Serve metadata calls and small files with the synchronous `node:fs`
   * functions: `readDir`, `readDirKinds`, `stat`, `realPath`, `mkdir`,
   * `rename`, `unlink`, `createExclusive`, `replaceFile`, `appendFile`,
   * `readFile` and `readNoFollow` (bounded by its `maxBytes`). On a local
   * disk each costs a few microseconds instead of a thread-pool round trip
   * of 70 to 500 µs, but it blocks every session while it runs, so a slow
   * or network file system wants `false`. `openRead` (large bodies, streamed
   * with backpressure), `writeNew` and `syncDir` (which may `fsync`) stay
   * asynchronous either way.
   *
   * @default {false}
   */
  syncMetadata?: boolean;
}

/**
 * Returns the {@linkcode MaildirFs} over `node:fs`: every call through
 * `node:fs/promises`, or with `syncMetadata` the metadata calls and small
 * files through the synchronous functions (the promises they return are
 * already settled, and a missing path is reported the same way).
 *
 * @param options Whether metadata calls are synchronous.
 * @returns The file system used when no `fs` option is given.
 *
 * @example
 * ```ts
 * import { nodeFs } from "./node_fs.ts";
 * const fs = nodeFs({ syncMetadata: true });
 * console.assert(fs.pid() > 0 && fs.isProcessAlive(fs.pid()));
 * console.assert((await fs.stat("/no/such/path")) === undefined);
 * ```
 */
export function nodeFs(options: NodeFsOptions = {}): MaildirFs {
  const host = hostname();
  const common = {
    openRead,
    writeNew,
    syncDir,
    hostname: () => host,
    pid: () => process.pid,
    isProcessAlive,
    hostKey,
    processStart,
    threadId,
    isThreadAlive,
  };
  return options.syncMetadata
    ? { ...common, ...syncCalls(host) }
    : { ...common, ...asyncCalls(host) };
}

function asyncCalls(host: string): MetadataCalls {
  return {
    readDir: (path) => missingAsUndefined(fsp.readdir(path)),
    readDirKinds: async (path) =>
      (await missingAsUndefined(fsp.readdir(path, { withFileTypes: true })))
        ?.map(toDirEntry),
    stat: async (path) => {
      const s = await missingAsUndefined(fsp.lstat(path));
      return s === undefined ? undefined : toInfo(s);
    },
    realPath: (path) => missingAsUndefined(fsp.realpath(path)),
    readNoFollow,
    readFile: async (path) => {
      const data = await missingAsUndefined(fsp.readFile(path));
      return data === undefined ? undefined : new Uint8Array(data);
    },
    createExclusive: (path, data) => createExclusive(host, path, data),
    replaceFile: async (path, data) => {
      const temp = tempName(host, path);
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
  };
}

/**
 * `read` run once, on the first call, in this thread (each worker thread
 * loads this module anew); `undefined` when it throws or finds nothing.
 */
function once(read: () => string | undefined): () => string | undefined {
  let done = false;
  let value: string | undefined;
  return () => {
    if (!done) {
      done = true;
      try {
        value = read();
      } catch {
        value = undefined;
      }
    }
    return value;
  };
}

/** Boot id + pid namespace on Linux; `undefined` elsewhere. */
const hostKey = once(() => {
  const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  const ns = readlinkSync("/proc/self/ns/pid");
  return /^[\x21-\x7e]+$/.test(boot + ns) ? `${boot}/${ns}` : undefined;
});

/** The process's start time in clock ticks after boot (Linux); `undefined` elsewhere. */
const processStart = once(() => {
  const stat = readFileSync("/proc/self/stat", "utf8");
  // Fields after the command name, which may hold spaces and ")":
  // state is field 3, starttime field 22.
  const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  return /^\d+$/.test(start ?? "") ? start : undefined;
});

/**
 * The calling thread's id (Linux: `/proc/thread-self` names
 * `PID/task/TID`); `undefined` elsewhere. The synchronous call runs on the
 * thread it names.
 */
const threadId = once(() => {
  const tid = readlinkSync("/proc/thread-self").split("/").at(-1);
  return /^\d+$/.test(tid ?? "") ? tid : undefined;
});

/** Whether this process still has a thread with this id (Linux). */
function isThreadAlive(id: string): boolean {
  if (!/^\d+$/.test(id)) return false;
  try {
    statSync(`/proc/self/task/${id}`);
    return true;
  } catch (error) {
    // Only a missing entry says the thread is gone.
    return (error as { code?: string }).code !== "ENOENT";
  }
}

async function openRead(
  path: string,
): Promise<ReadableStream<Uint8Array> | undefined> {
  const flags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);
  const handle = await missingAsUndefined(fsp.open(path, flags));
  return handle === undefined ? undefined : fileStream(handle);
}

/**
 * A byte stream over an open file. The stream reads into a buffer of its
 * own, one chunk ahead of its consumer (the thread pool reads the next
 * chunk while the session encodes and sends this one), and each read copies
 * from there into the reader's view: a BYOB reader's own buffer, which it
 * may use again for the next read (no allocation per chunk: measured, the
 * allocations were most of the CPU of a large RETR on Node), or one of
 * `autoAllocateChunkSize` for a default reader.
 *
 * The stream also carries a {@linkcode ReadInto} (`_util/read_into.ts`):
 * after the chunk read at the start (handed over with one copy), each call
 * reads the file straight into the caller's view, which may be WebAssembly
 * memory; the caller then overlaps a read with its own work itself.
 */
function fileStream(handle: fsp.FileHandle): ReadableStream<Uint8Array> {
  let buffer: Uint8Array | undefined = new Uint8Array(CHUNK_SIZE);
  let at = 0; // buffer[at, have) is read and not handed out yet
  let have = 0;
  let failure: unknown;
  // The read in flight: the octets it read, -1 on a failure (kept in
  // `failure`), so that no rejection goes unhandled.
  let ahead: Promise<number> | undefined;
  let closed = false;
  const settle = (read: Promise<{ bytesRead: number }>) =>
    read.then(
      ({ bytesRead }) => bytesRead,
      (error) => {
        failure = error;
        return -1;
      },
    );
  const readAhead = () => {
    ahead = settle(handle.read(buffer!, 0, buffer!.length, null));
  };
  const close = async () => {
    if (closed) return;
    closed = true;
    await ahead; // never rejects; a read in flight ends before the close
    await handle.close();
  };
  const fail = async (): Promise<never> => {
    await close().catch(() => {});
    throw failure;
  };
  let direct = false; // readInto took over from the chunk read at the start
  const readInto: ReadInto = async (view) => {
    if (!direct) {
      direct = true;
      have = await ahead!;
      if (have < 0) return fail();
    }
    if (at < have) {
      const n = Math.min(view.length, have - at);
      view.set(buffer!.subarray(at, at + n));
      at += n;
      if (at === have) buffer = undefined; // not needed any more
      return n;
    }
    if (closed) return 0;
    const read = settle(handle.read(view, 0, view.length, null));
    ahead = read;
    const n = await read;
    if (n < 0) return fail();
    if (n === 0) await close();
    return n;
  };
  const stream = new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: CHUNK_SIZE,
    start: readAhead,
    async pull(controller) {
      // Always set: a default reader's read gets an allocated view.
      const request = controller.byobRequest!;
      try {
        if (at === have) {
          have = await ahead!;
          at = 0;
          if (have < 0) throw failure;
          if (have === 0) {
            await close();
            controller.close();
            request.respond(0);
            return;
          }
        }
        const view = request.view as Uint8Array;
        const n = Math.min(view.length, have - at);
        view.set(buffer!.subarray(at, at + n));
        at += n;
        if (at === have) readAhead();
        request.respond(n);
      } catch (error) {
        await close().catch(() => {});
        controller.error(error);
      }
    },
    cancel: close,
  });
  return withReadInto(stream, readInto);
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
  host: string,
  path: string,
  data: Uint8Array,
): Promise<boolean> {
  // Write the content under a unique name first, then link it into place:
  // link(2) fails atomically if the target exists, even on NFS, and the
  // lock never exists half-written.
  const temp = tempName(host, path);
  await fsp.writeFile(temp, data, { flag: "wx", mode: 0o600 });
  try {
    await fsp.link(temp, path);
    return true;
  } catch (error) {
    if (codeOf(error) === "EEXIST") return false;
    if (!NO_HARD_LINKS.includes(codeOf(error))) throw error;
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
