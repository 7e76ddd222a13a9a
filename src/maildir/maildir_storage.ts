/**
 * A {@linkcode Pop3dStorage} over Maildir folders (`new/`, `cur/`, `tmp/`),
 * as Postfix, Dovecot, Courier, procmail and fetchmail write them.
 *
 * @module
 */

import { Pop3Error } from "../errors.ts";
import type { MessageSource, Pop3dStorage } from "../storage/types.ts";
import {
  isStrictlyInside,
  normalizePath,
  resolveInside,
} from "../_util/path.ts";
import type { MaildirFs } from "./maildir_fs.ts";

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
   * Age in milliseconds after which another process's lock file counts as
   * stale (a lock whose process is dead on this host is stale at once). A
   * held lock is refreshed every third of this time.
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
  /** File access; the default (Node's fs/promises API) when omitted. */
  fs?: MaildirFs;
  /**
   * Receives errors that do not fail the client's command (for example a
   * failed `:2,S` rename). No message content or password is passed.
   */
  onError?: (error: unknown) => void;
}

/** The name of the lock file inside each Maildir. */
export const MAILDIR_LOCK_NAME = "pop3d.lock";

interface Entry {
  /** Unique part of the file name: everything before `,` or `:`. */
  unique: string;
  /** Current file name in `cur/`. */
  name: string;
  /** Octets on the wire (CRLF line ends). */
  size: number;
  uidl: string;
}

interface Session {
  dir: string;
  lockPath: string;
  token: string;
  lockText: string;
  entries: Entry[];
  total: number;
  timer: ReturnType<typeof setInterval> | undefined;
}

interface LockInfo {
  pid: number;
  host: string;
  time: number;
  token: string;
}

// Tokens of the locks this process holds, across every MaildirStorage.
const HELD_TOKENS = new Set<string>();
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();
const UIDL_PATTERN = /^[\x21-\x7e]{1,70}$/;
const SIZE_CONCURRENCY = 8;

/**
 * Serves Maildir folders: one Maildir per storage reference, confined to
 * `root`. At `lock` it takes a lock file that other processes respect,
 * moves `new/` mail to `cur/` and takes a snapshot, so message numbers stay
 * fixed for the session; mail delivered later appears in the next session.
 * UIDLs are the unique part of the file names, so they survive restarts,
 * `new/`→`cur/` moves and flag changes. Sizes come from `,W=` when present,
 * otherwise they are counted once (bare LF as CRLF) and cached by name,
 * mtime and size. `get` streams the file; `dele` unlinks.
 *
 * @example Serving `/var/mail/<user>` Maildirs
 * ```ts ignore
 * import { MaildirStorage, PasswdFileAuth, Pop3d } from "@x/pop3d";
 *
 * const storage = new MaildirStorage({ root: "/var/mail" });
 * const auth = new PasswdFileAuth({ path: "/etc/pop3d.passwd", mailRoot: "/var/mail" });
 * const server = new Pop3d({ storage, auth, port: 1110 });
 * ```
 *
 * @example Reading a Maildir directly
 * ```ts
 * import { MaildirStorage } from "@x/pop3d";
 *
 * // Serves /var/mail/alice/{new,cur,tmp}.
 * const storage = new MaildirStorage({ root: "/var/mail" });
 * if (await storage.lock("alice")) {
 *   try {
 *     const count = await storage.stat("alice");
 *     for (let n = 1; n <= count; n++) {
 *       console.log(n, await storage.uidl("alice", n), await storage.size("alice", n));
 *     }
 *   } finally {
 *     await storage.unlock("alice");
 *   }
 * }
 * ```
 */
export class MaildirStorage implements Pop3dStorage<string> {
  #root: string;
  #markSeen: boolean;
  #staleLockMs: number;
  #create: boolean;
  #fs: MaildirFs | undefined;
  #fsPromise: Promise<MaildirFs> | undefined;
  #onError: (error: unknown) => void;
  #sessions = new Map<string, Session>();
  #sizeCache = new Map<string, Map<string, number>>();

