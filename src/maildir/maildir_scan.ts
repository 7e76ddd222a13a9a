/**
 * The snapshot of a Maildir taken at login: `new/` mail moved to `cur/`,
 * the regular files of `cur/` in delivery order (or a foreign source's),
 * their sizes on the wire and their UIDLs, kept compactly for the session.
 *
 * @module
 */

import { countBareLf } from "../_util/crlf.ts";
import { toHex } from "../_util/hex.ts";
import { isValidUid } from "../_util/uid.ts";
import type { MaildirFs } from "./maildir_fs.ts";
import {
  baseNameOf,
  deliveryTime,
  hasFlag,
  uniqueOf,
  wireSizeOf,
} from "./maildir_name.ts";
import {
  assignDovecotUidsCached,
  dovecotLockTimes,
  type DovecotUidlistCache,
  type DovecotUidlOptions,
  readDovecotUidlistCached,
} from "./dovecot_uidlist_file.ts";
import {
  compileDovecotUidlFormat,
  DOVECOT_DEFAULT_UIDL_FORMAT,
} from "./dovecot_uidl_format.ts";
import { loadCourierUidls } from "./courier_sizelist.ts";
import type { MaildirUidlSources } from "./maildir_uidl_source.ts";

const ENCODER = new TextEncoder();
const SIZE_CONCURRENCY = 8;

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
interface Listing {
  curMtimeMs: number;
  hidden: string | undefined;
  uidlist: DovecotUidlistCache | undefined;
  uidlistCount: number;
  snapshot: MaildirSnapshot;
}

