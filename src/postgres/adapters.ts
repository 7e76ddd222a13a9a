/**
 * Adapters that turn common PostgreSQL drivers into a {@linkcode PgClient},
 * typed by shape so the library imports none of them: `npm:pg` (node-postgres),
 * `npm:postgres` (postgres.js) and Deno's `postgres` client
 * (`jsr:@db/postgres`, formerly `deno.land/x/postgres`).
 *
 * @module
 */

import type { PgClient, PgQueryable, PgResult } from "./types.ts";

type Rows = readonly Record<string, unknown>[];

/** The part of node-postgres's `Pool` that {@linkcode fromPg} uses. */
export interface NodePgPool {
  /** `pool.query(text, values)`. */
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: readonly Record<string, unknown>[] }>;
  /** `pool.connect()`: a client checked out for a transaction. */
  connect(): Promise<NodePgPoolClient>;
}

/** The part of node-postgres's `PoolClient` that {@linkcode fromPg} uses. */
export interface NodePgPoolClient {
  /** `client.query(text, values)`. */
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: readonly Record<string, unknown>[] }>;
  /** `client.release(error)`: a truthy error destroys the connection. */
  release(error?: Error | boolean): void;
}

/** The part of postgres.js's `sql` (and its transaction `sql`) used here. */
export interface PostgresJsSql {
  /** `sql.unsafe(query, parameters)`: resolves to an array of rows. */
  unsafe(query: string, parameters?: unknown[]): PromiseLike<unknown>;
}

/** postgres.js's top-level `sql`, which can also `begin` transactions. */
export interface PostgresJsRootSql extends PostgresJsSql {
  /** `sql.begin(fn)`: runs `fn` in a transaction. */
  begin(fn: (sql: PostgresJsSql) => Promise<unknown>): Promise<unknown>;
}

/** The part of Deno postgres's `Pool` that {@linkcode fromDenoPostgres} uses. */
export interface DenoPostgresPool {
  /** `pool.connect()`: a pooled client. */
  connect(): Promise<DenoPostgresClient>;
}

/** The part of Deno postgres's `PoolClient` used here. */
export interface DenoPostgresClient {
  /** `client.queryObject(text, args)`: rows as objects. */
  queryObject(text: string, args?: unknown[]): Promise<{ rows: unknown[] }>;
  /** Returns the client to its pool. */
  release(): void;
}

/**
 * Wraps a node-postgres (`npm:pg`) `Pool`. Transactions run on a client
 * checked out with `pool.connect()`.
 *
 * @param pool A `pg.Pool`.
 * @returns A {@linkcode PgClient}.
 *
 * @example node-postgres
 * ```ts ignore
 * import pg from "npm:pg";
 * import { fromPg, PostgresStorage } from "@x/pop3d/postgres";
 * const db = fromPg(new pg.Pool({ connectionString: "postgres://pop3d@db/mail" }));
 * const storage = new PostgresStorage(db);
 * ```
 */
export function fromPg(pool: NodePgPool): PgClient {
  const wrap = (q: NodePgPool | NodePgPoolClient): PgQueryable => ({
    query: async (sql, params) => ({
      rows: (await q.query(sql, [...params])).rows,
    }),
  });
  return {
    ...wrap(pool),
    async transaction(fn) {
      const client = await pool.connect();
      let broken = false;
      try {
        return await inTransaction(
          (sql) => client.query(sql),
          () => fn(wrap(client)),
          () => broken = true,
        );
      } finally {
        // A connection whose ROLLBACK failed is destroyed, not reused.
        client.release(broken ? true : undefined);
      }
    },
  };
}

function fromPostgresJsSql(sql: PostgresJsSql): PgQueryable {
  return {
    query: async (text, params): Promise<PgResult> => ({
      rows: await sql.unsafe(text, [...params]) as Rows,
    }),
  };
}

/**
 * Wraps a postgres.js (`npm:postgres`) `sql` instance. Queries go through
 * `sql.unsafe(text, params)`, transactions through `sql.begin`.
 *
 * @param sql The function returned by `postgres(url)`.
 * @returns A {@linkcode PgClient}.
 *
 * @example postgres.js
 * ```ts ignore
 * import postgres from "npm:postgres";
 * import { fromPostgresJs, PostgresStorage } from "@x/pop3d/postgres";
 * const db = fromPostgresJs(postgres("postgres://pop3d@db/mail"));
 * const storage = new PostgresStorage(db);
 * ```
 */
export function fromPostgresJs(sql: PostgresJsRootSql): PgClient {
  return {
    ...fromPostgresJsSql(sql),
    async transaction<T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T> {
      return await sql.begin((tx) => fn(fromPostgresJsSql(tx))) as T;
    },
  };
}

/**
 * Wraps a Deno postgres (`jsr:@db/postgres`) `Pool`. Every query checks a
 * client out of the pool; a transaction keeps one for BEGIN ... COMMIT.
 * `bigint` columns come back as `bigint`, which the backend accepts.
 *
 * @param pool A `Pool` from Deno's postgres client.
 * @returns A {@linkcode PgClient}.
 *
 * @example Deno postgres
 * ```ts ignore
 * import { Pool } from "jsr:@db/postgres";
 * import { fromDenoPostgres, PostgresStorage } from "@x/pop3d/postgres";
 * const db = fromDenoPostgres(new Pool("postgres://pop3d@db/mail", 8, true));
 * const storage = new PostgresStorage(db);
 * ```
 */
export function fromDenoPostgres(pool: DenoPostgresPool): PgClient {
  const on = (client: DenoPostgresClient): PgQueryable => ({
    query: async (sql, params) => ({
      rows: (await client.queryObject(sql, [...params])).rows as Rows,
    }),
  });
  return {
    async query(sql, params) {
      const client = await pool.connect();
      try {
        return await on(client).query(sql, params);
      } finally {
        client.release();
      }
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        return await inTransaction(
          (sql) => client.queryObject(sql),
          () => fn(on(client)),
          () => {},
        );
      } finally {
        client.release();
      }
    },
  };
}

/**
 * Runs `body` between BEGIN and COMMIT on one connection; when it throws,
 * ROLLBACK (a failed ROLLBACK goes to `rollbackFailed`) and rethrow.
 */
async function inTransaction<T>(
  exec: (sql: string) => Promise<unknown>,
  body: () => Promise<T>,
  rollbackFailed: (error: unknown) => void,
): Promise<T> {
  await exec("BEGIN");
  try {
    const result = await body();
    await exec("COMMIT");
    return result;
  } catch (error) {
    await exec("ROLLBACK").catch(rollbackFailed);
    throw error;
  }
}
