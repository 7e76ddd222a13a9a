/**
 * Courier's `courierpop3dsizelist` as a UIDL source, for Maildirs that
 * Courier's POP3 server (courier-imap's `pop3d`) served before.
 *
 * Format, as this module reads it:
 *
 *     /2 <next uid> <uidvalidity>
 *     <file name> <size> <uid>:<uidvalidity>
 *     ...
 *
 * - The header `/2 ...` marks the version written by courier-imap 4 and
 *   later. Each line then names a message by its Maildir file name up to
 *   the `:2,` info part, its POP3 size (octets with CRLF line ends) and
 *   its IMAP UID and UIDVALIDITY. The UIDL Courier lists is
 *   `UID<uid>-<uidvalidity>`; a UID of 0 means the message had none and
 *   its UIDL is the file name.
 * - Without a `/2` header (older Courier, or a `/1` header), a line is
 *   `<file name> <size>` and the UIDL is the file name.
 * - Courier lists messages in the order of the file.
 *
 * Honesty note: Courier is not installed on this machine, so this format
 * is written from what is known of Courier's `pop3dserver.c` and of
 * Dovecot's `courier-dovecot-migrate.pl` (which converts the same file),
 * and it is tested only with files constructed to that description, not
 * against a running Courier. In particular the order of the two header
 * numbers and Courier's escaping of unusual characters in file-name UIDLs
 * are unverified; names with characters outside `!`..`~` are refused
 * here rather than guessed.
 *
 * @module
 */

import type { MaildirFs } from "./maildir_fs.ts";

/** The name of Courier's POP3 size and UIDL cache inside a Maildir. */
export const COURIER_SIZELIST_NAME = "courierpop3dsizelist";

/** One message of a {@linkcode CourierSizelist}. */
export interface CourierSizelistEntry {
  /** The Maildir file name up to `:`. */
  fileName: string;
  /** The POP3 size Courier listed (CRLF line ends). */
  size: number;
  /** The IMAP UID, or 0 when the entry has none. */
  uid: number;
  /** The UIDL Courier listed. */
  uidl: string;
}

/** A parsed `courierpop3dsizelist`. */
export interface CourierSizelist {
  /** 2 for a `/2` header, 1 otherwise. */
  version: 1 | 2;
  /** The next UID from the header (0 without one). */
  nextUid: number;
  /** The UIDVALIDITY from the header (0 without one). */
  uidValidity: number;
  /** The entries in file order (Courier's POP3 order). */
  entries: CourierSizelistEntry[];
}

const NAME = /^[\x21-\x39\x3b-\x7e]+$/; // no space, no ':'

/**
 * Parses a `courierpop3dsizelist`.
 *
 * @param data The file's bytes or text.
 * @returns The header and entries.
 * @throws {SyntaxError} Naming the line, for a line that does not fit the
 * format or a file name listed twice.
 *
 * @example
 * ```ts
 * import { parseCourierSizelist } from "@x/pop3d";
 * const list = parseCourierSizelist("/2 3 1234\n1700.M1P1.h 120 2:1234\n");
 * console.assert(list.entries[0].uidl === "UID2-1234" && list.entries[0].size === 120);
 * ```
 */
export function parseCourierSizelist(
  data: string | Uint8Array,
): CourierSizelist {
  const text = typeof data === "string" ? data : new TextDecoder().decode(data);
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const result: CourierSizelist = {
    version: 1,
    nextUid: 0,
    uidValidity: 0,
    entries: [],
  };
  const bad = (line: number, why: string): never => {
    throw new SyntaxError(
      `Cannot parse courierpop3dsizelist line ${line}: ${why}`,
    );
  };
  let start = 0;
  const header = /^\/(\d+)(?: (\d{1,10}) (\d{1,10}))?$/.exec(lines[0] ?? "");
  if (header !== null) {
    start = 1;
    if (header[1] === "2") {
      if (header[2] === undefined) {
        bad(1, "expected /2 <next uid> <uidvalidity>");
      }
      result.version = 2;
      result.nextUid = Number(header[2]);
      result.uidValidity = Number(header[3]);
    } else if (header[1] !== "1") {
      bad(1, `unsupported version "/${header[1]}"`);
    }
  }
  const seen = new Set<string>();
  for (let i = start; i < lines.length; i++) {
    const fields = lines[i].replace(/\r$/, "").split(" ");
    const [fileName, sizeText, uidText] = fields;
    const fieldCount = result.version === 2 ? 3 : 2;
    if (fields.length !== fieldCount || !NAME.test(fileName ?? "")) {
      bad(
        i + 1,
        result.version === 2
          ? "expected <file name> <size> <uid>:<uidvalidity>"
          : "expected <file name> <size>",
      );
    }
    if (!/^\d{1,15}$/.test(sizeText)) bad(i + 1, `bad size "${sizeText}"`);
    if (seen.has(fileName)) bad(i + 1, `duplicate file "${fileName}"`);
    seen.add(fileName);
    let uid = 0;
    let uidl = fileName;
    if (result.version === 2) {
      const match = /^(\d{1,10}):(\d{1,10})$/.exec(uidText);
      if (match === null) bad(i + 1, `bad UID "${uidText}"`);
      uid = Number(match![1]);
      if (uid !== 0) uidl = `UID${uid}-${match![2]}`;
    }
    result.entries.push({ fileName, size: Number(sizeText), uid, uidl });
  }
  return result;
}

