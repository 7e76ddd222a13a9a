/**
 * Dovecot's `dovecot-uidlist` (the Maildir UID map of Dovecot 1.1 to 2.3):
 * parsing, writing, UID assignment and the POP3 view that Dovecot's
 * `pop3_uidl_format` derives from it. Pure functions: file access lives in
 * `dovecot_uidlist_file.ts`.
 *
 * What Dovecot 2.3.19 does, as measured against it (tests/maildir):
 * - Version 3 header `3 V<uidvalidity> N<next uid> G<mailbox guid>`, records
 *   `<uid> [<key><value> ...] :<file name>`. Version 1 (`1 <uidvalidity>
 *   <next uid>`, records `<uid> <file name>`) is read too.
 * - A record matches a Maildir file by the name up to `:` (the `:2,<flags>`
 *   info part); `,S=`/`,W=` fields are part of the match.
 * - Dovecot appends records without touching the header, so the next UID
 *   is the larger of `N` and the last UID + 1.
 * - `P<uidl>` replaces the formatted UIDL; `O<n>` puts a message first in
 *   the POP3 order (ascending `O`, then the rest by UID).
 * - LIST sizes: `,W=` of the file name, else the record's `W<size>`, else
 *   the file counted with every bare LF as CRLF (no final CRLF is added).
 * - `%f` is the file name up to `:`; `%g` the record's `G` or else `%f`;
 *   the `X` modifier gives lower-case hex, so the default `%08Xu%08Xv`
 *   reads `000000016553f100`.
 *
 * @module
 */

/** One message line of a `dovecot-uidlist`. */
export interface DovecotUidlistRecord {
  /** The IMAP UID. */
  uid: number;
  /** The file name as recorded: the Maildir name up to `:`. */
  fileName: string;
  /**
   * Extension fields by their one-letter key: `P` (POP3 UIDL), `O` (POP3
   * order), `W` (virtual size), `S` (physical size), `G` (message GUID).
   * Unknown keys are kept and written back.
   */
  ext: Record<string, string>;
}

/** A parsed `dovecot-uidlist`. */
export interface DovecotUidlist {
  /** Format version: 1 or 3. */
  version: 1 | 3;
  /** The mailbox's UIDVALIDITY. */
  uidValidity: number;
  /** The UID the next new message gets (already the larger of `N` and last UID + 1). */
  nextUid: number;
  /** The mailbox GUID (`G`, 32 hex digits), or `""`. */
  guid: string;
  /** Header fields other than `V`, `N` and `G`, kept for writing back. */
  headerExt: string[];
  /** The records in file order (ascending UID). */
  records: DovecotUidlistRecord[];
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();
const MAX_UID = 0x7fffffff;

/**
 * Parses a `dovecot-uidlist` (version 3 or 1).
 *
 * @param data The file's bytes or text.
 * @returns The header and the records.
 * @throws {SyntaxError} Naming the line, for a bad header, a bad line,
 * UIDs out of order or a duplicate file name (Dovecot calls all of these
 * corruption and rebuilds the file).
 *
 * @example
 * ```ts
 * import { parseDovecotUidlist } from "@x/pop3d";
 * const list = parseDovecotUidlist("3 V1700000000 N2 Gab\n1 Pold :1700.M1P2.host\n");
 * console.assert(list.records[0].ext.P === "old" && list.nextUid === 2);
 * ```
 */
export function parseDovecotUidlist(
  data: string | Uint8Array,
): DovecotUidlist {
  const text = typeof data === "string" ? data : DECODER.decode(data);
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const head = lines[0] ?? "";
  const list: DovecotUidlist = {
    version: 3,
    uidValidity: 0,
    nextUid: 1,
    guid: "",
    headerExt: [],
    records: [],
  };
  const bad = (line: number, why: string): never => {
    throw new SyntaxError(`Cannot parse dovecot-uidlist line ${line}: ${why}`);
  };
  const v1 = /^1 (\d{1,10}) (\d{1,10})$/.exec(head);
  if (v1 !== null) {
    list.version = 1;
    list.uidValidity = Number(v1[1]);
    list.nextUid = Number(v1[2]);
  } else if (head.startsWith("3 ")) {
    for (const field of head.slice(2).split(" ")) {
      if (field === "") continue;
      const value = field.slice(1);
      if (field[0] === "V" || field[0] === "N") {
        if (!/^\d{1,10}$/.test(value)) bad(1, `bad "${field[0]}" field`);
        if (field[0] === "V") list.uidValidity = Number(value);
        else list.nextUid = Number(value);
      } else if (field[0] === "G") list.guid = value;
      else list.headerExt.push(field);
    }
  } else {
    bad(1, "unsupported version (expected 3 or 1)");
  }
  if (list.uidValidity === 0 || list.nextUid === 0) {
    bad(1, "UIDVALIDITY and next UID must be positive");
  }
  const seen = new Set<string>();
  let last = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    const record = list.version === 3 ? parseV3(line) : parseV1(line);
    if (record === undefined) bad(i + 1, "expected <uid> [<ext>...] :<name>");
    const { uid, fileName } = record!;
    if (uid <= last) bad(i + 1, `UIDs not ordered (${last} >= ${uid})`);
    if (uid > MAX_UID) bad(i + 1, `UID too high (${uid})`);
    if (seen.has(fileName)) bad(i + 1, `duplicate file "${fileName}"`);
    if (list.version === 1 && uid >= list.nextUid) {
      bad(i + 1, `UID larger than next UID (${uid} >= ${list.nextUid})`);
    }
    seen.add(fileName);
    last = uid;
    list.records.push(record!);
  }
  list.nextUid = Math.max(list.nextUid, last + 1);
  return list;
}

