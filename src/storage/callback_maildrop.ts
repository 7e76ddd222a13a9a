/**
 * The one adapter from the seed's by-mbox storage callbacks
 * ({@linkcode Pop3dStorage}) to the per-session {@linkcode MaildropHandle}.
 *
 * @module
 */

import { Md5 } from "../_util/md5.ts";
import { byteChunks } from "../_util/chunks.ts";
import { toHex } from "../_util/hex.ts";
import type {
  MaildropHandle,
  MaildropStore,
  OpenMaildropContext,
} from "./maildrop_handle.ts";
import { messageBody } from "./message_body.ts";
import type { MessageSource, Pop3dStorage } from "./types.ts";

function checkCount(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(
      `Storage "${what}" returned an invalid number: ${String(value)}`,
    );
  }
  return value;
}

/** Whether `storage` opens maildrop handles itself. */
function isStore<M>(
  storage: Pop3dStorage<M> | MaildropStore<M>,
): storage is MaildropStore<M> {
  return typeof (storage as MaildropStore<M>).openMaildrop === "function";
}

/**
 * Returns a {@linkcode MaildropStore} for any storage the server accepts: a
 * store is returned as it is; the seed's callbacks are adapted, so that
 * `lock` is called at open, `stat` and `size` take the snapshot, and
 * `unlock` is called by `close`.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "@x/pop3d";
 * import { maildropStore } from "./callback_maildrop.ts";
 *
 * const storage = new MemoryStorage();
 * storage.deliver("alice", "Subject: hi\r\n\r\nHi\r\n");
 * const store = maildropStore(storage);
 * const handle = await store.openMaildrop("alice", {
 *   user: "alice",
 *   signal: new AbortController().signal,
 * });
 * console.assert(handle !== null && handle.count === 1);
 * await handle!.close();
 * ```
 */
export function maildropStore<M>(
  storage: Pop3dStorage<M> | MaildropStore<M>,
): MaildropStore<M> {
  if (isStore(storage)) return storage;
  return {
    openMaildrop: (mbox: M, context: OpenMaildropContext) =>
      openCallbackMaildrop(storage, mbox, context),
  };
}

/**
 * Locks `mbox` through the seed's callbacks and takes the snapshot (`stat`,
 * then `size`). Resolves with `null` when `lock` answers `false`. When the
 * snapshot fails after the lock was taken, the lock is released before the
 * error is passed on.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "@x/pop3d";
 * import { openCallbackMaildrop } from "./callback_maildrop.ts";
 *
 * const handle = await openCallbackMaildrop(new MemoryStorage(), "bob", {
 *   user: "bob",
 *   signal: new AbortController().signal,
 * });
 * console.assert(handle?.count === 0);
 * await handle?.close();
 * ```
 */
export async function openCallbackMaildrop<M>(
  storage: Pop3dStorage<M>,
  mbox: M,
  context: OpenMaildropContext,
): Promise<MaildropHandle | null> {
  if (await storage.lock(mbox) !== true) return null;
  if (context.signal.aborted) {
    // The session is gone: give the lock back and do no more work.
    await storage.unlock(mbox);
    return null;
  }
  try {
    const count = checkCount("stat", await storage.stat(mbox));
    const octets = count === 0
      ? 0
      : checkCount("size", await storage.size(mbox));
    return new CallbackMaildrop(storage, mbox, count, octets);
  } catch (error) {
    await Promise.resolve().then(() => storage.unlock(mbox)).catch(() => {});
    throw error;
  }
}

/** A maildrop handle over the seed's callbacks. */
class CallbackMaildrop<M> implements MaildropHandle {
  readonly count: number;
  readonly octets: number;
  readonly #storage: Pop3dStorage<M>;
  readonly #mbox: M;

  constructor(
    storage: Pop3dStorage<M>,
    mbox: M,
    count: number,
    octets: number,
  ) {
    this.#storage = storage;
    this.#mbox = mbox;
    this.count = count;
    this.octets = octets;
  }

  size(n: number): number | Promise<number> {
    const value = this.#storage.size(this.#mbox, n);
    return value instanceof Promise
      ? value.then((v) => checkCount("size", v))
      : checkCount("size", value);
  }

  uid(n: number): string | Promise<string> {
    const storage = this.#storage;
    if (storage.uidl) return storage.uidl(this.#mbox, n);
    return this.#digest(n);
  }

  get(n: number): MessageSource | Promise<MessageSource> {
    return this.#storage.get(this.#mbox, n);
  }

  async delete(ids: readonly number[]): Promise<readonly number[]> {
    await this.#storage.dele(this.#mbox, ids);
    return ids;
  }

  close(): void | Promise<void> {
    return this.#storage.unlock(this.#mbox);
  }

  /** Without `uidl`: an MD5 digest of the message bytes. */
  async #digest(n: number): Promise<string> {
    const body = messageBody(await this.#storage.get(this.#mbox, n));
    const hash = new Md5();
    if (body instanceof Uint8Array) return toHex(hash.update(body).digest());
    const chunks = byteChunks(
      body,
      `Storage "get" stream for message ${n} yielded a non-Uint8Array chunk`,
    );
    for await (const chunk of chunks) hash.update(chunk);
    return toHex(hash.digest());
  }
}
