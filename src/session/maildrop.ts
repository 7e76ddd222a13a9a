/**
 * A locked maildrop as one session sees it: fixed message numbers, cached
 * sizes and ids, deletion marks, over a {@linkcode MaildropHandle}.
 *
 * @module
 */

import { Pop3Error } from "../errors.ts";
import type { MaildropHandle } from "../storage/maildrop_handle.ts";
import { type MessageBody, messageBody } from "../storage/message_body.ts";

/**
 * Runs a storage call with the session's deadline and error policy; may
 * return a synchronous call's value as it is (see `callNow`).
 */
export type StorageCaller = <T>(
  what: string,
  fn: () => T | Promise<T>,
) => T | Promise<T>;

/**
 * What runs the storage calls: the session itself (its `callNow` method).
 *
 * @example
 * ```ts
 * import type { StorageCalls } from "./maildrop.ts";
 * const calls: StorageCalls = { callNow: (_what, fn) => fn() };
 * console.assert(calls.callNow("storage.size", () => 3) === 3);
 * ```
 */
export interface StorageCalls {
  /** See {@linkcode StorageCaller}. */
  callNow: StorageCaller;
}

const UID_PATTERN = /^[!-~]{1,70}$/;

function checkCount(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(
      `Storage "${what}" returned an invalid number: ${String(value)}`,
    );
  }
  return value;
}

/**
 * The session's view of a locked maildrop (RFC 1939 §5). Message numbers are
 * `1..count` as of login, and never change during the session. `close`
 * waits for a delete that is still running, so the lock is never given up
 * while messages are being removed.
 *
 * @example
 * ```ts ignore
 * const drop = new Maildrop(handle, session);
 * await drop.markDeleted(drop.live(1));
 * ```
 */
export class Maildrop {
  readonly #handle: MaildropHandle;
  readonly #calls: StorageCalls;
  readonly count: number;
  readonly total: number;
  // Filled as the client asks, so a session costs nothing per message until
  // it asks about messages (LIST, UIDL, DELE).
  #sizes: (number | undefined)[] | undefined;
  #uids: (string | undefined)[] | undefined;
  #deleted: Uint8Array | undefined;
  #deletedCount = 0;
  #deletedOctets = 0;
  #deleting: Promise<unknown> | undefined;
  #removed = 0;
  #closing: Promise<void> | undefined;
  #closedWithin: Promise<void> | undefined;

  /**
   * @param handle The open maildrop.
   * @param calls Applies the session's deadline to each storage call (the
   * session: no closure per session).
   */
  constructor(handle: MaildropHandle, calls: StorageCalls) {
    this.#handle = handle;
    this.#calls = calls;
    this.count = checkCount("count", handle.count);
    this.total = this.count === 0 ? 0 : checkCount("size", handle.octets);
  }

  /** Messages not marked deleted. */
  get liveCount(): number {
    return this.count - this.#deletedCount;
  }

  /** Octets of the messages not marked deleted. */
  get liveOctets(): number {
    return Math.max(0, this.total - this.#deletedOctets);
  }

  /** Numbers marked deleted, ascending. */
  deletedIds(): number[] {
    const ids: number[] = [];
    const deleted = this.#deleted;
    if (deleted === undefined || this.#deletedCount === 0) return ids;
    for (let i = 1; i <= this.count; i++) if (deleted[i]) ids.push(i);
    return ids;
  }

  /** Whether message `n` is marked deleted. */
  isDeleted(n: number): boolean {
    return this.#deleted?.[n] === 1;
  }

  /**
   * Checks that `n` names a message that exists and is not deleted.
   *
   * @throws {Pop3Error} Otherwise.
   */
  live(n: number): number {
    if (n < 1 || n > this.count) {
      throw new Pop3Error(`There is no message ${n}`);
    }
    if (this.#deleted?.[n]) {
      throw new Pop3Error(`Message ${n} is already deleted`);
    }
    return n;
  }

  /**
   * Size of message `n` in octets, asked once; a Promise only when the
   * storage answers with one.
   */
  size(n: number): number | Promise<number> {
    const cached = this.#sizes?.[n - 1];
    if (cached !== undefined) return cached;
    const keep = (value: unknown): number =>
      (this.#sizes ??= [])[n - 1] = checkCount("size", value);
    const size = this.#calls.callNow(
      "storage.size",
      () => this.#handle.size(n),
    );
    return size instanceof Promise ? size.then(keep) : keep(size);
  }

  /** Marks message `n` deleted. */
  async markDeleted(n: number): Promise<void> {
    const size = await this.size(n);
    const deleted = this.#deleted ??= new Uint8Array(this.count + 1);
    if (deleted[n]) return;
    deleted[n] = 1;
    this.#deletedCount++;
    this.#deletedOctets += size;
  }

  /** Unmarks every message (RSET). */
  reset(): void {
    this.#deleted?.fill(0);
    this.#deletedCount = 0;
    this.#deletedOctets = 0;
  }

  /** The bytes of message `n`. */
  async get(n: number): Promise<MessageBody> {
    return messageBody(
      await this.#calls.callNow("storage.get", () => this.#handle.get(n)),
    );
  }

  /**
   * The unique id of message `n`, asked once; a Promise only when the
   * answer needs waiting for.
   */
  uid(n: number): string | Promise<string> {
    const cached = this.#uids?.[n - 1];
    if (cached !== undefined) return cached;
    const check = (value: unknown): string => {
      if (typeof value !== "string" || !UID_PATTERN.test(value)) {
        throw new TypeError(
          `Storage "uidl" returned an invalid id for message ${n}: must be 1 to 70 characters from "!" to "~"`,
        );
      }
      // A handle whose ids are computed the same every time (a Maildir's
      // snapshot) is asked again instead of kept: no string per message.
      if (this.#handle.uidsStable) return value;
      return (this.#uids ??= [])[n - 1] = value;
    };
    const value = this.#calls.callNow(
      "storage.uidl",
      () => this.#handle.uid(n),
    );
    return value instanceof Promise ? value.then(check) : check(value);
  }

  /**
   * Deletes the marked messages in storage (UPDATE state); returns how many
   * were removed. The handle's delete runs to its end even when the caller
   * stops waiting for it; `close` waits for it.
   */
  async commit(): Promise<number> {
    const ids = this.deletedIds();
    if (ids.length === 0) return 0;
    const removed = await this.#calls.callNow("storage.dele", () => {
      const started = Promise.resolve(this.#handle.delete(ids));
      // Known even when the caller stopped waiting (callbackTimeout): the
      // logout event then tells what was really removed.
      this.#deleting = started.then(
        (done) => this.#removed = Array.isArray(done) ? done.length : 0,
        () => {},
      );
      return started;
    });
    if (!Array.isArray(removed)) {
      throw new TypeError(
        `Storage "delete" returned an invalid value: ${String(removed)}`,
      );
    }
    return this.#removed = removed.length;
  }

  /** Messages removed from storage so far, as the handle's delete reported. */
  get removed(): number {
    return this.#removed;
  }

  /**
   * Releases the lock exactly once, after any delete has settled; later
   * calls return the same Promise.
   */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      await this.#deleting;
      await this.#calls.callNow("storage.unlock", () => this.#handle.close());
    })();
  }

  /**
   * {@linkcode Maildrop.close}, waited for at most `ms` milliseconds: a
   * delete that hangs keeps the lock (it may still be removing messages),
   * but not the session; the unlock follows whenever the delete settles.
   * An unlock failure goes to `report`.
   */
  closeWithin(ms: number, report: (error: unknown) => void): Promise<void> {
    return this.#closedWithin ??= new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.close().catch(report).finally(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
