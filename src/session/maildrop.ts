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

/** Runs a storage callback with the session's deadline and error policy. */
export type Caller = <T>(what: string, fn: () => T | Promise<T>) => Promise<T>;

const CHUNK = 256 * 1024;
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
 * Turns a {@linkcode MessageSource} into a stream of bytes.
 *
 * @example
 * ```ts
 * import { sourceStream } from "./maildrop.ts";
 * const reader = sourceStream("hi").getReader();
 * console.assert((await reader.read()).value?.length === 2);
 * ```
 */
export function sourceStream(
  source: MessageSource,
): ReadableStream<Uint8Array> {
  if (typeof source === "string") source = new TextEncoder().encode(source);
  if (source instanceof Uint8Array) {
    // Hand out views of at most CHUNK octets: no copy, and the session can
    // interleave encoding and writing instead of handling one huge buffer.
    const bytes = source;
    let at = 0;
    return new ReadableStream({
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        const end = Math.min(at + CHUNK, bytes.length);
        controller.enqueue(bytes.subarray(at, end));
        at = end;
      },
    }, { highWaterMark: 0 });
  }
  if (source instanceof ReadableStream) return source;
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
  readonly #call: Caller;
  readonly count: number;
  readonly total: number;
  readonly #sizes: (number | undefined)[];
  readonly #uids: (string | undefined)[];
  readonly #deleted: Uint8Array;
  #deletedCount = 0;
  #deletedOctets = 0;

  private constructor(
    storage: Pop3dStorage<M> | null,
    mbox: M,
    call: Caller,
    count: number,
    total: number,
  ) {
    this.#storage = storage;
    this.#mbox = mbox;
    this.#call = call;
    this.count = count;
    this.total = total;
    this.#sizes = new Array(count);
    this.#uids = new Array(count);
    this.#deleted = new Uint8Array(count + 1);
  }

  /** Reads the message count and total size after a successful lock. */
  static async open<M>(
    storage: Pop3dStorage<M> | null,
    mbox: M,
    call: Caller,
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
    if (this.#deletedCount === 0) return ids;
    for (let i = 1; i <= this.count; i++) if (this.#deleted[i]) ids.push(i);
    return ids;
  }

  /** Whether message `n` is marked deleted. */
  isDeleted(n: number): boolean {
    return this.#deleted[n] === 1;
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
    if (this.#deleted[n]) {
      throw new Pop3Error(`Message ${n} is already deleted`);
    }
    return n;
  }

  /** Size of message `n` in octets, asked once. */
  async size(n: number): Promise<number> {
    const cached = this.#sizes[n - 1];
    if (cached !== undefined) return cached;
    const storage = this.#storage!;
    const size = checkCount(
      "size",
      await this.#call("storage.size", () => storage.size(this.#mbox, n)),
    );
    this.#sizes[n - 1] = size;
    return size;
  }

  /** Marks message `n` deleted. */
  async markDeleted(n: number): Promise<void> {
    const size = await this.size(n);
    if (this.#deleted[n]) return;
    this.#deleted[n] = 1;
    this.#deletedCount++;
    this.#deletedOctets += size;
  }

  /** Unmarks every message (RSET). */
  reset(): void {
    this.#deleted.fill(0);
    this.#deletedCount = 0;
    this.#deletedOctets = 0;
  }

  /** The bytes of message `n`. */
  async get(n: number): Promise<ReadableStream<Uint8Array>> {
    const storage = this.#storage!;
    return sourceStream(
      await this.#call("storage.get", () => storage.get(this.#mbox, n)),
    );
  }

  /** The unique id of message `n`: the storage's, or an MD5 digest of its bytes. */
  async uid(n: number): Promise<string> {
    const cached = this.#uids[n - 1];
    if (cached !== undefined) return cached;
    const storage = this.#storage!;
    let uid: string;
    if (storage.uidl) {
      const value = await this.#call(
        "storage.uidl",
        () => storage.uidl!(this.#mbox, n),
      );
      if (typeof value !== "string" || !UID_PATTERN.test(value)) {
        throw new TypeError(
          `Storage "uidl" returned an invalid id for message ${n}: must be 1 to 70 characters from "!" to "~"`,
        );
      }
      uid = value;
    } else {
      uid = await this.#digest(n);
    }
    this.#uids[n - 1] = uid;
    return uid;
  }

  async #digest(n: number): Promise<string> {
    const reader = (await this.get(n)).getReader();
    const hash = new Md5();
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
