/**
 * Dovecot's `dovecot-uidlist` as a storage keeps it between logins: parsed
 * once, then only its appended lines; and new mail numbered against it.
 *
 * @module
 */

import type { MaildirFs } from "./maildir_fs.ts";
import {
  compareDovecotNames,
  dovecotBaseName,
  type DovecotUidlist,
  type DovecotUidlistRecord,
  formatDovecotUidlistRecords,
  parseDovecotUidlist,
} from "./dovecot_uidlist.ts";
import {
  addRecords,
  DOVECOT_UIDLIST_LOCK_NAME,
  DOVECOT_UIDLIST_NAME,
  dovecotLockTimes,
  type DovecotUidlOptions,
  lockUidlist,
  readUidlist,
  unlockUidlist,
} from "./dovecot_uidlist_file.ts";

const DECODER = new TextDecoder();

/**
 * A `dovecot-uidlist` as a storage keeps it between logins, compactly: the
 * file names in one string, UIDs in a typed array, an open-addressing hash
 * table of record numbers (no string per record), extension fields only for
 * the records that have any; about 60 bytes per record.
 *
 * Dovecot changes the file in two ways only: it appends whole lines
 * (`O_APPEND`), or it writes a new file and renames it over the old one. So
 * when the file read at a later login starts with the same bytes (same
 * length, same digest), only the lines after them are new and only they are
 * parsed; any other change (a rewrite, a shorter file) parses the file
 * again. The file is read whole at every login (one call; 1 MB for 20,000
 * messages): the digest of what was seen before is checked, never a size or
 * a time alone.
 */
export class DovecotUidlistCache {
  /** Octets of the file that were parsed (a whole number of lines). */
  length = 0;
  /** FNV-1a of those octets, two 32-bit lanes. */
  hashA = 0;
  /** The second lane. */
  hashB = 0;
  /** The header line, without its newline. */
  readonly header: string;
  /** The mailbox's UIDVALIDITY. */
  readonly uidValidity: number;
  /** The UID the next new message gets. */
  nextUid: number;
  /** Records. */
  count = 0;
  /** Extension fields of the records that have any, by record number. */
  readonly ext = new Map<number, Record<string, string>>();
  #names = "";
  #starts = new Uint32Array(16);
  #uids = new Uint32Array(16);
  #table = new Int32Array(32).fill(-1);

  /** An empty cache for a file with this header. */
  constructor(header: string, uidValidity: number, nextUid: number) {
    this.header = header;
    this.uidValidity = uidValidity;
    this.nextUid = nextUid;
  }

  /** The UID of record `r`. */
  uid(r: number): number {
    return this.#uids[r];
  }

  /** The file name of record `r`. */
  fileName(r: number): string {
    return this.#names.slice(this.#starts[r], this.#starts[r + 1] - 1);
  }

  /** The length of record `r`'s file name. */
  nameLength(r: number): number {
    return this.#starts[r + 1] - 1 - this.#starts[r];
  }