function parseV3(line: string): DovecotUidlistRecord | undefined {
  const colon = line.indexOf(" :");
  if (colon === -1) return undefined;
  const [uidText, ...fields] = line.slice(0, colon).split(" ");
  // Dovecot 2.3 writes names without the `:2,<flags>` part; should a name
  // carry one, it is matched up to `:` like every file name.
  const fileName = baseNameOf(line.slice(colon + 2));
  if (!/^[1-9]\d{0,9}$/.test(uidText) || !validName(fileName)) {
    return undefined;
  }
  const ext: Record<string, string> = {};
  for (const field of fields) {
    if (field === "" || !/^[A-Z]/.test(field)) return undefined;
    ext[field[0]] = field.slice(1);
  }
  return { uid: Number(uidText), fileName, ext };
}

function parseV1(line: string): DovecotUidlistRecord | undefined {
  const match = /^([1-9]\d{0,9}) (.+)$/.exec(line);
  if (match === null) return undefined;
  const fileName = baseNameOf(match[2]);
  return validName(fileName)
    ? { uid: Number(match[1]), fileName, ext: {} }
    : undefined;
}

function validName(name: string): boolean {
  return name !== "" && !/[\s/]/.test(name);
}

/**
 * The part of a Maildir file name that a uidlist record holds: everything
 * before the `:` that starts the info part (`:2,<flags>`).
 *
 * @param name A Maildir file name.
 * @returns The name up to `:`.
 *
 * @example
 * ```ts
 * import { dovecotBaseName } from "@x/pop3d";
 * console.assert(dovecotBaseName("1.M2P3.host,S=5:2,S") === "1.M2P3.host,S=5");
 * ```
 */
export function dovecotBaseName(name: string): string {
  return baseNameOf(name);
}

function baseNameOf(name: string): string {
  const colon = name.indexOf(":");
  return colon === -1 ? name : name.slice(0, colon);
}

/**
 * Writes a uidlist in version 3, as Dovecot does when it rewrites the file.
 *
 * @param list The uidlist.
 * @returns The file's bytes.
 *
 * @example
 * ```ts
 * import { formatDovecotUidlist, parseDovecotUidlist } from "@x/pop3d";
 * const text = "3 V1 N3 Gab\n2 W9 :x.M1P1.h\n";
 * console.assert(new TextDecoder().decode(formatDovecotUidlist(parseDovecotUidlist(text))) === text);
 * ```
 */
