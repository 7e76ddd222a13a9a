/**
 * The snapshot of a Maildir taken at login: `new/` mail moved to `cur/`,
 * the regular files of `cur/` in delivery order, their sizes on the wire
 * and their UIDLs.
 *
 * @module
 */

import { countBareLf } from "../_util/crlf.ts";
import { toHex } from "../_util/hex.ts";
import { isValidUid } from "../_util/uid.ts";
import type { MaildirFs } from "./maildir_fs.ts";
import { deliveryTime, fieldOf, hasFlag, uniqueOf } from "./maildir_name.ts";
import { dovecotBaseName } from "./dovecot_uidlist.ts";
import {
  foreignOrder,
  foreignUidls,
  type MaildirUidlSources,
} from "./maildir_uidl_source.ts";

const ENCODER = new TextEncoder();
const SIZE_CONCURRENCY = 8;

/** One message of a snapshot. */
export interface MaildirEntry {
  /** Unique part of the file name: everything before `,` or `:`. */
  readonly unique: string;
  /** Current file name in `cur/` (changes when flags change). */
  name: string;
  /** Octets on the wire (CRLF line ends). */
  size: number;
  /** The UIDL. */
  uidl: string;
}

/** Sizes counted earlier, by unique name, mtime and file size. */
export type SizeCache = Map<string, number>;

interface Found {
  name: string;
  unique: string;
  time: number;
  key: string;
}

/**
 * Moves `new/` mail to `cur/` and lists `cur/`: regular files only (a
 * symbolic link is never listed, so never read, renamed or unlinked), in
 * delivery order. Sizes come from `,W=`, from `cache`, or are counted;
 * `cache` is replaced by the sizes of this snapshot. When `sources` names
 * a foreign UIDL source the Maildir has (Dovecot's or Courier's), its
 * order, UIDLs and sizes win. Files whose `:2,` flags carry the letter
 * `hidden` (a keyword letter: "keep on server" mode) are left out.
 */
export async function scanMaildir(
  fs: MaildirFs,
  dir: string,
  cache: SizeCache,
  sources: MaildirUidlSources = { dovecot: false, courier: false },
  hidden?: string,
): Promise<MaildirEntry[]> {
  for (const name of (await fs.readDir(`${dir}/new`)) ?? []) {
    if (name.startsWith(".")) continue;
    const info = await fs.stat(`${dir}/new/${name}`);
    if (!info?.isFile) continue;
    const target = name.includes(":") ? name : `${name}:2,`;
    await fs.rename(`${dir}/new/${name}`, `${dir}/cur/${target}`);
  }
  const found: Found[] = [];
  for (const name of (await fs.readDir(`${dir}/cur`)) ?? []) {
    if (name.startsWith(".")) continue;
    const info = await fs.stat(`${dir}/cur/${name}`);
    if (!info?.isFile) continue; // symlinks and directories are never served
    const unique = uniqueOf(name);
    found.push({
      name,
      unique,
      time: deliveryTime(unique, info.mtimeMs),
      key: `${unique}\0${info.mtimeMs}\0${info.size}`,
    });
  }
  found.sort((a, b) =>
    a.time - b.time || compare(a.unique, b.unique) || compare(a.name, b.name)
  );
  const foreign = await foreignUidls(
    fs,
    dir,
    found.map((f) => f.name),
    sources,
  );
  // Hidden files stay known to the UIDL source (they are still there).
  const shown = hidden === undefined
    ? found
    : found.filter((f) => !hasFlag(f.name, hidden));
  const listed = foreign ? foreignOrder(foreign, shown, (f) => f.name) : shown;
  const entries = await measure(fs, dir, listed, cache);
  if (foreign) {
    for (const entry of entries) {
      const known = foreign.known.get(dovecotBaseName(entry.name));
      if (known === undefined) continue;
      entry.uidl = known.uidl;
      if (known.size !== undefined) entry.size = known.size;
    }
  }
  await assignUidls(entries);
  return entries;
}

/**
 * Checks each entry's UIDL (a foreign source's, or the unique part of its
 * file name) and replaces it with a digest when it is not a valid UIDL or
 * repeats. The one place UIDLs are made final.
 */
export async function assignUidls(entries: MaildirEntry[]): Promise<void> {
  const used = new Set<string>();
  for (const entry of entries) {
    if (!isValidUid(entry.uidl) || used.has(entry.uidl)) {
      entry.uidl = await digestId(`${entry.unique}\0${entry.name}`);
    }
    used.add(entry.uidl);
  }
}

async function measure(
  fs: MaildirFs,
  dir: string,
  found: Found[],
  cache: SizeCache,
): Promise<MaildirEntry[]> {
  const fresh: SizeCache = new Map();
  const entries: MaildirEntry[] = found.map((f) => ({
    unique: f.unique,
    name: f.name,
    size: 0,
    uidl: f.unique,
  }));
  const pending: number[] = [];
  for (let i = 0; i < found.length; i++) {
    const wire = fieldOf(found[i].name, "W");
    const cached = cache.get(found[i].key);
    if (wire !== undefined) entries[i].size = wire;
    else if (cached !== undefined) {
      entries[i].size = cached;
      fresh.set(found[i].key, cached);
    } else pending.push(i);
  }
  let next = 0;
  const worker = async () => {
    while (next < pending.length) {
      const i = pending[next++];
      const size = await wireSize(fs, `${dir}/cur/${found[i].name}`);
      entries[i].size = size ?? 0;
      if (size !== undefined) fresh.set(found[i].key, size);
    }
  };
  const workers = Math.min(SIZE_CONCURRENCY, pending.length);
  await Promise.all(Array.from({ length: workers }, worker));
  cache.clear();
  for (const [key, size] of fresh) cache.set(key, size);
  return entries;
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
