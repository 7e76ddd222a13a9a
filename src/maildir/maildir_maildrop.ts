/**
 * One session's Maildir: the snapshot taken at open, reads that never follow
 * a link, deletes that report exactly what is gone, and the lock release.
 *
 * @module
 */

import { Pop3Error } from "../errors.ts";
import type { MaildropHandle } from "../storage/maildrop_handle.ts";
import type { MessageSource } from "../storage/types.ts";
import { type MaildirFs, SMALL_FILE } from "./maildir_fs.ts";
import type { MaildirSnapshot } from "./maildir_snapshot.ts";
import { countBareLf } from "../_util/crlf.ts";
import { onStreamEnd } from "../_util/on_stream_end.ts";
import {
  baseNameOf,
  hasFlag,
  uniqueOf,
  wireSizeOf,
  withFlag,
} from "./maildir_name.ts";
import { keywordLetter } from "./dovecot_keywords.ts";

/** What a {@linkcode MaildirMaildrop} needs from its storage. */
export interface MaildirMaildropOptions {
  readonly fs: MaildirFs;
  /** The Maildir directory. */
  readonly dir: string;
  readonly snapshot: MaildirSnapshot;
  readonly markSeen: boolean;
  /**
   * Called with a message's base name when its file, read whole, did not
   * have the size a cache gave it (the cached count is then dropped).
   */
  readonly onWrongSize?: (baseName: string) => void;
  /**
   * "Keep on server": deleting adds this keyword's flag letter instead of
   * unlinking (Dovecot's `pop3_deleted_flag`); `undefined` unlinks.
   */
  readonly deletedKeyword?: string;
  readonly onError: (error: unknown) => void;
  /** Releases the lock file and the in-process lock. */
  readonly release: () => Promise<void>;
}

/**
 * A locked Maildir as one session holds it.
 *
 * @example
 * ```ts ignore
 * const handle = await storage.openMaildrop("alice", context);
 * ```
 */
export class MaildirMaildrop implements MaildropHandle {
  readonly count: number;
  readonly octets: number;
  /** UIDLs are made from the snapshot, the same at every call. */
  readonly uidsStable = true;
  readonly #fs: MaildirFs;
  readonly #cur: string;
  readonly #snapshot: MaildirSnapshot;
  readonly #onWrongSize: ((baseName: string) => void) | undefined;
  readonly #markSeen: boolean;
  readonly #dir: string;
  readonly #deletedKeyword: string | undefined;
  readonly #onError: (error: unknown) => void;
  #release: (() => Promise<void>) | undefined;

  constructor(options: MaildirMaildropOptions) {
    this.#fs = options.fs;
    // Joined: one flat string for as long as the session holds it.
    this.#cur = [options.dir, "/cur"].join("");
    this.#snapshot = options.snapshot;
    this.#onWrongSize = options.onWrongSize;
    this.#markSeen = options.markSeen;
    this.#dir = options.dir;
    this.#deletedKeyword = options.deletedKeyword;
    this.#onError = options.onError;
    this.#release = options.release;
    this.count = options.snapshot.count;
    this.octets = options.snapshot.octets;
  }

  size(n: number): number {
    return this.#snapshot.size(this.#entry(n));
  }

  uid(n: number): string {
    return this.#snapshot.uidl(this.#entry(n));
  }

