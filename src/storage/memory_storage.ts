/**
 * In-memory maildrops.
 *
 * @module
 */

import { toCrlf } from "../_util/crlf.ts";
import { checkUid } from "../_util/uid.ts";
import type {
  MaildropHandle,
  MaildropStore,
  OpenMaildropContext,
} from "./maildrop_handle.ts";
import type { MessageSource, Pop3dStorage } from "./types.ts";

const encoder = new TextEncoder();

/** One stored message. */
export interface StoredMessage {
  /** The message bytes with CRLF line ends. */
  readonly bytes: Uint8Array;
  /** Its unique id (UIDL). */
  readonly uid: string;
}

/** Options for {@linkcode MemoryStorage.deliver}. */
export interface DeliverOptions {
  /** Unique id for UIDL (1 to 70 characters from `!` to `~`); default: a fresh one. */
  uid?: string;
}

/**
 * Maildrops kept in memory, keyed by name (the storage reference that
 * {@linkcode MemoryAuth} hands out). Messages are stored with CRLF line
 * ends, so sizes are exact on the wire. Mail delivered while a session holds
 * the lock is appended and never renumbers that session's messages.
 *
 * The server opens a maildrop with {@linkcode MemoryStorage.openMaildrop}
 * (lock + snapshot); the seed's by-mbox callbacks (`lock`, `stat`, ...)
 * stay, for code that wraps them, and share the same locks.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "@x/pop3d";
 * const storage = new MemoryStorage();
 * storage.deliver("alice", "Subject: hi\n\nHello\n");
 * console.assert(storage.stat("alice") === 1);
 * console.assert(storage.size("alice", 1) === 22);
 * ```
 */
