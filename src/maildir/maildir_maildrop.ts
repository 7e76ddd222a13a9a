/**
 * One session's Maildir: the snapshot taken at open, reads that never follow
 * a link, deletes that report exactly what is gone, and the lock release.
 *
 * @module
 */

import { Pop3Error } from "../errors.ts";
import type { MaildropHandle } from "../storage/maildrop_handle.ts";
import type { MessageSource } from "../storage/types.ts";
import type { MaildirFs } from "./maildir_fs.ts";
import type { MaildirEntry } from "./maildir_scan.ts";
import { hasFlag, uniqueOf, withFlag } from "./maildir_name.ts";
import { keywordLetter } from "./dovecot_keywords.ts";

/** What a {@linkcode MaildirMaildrop} needs from its storage. */
export interface MaildirMaildropOptions {
  readonly fs: MaildirFs;
  /** The Maildir directory. */
  readonly dir: string;
  readonly entries: MaildirEntry[];
  readonly markSeen: boolean;
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
  readonly #fs: MaildirFs;
  readonly #cur: string;
  readonly #entries: MaildirEntry[];
  readonly #markSeen: boolean;
  readonly #dir: string;
  readonly #deletedKeyword: string | undefined;
  readonly #onError: (error: unknown) => void;
  #release: (() => Promise<void>) | undefined;

  constructor(options: MaildirMaildropOptions) {
    this.#fs = options.fs;
    this.#cur = `${options.dir}/cur`;
    this.#entries = options.entries;
    this.#markSeen = options.markSeen;
    this.#dir = options.dir;
    this.#deletedKeyword = options.deletedKeyword;
    this.#onError = options.onError;
    this.#release = options.release;
    this.count = options.entries.length;
    this.octets = options.entries.reduce((n, e) => n + e.size, 0);
  }

  size(n: number): number {
    return this.#entry(n).size;
  }

  uid(n: number): string {
    return this.#entry(n).uidl;
  }

  /**
   * Streams the message file (never through a symbolic link). With
   * `markSeen`, the file gets the `S` flag after its last byte was read.
   */
  async get(n: number): Promise<MessageSource> {
    const entry = this.#entry(n);
    const fs = this.#fs;
    let stream = await fs.openRead(`${this.#cur}/${entry.name}`);
    if (stream === undefined && (await this.#relocate(entry))) {
      stream = await fs.openRead(`${this.#cur}/${entry.name}`);
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
        await this.#setSeen(entry).catch(this.#onError);
        controller.close();
      },
      cancel: (reason) => reader.cancel(reason),
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
        const entry = this.#entry(id);
        if (letter === undefined) await this.#unlink(entry);
        else await this.#mark(entry, letter);
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
  async #mark(entry: MaildirEntry, letter: string): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (hasFlag(entry.name, letter)) return;
      const target = withFlag(entry.name, letter);
      const cur = this.#cur;
      if (await this.#fs.rename(`${cur}/${entry.name}`, `${cur}/${target}`)) {
        entry.name = target;
        return;
      }
      if (!(await this.#relocate(entry))) return;
    }
  }

  async #unlink(entry: MaildirEntry): Promise<void> {
    if (await this.#fs.unlink(`${this.#cur}/${entry.name}`)) return;
    if (await this.#relocate(entry)) {
      await this.#fs.unlink(`${this.#cur}/${entry.name}`);
    }
  }

  #entry(n: number): MaildirEntry {
    const entry = Number.isInteger(n) ? this.#entries[n - 1] : undefined;
    if (entry === undefined) {
      throw new RangeError(`Cannot find message ${n} in the Maildir`);
    }
    return entry;
  }

  /**
   * Finds a message another program renamed (new flags) in `cur/`: a
   * regular file with the same unique part, never a link.
   */
  async #relocate(entry: MaildirEntry): Promise<boolean> {
    for (const name of (await this.#fs.readDir(this.#cur)) ?? []) {
      if (name === entry.name || uniqueOf(name) !== entry.unique) continue;
      if (!(await this.#fs.stat(`${this.#cur}/${name}`))?.isFile) continue;
      entry.name = name;
      return true;
    }
    return false;
  }

  async #setSeen(entry: MaildirEntry): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (hasFlag(entry.name, "S")) return;
      const target = withFlag(entry.name, "S");
      const cur = this.#cur;
      if (await this.#fs.rename(`${cur}/${entry.name}`, `${cur}/${target}`)) {
        entry.name = target;
        return;
      }
      if (!(await this.#relocate(entry))) return;
    }
  }
}
