/**
 * Drives a {@linkcode MaildropStore} through by-mbox calls (`lock`, `stat`,
 * `size`, `get`, `uidl`, `dele`, `unlock`), keeping one open handle per
 * mailbox, so that backend tests read like a session's calls. `dele`
 * resolves with the ids the handle reports removed.
 */
import type {
  MaildropHandle,
  MaildropStore,
} from "../../src/storage/maildrop_handle.ts";
import type { MessageSource } from "../../src/storage/types.ts";

export interface ByMbox<M> {
  lock(mbox: M): Promise<boolean>;
  unlock(mbox: M): Promise<void>;
  stat(mbox: M): number;
  size(mbox: M, n?: number): number;
  uidl(mbox: M, n: number): string;
  get(mbox: M, n: number): Promise<MessageSource>;
  dele(mbox: M, ids: readonly number[]): Promise<readonly number[]>;
  handle(mbox: M): MaildropHandle;
}

export function byMbox<M>(
  store: MaildropStore<M>,
  keyOf: (mbox: M) => unknown = (m) => m,
): ByMbox<M> {
  const open = new Map<unknown, MaildropHandle>();
  const handle = (mbox: M) => {
    const h = open.get(keyOf(mbox));
    if (h === undefined) throw new TypeError(`Not locked: ${String(mbox)}`);
    return h;
  };
  const signal = new AbortController().signal;
  return {
    async lock(mbox) {
      if (open.has(keyOf(mbox))) return false;
      const h = await store.openMaildrop(mbox, { user: String(mbox), signal });
      if (h === null) return false;
      open.set(keyOf(mbox), h);
      return true;
    },
    async unlock(mbox) {
      const h = open.get(keyOf(mbox));
      open.delete(keyOf(mbox));
      await h?.close();
    },
    stat: (mbox) => handle(mbox).count,
    size(mbox, n) {
      const h = handle(mbox);
      return n === undefined ? h.octets : h.size(n) as number;
    },
    uidl: (mbox, n) => handle(mbox).uid(n) as string,
    get: async (mbox, n) => await handle(mbox).get(n),
    dele: async (mbox, ids) => await handle(mbox).delete(ids),
    handle,
  };
}
