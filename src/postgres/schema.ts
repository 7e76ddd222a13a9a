/**
 * The PostgreSQL schema of {@linkcode PostgresStorage} and
 * {@linkcode PostgresAuth}, as text and as a function that creates it.
 * `src/postgres/schema.sql` holds the same statements for `psql`.
 *
 * @module
 */

import type { PgQueryable } from "./types.ts";

/**
 * The schema, one statement per entry, each safe to run again
 * (`IF NOT EXISTS`). Tables: `pop3d_mailboxes`, `pop3d_users`,
 * `pop3d_messages` (one row per message: stable uid and exact CRLF size),
 * `pop3d_chunks` (the message bytes in pieces), `pop3d_leases` (one lock
 * lease per mailbox), the sequence `pop3d_fence` (fencing tokens) and the
 * function `pop3d_open` (takes a lease and lists the messages in one call;
 * without it, as in a schema created by an older version, a login takes
 * one more round trip).
 *
 * @example
 * ```ts
 * import { POSTGRES_SCHEMA_STATEMENTS } from "./schema.ts";
 * console.assert(POSTGRES_SCHEMA_STATEMENTS.length > 5);
 * ```
 */
export const POSTGRES_SCHEMA_STATEMENTS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS pop3d_mailboxes (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE
)`,
  `CREATE TABLE IF NOT EXISTS pop3d_users (
  name text PRIMARY KEY,
  -- plaintext, or "$pbkdf2-sha256$<iterations>$<salt b64>$<key b64>"
  password text NOT NULL,
  mailbox_id bigint NOT NULL REFERENCES pop3d_mailboxes (id) ON DELETE CASCADE
)`,
  `CREATE TABLE IF NOT EXISTS pop3d_messages (
  id bigserial PRIMARY KEY,
  mailbox_id bigint NOT NULL REFERENCES pop3d_mailboxes (id) ON DELETE CASCADE,
  uid text NOT NULL CHECK (uid ~ '^[!-~]{1,70}$'),
  size bigint NOT NULL CHECK (size >= 0),
  delivered_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (mailbox_id, uid)
)`,
  `CREATE INDEX IF NOT EXISTS pop3d_messages_by_mailbox
  ON pop3d_messages (mailbox_id, id)`,
  `CREATE TABLE IF NOT EXISTS pop3d_chunks (
  message_id bigint NOT NULL REFERENCES pop3d_messages (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (message_id, seq)
)`,
  // Mail is stored as it came; skip TOAST compression for speed.
  `ALTER TABLE pop3d_chunks ALTER COLUMN data SET STORAGE EXTERNAL`,
  `CREATE SEQUENCE IF NOT EXISTS pop3d_fence`,
  `CREATE TABLE IF NOT EXISTS pop3d_leases (
  mailbox_id bigint PRIMARY KEY REFERENCES pop3d_mailboxes (id) ON DELETE CASCADE,
  owner text NOT NULL,
  token bigint NOT NULL,
  expires_at timestamptz NOT NULL
)`,
  // Login in one round trip: take the lease, then list the messages.
  `CREATE OR REPLACE FUNCTION pop3d_open(
  p_mailbox bigint, p_owner text, p_lease_ms integer
) RETURNS TABLE (
  lease_token bigint, listed boolean,
  message_id bigint, message_uid text, message_size bigint
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  INSERT INTO pop3d_leases AS l (mailbox_id, owner, token, expires_at)
  VALUES (p_mailbox, p_owner, nextval('pop3d_fence'),
          clock_timestamp() + p_lease_ms * interval '1 millisecond')
  ON CONFLICT (mailbox_id) DO UPDATE
    SET owner = EXCLUDED.owner, token = EXCLUDED.token,
        expires_at = EXCLUDED.expires_at
    WHERE l.expires_at <= clock_timestamp()
  RETURNING l.token INTO lease_token;
  IF lease_token IS NULL THEN
    RETURN;
  END IF;
  -- A first row with the token alone, then the messages, read by a new
  -- statement: in READ COMMITTED a volatile function takes a new snapshot
  -- per statement, so the list holds everything committed before the lease
  -- was won. Under a stricter isolation level the snapshot would be older
  -- than the lease: the caller lists the messages itself (listed = false).
  listed := current_setting('transaction_isolation') = 'read committed';
  RETURN NEXT;
  IF listed THEN
    RETURN QUERY SELECT lease_token, true, m.id, m.uid, m.size
      FROM pop3d_messages m WHERE m.mailbox_id = p_mailbox ORDER BY m.id;
  END IF;
END
$$`,
];

/**
 * The schema as one SQL script (the statements of
 * {@linkcode POSTGRES_SCHEMA_STATEMENTS}, each ending with `;`).
 *
 * @example
 * ```ts
 * import { POSTGRES_SCHEMA } from "./schema.ts";
 * console.assert(POSTGRES_SCHEMA.includes("pop3d_leases"));
 * ```
 */
export const POSTGRES_SCHEMA: string = POSTGRES_SCHEMA_STATEMENTS.map((s) =>
  `${s};\n`
).join("\n");

/**
 * Creates the tables, index and sequence if they do not exist, one
 * statement at a time (so drivers that allow only one statement per query
 * work).
 *
 * @param db Any {@linkcode PgQueryable}.
 * @returns Resolves when the schema exists.
 *
 * @example Creating the schema
 * ```ts ignore
 * import { createSchema } from "@x/pop3d/postgres";
 * await createSchema(db);
 * ```
 */
export async function createSchema(db: PgQueryable): Promise<void> {
  for (const statement of POSTGRES_SCHEMA_STATEMENTS) {
    await db.query(statement, []);
  }
}
