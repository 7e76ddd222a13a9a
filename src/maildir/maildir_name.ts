/**
 * Maildir file names: the unique part, the delivery time, `,KEY=value`
 * fields and `:2,` flags. Pure functions, no file access.
 *
 * @module
 */

/**
 * The unique part of a Maildir file name (before `:` info and `,` fields).
 *
 * @example
 * ```ts
 * import { uniqueOf } from "./maildir_name.ts";
 * console.assert(uniqueOf("1700000000.M1P2.host,S=10:2,S") === "1700000000.M1P2.host");
 * ```
 */
export function uniqueOf(name: string): string {
  const colon = name.indexOf(":");
  const base = colon === -1 ? name : name.slice(0, colon);
  const comma = base.indexOf(",");
  return comma === -1 ? base : base.slice(0, comma);
}

/**
 * Delivery time in microseconds: the seconds that start a Maildir unique
 * name plus its `M<usec>` part (Dovecot, Courier, Postfix write it), or the
 * file's mtime for names without a time.
 *
 * @example
 * ```ts
 * import { deliveryTime } from "./maildir_name.ts";
 * console.assert(deliveryTime("1.M5P1.h", 0) === 1_000_005);
 * ```
 */
export function deliveryTime(unique: string, mtimeMs: number): number {
  const match = /^(\d{1,12})(?:\.(?:[^.]*?M(\d{1,6})(?!\d))?|$)/.exec(unique);
  if (match === null) return Math.floor(mtimeMs * 1000);
  return Number(match[1]) * 1_000_000 + Number(match[2] ?? 0);
}

/**
 * A numeric `,KEY=value` field of the file name, such as `S` or `W`.
 *
 * @example
 * ```ts
 * import { fieldOf } from "./maildir_name.ts";
 * console.assert(fieldOf("1.a,S=3,W=5:2,", "W") === 5);
 * ```
 */
export function fieldOf(name: string, key: string): number | undefined {
  const colon = name.indexOf(":");
  const base = colon === -1 ? name : name.slice(0, colon);
  for (const field of base.split(",").slice(1)) {
    if (field.startsWith(`${key}=`) && /^\d{1,15}$/.test(field.slice(2))) {
      return Number(field.slice(2));
    }
  }
  return undefined;
}

function flagsOf(name: string): string | undefined {
  const info = name.indexOf(":2,");
  return info === -1 ? undefined : name.slice(info + 3);
}

/**
 * Whether the file name carries a `:2,` flag.
 *
 * @example
 * ```ts
 * import { hasFlag } from "./maildir_name.ts";
 * console.assert(hasFlag("1.a:2,RS", "S"));
 * ```
 */
export function hasFlag(name: string, flag: string): boolean {
  return flagsOf(name)?.includes(flag) ?? false;
}

/**
 * The file name with a flag added (flags kept sorted).
 *
 * @example
 * ```ts
 * import { withFlag } from "./maildir_name.ts";
 * console.assert(withFlag("1.a:2,T", "S") === "1.a:2,ST");
 * ```
 */
export function withFlag(name: string, flag: string): string {
  const flags = flagsOf(name);
  if (flags === undefined) {
    const colon = name.indexOf(":");
    return `${colon === -1 ? name : name.slice(0, colon)}:2,${flag}`;
  }
  const sorted = [...new Set([...flags, flag])].sort().join("");
  return `${name.slice(0, name.length - flags.length)}${sorted}`;
}

/**
 * The `,W=` field (size on the wire) of a file name, as
 * {@linkcode fieldOf}`(name, "W")` reads it, without splitting the name:
 * the snapshot reads it for every message at every login.
 *
 * @example
 * ```ts
 * import { wireSizeOf } from "./maildir_name.ts";
 * console.assert(wireSizeOf("1.a,S=3,W=5:2,") === 5);
 * console.assert(wireSizeOf("1.a,W=x,W=7") === 7);
 * ```
 */
export function wireSizeOf(name: string): number | undefined {
  const colon = name.indexOf(":");
  const end = colon === -1 ? name.length : colon;
  let at = name.indexOf(",W=");
  while (at !== -1 && at < end) {
    let stop = at + 3;
    while (stop < end) {
      const code = name.charCodeAt(stop);
      if (code < 48 || code > 57) break;
      stop++;
    }
    const digits = stop - at - 3;
    if (
      digits >= 1 && digits <= 15 &&
      (stop === end || name.charCodeAt(stop) === 44)
    ) {
      return Number(name.slice(at + 3, stop));
    }
    at = name.indexOf(",W=", at + 1);
  }
  return undefined;
}

/**
 * The file name up to the `:` that starts its info part (`:2,<flags>`):
 * what identifies a message's content, as Dovecot's uidlist records it.
 *
 * @example
 * ```ts
 * import { baseNameOf } from "./maildir_name.ts";
 * console.assert(baseNameOf("1.a,S=3:2,S") === "1.a,S=3");
 * ```
 */
export function baseNameOf(name: string): string {
  const colon = name.indexOf(":");
  return colon === -1 ? name : name.slice(0, colon);
}