  /**
   * The record of the file name `name` up to `end` (a Maildir name up to
   * its `:`), or `-1`; no string is made.
   */
  find(name: string, end = name.length): number {
    const table = this.#table;
    const mask = table.length - 1;
    for (let at = hashText(name, end) & mask;; at = (at + 1) & mask) {
      const r = table[at];
      if (r === -1) return -1;
      if (this.#sameName(r, name, end)) return r;
    }
  }

  /** Adds records (file order, new names, ascending UIDs). */
  add(records: readonly DovecotUidlistRecord[]): void {
    if (records.length === 0) return;
    const count = this.count + records.length;
    if (count + 1 > this.#starts.length) {
      const size = Math.max(count + 1, this.#starts.length * 2);
      const starts = new Uint32Array(size);
      starts.set(this.#starts.subarray(0, this.count + 1));
      this.#starts = starts;
      const uids = new Uint32Array(size);
      uids.set(this.#uids.subarray(0, this.count));
      this.#uids = uids;
    }
    let at = this.#starts[this.count];
    const names: string[] = [];
    for (const record of records) {
      const r = this.count++;
      this.#uids[r] = record.uid;
      at += record.fileName.length + 1;
      this.#starts[r + 1] = at;
      names.push(record.fileName, "\n");
      for (const _ in record.ext) {
        this.ext.set(r, record.ext);
        break;
      }
    }
    this.#names += names.join("");
    if (this.count * 2 > this.#table.length) {
      let size = this.#table.length;
      while (this.count * 2 > size) size *= 2;
      this.#table = new Int32Array(size).fill(-1);
      this.#index(0);
    } else this.#index(this.count - records.length);
  }

  #index(from: number): void {
    const table = this.#table;
    const mask = table.length - 1;
    const names = this.#names;
    for (let r = from; r < this.count; r++) {
      const start = this.#starts[r];
      let at = hashText(names, this.#starts[r + 1] - 1, start) & mask;
      while (table[at] !== -1) at = (at + 1) & mask;
      table[at] = r;
    }
  }

  #sameName(r: number, name: string, end: number): boolean {
    const start = this.#starts[r];
    if (this.#starts[r + 1] - 1 - start !== end) return false;
    const names = this.#names;
    for (let i = 0; i < end; i++) {
      if (names.charCodeAt(start + i) !== name.charCodeAt(i)) return false;
    }
    return true;
  }
}

/** FNV-1a over the UTF-16 code units of `text` from `start` to `end`. */
function hashText(text: string, end: number, start = 0): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

function hashBytes(
  bytes: Uint8Array,
  end: number,
  seedA = 0x811c9dc5,
  seedB = 0x01000193,
): [number, number] {
  let a = seedA;
  let b = seedB;
  for (let i = 0; i < end; i++) {
    const byte = bytes[i];
    a = Math.imul(a ^ byte, 0x01000193);
    b = Math.imul(b ^ byte, 0x5bd1e995) ^ (b >>> 15);
  }
  return [a >>> 0, b >>> 0];
}

function validRecordName(name: string): boolean {
  return name !== "" && !/[\s/]/.test(name);
}

function cacheOf(
  bytes: Uint8Array,
  list: DovecotUidlist,
): DovecotUidlistCache {
  const newline = bytes.indexOf(10);
  const cache = new DovecotUidlistCache(
    DECODER.decode(bytes.subarray(0, newline === -1 ? 0 : newline)),
    list.uidValidity,
    list.nextUid,
  );
  [cache.hashA, cache.hashB] = hashBytes(bytes, bytes.length);
  cache.length = bytes.length;
  cache.add(list.records);
  return cache;
}

/**
 * Reads `dovecot-uidlist` and brings `holder.uidlist` up to date with it:
 * lines appended since the last read are parsed alone, anything else parses
 * the whole file (see {@linkcode DovecotUidlistCache}).
 *
 * @param fs File access.
 * @param dir The Maildir.
 * @param holder Where the cache is kept between calls.
 * @returns The cache, or `undefined` when the Maildir has no uidlist.
 * @throws {SyntaxError} When the uidlist is corrupt (naming its path).
 *
 * @example
 * ```ts ignore
 * const holder: { uidlist?: DovecotUidlistCache } = {};
 * const list = await readDovecotUidlistCached(fs, "/var/mail/alice", holder);
 * console.log(list?.index.size);
 * ```
 */
export async function readDovecotUidlistCached(
  fs: MaildirFs,
  dir: string,
  holder: { uidlist?: DovecotUidlistCache },
): Promise<DovecotUidlistCache | undefined> {
  const path = `${dir}/${DOVECOT_UIDLIST_NAME}`;
  const bytes = await fs.readFile(path);
  if (bytes === undefined) {
    holder.uidlist = undefined;
    return undefined;
  }
  const old = holder.uidlist;
  const whole = bytes.length > 0 && bytes[bytes.length - 1] === 10;
  if (old !== undefined && whole && bytes.length >= old.length) {
    const [a, b] = hashBytes(bytes, old.length);
    if (a === old.hashA && b === old.hashB) {
      if (bytes.length === old.length) return old;
      const tail = appendedRecords(old, bytes.subarray(old.length));
      if (tail !== undefined) {
        old.add(tail);
        const [hashA, hashB] = hashBytes(bytes, bytes.length);
        old.length = bytes.length;
        old.hashA = hashA;
        old.hashB = hashB;
        return old;
      }
    }
  }
  holder.uidlist = undefined;
  let list: DovecotUidlist;
  try {
    list = parseDovecotUidlist(bytes);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new SyntaxError(`${error.message} (${path})`, { cause: error });
  }
  const cache = cacheOf(bytes, list);
  // A file that does not end in a newline may be half-appended: not kept.
  if (whole) holder.uidlist = cache;
  return cache;
}

/**
 * Parses lines appended to a version 3 uidlist; `undefined` when they do
 * not continue it (then the caller parses the whole file, which reports
 * what is wrong).
 */
function appendedRecords(
  cache: DovecotUidlistCache,
  tail: Uint8Array,
): DovecotUidlistRecord[] | undefined {
  if (!cache.header.startsWith("3 ")) return undefined;
  let records: DovecotUidlistRecord[];
  try {
    records = parseDovecotUidlist(`${cache.header}\n${DECODER.decode(tail)}`)
      .records;
  } catch {
    return undefined;
  }
  let last = cache.count === 0 ? 0 : cache.uid(cache.count - 1);
  const names = new Set<string>();
  for (const record of records) {
    if (
      record.uid <= last || cache.find(record.fileName) !== -1 ||
      names.has(record.fileName)
    ) {
      return undefined;
    }
    last = record.uid;
    names.add(record.fileName);
  }
  cache.nextUid = Math.max(cache.nextUid, last + 1);
  return records;
}

/**
 * Gives UIDs to `names` that the uidlist does not know, as
 * {@linkcode loadDovecotUidls} does (under `dovecot-uidlist.lock`, read
 * again under it, appended or rewritten), and brings `holder.uidlist` up to
 * date. Returns `false` when the lock stayed busy (the names stay without
 * a UID for this session).
 *
 * @example
 * ```ts ignore
 * await assignDovecotUidsCached(fs, dir, ["1700000000.M1P2.host"], {}, holder);
 * ```
 */
export async function assignDovecotUidsCached(
  fs: MaildirFs,
  dir: string,
  names: readonly string[],
  options: DovecotUidlOptions,
  holder: { uidlist?: DovecotUidlistCache },
): Promise<boolean> {
  const { staleLockMs, lockTimeoutMs } = dovecotLockTimes(options);
  if (!(await lockUidlist(fs, dir, { staleLockMs, lockTimeoutMs }))) {
    return false;
  }
  const path = `${dir}/${DOVECOT_UIDLIST_NAME}`;
  try {
    // Read again under the lock: Dovecot may have numbered them meanwhile.
    const list = await readDovecotUidlistCached(fs, dir, holder);
    if (list === undefined) return true;
    const fresh = [...new Set(names.map(dovecotBaseName))]
      .filter((name) => list.find(name) === -1 && validRecordName(name))
      .sort(compareDovecotNames);
    if (fresh.length === 0) return true;
    if (
      holder.uidlist === list && list.header.startsWith("3 ") &&
      fs.appendFile !== undefined
    ) {
      // The cache holds whole lines of a version 3 file: append as Dovecot does.
      let uid = list.nextUid;
      const added = fresh.map((fileName) => ({
        uid: uid++,
        fileName,
        ext: {},
      }));
      if (await fs.appendFile(path, formatDovecotUidlistRecords(added))) {
        await readDovecotUidlistCached(fs, dir, holder);
        return true;
      }
    }
    const read = await readUidlist(fs, path);
    if (read !== undefined) await addRecords(fs, path, read, fresh);
  } finally {
    await unlockUidlist(fs, `${dir}/${DOVECOT_UIDLIST_LOCK_NAME}`);
  }
  await readDovecotUidlistCached(fs, dir, holder);
  return true;
}
