/**
 * Loads a PostgreSQL driver on demand for `--postgres`: node-postgres
 * (`pg`) or postgres.js (`postgres`), from the importing project's
 * node_modules, from npm on Deno (`npm:pg`), or from a path.
 *
 * @module
 */

import { createRequire } from "node:module";
import { isAbsolute, resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import {
  fromPg,
  fromPostgresJs,
  type NodePgPool,
} from "../postgres/adapters.ts";
import type { PostgresJsRootSql } from "../postgres/adapters.ts";
import type { PgClient } from "../postgres/types.ts";

/** An open database. */
export interface PostgresConnection {
  /** The client for PostgresAuth and PostgresStorage. */
  db: PgClient;
  /** Which driver was loaded. */
  driver: string;
  /** Closes the pool. */
  close(): Promise<void>;
}

/** The driver cannot be loaded or the database cannot be reached: exit 1. */
export class PostgresDriverError extends Error {
  /**
   * @param message What failed, naming the setting.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PostgresDriverError";
  }
}

function candidates(driver: string | undefined): string[] {
  if (driver !== undefined) return [driver];
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno === "object";
  return isDeno
    ? ["pg", "postgres", "npm:pg", "npm:postgres"]
    : ["pg", "postgres"];
}

async function load(spec: string): Promise<unknown> {
  if (spec.startsWith(".") || isAbsolute(spec)) {
    // A path: a package directory or a file, resolved like require() would.
    const path = resolve(process.cwd(), spec);
    const entry = createRequire(pathToFileURL(`${process.cwd()}/`).href)
      .resolve(path);
    return await import(pathToFileURL(entry).href);
  }
  return await import(spec);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}

type PgModule = {
  Pool?: new (o: object) => NodePgPool & { end(): Promise<void> };
};
type PostgresFn = (url: string, options: object) =>
  & PostgresJsRootSql
  & { end(): Promise<void> };

/**
 * Loads a driver and opens a pool on `url`, then checks the connection.
 *
 * @param url The `--postgres` URL (never printed: it may hold a password).
 * @param driver `--postgres-driver`, or `undefined` to try the usual names.
 * @throws {PostgresDriverError} Naming `--postgres`, when no driver loads
 * or the database does not answer.
 *
 * @example
 * ```ts ignore
 * const { db, close } = await openPostgres("postgres://pop3d@db/mail", undefined);
 * await close();
 * ```
 */
export async function openPostgres(
  url: string,
  driver: string | undefined,
): Promise<PostgresConnection> {
  const tried: string[] = [];
  for (const spec of candidates(driver)) {
    let mod: Record<string, unknown>;
    try {
      mod = await load(spec) as Record<string, unknown>;
    } catch (error) {
      tried.push(`"${spec}" (${message(error)})`);
      continue;
    }
    const root = (mod.default ?? mod) as PgModule & PostgresFn;
    let connection: PostgresConnection;
    if (typeof root.Pool === "function") {
      const pool = new root.Pool({ connectionString: url, max: 10 });
      (pool as unknown as { on?(e: string, f: () => void): void }).on?.(
        "error",
        () => {},
      );
      connection = { db: fromPg(pool), driver: spec, close: () => pool.end() };
    } else if (typeof root === "function") {
      const sql = root(url, { max: 10, onnotice: () => {} });
      connection = {
        db: fromPostgresJs(sql),
        driver: spec,
        close: () => sql.end(),
      };
    } else {
      tried.push(`"${spec}" (neither node-postgres nor postgres.js)`);
      continue;
    }
    try {
      await connection.db.query("SELECT 1", []);
    } catch (error) {
      await connection.close().catch(() => {});
      throw new PostgresDriverError(
        `Cannot connect to the database of --postgres: ${message(error)}`,
        { cause: error },
      );
    }
    return connection;
  }
  throw new PostgresDriverError(
    `Cannot load a PostgreSQL driver for --postgres: tried ${
      tried.join(", ")
    }. Install one (npm install pg, or npm install postgres) or name it with --postgres-driver`,
  );
}
