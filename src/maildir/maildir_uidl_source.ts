/**
 * Where a Maildir's UIDLs come from when another POP3 server served it
 * before: Dovecot's `dovecot-uidlist` or Courier's `courierpop3dsizelist`.
 *
 * @module
 */

import { loadCourierUidls } from "./courier_sizelist.ts";
import { dovecotBaseName } from "./dovecot_uidlist.ts";
import {
  type DovecotUidlOptions,
  loadDovecotUidls,
} from "./dovecot_uidlist_file.ts";
import type { MaildirFs } from "./maildir_fs.ts";

/** Which foreign UIDL sources a Maildir snapshot honours. */
export interface MaildirUidlSources {
  /** Dovecot's `dovecot-uidlist`, when the file exists; `false` ignores it. */
  readonly dovecot: false | DovecotUidlOptions;
  /** Courier's `courierpop3dsizelist`, when the file exists. */
  readonly courier: boolean;
}

/** What a foreign source says about one message. */
export interface KnownUidl {
  /** Its UIDL. */
  readonly uidl: string;
  /** Its position in the source's POP3 order, from 0. */
  readonly order: number;
  /** Its size, when the source states it. */
  readonly size: number | undefined;
}

/** The UIDLs a foreign source gives a snapshot. */
export interface ForeignUidls {
  /** By file name up to `:`. */
  readonly known: ReadonlyMap<string, KnownUidl>;
  /**
   * Whether messages the source does not know are served (after the known
   * ones, with our own UIDLs): yes for Courier; no for Dovecot, whose new
   * mail is numbered under its lock, and left for a later session only when
   * that lock stays busy.
   */
  readonly serveUnknown: boolean;
}

/**
 * Reads the first foreign UIDL source the Maildir has: Dovecot's, then
 * Courier's (each only if enabled); `undefined` when there is none.
 *
 * @param fs File access.
 * @param dir The Maildir.
 * @param names The message file names (in `cur/`).
 * @param sources The enabled sources.
 * @returns The UIDLs by base name, or `undefined`.
 * @throws {SyntaxError} When a source file is corrupt.
 *
 * @example
 * ```ts ignore
 * const foreign = await foreignUidls(fs, dir, names, {
 *   dovecot: {},
 *   courier: false,
 * });
 * ```
 */
export async function foreignUidls(
  fs: MaildirFs,
  dir: string,
  names: readonly string[],
  sources: MaildirUidlSources,
): Promise<ForeignUidls | undefined> {
  if (sources.dovecot !== false) {
    const dovecot = await loadDovecotUidls(fs, dir, names, sources.dovecot);
    if (dovecot) return { known: dovecot.messages, serveUnknown: false };
  }
  if (sources.courier) {
    const courier = await loadCourierUidls(fs, dir, names);
    if (courier) return { known: courier.messages, serveUnknown: true };
  }
  return undefined;
}

/**
 * Orders `items` as the source lists them: known ones by their order, then
 * (if served) the unknown ones as they were.
 *
 * @example
 * ```ts ignore
 * const ordered = foreignOrder(foreign, found, (f) => f.name);
 * ```
 */
export function foreignOrder<T>(
  foreign: ForeignUidls,
  items: readonly T[],
  nameOf: (item: T) => string,
): T[] {
  const known: [number, T][] = [];
  const unknown: T[] = [];
  for (const item of items) {
    const entry = foreign.known.get(dovecotBaseName(nameOf(item)));
    if (entry) known.push([entry.order, item]);
    else if (foreign.serveUnknown) unknown.push(item);
  }
  known.sort((a, b) => a[0] - b[0]);
  return [...known.map(([, item]) => item), ...unknown];
}