  /**
   * Creates the storage over Maildirs under `options.root`; nothing is read until first use.
   *
   * @param options The root directory and behaviour switches.
   * @throws {TypeError} When `root` is missing or empty.
   * @throws {RangeError} When `staleLockMs` is not a positive number.
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
    this.#root = normalizePath(options.root);
    this.#markSeen = options.markSeen ?? true;
    this.#staleLockMs = stale;
    this.#create = options.create ?? true;
    this.#fs = options.fs;
    this.#onError = options.onError ?? (() => {});
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
   * import { MaildirStorage } from "@x/pop3d";
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
   * @returns `false` when another session or process holds the lock.
   */
  async lock(mbox: string): Promise<boolean> {
    if (this.#sessions.has(mbox)) return false;
    const fs = await this.#getFs();
    const [dir, exists] = await this.#confine(fs, this.path(mbox));
    // A missing Maildir (create: false) is an empty maildrop without a file
    // to lock; it is still locked against sessions of this instance.
    const lockPath = exists ? `${dir}/${MAILDIR_LOCK_NAME}` : "";
    const token = randomToken();
    const lockText = lockContent(fs, token);
    // Claim the key before the first await that could interleave.
    const session: Session = {
      dir,
      lockPath,
      token,
      lockText,
      entries: [],
      total: 0,
      timer: undefined,
    };
    this.#sessions.set(mbox, session);
    try {
      if (exists && !(await this.#acquire(fs, lockPath, lockText))) {
        this.#sessions.delete(mbox);
        return false;
      }
    } catch (error) {
      this.#sessions.delete(mbox);
      throw error;
    }
    HELD_TOKENS.add(token);
    try {
      await this.#snapshot(fs, session);
    } catch (error) {
      await this.#release(fs, session).catch(() => {});
      this.#sessions.delete(mbox);
      throw error;
    }
    if (exists) {
      const refresh = Math.max(1000, Math.floor(this.#staleLockMs / 3));
      session.timer = setInterval(() => {
        this.#refresh(fs, session).catch(this.#onError);
      }, refresh);
      // A held lock alone must not keep the process alive (Node and Bun
      // timers have unref; elsewhere this is a no-op).
      (session.timer as { unref?: () => void }).unref?.();
    }
    return true;
  }

  /**
   * Releases the lock file and forgets the snapshot.
   *
   * @param mbox The storage reference.
   */
  async unlock(mbox: string): Promise<void> {
    const session = this.#sessions.get(mbox);
    if (session === undefined) return;
    this.#sessions.delete(mbox);
    await this.#release(await this.#getFs(), session);
  }

  /**
   * The number of messages in the snapshot taken at `lock`.
   *
   * @param mbox The storage reference.
   * @returns The message count.
   */
  stat(mbox: string): number {
    return this.#session(mbox).entries.length;
  }

  /**
   * The size on the wire (CRLF line ends) of one message or of all of them.
   *
   * @param mbox The storage reference.
   * @param msgId A 1-based message number, or omitted for the total.
   * @returns The size in octets.
   */
  size(mbox: string, msgId?: number): number {
    const session = this.#session(mbox);
    if (msgId === undefined) return session.total;
    return entryOf(session, msgId).size;
  }

  /**
   * The message's UIDL: the unique part of its file name, or a digest of it
   * when that is not 1 to 70 printable characters.
   *
   * @param mbox The storage reference.
   * @param msgId A 1-based message number.
   * @returns The unique id.
   */
  uidl(mbox: string, msgId: number): string {
    return entryOf(this.#session(mbox), msgId).uidl;
  }

  /**
   * Streams a message from its file. With `markSeen`, the file is renamed
   * with the `S` flag after its last byte was read.
   *
   * @param mbox The storage reference.
   * @param msgId A 1-based message number.
   * @returns The file's bytes as a stream.
   * @throws {Pop3Error} When another program removed the message.
   */
  async get(mbox: string, msgId: number): Promise<MessageSource> {
    const session = this.#session(mbox);
    const entry = entryOf(session, msgId);
    const fs = await this.#getFs();
    let stream = await fs.openRead(`${session.dir}/cur/${entry.name}`);
    if (stream === undefined && (await this.#relocate(fs, session, entry))) {
      stream = await fs.openRead(`${session.dir}/cur/${entry.name}`);
    }
    if (stream === undefined) {
      throw new Pop3Error("Message was removed by another program");
    }
    if (!this.#markSeen || hasFlag(entry.name, "S")) return stream;
    const reader = stream.getReader();
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const { done, value } = await reader.read();
        if (!done) {
          controller.enqueue(value);
          return;
        }
        await this.#setSeen(fs, session, entry).catch(this.#onError);
        controller.close();
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark: 0 });
  }

  /**
   * Unlinks the files of the given messages. A file that is already gone is
   * skipped silently.
   *
   * @param mbox The storage reference.
   * @param msgIds 1-based message numbers.
   */
  async dele(mbox: string, msgIds: readonly number[]): Promise<void> {
    const session = this.#session(mbox);
    const fs = await this.#getFs();
    for (const id of msgIds) {
      const entry = entryOf(session, id);
      if (await fs.unlink(`${session.dir}/cur/${entry.name}`)) continue;
      if (await this.#relocate(fs, session, entry)) {
        await fs.unlink(`${session.dir}/cur/${entry.name}`);
      }
    }
  }

  #getFs(): Promise<MaildirFs> {
    if (this.#fs !== undefined) return Promise.resolve(this.#fs);
    this.#fsPromise ??= import("../runtime/node_fs.ts").then((m) => {
      this.#fs = m.nodeFs();
      return this.#fs;
    });
    return this.#fsPromise;
  }

  #session(mbox: string): Session {
    const session = this.#sessions.get(mbox);
    if (session === undefined) {
      throw new TypeError(`Cannot use Maildir "${mbox}": it is not locked`);
    }
    return session;
  }

  /**
   * Checks symlinks against the root and creates a missing Maildir. Returns
   * the path and whether the Maildir exists now.
   */
  async #confine(
    fs: MaildirFs,
    dir: string,
  ): Promise<[dir: string, exists: boolean]> {
    const realRoot = await fs.realPath(this.#root);
    if (realRoot === undefined) {
      throw new Error(`Cannot open Maildir: root "${this.#root}" is missing`);
    }
    // The deepest existing ancestor must resolve inside the root, so that
    // neither reading nor mkdir can follow a link out of it.
    let existing = dir;
    let real = await fs.realPath(existing);
    while (real === undefined && isStrictlyInside(this.#root, existing)) {
      existing = existing.slice(0, existing.lastIndexOf("/")) || "/";
      real = await fs.realPath(existing);
    }
    const inside = real !== undefined &&
      (existing === dir
        ? isStrictlyInside(normalizePath(realRoot), normalizePath(real))
        : (real === realRoot ||
          isStrictlyInside(normalizePath(realRoot), normalizePath(real))));
    if (!inside) {
      throw new RangeError(
        `Cannot open Maildir: "${dir}" resolves outside the root`,
      );
    }
    if (existing !== dir && !this.#create) return [dir, false];
    const info = existing === dir ? await fs.stat(dir) : undefined;
    if (info !== undefined && !info.isDirectory && !info.isSymlink) {
      throw new Error(`Cannot open Maildir: "${dir}" is not a directory`);
    }
    if (this.#create) {
      for (const sub of ["cur", "new", "tmp"]) await fs.mkdir(`${dir}/${sub}`);
    }
    return [dir, true];
  }

  async #acquire(
    fs: MaildirFs,
    lockPath: string,
    lockText: string,
  ): Promise<boolean> {
    const data = ENCODER.encode(lockText);
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await fs.createExclusive(lockPath, data)) return true;
      const raw = await fs.readFile(lockPath);
      if (raw === undefined) continue; // released meanwhile
      const info = await fs.stat(lockPath);
      if (!this.#isStale(fs, parseLock(DECODER.decode(raw)), info?.mtimeMs)) {
        return false;
      }
      // Move the stale lock aside under a unique name, then make sure it is
      // the one judged stale and not a fresh lock taken in between.
      const aside = `${lockPath}.stale.${randomToken()}`;
      if (!(await fs.rename(lockPath, aside))) continue;
      const moved = await fs.readFile(aside);
      if (moved !== undefined && !sameBytes(moved, raw)) {
        await fs.createExclusive(lockPath, moved);
        await fs.unlink(aside);
        return false;
      }
      await fs.unlink(aside);
    }
    return false;
  }

  #isStale(
    fs: MaildirFs,
    info: LockInfo | undefined,
    mtimeMs: number | undefined,
  ): boolean {
    const now = Date.now();
    const age = now - Math.max(info?.time ?? 0, mtimeMs ?? now);
    if (age > this.#staleLockMs) return true;
    if (info === undefined || info.host !== fs.hostname()) return false;
    if (info.pid === fs.pid()) return !HELD_TOKENS.has(info.token);
    return !fs.isProcessAlive(info.pid);
  }

  async #refresh(fs: MaildirFs, session: Session): Promise<void> {
    const raw = await fs.readFile(session.lockPath);
    if (
      raw === undefined || !sameBytes(raw, ENCODER.encode(session.lockText))
    ) {
      throw new Error(`Lost the lock of Maildir "${session.dir}"`);
    }
    session.lockText = lockContent(fs, session.token);
    await fs.replaceFile(session.lockPath, ENCODER.encode(session.lockText));
  }

