/**
 * A locked maildrop as one session sees it: fixed message numbers, cached
 * sizes, deletion marks.
 *
 * @module
 */

import { Pop3Error } from "../errors.ts";
import { Md5 } from "../_util/md5.ts";
import { toHex } from "../_util/hex.ts";
import type { MessageSource, Pop3dStorage } from "../storage/types.ts";

/** Runs a callback with the session's deadline and error policy. */
export type Caller = <T>(what: string, fn: () => T | Promise<T>) => Promise<T>;

/**
 * Runs a storage callback with the session's deadline and error policy; may
 * return a synchronous callback's value as it is (see `callNow`).
 */
export type StorageCaller = <T>(
  what: string,
  fn: () => T | Promise<T>,
) => T | Promise<T>;

const UID_PATTERN = /^[!-~]{1,70}$/;

function checkCount(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(
      `Storage "${what}" returned an invalid number: ${String(value)}`,
    );
  }
  return value;
}

/** A message's bytes: in memory, or a stream of chunks. */
export type MessageBody = Uint8Array | ReadableStream<Uint8Array>;

/**
 * Turns a {@linkcode MessageSource} into bytes or a stream of bytes: a
 * string is encoded, a `Blob` is streamed, bytes and streams stay as they
 * are (no copy).
 *
 * @example
 * ```ts
 * import { messageBody } from "./maildrop.ts";
 * const body = messageBody("hi");
 * console.assert(body instanceof Uint8Array && body.length === 2);
 * ```
 */
export function messageBody(source: MessageSource): MessageBody {
  if (typeof source === "string") return new TextEncoder().encode(source);
  if (source instanceof Uint8Array || source instanceof ReadableStream) {
    return source;
  }
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    return source.stream();
  }
  throw new TypeError(
    `Storage "get" returned an unsupported value: ${
      Object.prototype.toString.call(source)
    }`,
  );
}

/**
 * The session's view of a locked maildrop (RFC 1939 §5). Message numbers are
 * `1..count` as of login, and never change during the session.
 *
 * @example
 * ```ts ignore
 * const drop = await Maildrop.open(storage, mbox, call);
 * drop.markDeleted(await drop.live(1));
 * ```
 */
export class Maildrop<M> {
  readonly #storage: Pop3dStorage<M> | null;
  readonly #mbox: M;
  readonly #call: StorageCaller;
  readonly count: number;
  readonly total: number;
  // Filled as the client asks, so a session costs nothing per message until
  // it asks about messages (LIST, UIDL, DELE).
  #sizes: (number | undefined)[] | undefined;
  #uids: (string | undefined)[] | undefined;
  #deleted: Uint8Array | undefined;
  #deletedCount = 0;
  #deletedOctets = 0;

  private constructor(
    storage: Pop3dStorage<M> | null,
    mbox: M,
    call: StorageCaller,
    count: number,
    total: number,
  ) {
    this.#storage = storage;
    this.#mbox = mbox;
    this.#call = call;
    this.count = count;
    this.total = total;
  }

  /** Reads the message count and total size after a successful lock. */
  static async open<M>(
    storage: Pop3dStorage<M> | null,
    mbox: M,
    call: StorageCaller,
  ): Promise<Maildrop<M>> {
    if (!storage) return new Maildrop(null, mbox, call, 0, 0);
    const count = checkCount(
      "stat",
      await call("storage.stat", () => storage.stat(mbox)),
    );
    const total = count === 0 ? 0 : checkCount(
      "size",
      await call("storage.size", () => storage.size(mbox)),
    );
    return new Maildrop(storage, mbox, call, count, total);
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
    const storage = this.#storage!;
    const keep = (value: unknown): number =>
      (this.#sizes ??= [])[n - 1] = checkCount("size", value);
    const size = this.#call("storage.size", () => storage.size(this.#mbox, n));
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
    const storage = this.#storage!;
    return messageBody(
      await this.#call("storage.get", () => storage.get(this.#mbox, n)),
    );
  }

  /**
   * The unique id of message `n`: the storage's, or an MD5 digest of its
   * bytes; asked once, and a Promise only when the answer needs waiting for.
   */
  uid(n: number): string | Promise<string> {
    const cached = this.#uids?.[n - 1];
    if (cached !== undefined) return cached;
    const storage = this.#storage!;
    const keep = (uid: string): string => (this.#uids ??= [])[n - 1] = uid;
    if (!storage.uidl) return this.#digest(n).then(keep);
    const check = (value: unknown): string => {
      if (typeof value !== "string" || !UID_PATTERN.test(value)) {
        throw new TypeError(
          `Storage "uidl" returned an invalid id for message ${n}: must be 1 to 70 characters from "!" to "~"`,
        );
      }
      return keep(value);
    };
    const value = this.#call(
      "storage.uidl",
      () => storage.uidl!(this.#mbox, n),
    );
    return value instanceof Promise ? value.then(check) : check(value);
  }

  async #digest(n: number): Promise<string> {
    const body = await this.get(n);
    const hash = new Md5();
    if (body instanceof Uint8Array) return toHex(hash.update(body).digest());
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await this.#call(
          "storage.get stream",
          () => reader.read(),
        );
        if (done) break;
        if (!(value instanceof Uint8Array)) {
          throw new TypeError(
            `Storage "get" stream for message ${n} yielded a non-Uint8Array chunk`,
          );
        }
        hash.update(value);
      }
    } catch (error) {
      reader.cancel().catch(() => {});
      throw error;
    }
    reader.releaseLock();
    return toHex(hash.digest());
  }

  /** Deletes the marked messages in storage (UPDATE state); returns how many. */
  async commit(): Promise<number> {
    const ids = this.deletedIds();
    if (ids.length === 0 || !this.#storage) return 0;
    const storage = this.#storage;
    await this.#call("storage.dele", () => storage.dele(this.#mbox, ids));
    return ids.length;
  }
}