export function formatDovecotUidlist(list: DovecotUidlist): Uint8Array {
  const head = [`3 V${list.uidValidity}`, `N${list.nextUid}`];
  if (list.guid !== "") head.push(`G${list.guid}`);
  head.push(...list.headerExt);
  return ENCODER.encode(
    `${head.join(" ")}\n${list.records.map(formatRecord).join("")}`,
  );
}

/**
 * Writes records as Dovecot appends them (`<uid> [<ext>...] :<name>\n`).
 *
 * @param records The records.
 * @returns The lines' bytes.
 *
 * @example
 * ```ts
 * import { formatDovecotUidlistRecords } from "@x/pop3d";
 * const bytes = formatDovecotUidlistRecords([{ uid: 7, fileName: "1.M1P1.h", ext: {} }]);
 * console.assert(new TextDecoder().decode(bytes) === "7 :1.M1P1.h\n");
 * ```
 */
export function formatDovecotUidlistRecords(
  records: readonly DovecotUidlistRecord[],
): Uint8Array {
  return ENCODER.encode(records.map(formatRecord).join(""));
}

function formatRecord(record: DovecotUidlistRecord): string {
  const ext = Object.entries(record.ext).map(([k, v]) => ` ${k}${v}`).join("");
  return `${record.uid}${ext} :${record.fileName}\n`;
}

/**
 * Orders Maildir names the way Dovecot numbers new mail: by the seconds
 * that start the name, then by the `M<microseconds>` of the second
 * dot-separated part when both have one, then by the name up to `:`.
 *
 * @param a A Maildir file name.
 * @param b Another one.
 * @returns Negative, zero or positive, for `Array.prototype.sort`.
 *
 * @example
 * ```ts
 * import { compareDovecotNames } from "@x/pop3d";
 * const names = ["20.M1P1.h", "10.M5P1.h", "10.M3P1.h"].sort(compareDovecotNames);
 * console.assert(names.join() === "10.M3P1.h,10.M5P1.h,20.M1P1.h");
 * ```
 */
export function compareDovecotNames(a: string, b: string): number {
  const secsA = /^\d*/.exec(a)![0];
  const secsB = /^\d*/.exec(b)![0];
  const bySecs = Number(secsA || 0) - Number(secsB || 0);
  if (bySecs !== 0) return bySecs;
  const usecsA = usecsOf(a.slice(secsA.length));
  const usecsB = usecsOf(b.slice(secsB.length));
  if (usecsA !== undefined && usecsB !== undefined && usecsA !== usecsB) {
    return usecsA - usecsB;
  }
  const baseA = baseNameOf(a.slice(secsA.length));
  const baseB = baseNameOf(b.slice(secsB.length));
  return baseA < baseB ? -1 : baseA > baseB ? 1 : 0;
}

function usecsOf(rest: string): number | undefined {
  if (!rest.startsWith(".")) return undefined;
  const match = /^\.[^.:]*?M(\d+)/.exec(rest);
  return match === null ? undefined : Number(match[1]);
}

/**
 * Gives UIDs to Maildir names that have no record, as Dovecot does: sorted
 * by {@linkcode compareDovecotNames}, numbered from `list.nextUid`. The
 * list is changed in place (records appended, `nextUid` advanced).
 *
 * @param list The uidlist, as read under its lock.
 * @param names Names without a record (with or without `:2,` parts).
 * @returns The new records, in UID order.
 *
 * @example
 * ```ts
 * import { assignDovecotUids, parseDovecotUidlist } from "@x/pop3d";
 * const list = parseDovecotUidlist("3 V1 N5 Gab\n");
 * const added = assignDovecotUids(list, ["20.M1P1.h:2,S", "10.M1P1.h"]);
 * console.assert(added[0].uid === 5 && added[0].fileName === "10.M1P1.h" && list.nextUid === 7);
 * ```
 */
export function assignDovecotUids(
  list: DovecotUidlist,
  names: readonly string[],
): DovecotUidlistRecord[] {
  const known = new Set(list.records.map((r) => r.fileName));
  const fresh = [...new Set(names.map(baseNameOf))]
    .filter((name) => validName(name) && !known.has(name))
    .sort(compareDovecotNames);
  const added = fresh.map((fileName) => ({
    uid: list.nextUid++,
    fileName,
    ext: {},
  }));
  list.records.push(...added);
  return added;
}
