/**
 * The small query interface that {@linkcode PostgresBackend} needs, so that
 * the library depends on no PostgreSQL driver. See `adapters.ts` for
 * `npm:pg`, `npm:postgres` and Deno's `postgres` client.
 *
 * @module
 */

/** One result: the rows as objects keyed by column name. */
export interface PgResult {
  /** The returned rows; empty for statements that return none. */
  readonly rows: readonly Record<string, unknown>[];
}

/**
 * Runs one SQL statement with `$1`, `$2`, ... parameters.
 *
 * Parameters are strings, numbers, booleans, `null`, arrays of those (sent
 * as PostgreSQL arrays) and `Uint8Array` (sent as `bytea`). The backend casts
 * every parameter in its SQL, so a driver that sends everything as text
 * works. Results may come back as the driver likes: numbers or numeric
 * strings or bigints, and `bytea` as `Uint8Array` (or `\x` hex text).
 *
 * @example A queryable over `npm:pg`'s Pool
 * ```ts ignore
 * const db: PgQueryable = { query: (sql, params) => pool.query(sql, [...params]) };
 * ```
 */
export interface PgQueryable {
  /**
   * Runs one statement.
   *
   * @param sql The statement, with `$n` placeholders.
   * @param params The values of the placeholders.
   * @returns The rows.
   */
  query(sql: string, params: readonly unknown[]): Promise<PgResult>;
}

/**
 * A {@linkcode PgQueryable} that can also run several statements in one
 * transaction on one connection.
 *
 * @example Over any client with BEGIN/COMMIT on a dedicated connection
 * ```ts ignore
 * const db: PgClient = {
 *   query: (sql, params) => pool.query(sql, [...params]),
 *   async transaction(fn) {
 *     const c = await pool.connect();
 *     try {
 *       await c.query("BEGIN");
 *       const result = await fn({ query: (s, p) => c.query(s, [...p]) });
 *       await c.query("COMMIT");
 *       return result;
 *     } catch (error) {
 *       await c.query("ROLLBACK");
 *       throw error;
 *     } finally {
 *       c.release();
 *     }
 *   },
 * };
 * ```
 */
export interface PgClient extends PgQueryable {
  /**
   * Runs `fn` inside BEGIN ... COMMIT on one connection; rolls back and
   * rethrows when `fn` throws.
   *
   * @param fn Receives a queryable bound to the transaction.
   * @returns What `fn` returns.
   */
  transaction<T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T>;
}

/**
 * The storage reference of a PostgreSQL maildrop, as
 * {@linkcode PostgresAuth.lookup} returns it and the storage callbacks take it.
 *
 * @example
 * ```ts
 * import type { PgMailbox } from "./types.ts";
 * const box: PgMailbox = { id: 1, name: "alice" };
 * console.assert(box.name === "alice");
 * ```
 */
export interface PgMailbox {
  /** The row id in `pop3d_mailboxes`. */
  readonly id: number;
  /** The mailbox name. */
  readonly name: string;
}