export class MemoryStorage
  implements Pop3dStorage<string>, MaildropStore<string> {
  #boxes = new Map<string, StoredMessage[]>();
  #locks = new Set<string>();
  #nextUid = 1;
  #uidPrefix = Date.now().toString(36);

  #box(mbox: string): StoredMessage[] {
    let box = this.#boxes.get(mbox);
    if (!box) this.#boxes.set(mbox, box = []);
    return box;
  }

  /**
   * Adds a message to a maildrop; returns its unique id.
   *
   * @throws {TypeError} When the message is not a string or bytes, or the uid is invalid.
   */
  deliver(
    mbox: string,
    message: string | Uint8Array,
    options: DeliverOptions = {},
  ): string {
    if (typeof mbox !== "string") {
      throw new TypeError("Maildrop name must be a string");
    }
    let bytes: Uint8Array;
    if (typeof message === "string") bytes = encoder.encode(message);
    else if (message instanceof Uint8Array) bytes = message.slice();
    else throw new TypeError("Message must be a string or a Uint8Array");
    const uid = checkUid(
      options.uid ?? `${this.#uidPrefix}.${this.#nextUid++}`,
    );
    const box = this.#box(mbox);
    if (box.some((m) => m.uid === uid)) {
      throw new TypeError(`Duplicate message uid: "${uid}"`);
    }
    box.push({ bytes: toCrlf(bytes), uid });
    return uid;
  }

  /** The messages of a maildrop, in order. */
  messages(mbox: string): readonly StoredMessage[] {
    return [...(this.#boxes.get(mbox) ?? [])];
  }

  /** Whether a session holds the maildrop's lock. */
  isLocked(mbox: string): boolean {
    return this.#locks.has(mbox);
  }

  /** Empties one maildrop, or all of them. */
  clear(mbox?: string): void {
    if (mbox === undefined) this.#boxes.clear();
    else this.#boxes.delete(mbox);
  }

  /**
   * Locks a maildrop and takes its snapshot, for one session; `null` when
   * another session holds it. The handle's `close` releases the lock.
   *
   * @example
   * ```ts
   * import { MemoryStorage } from "@x/pop3d";
   * const storage = new MemoryStorage();
   * storage.deliver("alice", "Subject: a\r\n\r\nA\r\n");
   * const signal = new AbortController().signal;
   * const handle = storage.openMaildrop("alice", { user: "alice", signal });
   * console.assert(handle?.count === 1);
   * console.assert(storage.openMaildrop("alice", { user: "alice", signal }) === null);
   * handle?.close();
   * ```
   */
  openMaildrop(
    mbox: string,
    _context?: OpenMaildropContext,
  ): MaildropHandle | null {
    if (!this.lock(mbox)) return null;
    return new MemoryMaildrop(
      this.messages(mbox),
      (doomed) => this.#remove(mbox, doomed),
      () => this.unlock(mbox),
    );
  }

  /** Removes these messages (by identity) from a maildrop. */
  #remove(mbox: string, doomed: ReadonlySet<StoredMessage>): void {
    const box = this.#boxes.get(mbox);
    if (box) this.#boxes.set(mbox, box.filter((m) => !doomed.has(m)));
  }

  /** Takes the maildrop's lock; `false` when another session holds it. */
  lock(mbox: string): boolean {
    if (this.#locks.has(mbox)) return false;
    this.#locks.add(mbox);
    return true;
  }

  /** Releases the maildrop's lock. */
  unlock(mbox: string): void {
    this.#locks.delete(mbox);
  }

  /** Number of messages. */
  stat(mbox: string): number {
    return this.#boxes.get(mbox)?.length ?? 0;
  }

  /**
   * Size of one message, or of the whole maildrop.
   *
   * @throws {RangeError} For a message that does not exist.
   */
  size(mbox: string, msgId?: number): number {
    const box = this.#boxes.get(mbox) ?? [];
    if (msgId === undefined) {
      return box.reduce((sum, m) => sum + m.bytes.length, 0);
    }
    return this.#message(box, msgId).bytes.length;
  }

  /** The bytes of one message. */
  get(mbox: string, msgId: number): MessageSource {
    return this.#message(this.#boxes.get(mbox) ?? [], msgId).bytes;
  }

  /** The unique id of one message. */
  uidl(mbox: string, msgId: number): string {
    return this.#message(this.#boxes.get(mbox) ?? [], msgId).uid;
  }

  /** Deletes messages by number. */
  dele(mbox: string, msgIds: readonly number[]): void {
    const box = this.#boxes.get(mbox);
    if (!box) return;
    const doomed = new Set(msgIds);
    this.#boxes.set(mbox, box.filter((_, i) => !doomed.has(i + 1)));
  }

  #message(box: StoredMessage[], msgId: number): StoredMessage {
    const message = box[msgId - 1];
    if (!message) throw new RangeError(`No message ${msgId}`);
    return message;
  }
}

/** One session's view of a memory maildrop: the snapshot taken at open. */
class MemoryMaildrop implements MaildropHandle {
  readonly count: number;
  readonly octets: number;
  readonly #snapshot: readonly StoredMessage[];
  readonly #remove: (doomed: ReadonlySet<StoredMessage>) => void;
  #unlock: (() => void) | undefined;

  constructor(
    snapshot: readonly StoredMessage[],
    remove: (doomed: ReadonlySet<StoredMessage>) => void,
    unlock: () => void,
  ) {
    this.#snapshot = snapshot;
    this.#remove = remove;
    this.#unlock = unlock;
    this.count = snapshot.length;
    this.octets = snapshot.reduce((n, m) => n + m.bytes.length, 0);
  }

  size(n: number): number {
    return this.#message(n).bytes.length;
  }

  uid(n: number): string {
    return this.#message(n).uid;
  }

  get(n: number): MessageSource {
    return this.#message(n).bytes;
  }

  delete(ids: readonly number[]): readonly number[] {
    const doomed = new Set(ids.map((n) => this.#message(n)));
    this.#remove(doomed);
    return ids;
  }

  close(): void {
    const unlock = this.#unlock;
    this.#unlock = undefined;
    unlock?.();
  }

  #message(n: number): StoredMessage {
    const message = Number.isInteger(n) ? this.#snapshot[n - 1] : undefined;
    if (!message) throw new RangeError(`No message ${n}`);
    return message;
  }
}
