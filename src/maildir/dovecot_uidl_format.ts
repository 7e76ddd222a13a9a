/**
 * Dovecot's `pop3_uidl_format`: the subset of Dovecot's `var_expand` that
 * `doveconf` accepts there, as measured against Dovecot 2.3.19 (each
 * expansion in tests/maildir/dovecot_uidlist_test.ts is what it listed):
 * `%u` (UID), `%v` (UIDVALIDITY), `%f` (file name up to `:`), `%g` (the
 * record's `G`, else `%f`), `%%`; `%[-]offset.[-]width` substrings, `%0N`
 * zero padding, and the modifiers `L`, `U`, `R` and `X` (lower-case hex).
 * Dovecot refuses `%{name}`, `%x` and the like; so does this.
 *
 * @module
 */

import type { DovecotUidlistRecord } from "./dovecot_uidlist.ts";

/** Dovecot's default `pop3_uidl_format`. */
export const DOVECOT_DEFAULT_UIDL_FORMAT = "%08Xu%08Xv";

type Piece = string | {
  variable: "u" | "v" | "f" | "g";
  offset: number;
  width: number;
  zero: boolean;
  modifiers: string;
};

/**
 * Checks a `pop3_uidl_format` and turns it into a function, with the
 * subset of Dovecot's `var_expand` that `doveconf` accepts there.
 *
 * @param format A `pop3_uidl_format` value.
 * @returns A function from a record and UIDVALIDITY to the UIDL.
 * @throws {RangeError} For a variable other than `u`, `v`, `f`, `g`, `%`
 * (Dovecot's `%m` is for mbox only), or an empty format.
 *
 * @example
 * ```ts
 * import { compileDovecotUidlFormat } from "@x/pop3d";
 * const uidl = compileDovecotUidlFormat("%v-%u");
 * console.assert(uidl({ uid: 3, fileName: "x", ext: {} }, 9) === "9-3");
 * ```
 */
export function compileDovecotUidlFormat(
  format: string,
): (record: DovecotUidlistRecord, uidValidity: number) => string {
  if (typeof format !== "string" || format === "") {
    throw new RangeError("Cannot use pop3_uidl_format: it is empty");
  }
  const pieces: Piece[] = [];
  const pattern = /%(-?)(0?)(\d*)(?:\.(0?)(-?)(\d*))?([LUXR]*)(.?)/y;
  let i = 0;
  while (i < format.length) {
    const percent = format.indexOf("%", i);
    if (percent === -1) {
      pieces.push(format.slice(i));
      break;
    }
    if (percent > i) pieces.push(format.slice(i, percent));
    pattern.lastIndex = percent;
    const m = pattern.exec(format)!;
    i = pattern.lastIndex;
    const variable = m[8];
    if (variable === "%") {
      pieces.push("%");
      continue;
    }
    if (!["u", "v", "f", "g"].includes(variable)) {
      throw new RangeError(
        `Cannot use pop3_uidl_format "${format}": unknown variable "%${variable}"`,
      );
    }
    const first = Number(m[3] || 0);
    const dotted = m[0].includes(".");
    pieces.push({
      variable: variable as "u" | "v" | "f" | "g",
      offset: dotted ? (m[1] ? -first : first) : 0,
      width: dotted ? (m[5] ? -1 : 1) * Number(m[6] || 0) : first,
      zero: dotted ? m[4] === "0" : m[2] === "0",
      modifiers: m[7],
    });
  }
  return (record, uidValidity) =>
    pieces.map((piece) =>
      typeof piece === "string"
        ? piece
        : expand(piece, valueOf(piece.variable, record, uidValidity))
    ).join("");
}

function valueOf(
  variable: "u" | "v" | "f" | "g",
  record: DovecotUidlistRecord,
  uidValidity: number,
): string {
  switch (variable) {
    case "u":
      return String(record.uid);
    case "v":
      return String(uidValidity);
    case "f":
      return record.fileName;
    case "g":
      return record.ext.G ? record.ext.G : record.fileName;
  }
}

function expand(piece: Exclude<Piece, string>, raw: string): string {
  let value = raw;
  for (const modifier of piece.modifiers) {
    if (modifier === "L") value = value.toLowerCase();
    else if (modifier === "U") value = value.toUpperCase();
    else if (modifier === "R") value = [...value].reverse().join("");
    else value = /^\d+$/.test(value) ? BigInt(value).toString(16) : "0";
  }
  if (piece.offset < 0) {
    value = value.slice(Math.max(0, value.length + piece.offset));
  } else value = value.slice(piece.offset);
  if (piece.zero) return value.padStart(piece.width, "0");
  if (piece.width > 0) return value.slice(0, piece.width);
  if (piece.width < 0) {
    return value.slice(0, Math.max(0, value.length + piece.width));
  }
  return value;
}
