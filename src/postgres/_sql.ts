/**
 * Internal helpers shared by the PostgreSQL backend: value coercion for
 * whatever a driver returns, and mailbox rows.
 *
 * @module
 */

import { fromHex } from "../_util/hex.ts";
import type { PgMailbox, PgQueryable } from "./types.ts";

/** A column value as a safe integer (drivers return int8 as string or bigint). */
export function toNumber(value: unknown, what: string): number {
  const n = typeof value === "number"
    ? value
    : typeof value === "bigint" || typeof value === "string"
    ? Number(value)
    : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new TypeError(
      `Database returned an invalid ${what}: ${String(value)}`,
    );
  }
  return n;
}

/** A bytea column value as bytes (a Uint8Array, or `\x` hex text). */
export function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string" && value.startsWith("\\x")) {
    const out = fromHex(value.slice(2));
    if (out !== undefined) return out;
  }
  throw new TypeError("Database returned a bytea value that is not bytes");
}

/** Returns the mailbox named `name`, creating it when missing. */
export async function ensureMailbox(
  db: PgQueryable,
  name: string,
): Promise<PgMailbox> {
  if (typeof name !== "string" || name === "") {
    throw new TypeError("Mailbox name must be a non-empty string");
  }
  const { rows } = await db.query(
    `INSERT INTO pop3d_mailboxes (name) VALUES ($1::text)
     ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
     RETURNING id`,
    [name],
  );
  return { id: toNumber(rows[0]?.id, "mailbox id"), name };
}
