/**
 * Mail and users in PostgreSQL, shared by any number of servers:
 * {@linkcode PostgresStorage} (a cluster-wide mailbox lease with a fencing
 * token, messages in chunk rows) and {@linkcode PostgresAuth} (plaintext or
 * PBKDF2 passwords), with adapters for the `pg`, `postgres` and
 * `deno-postgres` drivers. The library itself depends on no driver.
 *
 * A POP3 session costs one statement for the login, one for the lock and
 * message list (the function `pop3d_open`), one at QUIT, and for RETR one
 * per chunk row, except that a RETR of a small message also reads the next
 * small ones (`readAhead`, 64 KiB), whose RETRs then need none; a large
 * message streams with the next chunk row read while the current one is
 * sent. After upgrading, run
 * {@linkcode createSchema} again (it is idempotent): a schema from before
 * `pop3d_open` still works, with one more statement per login.
 *
 * @example Serving mail from PostgreSQL with node-postgres
 * ```ts ignore
 * import pg from "npm:pg";
 * import { Pop3d } from "@x/pop3d";
 * import {
 *   createSchema,
 *   fromPg,
 *   PostgresAuth,
 *   PostgresStorage,
 * } from "@x/pop3d/postgres";
 *
 * const db = fromPg(new pg.Pool({ connectionString: Deno.env.get("DATABASE_URL") }));
 * await createSchema(db);
 * const auth = new PostgresAuth(db);
 * const storage = new PostgresStorage(db);
 * await auth.addUser("alice", "secret", { hash: true });
 * await storage.deliver("alice", "Subject: hi\r\n\r\nHello\r\n");
 * await new Pop3d({ port: 1110, auth, storage }).up();
 * ```
 *
 * @example The schema, for a migration tool
 * ```ts
 * import { POSTGRES_SCHEMA } from "@x/pop3d/postgres";
 * console.assert(POSTGRES_SCHEMA.includes("pop3d_leases"));
 * ```
 *
 * @module
 */

export {
  createSchema,
  POSTGRES_SCHEMA,
  POSTGRES_SCHEMA_STATEMENTS,
} from "./src/postgres/schema.ts";
export {
  LeaseLostError,
  PostgresStorage,
} from "./src/postgres/postgres_storage.ts";
export type {
  PgDeliverOptions,
  PgDelivery,
  PostgresStorageOptions,
} from "./src/postgres/postgres_storage.ts";
export { PostgresAuth } from "./src/postgres/postgres_auth.ts";
export type {
  PgAddUserOptions,
  PostgresAuthOptions,
} from "./src/postgres/postgres_auth.ts";
export type { PgHashPasswordOptions } from "./src/postgres/password_hash.ts";
export {
  fromDenoPostgres,
  fromPg,
  fromPostgresJs,
} from "./src/postgres/adapters.ts";
export type {
  DenoPostgresClient,
  DenoPostgresPool,
  NodePgPool,
  NodePgPoolClient,
  PostgresJsRootSql,
  PostgresJsSql,
} from "./src/postgres/adapters.ts";
export type {
  PgClient,
  PgMailbox,
  PgQueryable,
  PgResult,
} from "./src/postgres/types.ts";
