/**
 * Dovecot's POP3 view of a Maildir: which UID and UIDL each message has
 * and in which order POP3 lists them, from the parsed `dovecot-uidlist`.
 *
 * @module
 */

import {
  compileDovecotUidlFormat,
  DOVECOT_DEFAULT_UIDL_FORMAT,
} from "./dovecot_uidl_format.ts";
import {
  compareDovecotNames,
  dovecotBaseName,
  type DovecotUidlist,
  type DovecotUidlistRecord,
} from "./dovecot_uidlist.ts";

/** What {@linkcode dovecotPop3View} computes for one message. */
export interface DovecotPop3Message {
  /** The Maildir file name it was given (with any `:2,` part). */
  name: string;
  /** The file name up to `:`, as the uidlist records it. */
  baseName: string;
  /** The IMAP UID. */
  uid: number;
  /** The UIDL Dovecot lists for it. */
  uidl: string;
  /**
   * The virtual (CRLF) size Dovecot knows without reading the file (from
   * `,W=` or the record's `W`), or `undefined` when it must be counted.
   */
  size: number | undefined;
}

/** The result of {@linkcode dovecotPop3View}. */
export interface DovecotPop3View {
  /** Messages with a UID, in Dovecot's POP3 order. */
  messages: DovecotPop3Message[];
  /** Names without a record, in the order Dovecot would number them. */
  unassigned: string[];
}

/** Options for {@linkcode dovecotPop3View}. */
export interface DovecotPop3ViewOptions {
  /**
   * Dovecot's `pop3_uidl_format`: `%u`, `%v`, `%f`, `%g`, `%%`, with
   * Dovecot's `[-][0]offset.width` and the `L`, `U`, `X`, `R` modifiers.
   *
   * @default {"%08Xu%08Xv"}
   */
  format?: string;
}

/**
 * Computes what Dovecot's POP3 server lists for the given Maildir files:
 * UIDs, UIDLs (`P` overrides first, then the format), the POP3 order
 * (`O` ascending, then by UID) and the sizes it knows without reading.
 *
 * @param list The parsed uidlist.
 * @param names The file names in `new/` and `cur/`.
 * @param options The UIDL format.
 * @returns The messages in POP3 order, and the names without a record.
 * @throws {RangeError} When the format uses a variable Dovecot rejects.
 *
 * @example Dovecot's default UIDL
 * ```ts
 * import { dovecotPop3View, parseDovecotUidlist } from "@x/pop3d";
 * const list = parseDovecotUidlist("3 V1700000000 N2 Gab\n1 :1700000060.M1P1.h,S=5,W=6\n");
 * const view = dovecotPop3View(list, ["1700000060.M1P1.h,S=5,W=6:2,S"]);
 * console.assert(view.messages[0].uidl === "000000016553f100" && view.messages[0].size === 6);
 * ```
 */
export function dovecotPop3View(
  list: DovecotUidlist,
  names: readonly string[],
  options: DovecotPop3ViewOptions = {},
): DovecotPop3View {
  const format = compileDovecotUidlFormat(
    options.format ?? DOVECOT_DEFAULT_UIDL_FORMAT,
  );
  const byName = new Map<string, string>();
  for (const name of names) {
    const base = dovecotBaseName(name);
    if (!byName.has(base)) byName.set(base, name);
  }
  const found: { record: DovecotUidlistRecord; order: number }[] = [];
  for (const record of list.records) {
    if (!byName.has(record.fileName)) continue;
    const order = /^\d{1,10}$/.test(record.ext.O ?? "")
      ? Number(record.ext.O)
      : Infinity;
    found.push({ record, order });
  }
  found.sort((a, b) => a.order - b.order || a.record.uid - b.record.uid);
  const messages = found.map(({ record }) => {
    const name = byName.get(record.fileName)!;
    byName.delete(record.fileName);
    const uidl = record.ext.P ? record.ext.P : format(record, list.uidValidity);
    return {
      name,
      baseName: record.fileName,
      uid: record.uid,
      uidl,
      size: sizeField(record.fileName, "W") ??
        (/^\d{1,15}$/.test(record.ext.W ?? "")
          ? Number(record.ext.W)
          : undefined),
    };
  });
  const unassigned = [...byName.values()].sort(compareDovecotNames);
  return { messages, unassigned };
}

function sizeField(base: string, key: string): number | undefined {
  for (const field of base.split(",").slice(1)) {
    if (field.startsWith(`${key}=`) && /^\d{1,15}$/.test(field.slice(2))) {
      return Number(field.slice(2));
    }
  }
  return undefined;
}
