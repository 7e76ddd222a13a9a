/**
 * The `pop3d.lock` file inside a Maildir: taken atomically, refreshed while
 * held, and taken over only when the holder is surely gone.
 *
 * A lock file names its owner: pid, host name, time, a random token per
 * lock, a random id of the process instance, and the host key (boot id and
 * pid namespace, where the host tells them). A lock is stale when
 *
 * - it was not refreshed for `staleLockMs` (a held lock is refreshed every
 *   third of that), or
 * - this process instance wrote it and no longer holds it, or
 * - it comes from a process with the same host key (so pids are comparable)
 *   whose pid is dead, or is this process's own pid under another instance
 *   id and another process start time (an earlier process), or under the
 *   same start time but from a thread that no longer runs (a worker of
 *   `pop3d --workers` that crashed). A live thread of this process holds
 *   its lock.
 *
 * A host name and pid alone prove nothing: two containers with the same host
 * name both run as pid 1 on shared storage.
 *
 * One timer refreshes every lock the process holds (not one timer per
 * lock), and runs only while some lock is held.
 *
 * @module
 */

import { randomHex } from "../_util/random.ts";
import type { MaildirFs } from "./maildir_fs.ts";

/** The name of the lock file inside each Maildir. */
export const MAILDIR_LOCK_NAME = "pop3d.lock";

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();
// This process instance: unique even where host name and pid repeat.
const INSTANCE = randomHex(16);
// Tokens of the locks this process instance holds, across every storage.
const HELD_TOKENS = new Set<string>();
// The host name written into lock files, asked once per file system.
const HOST_NAMES = new WeakMap<MaildirFs, string>();

interface LockInfo {
  pid: number;
  host: string;
  time: number;
  token: string;
  instance: string | undefined;
  hostKey: string | undefined;
  started: string | undefined;
  thread: string | undefined;
}

/**
 * A held Maildir lock file.
 *
 * @example
 * ```ts ignore
 * const lock = await MaildirLock.acquire(fs, "/var/mail/alice/pop3d.lock", {
 *   staleLockMs: 300_000,
 *   onError: console.error,
 * });
 * if (lock) await lock.release();
 * ```
 */
export class MaildirLock {
  readonly #fs: MaildirFs;
  readonly #path: string;
  readonly #token: string;
  readonly #every: number;
  readonly #onError: (error: unknown) => void;
  #text: string;
  // When the file was last written (Date.now()).
  #writtenAt: number;
  #refreshing: Promise<void> | undefined;

  private constructor(
    fs: MaildirFs,
    path: string,
    token: string,
    text: string,
    options: { staleLockMs: number; onError: (error: unknown) => void },
  ) {
    this.#fs = fs;
    this.#path = path;
    this.#token = token;
    this.#text = text;
    this.#every = Math.max(1000, Math.floor(options.staleLockMs / 3));
    this.#onError = options.onError;
    this.#writtenAt = Date.now();
  }

  /**
   * Creates the lock file, taking over a stale one; `undefined` when another
   * live owner holds it. While held it is refreshed every third of
   * `staleLockMs`; a failed refresh goes to `onError`.
   */
  static async acquire(
    fs: MaildirFs,
    path: string,
    options: { staleLockMs: number; onError: (error: unknown) => void },
  ): Promise<MaildirLock | undefined> {
    const token = randomHex(12);
    const text = lockContent(fs, token);
    if (!(await take(fs, path, ENCODER.encode(text), options.staleLockMs))) {
      return undefined;
    }
    HELD_TOKENS.add(token);
    const lock = new MaildirLock(fs, path, token, text, options);
    REFRESHER.add(lock);
    return lock;
  }

