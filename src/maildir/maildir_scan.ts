/**
 * The snapshot of a Maildir taken at login: `new/` mail moved to `cur/`,
 * the regular files of `cur/` in delivery order (or a foreign source's),
 * their sizes on the wire and their UIDLs, kept compactly for the session.
 *
 * @module
 */

import { byobReader } from "../_util/chunks.ts";
import { countBareLf } from "../_util/crlf.ts";
import { type MaildirFs, SMALL_FILE } from "./maildir_fs.ts";
import {
  baseNameOf,
  deliveryTime,
  hasFlag,
  uniqueOf,
  wireSizeOf,
} from "./maildir_name.ts";
import {
  dovecotLockTimes,
  type DovecotUidlOptions,
} from "./dovecot_uidlist_file.ts";
import {
  assignDovecotUidsCached,
  type DovecotUidlistCache,
  readDovecotUidlistCached,
} from "./dovecot_uidlist_cache.ts";
import { type MaildirCache, SETTLED_MS } from "./maildir_caches.ts";
import {
  MaildirSnapshot,
  type SnapshotNames,
  type Uidls,
} from "./maildir_snapshot.ts";
import {
  compileDovecotUidlFormat,
  DOVECOT_DEFAULT_UIDL_FORMAT,
} from "./dovecot_uidl_format.ts";
import { loadCourierUidls } from "./courier_sizelist.ts";
import type { MaildirUidlSources } from "./maildir_uidl_source.ts";

const SIZE_CONCURRENCY = 8;

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
    // One buffer per worker for the files it streams, not one per chunk.
    const buffer: SizeBuffer = { view: new Uint8Array(0) };
    while (next < pending.length) {
      const i = pending[next++];
      const size = await wireSize(fs, `${dir}/cur/${names[i]}`, buffer);
      set(i, size ?? 0);
      if (size !== undefined) fresh.set(baseNameOf(names[i]), size);
    }
  };
  const workers = Math.min(SIZE_CONCURRENCY, pending.length);
  await Promise.all(Array.from({ length: workers }, worker));
  // Most Maildirs' names carry `,W=`: nothing counted, and one empty map
  // for all of them instead of one each (~0.2 KiB per Maildir cached).
  cache.sizes = fresh.size > 0 ? fresh : NO_SIZES;
  return sizes;
}

/** The counted sizes of a Maildir that has none; never written to. */
const NO_SIZES: Map<string, number> = new (class extends Map<string, number> {
  override set(): this {
    throw new TypeError("The shared empty map of sizes is read-only");
  }
})();

/** The most a streamed file is read into a sizing buffer at a time. */
const SIZE_BUFFER = 256 * 1024;

/** A worker's buffer for counting streamed files, filled file after file. */
interface SizeBuffer {
  view: Uint8Array;
}

/**
 * Counts a file's octets with every bare LF counted as CRLF. A small file is
 * read whole: a stream would allocate its full chunk buffer (256 KiB on the
 * built-in file systems) to count a message of a few KiB, and a login burst
 * on Maildirs without `,W=` left the allocator fragmented by them. A larger
 * one is streamed, into `buffer` when the stream is a byte stream.
 */
async function wireSize(
  fs: MaildirFs,
  path: string,
  buffer: SizeBuffer,
): Promise<number | undefined> {
  if (fs.readNoFollow !== undefined) {
    const bytes = await fs.readNoFollow(path, SMALL_FILE);
    if (bytes === undefined) return undefined; // gone
    if (bytes !== null) return bytes.length + countBareLf(bytes);
  }
  const stream = await fs.openRead(path);
  if (stream === undefined) return undefined;
  let size = 0;
  let previous = -1;
  const count = (chunk: Uint8Array) => {
    size += chunk.length + countBareLf(chunk, previous);
    if (chunk.length > 0) previous = chunk[chunk.length - 1];
  };
  const reader = byobReader(stream);
  if (reader === undefined) {
    for await (const chunk of stream) count(chunk);
    return size;
  }
  for (;;) {
    // Empty at first, or detached by a read that failed: a new one.
    if (buffer.view.length === 0) buffer.view = new Uint8Array(SIZE_BUFFER);
    const { done, value } = await reader.read(
      buffer.view as Uint8Array<ArrayBuffer>,
    );
    if (value !== undefined) buffer.view = new Uint8Array(value.buffer);
    if (done) return size;
    count(value);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