  /**
   * The message file's bytes (never through a symbolic link): read whole
   * when the snapshot says it is at most {@linkcode SMALL_FILE} octets
   * (and `fs` has `readNoFollow`), else streamed. With `markSeen`, the file
   * gets the `S` flag after its last byte was read: for bytes read whole,
   * when the consumer asks for more after them.
   */
  async get(n: number): Promise<MessageSource> {
    const i = this.#entry(n);
    const snapshot = this.#snapshot;
    const fs = this.#fs;
    const readNoFollow = fs.readNoFollow;
    if (readNoFollow !== undefined && snapshot.size(i) <= SMALL_FILE) {
      const bytes = await this.#open(
        i,
        (path) => readNoFollow.call(fs, path, SMALL_FILE),
      );
      if (bytes !== null) {
        // Only a counted (cached) size can be wrong; a `,W=` size is the
        // deliverer's word, as for Dovecot, and counting it costs a scan.
        const name = snapshot.name(i);
        if (
          wireSizeOf(name) === undefined &&
          bytes.length + countBareLf(bytes) !== snapshot.size(i)
        ) {
          this.#onWrongSize?.(baseNameOf(name));
        }
        if (!this.#markSeen || hasFlag(snapshot.name(i), "S")) return bytes;
        return this.#seenAfter(i, bytes);
      }
    }
    const stream = await this.#open(i, (path) => fs.openRead(path));
    if (!this.#markSeen || hasFlag(snapshot.name(i), "S")) return stream;
    return onStreamEnd(stream, () => this.#setSeen(i).catch(this.#onError));
  }

  /**
   * Opens message `i`'s file with `open`, looking for it once more under
   * new flags (another program renamed it) when it is missing.
   *
   * @throws {Pop3Error} When the file is gone.
   */
  async #open<T>(
    i: number,
    open: (path: string) => Promise<T | undefined>,
  ): Promise<T> {
    let found = await open(`${this.#cur}/${this.#snapshot.name(i)}`);
    if (found === undefined && (await this.#relocate(i))) {
      found = await open(`${this.#cur}/${this.#snapshot.name(i)}`);
    }
    if (found === undefined) {
      throw new Pop3Error("Message was removed by another program");
    }
    return found;
  }

  /**
   * The bytes as a one-chunk stream that sets the `S` flag when it is asked
   * for more after them (not when TOP stops early and cancels it).
   */
  #seenAfter(i: number, bytes: Uint8Array): ReadableStream<Uint8Array> {
    let sent = false;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (!sent) {
          sent = true;
          controller.enqueue(bytes);
          return;
        }
        await this.#setSeen(i).catch(this.#onError);
        controller.close();
      },
    }, { highWaterMark: 0 });
  }

  /**
   * Unlinks each message's file (or, with `deletedKeyword`, adds the
   * keyword's flag letter to its name) and resolves with the numbers whose
   * file is gone (or marked) now (a file another program removed first
   * counts as gone). A failed unlink does not stop the others; it goes to
   * `onError`, or is thrown when no file at all was removed.
   */
  async delete(ids: readonly number[]): Promise<readonly number[]> {
    const removed: number[] = [];
    let failure: unknown;
    const keyword = this.#deletedKeyword;
    const letter = keyword === undefined || ids.length === 0
      ? undefined
      : await keywordLetter(this.#fs, this.#dir, keyword);
    for (const id of ids) {
      try {
        const i = this.#entry(id);
        if (letter === undefined) await this.#unlink(i);
        else await this.#mark(i, letter);
        removed.push(id);
      } catch (error) {
        if (failure === undefined) failure = error;
        else this.#onError(error);
      }
    }
    if (failure !== undefined) {
      if (removed.length === 0) throw failure;
      this.#onError(failure);
    }
    return removed;
  }

  /** Releases the lock; later calls do nothing. */
  async close(): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    await release?.();
  }

  /** Adds `letter` to the flags; a file already gone counts as done. */
  async #mark(i: number, letter: string): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const name = this.#snapshot.name(i);
      if (hasFlag(name, letter)) return;
      const target = withFlag(name, letter);
      const cur = this.#cur;
      if (await this.#fs.rename(`${cur}/${name}`, `${cur}/${target}`)) {
        this.#snapshot.rename(i, target);
        return;
      }
      if (!(await this.#relocate(i))) return;
    }
  }

  async #unlink(i: number): Promise<void> {
    if (await this.#fs.unlink(`${this.#cur}/${this.#snapshot.name(i)}`)) return;
    if (await this.#relocate(i)) {
      await this.#fs.unlink(`${this.#cur}/${this.#snapshot.name(i)}`);
    }
  }

  /** The snapshot index of message `n`. */
  #entry(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > this.count) {
      throw new RangeError(`Cannot find message ${n} in the Maildir`);
    }
    return n - 1;
  }

  /**
   * Finds a message another program renamed (new flags) in `cur/`: a
   * regular file with the same unique part, never a link.
   */
  async #relocate(i: number): Promise<boolean> {
    const current = this.#snapshot.name(i);
    const unique = uniqueOf(current);
    for (const name of (await this.#fs.readDir(this.#cur)) ?? []) {
      if (name === current || uniqueOf(name) !== unique) continue;
      if (!(await this.#fs.stat(`${this.#cur}/${name}`))?.isFile) continue;
      this.#snapshot.rename(i, name);
      return true;
    }
    return false;
  }

  async #setSeen(i: number): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const name = this.#snapshot.name(i);
      if (hasFlag(name, "S")) return;
      const target = withFlag(name, "S");
      const cur = this.#cur;
      if (await this.#fs.rename(`${cur}/${name}`, `${cur}/${target}`)) {
        this.#snapshot.rename(i, target);
        return;
      }
      if (!(await this.#relocate(i))) return;
    }
  }
}