  /** Removes the lock file, if it is still this lock's. */
  async release(): Promise<void> {
    REFRESHER.delete(this);
    // A refresh under way would write the file again after the unlink.
    await this.#refreshing?.catch(() => {});
    HELD_TOKENS.delete(this.#token);
    const raw = await this.#fs.readFile(this.#path);
    if (raw === undefined) return;
    if (parseLock(DECODER.decode(raw))?.token === this.#token) {
      await this.#fs.unlink(this.#path);
    }
  }

  /** Milliseconds between refreshes. */
  get every(): number {
    return this.#every;
  }

  /**
   * Refreshes the file unless it was written less than half a period ago
   * or a refresh is still under way; errors go to `onError`.
   */
  refreshIfDue(now: number): void {
    const age = now - this.#writtenAt;
    // A clock that went back counts as due.
    if (this.#refreshing || (age >= 0 && age < this.#every / 2)) return;
    this.#refreshing = this.#refresh()
      .catch(this.#onError)
      .finally(() => this.#refreshing = undefined);
  }

  async #refresh(): Promise<void> {
    const raw = await this.#fs.readFile(this.#path);
    if (raw === undefined || DECODER.decode(raw) !== this.#text) {
      throw new Error(`Lost the Maildir lock "${this.#path}"`);
    }
    // Released meanwhile (while the file was read): leave it alone.
    if (!REFRESHER.has(this)) return;
    this.#text = lockContent(this.#fs, this.#token);
    await this.#fs.replaceFile(this.#path, ENCODER.encode(this.#text));
    this.#writtenAt = Date.now();
  }
}

/**
 * The one timer that refreshes every held lock. It ticks at the shortest
 * period of the locks held since it started (a third of the smallest
 * `staleLockMs`) and
 * refreshes each lock that is at least half its own period old, so a lock
 * is rewritten at most 1.5 periods after its last write, well before it
 * becomes stale (3 periods). It stops when the last lock is released.
 */
class LockRefresher {
  #locks = new Set<MaildirLock>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #period = Infinity;

  add(lock: MaildirLock): void {
    this.#locks.add(lock);
    if (lock.every < this.#period) this.#start(lock.every);
  }

  delete(lock: MaildirLock): void {
    if (!this.#locks.delete(lock)) return;
    if (this.#locks.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#period = Infinity;
    }
  }

  has(lock: MaildirLock): boolean {
    return this.#locks.has(lock);
  }

  #start(period: number): void {
    clearInterval(this.#timer);
    this.#period = period;
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const lock of this.#locks) lock.refreshIfDue(now);
    }, period);
    // Held locks alone must not keep the process alive (Node and Bun
    // timers have unref; elsewhere this is a no-op).
    (this.#timer as { unref?: () => void }).unref?.();
  }
}

const REFRESHER = new LockRefresher();

async function take(
  fs: MaildirFs,
  path: string,
  data: Uint8Array,
  staleLockMs: number,
): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await fs.createExclusive(path, data)) return true;
    const raw = await fs.readFile(path);
    if (raw === undefined) continue; // released meanwhile
    const info = await fs.stat(path);
    const owner = parseLock(DECODER.decode(raw));
    if (!isStale(fs, owner, info?.mtimeMs, staleLockMs)) return false;
    // Move the stale lock aside under a unique name, then make sure it is
    // the one judged stale and not a fresh lock taken in between.
    const aside = `${path}.stale.${randomHex(12)}`;
    if (!(await fs.rename(path, aside))) continue;
    const moved = await fs.readFile(aside);
    if (moved !== undefined && !sameBytes(moved, raw)) {
      await fs.createExclusive(path, moved);
      await fs.unlink(aside);
      return false;
    }
    await fs.unlink(aside);
  }
  return false;
}

function isStale(
  fs: MaildirFs,
  owner: LockInfo | undefined,
  mtimeMs: number | undefined,
  staleLockMs: number,
): boolean {
  const now = Date.now();
  const age = now - Math.max(owner?.time ?? 0, mtimeMs ?? now);
  if (age > staleLockMs) return true;
  if (owner === undefined || owner.instance === undefined) return false;
  if (owner.instance === INSTANCE) return !HELD_TOKENS.has(owner.token);
  const hostKey = fs.hostKey?.();
  if (hostKey === undefined || owner.hostKey !== hostKey) return false;
  // Same boot and pid namespace: pids mean the same process here.
  if (owner.pid === fs.pid()) {
    // Another thread of this process, or an earlier process with this pid.
    const started = fs.processStart?.();
    if (started === undefined || owner.started !== started) return true;
    // A thread of this process: stale once that thread is gone.
    return owner.thread !== undefined &&
      fs.isThreadAlive?.(owner.thread) === false;
  }
  return !fs.isProcessAlive(owner.pid);
}

function lockContent(fs: MaildirFs, token: string): string {
  const hostKey = fs.hostKey?.() ?? "";
  let host = HOST_NAMES.get(fs);
  if (host === undefined) HOST_NAMES.set(fs, host = fs.hostname());
  const started = fs.processStart?.() ?? "";
  const thread = fs.threadId?.() ?? "";
  return `${fs.pid()}\n${host}\n${Date.now()}\n${token}\n${INSTANCE}\n${hostKey}\n${started}\n${thread}\n`;
}

function parseLock(text: string): LockInfo | undefined {
  const fields = text.split("\n");
  const [pid, host, time, token, instance, hostKey, started, thread] = fields;
  if (!/^\d+$/.test(pid ?? "") || !/^\d+$/.test(time ?? "") || !token) {
    return undefined;
  }
  return {
    pid: Number(pid),
    host: host ?? "",
    time: Number(time),
    token,
    instance: instance || undefined,
    hostKey: hostKey || undefined,
    started: started || undefined,
    thread: thread || undefined,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
