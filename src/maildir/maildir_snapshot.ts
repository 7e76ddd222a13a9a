/**
 * One session's compact view of a Maildir: names, sizes and UIDLs by
 * message number.
 *
 * @module
 */

import { toHex } from "../_util/hex.ts";
import { isValidUid } from "../_util/uid.ts";
import type { DovecotUidlistCache } from "./dovecot_uidlist_cache.ts";
import { uniqueOf } from "./maildir_name.ts";

const ENCODER = new TextEncoder();

/** How a snapshot's UIDLs are made. */
export type Uidls =
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

/** A UIDL made from a name: 40 hex digits of its SHA-256. */
export async function digestId(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", ENCODER.encode(text));
  return toHex(new Uint8Array(digest).subarray(0, 20));
}