  async #release(fs: MaildirFs, session: Session): Promise<void> {
    clearInterval(session.timer);
    HELD_TOKENS.delete(session.token);
    if (session.lockPath === "") return;
    const raw = await fs.readFile(session.lockPath);
    if (raw === undefined) return;
    if (parseLock(DECODER.decode(raw))?.token === session.token) {
      await fs.unlink(session.lockPath);
    }
  }

  async #snapshot(fs: MaildirFs, session: Session): Promise<void> {
    const { dir } = session;
    for (const name of (await fs.readDir(`${dir}/new`)) ?? []) {
      if (name.startsWith(".")) continue;
      const info = await fs.stat(`${dir}/new/${name}`);
      if (!info?.isFile) continue;
      const target = name.includes(":") ? name : `${name}:2,`;
      await fs.rename(`${dir}/new/${name}`, `${dir}/cur/${target}`);
    }
    const found: {
      name: string;
      unique: string;
      time: number;
      mtimeMs: number;
      fileSize: number;
    }[] = [];
    for (const name of (await fs.readDir(`${dir}/cur`)) ?? []) {
      if (name.startsWith(".")) continue;
      const info = await fs.stat(`${dir}/cur/${name}`);
      if (!info?.isFile) continue; // symlinks and directories are never served
      const unique = uniqueOf(name);
      const time = deliveryTime(unique, info.mtimeMs);
      found.push({
        name,
        unique,
        time,
        mtimeMs: info.mtimeMs,
        fileSize: info.size,
      });
    }
    found.sort((a, b) =>
      a.time - b.time ||
      (a.unique < b.unique ? -1 : a.unique > b.unique ? 1 : 0) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    );

    const oldCache = this.#sizeCache.get(dir) ?? new Map<string, number>();
    const newCache = new Map<string, number>();
    const entries: Entry[] = found.map((f) => ({
      unique: f.unique,
      name: f.name,
      size: -1,
      uidl: f.unique,
    }));
    const pending: number[] = [];
    for (let i = 0; i < found.length; i++) {
      const wire = fieldOf(found[i].name, "W");
      const key = `${found[i].unique}\0${found[i].mtimeMs}\0${
        found[i].fileSize
      }`;
      const cached = oldCache.get(key);
      if (wire !== undefined) entries[i].size = wire;
      else if (cached !== undefined) {
        entries[i].size = cached;
        newCache.set(key, cached);
      } else pending.push(i);
    }
    let next = 0;
    const worker = async () => {
      while (next < pending.length) {
        const i = pending[next++];
        const path = `${dir}/cur/${found[i].name}`;
        const size = await wireSize(fs, path);
        entries[i].size = size ?? 0;
        if (size !== undefined) {
          newCache.set(
            `${found[i].unique}\0${found[i].mtimeMs}\0${found[i].fileSize}`,
            size,
          );
        }
      }
    };
    await Promise.all(
      Array.from(
        { length: Math.min(SIZE_CONCURRENCY, pending.length) },
        worker,
      ),
    );
    this.#sizeCache.set(dir, newCache);

    const used = new Set<string>();
    for (const entry of entries) {
      if (!UIDL_PATTERN.test(entry.uidl) || used.has(entry.uidl)) {
        entry.uidl = await digestId(`${entry.unique}\0${entry.name}`);
      }
      used.add(entry.uidl);
    }
    session.entries = entries;
    session.total = entries.reduce((n, e) => n + e.size, 0);
  }

  /** Finds a message renamed by another program (new flags) in `cur/`. */
  async #relocate(
    fs: MaildirFs,
    session: Session,
    entry: Entry,
  ): Promise<boolean> {
    for (const name of (await fs.readDir(`${session.dir}/cur`)) ?? []) {
      if (name !== entry.name && uniqueOf(name) === entry.unique) {
        entry.name = name;
        return true;
      }
    }
    return false;
  }

  async #setSeen(fs: MaildirFs, session: Session, entry: Entry): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (hasFlag(entry.name, "S")) return;
      const target = withFlag(entry.name, "S");
      const cur = `${session.dir}/cur`;
      if (await fs.rename(`${cur}/${entry.name}`, `${cur}/${target}`)) {
        entry.name = target;
        return;
      }
      if (!(await this.#relocate(fs, session, entry))) return;
    }
  }
}