/** One message as {@linkcode courierPop3View} gives it. */
export interface CourierUidl {
  /** The UIDL Courier listed. */
  uidl: string;
  /** The size Courier listed. */
  size: number;
  /** The position in Courier's order, from 0. */
  order: number;
}

/**
 * Matches the sizelist with the Maildir's current files: each file found in
 * the list keeps Courier's UIDL, size and order; the other names are
 * returned apart (mail that arrived after Courier; give them the caller's
 * own UIDLs after the listed ones).
 *
 * @param list The parsed sizelist.
 * @param names The file names in `new/` and `cur/`.
 * @returns UIDLs by file name up to `:`, and the names not in the list.
 *
 * @example
 * ```ts
 * import { courierPop3View, parseCourierSizelist } from "@x/pop3d";
 * const list = parseCourierSizelist("/2 2 9\n1700.M1P1.h 120 1:9\n");
 * const view = courierPop3View(list, ["1700.M1P1.h:2,S", "1800.M1P1.h"]);
 * console.assert(view.messages.get("1700.M1P1.h")?.uidl === "UID1-9");
 * console.assert(view.unlisted[0] === "1800.M1P1.h");
 * ```
 */
export function courierPop3View(
  list: CourierSizelist,
  names: readonly string[],
): { messages: Map<string, CourierUidl>; unlisted: string[] } {
  const present = new Map<string, string>();
  for (const name of names) {
    const colon = name.indexOf(":");
    const base = colon === -1 ? name : name.slice(0, colon);
    if (!present.has(base)) present.set(base, name);
  }
  const messages = new Map<string, CourierUidl>();
  for (const entry of list.entries) {
    if (!present.has(entry.fileName)) continue;
    present.delete(entry.fileName);
    messages.set(entry.fileName, {
      uidl: entry.uidl,
      size: entry.size,
      order: messages.size,
    });
  }
  return { messages, unlisted: [...present.values()] };
}

/**
 * Reads `courierpop3dsizelist` in `dir` and matches it with the Maildir's
 * files ({@linkcode courierPop3View}); `undefined` when the file is missing,
 * so that the caller keeps its own UIDLs.
 *
 * @param fs File access.
 * @param dir The Maildir.
 * @param names The file names in `new/` and `cur/`.
 * @returns UIDLs by file name up to `:`, and the names not in the list.
 * @throws {SyntaxError} When the file is corrupt (the message names it).
 *
 * @example
 * ```ts ignore
 * import { loadCourierUidls } from "@x/pop3d";
 * const view = await loadCourierUidls(fs, "/var/mail/alice", names);
 * console.log(view?.messages.get("1700000060.M1P1.host")?.uidl);
 * ```
 */
export async function loadCourierUidls(
  fs: MaildirFs,
  dir: string,
  names: readonly string[],
): Promise<
  { messages: Map<string, CourierUidl>; unlisted: string[] } | undefined
> {
  const path = `${dir}/${COURIER_SIZELIST_NAME}`;
  const bytes = await fs.readFile(path);
  if (bytes === undefined) return undefined;
  try {
    return courierPop3View(parseCourierSizelist(bytes), names);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new SyntaxError(`${error.message} (${path})`, { cause: error });
  }
}
