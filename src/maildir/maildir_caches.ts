/**
 * What a {@linkcode MaildirStorage} keeps about its Maildirs between
 * logins (counted sizes, the cached uidlist, the last listing), bounded.
 *
 * @module
 */

import type { DovecotUidlistCache } from "./dovecot_uidlist_cache.ts";
import type { MaildirSnapshot } from "./maildir_snapshot.ts";

/**
 * What a storage keeps about one Maildir between logins.
 *
 * `sizes` holds the counted wire sizes of files whose names carry no `,W=`,
 * by base name (the name up to `:`), so that no `stat` is needed to trust
 * them. That is safe because a Maildir message file never changes once
 * delivered (the Maildir spec: readers may only rename it to change its
 * `:2,` flags, or unlink it) and its unique name is never given to another
 * message; the base name also keeps `,S=` (the physical size) where the
 * deliverer wrote it. A file rewritten in place under the same name breaks
 * that contract: when such a small message is read whole, the count is
 * checked and a wrong one dropped (see `MaildirMaildrop.get`).
 */
export interface MaildirCache {
  /** Wire sizes by base name, for names without `,W=`. */
  sizes: Map<string, number>;
  /** Dovecot's uidlist as last read (see {@linkcode DovecotUidlistCache}). */
  uidlist?: DovecotUidlistCache;
  /** The last snapshot, while `cur/` is unchanged (see {@linkcode Listing}). */
  listing?: Listing;
}

/**
 * The last snapshot of a Maildir and what it was made from, so that a
 * later login whose `cur/` did not change since (its modification time is
 * the same, and nothing came from `new/`), with the same uidlist and hidden
 * letter, shares it instead of listing `cur/` again, as Dovecot does. A
 * directory's modification time changes with every file created, renamed
 * or removed in it; a listing is kept only when that time was at least
 * {@linkcode SETTLED_MS} older than the listing (a change within the same
 * clock tick as the listing could not be told apart).
 */
export interface Listing {
  curMtimeMs: number;
  hidden: string | undefined;
  uidlist: DovecotUidlistCache | undefined;
  uidlistCount: number;
  snapshot: MaildirSnapshot;
}

/** How old `cur/`'s modification time must be for a listing to be kept. */
export const SETTLED_MS = 2_000;

/**
 * Forgets a cached size that a read showed wrong (a file rewritten in
 * place), and the listing that holds it.
 *
 * @example
 * ```ts ignore
 * forgetSize(cache, "1700000000.M1P2.host");
 * ```
 */
export function forgetSize(cache: MaildirCache, baseName: string): void {
  cache.sizes.delete(baseName);
  cache.listing = undefined;
}

/**
 * The {@linkcode MaildirCache}s of a storage, by Maildir, the least recently
 * used dropped first once they hold more than `limit` entries in all (sizes,
 * uidlist records and listed messages; some 10 to 70 bytes each, so about
 * 30 MB at the default limit), so that memory stays bounded however many
 * Maildirs are served.
 *
 * @example
 * ```ts
 * import { MaildirCaches } from "./maildir_scan.ts";
 * const caches = new MaildirCaches();
 * console.assert(caches.get("/var/mail/alice") === caches.get("/var/mail/alice"));
 * ```
 */
export class MaildirCaches {
  readonly #limit: number;
  /** Each Maildir's cache and the weight last counted for it, oldest use first. */
  readonly #caches = new Map<string, Counted>();
  /** The sum of the counted weights. */
  #total = 0;
  /**
   * The caches handed out last, counted again at every `get`: a session
   * fills its cache after `get` (the listing, the sizes, the uidlist).
   */
  #recent: Counted[] = [];
  #next = 0;
  /** Gets until every cache is counted again. */
  #untilRecount = 0;

  /** Keeps at most about `limit` cached sizes and uidlist records. */
  constructor(limit = 500_000) {
    this.#limit = limit;
  }

  /**
   * The cache of one Maildir (a new one the first time). Constant work per
   * call, not a pass over every Maildir's cache (with 50,000 Maildirs
   * served that pass made a login take 2.3-7.7 ms instead of 0.1-0.2): the
   * total is kept, the recently handed out caches are counted again, and
   * all of them every so often.
   */
  get(key: string): MaildirCache {
    let entry = this.#caches.get(key);
    if (entry === undefined) {
      entry = { cache: { sizes: new Map() }, weight: 0, live: true };
    } else {
      this.#caches.delete(key);
    }
    this.#caches.set(key, entry);
    if (--this.#untilRecount <= 0) this.#recountAll();
    else {
      for (const recent of this.#recent) this.#recount(recent);
      this.#recount(entry);
    }
    if (this.#recent.length < RECENT) this.#recent.push(entry);
    else this.#recent[this.#next++ % RECENT] = entry;
    for (const [other, c] of this.#caches) {
      if (this.#total <= this.#limit || c === entry) break;
      this.#caches.delete(other);
      this.#total -= c.weight;
      c.live = false;
    }
    return entry.cache;
  }

  #recount(c: Counted): void {
    if (!c.live) return;
    const weight = weightOf(c.cache);
    this.#total += weight - c.weight;
    c.weight = weight;
  }

  #recountAll(): void {
    let total = 0;
    for (const c of this.#caches.values()) {
      c.weight = weightOf(c.cache);
      total += c.weight;
    }
    this.#total = total;
    this.#untilRecount = Math.max(RECENT, this.#caches.size >> 2);
  }
}

/** How many of the last handed out caches each `get` counts again. */
const RECENT = 64;

interface Counted {
  cache: MaildirCache;
  weight: number;
  /** Still in the map (an evicted one may still be in `#recent`). */
  live: boolean;
}

function weightOf(cache: MaildirCache): number {
  return cache.sizes.size + (cache.uidlist?.count ?? 0) +
    (cache.listing?.snapshot.count ?? 0);
}