function entryOf(session: Session, msgId: number): Entry {
  const entry = Number.isInteger(msgId)
    ? session.entries[msgId - 1]
    : undefined;
  if (entry === undefined) {
    throw new RangeError(`Cannot find message ${msgId} in the Maildir`);
  }
  return entry;
}

/** The unique part of a Maildir file name (before `:` info and `,` fields). */
function uniqueOf(name: string): string {
  const colon = name.indexOf(":");
  const base = colon === -1 ? name : name.slice(0, colon);
  const comma = base.indexOf(",");
  return comma === -1 ? base : base.slice(0, comma);
}

/**
 * Delivery time in microseconds: the seconds that start a Maildir unique
 * name plus its `M<usec>` part (Dovecot, Courier, Postfix write it), or the
 * file's mtime for names without a time.
 */
function deliveryTime(unique: string, mtimeMs: number): number {
  const match = /^(\d{1,12})(?:\.(?:[^.]*?M(\d{1,6})(?!\d))?|$)/.exec(unique);
  if (match === null) return Math.floor(mtimeMs * 1000);
  return Number(match[1]) * 1_000_000 + Number(match[2] ?? 0);
}

/** A numeric `,KEY=value` field of the file name, such as `S` or `W`. */
function fieldOf(name: string, key: string): number | undefined {
  const colon = name.indexOf(":");
  const base = colon === -1 ? name : name.slice(0, colon);
  for (const field of base.split(",").slice(1)) {
    if (field.startsWith(`${key}=`) && /^\d{1,15}$/.test(field.slice(2))) {
      return Number(field.slice(2));
    }
  }
  return undefined;
}