/** How old `cur/`'s modification time must be for a listing to be kept. */
const SETTLED_MS = 2_000;

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
  readonly #caches = new Map<string, MaildirCache>();

  /** Keeps at most about `limit` cached sizes and uidlist records. */
  constructor(limit = 500_000) {
    this.#limit = limit;
  }

  /** The cache of one Maildir (a new one the first time). */
  get(key: string): MaildirCache {
    const cache = this.#caches.get(key) ?? { sizes: new Map() };
    this.#caches.delete(key);
    let total = 0;
    for (const c of this.#caches.values()) total += weight(c);
    for (const [other, c] of this.#caches) {
      if (total + weight(cache) <= this.#limit) break;
      this.#caches.delete(other);
      total -= weight(c);
    }
    this.#caches.set(key, cache);
    return cache;
  }
}

function weight(cache: MaildirCache): number {
  return cache.sizes.size + (cache.uidlist?.count ?? 0) +
    (cache.listing?.snapshot.count ?? 0);
}

/** How a snapshot's UIDLs are made. */
type Uidls =
  | { kind: "own" }
  | { kind: "dovecot"; suffix: string }
  | { kind: "table"; uidls: string[] };

/**
 * The file names of a snapshot: its own (in one string), or records of
 * Dovecot's cached uidlist plus each file's info part (`:2,<flags>`).
 */
export type SnapshotNames =
  | readonly string[]
  | {
    list: DovecotUidlistCache;
    records: Int32Array;
    /** Each message's name after its base name (usually `:2,<flags>`). */
    infos: readonly string[];
  };

/**
 * One session's view of a Maildir, compact: the names in one string (or,
 * for a Maildir with a Dovecot uidlist, record numbers into the storage's
 * cached uidlist and an index into a few distinct `:2,<flags>` parts),
 * sizes in a typed array, UIDLs made on demand from the name or the Dovecot
 * UID, with sparse overrides (digests, Dovecot's `P`, renamed files).
 * Indices are 0-based.
 *
 * @example
 * ```ts ignore
 * const snapshot = await scanMaildir(fs, dir, { sizes: new Map() });
 * console.log(snapshot.count, snapshot.name(0), snapshot.uidl(0));
 * ```
 */
export class MaildirSnapshot {
  /** Messages listed. */
  readonly count: number;
  /** Their octets on the wire, in all. */
  readonly octets: number;
  readonly #names: string;
  readonly #starts: Uint32Array | undefined;
  readonly #list: DovecotUidlistCache | undefined;
  readonly #records: Int32Array | undefined;
  readonly #infoOf: Uint8Array | Uint16Array | Uint32Array | undefined;
  readonly #infos: string[] | undefined;
  readonly #sizes: Uint32Array | Float64Array;
  readonly #uidls: Uidls;
  #renamed: Map<number, string> | undefined;
  #overrides: Map<number, string> | undefined;

  /**
   * Takes the names, sizes and UIDLs (see {@linkcode scanMaildir}), or
   * shares those of an earlier snapshot of an unchanged Maildir (never its
   * renames).
   */
  constructor(
    names: SnapshotNames | MaildirSnapshot,
    sizes: Uint32Array | Float64Array = new Uint32Array(0),
    uidls: Uidls = { kind: "own" },
    overrides?: Map<number, string>,
  ) {
    if (names instanceof MaildirSnapshot) {
      this.count = names.count;
      this.octets = names.octets;
      this.#names = names.#names;
      this.#starts = names.#starts;
      this.#list = names.#list;
      this.#records = names.#records;
      this.#infoOf = names.#infoOf;
      this.#infos = names.#infos;
      this.#sizes = names.#sizes;
      this.#uidls = names.#uidls;
      this.#overrides = names.#overrides;
      return;
    }
    if (isNameList(names)) {
      this.count = names.length;
      this.#names = names.join("/");
      const starts = new Uint32Array(names.length + 1);
      let at = 0;
      for (let i = 0; i < names.length; i++) {
        starts[i] = at;
        at += names[i].length + 1;
      }
      starts[names.length] = at;
      this.#starts = starts;
    } else {
      this.count = names.records.length;
      this.#names = "";
      this.#list = names.list;
      this.#records = names.records;
      const infos: string[] = [];
      const known = new Map<string, number>();
      const infoOf = new Uint32Array(names.infos.length);
      for (let i = 0; i < infoOf.length; i++) {
        const info = names.infos[i];
        let k = known.get(info);
        if (k === undefined) {
          k = infos.push(info) - 1;
          known.set(info, k);
        }
        infoOf[i] = k;
      }
      this.#infos = infos;
      this.#infoOf = infos.length <= 0x100
        ? Uint8Array.from(infoOf)
        : infos.length <= 0x10000
        ? Uint16Array.from(infoOf)
        : infoOf;
    }
    let octets = 0;
    for (let i = 0; i < this.count; i++) octets += sizes[i];
    this.#sizes = sizes;
    this.#uidls = uidls;
    this.#overrides = overrides?.size ? overrides : undefined;
    this.octets = octets;
  }

  /** The current file name of message `i` in `cur/`. */
  name(i: number): string {
    const renamed = this.#renamed?.get(i);
    if (renamed !== undefined) return renamed;
    const starts = this.#starts;
    if (starts !== undefined) {
      return this.#names.slice(starts[i], starts[i + 1] - 1);
    }
    return this.#list!.fileName(this.#records![i]) +
      this.#infos![this.#infoOf![i]];
  }

  /** Records that message `i` was renamed (new flags). */
  rename(i: number, name: string): void {
    (this.#renamed ??= new Map()).set(i, name);
  }

  /** The unique part of message `i`'s name. */
  unique(i: number): string {
    return uniqueOf(this.name(i));
  }

  /** The size on the wire of message `i`. */
  size(i: number): number {
    return this.#sizes[i];
  }

  /** The UIDL of message `i`. */
  uidl(i: number): string {
    const override = this.#overrides?.get(i);
    if (override !== undefined) return override;
    const uidls = this.#uidls;
    if (uidls.kind === "dovecot") {
      const uid = this.#list!.uid(this.#records![i]);
      return uid.toString(16).padStart(8, "0") + uidls.suffix;
    }
    if (uidls.kind === "table") return uidls.uidls[i];
    return this.unique(i);
  }

  /** Replaces UIDLs that are not valid or repeat one listed before. */
  async makeUnique(): Promise<void> {
    const used = new Set<string>();
    for (let i = 0; i < this.count; i++) {
      const uidl = this.uidl(i);
      if (!isValidUid(uidl) || used.has(uidl)) {
        const name = this.name(i);
        const digest = await digestId(`${uniqueOf(name)}\0${name}`);
        (this.#overrides ??= new Map()).set(i, digest);
        used.add(digest);
      } else used.add(uidl);
    }
  }
}

function isNameList(names: SnapshotNames): names is readonly string[] {
  return Array.isArray(names);
}

/**
 * Moves `new/` mail to `cur/` and lists `cur/`: regular files only (a
 * symbolic link is never listed, so never read, renamed or unlinked), in
 * delivery order. Sizes come from `,W=`, from `cache`, or are counted;
 * `cache.sizes` is replaced by the counted sizes of this snapshot. When
 * `sources` names a foreign UIDL source the Maildir has (Dovecot's or
 * Courier's), its order, UIDLs and sizes win. Files whose `:2,` flags carry
 * the letter `hidden` (a keyword letter: "keep on server" mode) are left
 * out. No `stat` per message when `fs` has `readDirKinds`.
 *
 * @example
 * ```ts ignore
 * const snapshot = await scanMaildir(fs, "/var/mail/alice", cache);
 * ```
 */
export async function scanMaildir(
  fs: MaildirFs,
  dir: string,
  cache: MaildirCache,
  sources: MaildirUidlSources = { dovecot: false, courier: false },
  hidden?: string,
): Promise<MaildirSnapshot> {
  let moved = false;
  for (const name of await regularFiles(fs, `${dir}/new`)) {
    const target = name.includes(":") ? name : `${name}:2,`;
    await fs.rename(`${dir}/new/${name}`, `${dir}/cur/${target}`);
    moved = true;
  }
  // The listing can be shared only with the uidlist it was made from;
  // reading it also picks up lines Dovecot appended.
  const uidlist = sources.dovecot === false
    ? undefined
    : await readDovecotUidlistCached(fs, dir, cache);
  const listedAt = Date.now();
  const cur = await fs.stat(`${dir}/cur`);
  const last = cache.listing;
  cache.listing = undefined;
  if (
    last !== undefined && cur !== undefined && !moved && !sources.courier &&
    last.curMtimeMs === cur.mtimeMs && last.hidden === hidden &&
    last.uidlist === uidlist && last.uidlistCount === (uidlist?.count ?? 0)
  ) {
    cache.listing = last;
    return new MaildirSnapshot(last.snapshot);
  }
  const all = await regularFiles(fs, `${dir}/cur`);
  const dovecot = sources.dovecot === false
    ? undefined
    : await dovecotListing(fs, dir, all, sources.dovecot, cache, uidlist);
  let listed: string[];
  let known: Known | undefined;
  let uidls: Uidls = { kind: "own" };
  let records: number[] | undefined;
  if (dovecot !== undefined) {
    ({ listed, known, uidls, records } = dovecot);
  } else {
    listed = await deliveryOrder(fs, dir, all);
    if (sources.courier) {
      const courier = await courierListing(fs, dir, listed);
      if (courier !== undefined) ({ listed, known, uidls } = courier);
    }
  }
  if (hidden !== undefined) {
    const keep = listed.map((name) => !hasFlag(name, hidden));
    if (keep.includes(false)) {
      const kept = (_: unknown, i: number) => keep[i];
      listed = listed.filter(kept);
      records = records?.filter(kept);
      if (known) {
        known = {
          sizes: known.sizes.filter(kept),
          overrides: remap(known.overrides, keep),
        };
      }
      if (uidls.kind === "table") {
        uidls = { kind: "table", uidls: uidls.uidls.filter(kept) };
      }
    }
  }
  const sizes = await measure(fs, dir, listed, known?.sizes, cache);
  const list = cache.uidlist;
  const names: SnapshotNames = records !== undefined && list !== undefined
    ? {
      list,
      records: Int32Array.from(records),
      infos: listed.map((name, i) => name.slice(list.nameLength(records![i]))),
    }
    : listed;
  const snapshot = new MaildirSnapshot(names, sizes, uidls, known?.overrides);
  // Dovecot's default UIDLs are distinct and valid by construction (one per
  // UID, in hex); any other UIDL is checked.
  if (uidls.kind !== "dovecot" || known?.overrides.size) {
    await snapshot.makeUnique();
  }
  const settled = cur !== undefined && cur.mtimeMs <= listedAt - SETTLED_MS;
  const source = cache.uidlist;
  if (
    settled && !moved && !sources.courier &&
    (dovecot === undefined ||
      (records !== undefined && !dovecot.pending && source === uidlist))
  ) {
    cache.listing = {
      curMtimeMs: cur.mtimeMs,
      hidden,
      uidlist: source,
      uidlistCount: source?.count ?? 0,
      snapshot,
    };
  }
  return snapshot;
}

/** What a foreign source knows: sizes and UIDL overrides, by position. */
interface Known {
  sizes: (number | undefined)[];
  overrides: Map<number, string>;
}

function remap(
  overrides: Map<number, string>,
  keep: boolean[],
): Map<number, string> {
  const out = new Map<number, string>();
  let j = 0;
  for (let i = 0; i < keep.length; i++) {
    if (!keep[i]) continue;
    const value = overrides.get(i);
    if (value !== undefined) out.set(j, value);
    j++;
  }
  return out;
}

/** The names of the regular files in a directory, dot files left out. */
async function regularFiles(fs: MaildirFs, path: string): Promise<string[]> {
  const out: string[] = [];
  if (fs.readDirKinds !== undefined) {
    for (const entry of (await fs.readDirKinds(path)) ?? []) {
      if (entry.kind === "file" && !entry.name.startsWith(".")) {
        out.push(entry.name);
      }
    }
    return out;
  }
  for (const name of (await fs.readDir(path)) ?? []) {
    if (name.startsWith(".")) continue;
    // Symbolic links and directories are never served.
    if ((await fs.stat(`${path}/${name}`))?.isFile) out.push(name);
  }
  return out;
}

/** By delivery time, then unique part, then name. */
async function deliveryOrder(
  fs: MaildirFs,
  dir: string,
  names: string[],
): Promise<string[]> {
  const times = new Float64Array(names.length);
  const uniques = names.map(uniqueOf);
  for (let i = 0; i < names.length; i++) {
    let time = deliveryTime(uniques[i], NaN);
    if (Number.isNaN(time)) {
      // No time in the name: the file's mtime (one stat, for such names only).
      const info = await fs.stat(`${dir}/cur/${names[i]}`);
      time = deliveryTime(uniques[i], info?.mtimeMs ?? 0);
    }
    times[i] = time;
  }
  const order = names.map((_, i) => i);
  order.sort((a, b) =>
    times[a] - times[b] || compare(uniques[a], uniques[b]) ||
    compare(names[a], names[b])
  );
  return order.map((i) => names[i]);
}

/**
 * Dovecot's listing: the messages its uidlist numbers, in its POP3 order,
 * with its UIDLs and the sizes it knows. New mail is numbered first (under
 * its lock); what stays without a UID is left for a later session.
 * `undefined` when the Maildir has no uidlist.
 */
async function dovecotListing(
  fs: MaildirFs,
  dir: string,
  names: string[],
  options: DovecotUidlOptions,
  cache: MaildirCache,
  read: DovecotUidlistCache | undefined,
): Promise<
  | {
    listed: string[];
    known: Known;
    uidls: Uidls;
    records?: number[];
    /** Mail left without a UID (to be numbered by a later login). */
    pending: boolean;
  }
  | undefined
> {
  const formatText = options.format ?? DOVECOT_DEFAULT_UIDL_FORMAT;
  const format = compileDovecotUidlFormat(formatText);
  dovecotLockTimes(options); // bad timings fail every login, as before
  let list = read;
  if (list === undefined) return undefined;
  let { claim, unassigned } = claimRecords(list, names);
  if (unassigned.length > 0 && options.assign !== false) {
    if (await assignDovecotUidsCached(fs, dir, unassigned, options, cache)) {
      list = cache.uidlist ?? await readDovecotUidlistCached(fs, dir, {});
      if (list === undefined) return undefined;
      ({ claim, unassigned } = claimRecords(list, names));
    }
  }
  const records: number[] = [];
  let ordered = false;
  for (let r = 0; r < claim.length; r++) {
    if (claim[r] === -1) continue;
    records.push(r);
    if (list.ext.get(r)?.O !== undefined) ordered = true;
  }
  if (ordered) {
    const ext = list.ext;
    const key = (r: number) => {
      const o = ext.get(r)?.O ?? "";
      return /^\d{1,10}$/.test(o) ? Number(o) : Infinity;
    };
    records.sort((a, b) => key(a) - key(b) || a - b);
  }
  const listed: string[] = [];
  const sizes: (number | undefined)[] = [];
  const overrides = new Map<number, string>();
  // A cache not kept (a half-written last line) cannot be referred to.
  const kept = cache.uidlist === list;
  const table = formatText === DOVECOT_DEFAULT_UIDL_FORMAT && kept
    ? undefined
    : [] as string[];
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const name = names[claim[r]];
    const ext = list.ext.get(r);
    listed.push(name);
    const w = ext?.W;
    sizes.push(
      w !== undefined && /^\d{1,15}$/.test(w) ? Number(w) : undefined,
    );
    if (ext?.P) overrides.set(i, ext.P);
    table?.push(
      format(
        { uid: list.uid(r), fileName: baseNameOf(name), ext: ext ?? {} },
        list.uidValidity,
      ),
    );
  }
  const uidls: Uidls = table !== undefined ? { kind: "table", uidls: table } : {
    kind: "dovecot",
    suffix: format({ uid: 0, fileName: "", ext: {} }, list.uidValidity)
      .slice(8),
  };
  const pending = unassigned.length > 0;
  return kept
    ? { listed, known: { sizes, overrides }, uidls, records, pending }
    : { listed, known: { sizes, overrides }, uidls, pending };
}

/**
 * Which file each uidlist record stands for (`-1`: none), and the names
 * without a record. Of two files with one base name, the first in name
 * order counts, as in a listing sorted by delivery.
 */
function claimRecords(
  list: DovecotUidlistCache,
  names: readonly string[],
): { claim: Int32Array; unassigned: string[] } {
  const claim = new Int32Array(list.count).fill(-1);
  const unassigned: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const colon = name.indexOf(":");
    const r = list.find(name, colon === -1 ? name.length : colon);
    if (r === -1) unassigned.push(name);
    else if (claim[r] === -1 || name < names[claim[r]]) claim[r] = i;
  }
  return { claim, unassigned };
}

/**
 * Courier's listing: the files its sizelist names, in its order, with its
 * UIDLs and sizes, then the others in `ordered`'s order with their own.
 */
async function courierListing(
  fs: MaildirFs,
  dir: string,
  ordered: string[],
): Promise<
  { listed: string[]; known: Known; uidls: Uidls } | undefined
> {
  const courier = await loadCourierUidls(fs, dir, ordered);
  if (courier === undefined) return undefined;
  const first: [number, string][] = [];
  const rest: string[] = [];
  for (const name of ordered) {
    const entry = courier.messages.get(baseNameOf(name));
    if (entry) first.push([entry.order, name]);
    else rest.push(name);
  }
  first.sort((a, b) => a[0] - b[0]);
  const listed = [...first.map(([, name]) => name), ...rest];
  const sizes: (number | undefined)[] = [];
  const uidls: string[] = [];
  for (const name of listed) {
    const entry = courier.messages.get(baseNameOf(name));
    sizes.push(entry?.size);
    uidls.push(entry?.uidl ?? uniqueOf(name));
  }
  return {
    listed,
    known: { sizes, overrides: new Map() },
    uidls: { kind: "table", uidls },
  };
}

/**
 * Sizes on the wire: `,W=` of the name, else the foreign source's, else the
 * cache's, else counted (then cached).
 */
async function measure(
  fs: MaildirFs,
  dir: string,
  names: readonly string[],
  known: readonly (number | undefined)[] | undefined,
  cache: MaildirCache,
): Promise<Uint32Array | Float64Array> {
  let sizes: Uint32Array | Float64Array = new Uint32Array(names.length);
  const fresh = new Map<string, number>();
  const pending: number[] = [];
  const set = (i: number, size: number) => {
    if (size > 0xffffffff && sizes instanceof Uint32Array) {
      sizes = Float64Array.from(sizes);
    }
    sizes[i] = size;
  };
  for (let i = 0; i < names.length; i++) {
    const size = wireSizeOf(names[i]) ?? known?.[i];
    if (size !== undefined) {
      set(i, size);
      continue;
    }
    const base = baseNameOf(names[i]);
    const cached = cache.sizes.get(base);
    if (cached !== undefined) {
      set(i, cached);
      fresh.set(base, cached);
    } else pending.push(i);
  }
  let next = 0;
  const worker = async () => {
    while (next < pending.length) {
      const i = pending[next++];
      const size = await wireSize(fs, `${dir}/cur/${names[i]}`);
      set(i, size ?? 0);
      if (size !== undefined) fresh.set(baseNameOf(names[i]), size);
    }
  };
  const workers = Math.min(SIZE_CONCURRENCY, pending.length);
  await Promise.all(Array.from({ length: workers }, worker));
  cache.sizes = fresh;
  return sizes;
}

/** Counts a file's octets with every bare LF counted as CRLF. */
async function wireSize(
  fs: MaildirFs,
  path: string,
): Promise<number | undefined> {
  const stream = await fs.openRead(path);
  if (stream === undefined) return undefined;
  let size = 0;
  let previous = -1;
  for await (const chunk of stream) {
    size += chunk.length + countBareLf(chunk, previous);
    if (chunk.length > 0) previous = chunk[chunk.length - 1];
  }
  return size;
}

async function digestId(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", ENCODER.encode(text));
  return toHex(new Uint8Array(digest).subarray(0, 20));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
