-- The schema of @x/pop3d's PostgreSQL backend; the same statements as
-- POSTGRES_SCHEMA in src/postgres/schema.ts (a test keeps them equal).
-- psql -f src/postgres/schema.sql, or call createSchema(db).

CREATE TABLE IF NOT EXISTS pop3d_mailboxes (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS pop3d_users (
  name text PRIMARY KEY,
  -- plaintext, or "$pbkdf2-sha256$<iterations>$<salt b64>$<key b64>"
  password text NOT NULL,
  mailbox_id bigint NOT NULL REFERENCES pop3d_mailboxes (id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS pop3d_messages (
  id bigserial PRIMARY KEY,
  mailbox_id bigint NOT NULL REFERENCES pop3d_mailboxes (id) ON DELETE CASCADE,
  uid text NOT NULL CHECK (uid ~ '^[!-~]{1,70}$'),
  size bigint NOT NULL CHECK (size >= 0),
  delivered_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (mailbox_id, uid)
);

CREATE INDEX IF NOT EXISTS pop3d_messages_by_mailbox
  ON pop3d_messages (mailbox_id, id);

CREATE TABLE IF NOT EXISTS pop3d_chunks (
  message_id bigint NOT NULL REFERENCES pop3d_messages (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (message_id, seq)
);

ALTER TABLE pop3d_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE SEQUENCE IF NOT EXISTS pop3d_fence;

CREATE TABLE IF NOT EXISTS pop3d_leases (
  mailbox_id bigint PRIMARY KEY REFERENCES pop3d_mailboxes (id) ON DELETE CASCADE,
  owner text NOT NULL,
  token bigint NOT NULL,
  expires_at timestamptz NOT NULL
);