function flagsOf(name: string): string | undefined {
  const info = name.indexOf(":2,");
  return info === -1 ? undefined : name.slice(info + 3);
}

function hasFlag(name: string, flag: string): boolean {
  return flagsOf(name)?.includes(flag) ?? false;
}

function withFlag(name: string, flag: string): string {
  const flags = flagsOf(name);
  if (flags === undefined) {
    const colon = name.indexOf(":");
    return `${colon === -1 ? name : name.slice(0, colon)}:2,${flag}`;
  }
  const sorted = [...new Set([...flags, flag])].sort().join("");
  return `${name.slice(0, name.length - flags.length)}${sorted}`;
}

/** Counts a file's octets with every bare LF counted as CRLF. */
async function wireSize(
  fs: MaildirFs,
  path: string,
): Promise<number | undefined> {
  const stream = await fs.openRead(path);
  if (stream === undefined) return undefined;
  let size = 0;
  let previous = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) {
      if ((i === 0 ? previous : chunk[i - 1]) !== 13) size++;
    }
    if (chunk.length > 0) previous = chunk[chunk.length - 1];
  }
  return size;
}

async function digestId(text: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", ENCODER.encode(text)),
  );
  let hex = "";
  for (const byte of digest.subarray(0, 20)) {
    hex += byte.toString(16).padStart(2, "0");
  }
  return hex;
}

function lockContent(fs: MaildirFs, token: string): string {
  return `${fs.pid()}\n${fs.hostname()}\n${Date.now()}\n${token}\n`;
}

function parseLock(text: string): LockInfo | undefined {
  const [pid, host, time, token] = text.split("\n");
  if (!/^\d+$/.test(pid ?? "") || !/^\d+$/.test(time ?? "") || !token) {
    return undefined;
  }
  return { pid: Number(pid), host: host ?? "", time: Number(time), token };
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
