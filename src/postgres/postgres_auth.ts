/**
 * Users in PostgreSQL (`pop3d_users`), with plaintext or PBKDF2 passwords.
 *
 * @module
 */

import type { Pop3dAuth } from "../auth/types.ts";
import { toHex } from "../_util/hex.ts";
import { type HashGate, hashGate } from "../auth/hash_gate.ts";
import { ensureMailbox, toNumber } from "./_sql.ts";
import {
  dummyPasswordHash,
  hashPassword,
  isPasswordHash,
  type PgHashPasswordOptions,
  verifyPassword,
} from "./password_hash.ts";
import type { PgMailbox, PgQueryable } from "./types.ts";

/** Options for {@linkcode PostgresAuth}. */
export interface PostgresAuthOptions {
  /**
   * Whether `lookup` returns stored plaintext passwords, which APOP,
   * CRAM-MD5 and SCRAM-SHA-256 need. Users whose password is stored hashed
   * can then log in only with USER/PASS, SASL PLAIN and LOGIN.
   *
   * @default {false}
   */
  plaintextPasswords?: boolean;
  /**
   * PBKDF2 hashes that may run at once; more wait in line, so that a flood
   * of PASS cannot pin the CPU. Default: a bound of 2 shared by every
   * backend in the process that has no own bound.
   */
  maxConcurrentHashes?: number;
}

/** Options for {@linkcode PostgresAuth.addUser}. */
export interface PgAddUserOptions {
  /**
   * The user's mailbox name (created when missing).
   *
   * @default {the user name}
   */
  mailbox?: string;
  /**
   * Store a PBKDF2 hash instead of the plaintext; an object sets the
   * iteration count.
   *
   * @default {false}
   */
  hash?: boolean | PgHashPasswordOptions;
}

/**
 * Users and passwords in the `pop3d_users` table. The `password` column
 * holds a plaintext password or a `$pbkdf2-sha256$...` hash from
 * {@linkcode hashPassword}; `authenticate` checks either, in constant time
 * for plaintext.
 *
 * @example Users in PostgreSQL
 * ```ts ignore
 * import { PostgresAuth } from "@x/pop3d/postgres";
 * const auth = new PostgresAuth(db);
 * await auth.addUser("alice", "secret", { hash: true });
 * console.assert(await auth.authenticate("alice", "secret"));
 * ```
 */
export class PostgresAuth implements Pop3dAuth<PgMailbox> {
  readonly #db: PgQueryable;
  readonly #gate: HashGate;
  // Checked for users that do not exist: the cost of a default hash.
  readonly #dummy = dummyPasswordHash();
  // The user row read by a successful `authenticate`, for the `lookup` the
  // session makes right after it (one query per login instead of two).
  readonly #verified = new Map<string, VerifiedRow>();
  /** Whether `lookup` returns stored plaintext passwords. */
  readonly plaintextPasswords: boolean;

  /**
   * Creates the auth backend; run {@linkcode createSchema} once beforehand.
   *
   * @param db Any queryable client.
   * @param options Whether to expose plaintext passwords to `lookup`.
   * @throws {TypeError} When `db` lacks `query`.
   */
  constructor(db: PgQueryable, options: PostgresAuthOptions = {}) {
    if (typeof db?.query !== "function") {
      throw new TypeError("Database client must have a query() method");
    }
    this.#db = db;
    this.plaintextPasswords = options.plaintextPasswords === true;
    this.#gate = hashGate(options.maxConcurrentHashes);
  }

  /**
   * Adds a user, or replaces the password and mailbox of an existing one.
   *
   * @param name The user name.
   * @param password The password (stored hashed with `hash`).
   * @param options Mailbox name and hashing.
   * @returns The user's mailbox.
   * @throws {TypeError} For a non-string or empty name or password.
   */
  async addUser(
    name: string,
    password: string,
    options: PgAddUserOptions = {},
  ): Promise<PgMailbox> {
    if (typeof name !== "string" || name === "") {
      throw new TypeError("User name must be a non-empty string");
    }
    if (typeof password !== "string") {
      throw new TypeError("Password must be a string");
    }
    const stored = options.hash
      ? await hashPassword(
        password,
        options.hash === true ? {} : options.hash,
      )
      : password;
    const box = await ensureMailbox(this.#db, options.mailbox ?? name);
    await this.#db.query(
      `INSERT INTO pop3d_users (name, password, mailbox_id)
       VALUES ($1::text, $2::text, $3::bigint)
       ON CONFLICT (name) DO UPDATE
         SET password = EXCLUDED.password, mailbox_id = EXCLUDED.mailbox_id`,
      [name, stored, box.id],
    );
    return box;
  }

  /**
   * Removes a user; the mailbox and its mail stay.
   *
   * @param name The user name.
   * @returns Whether the user existed.
   */
  async removeUser(name: string): Promise<boolean> {
    const { rows } = await this.#db.query(
      "DELETE FROM pop3d_users WHERE name = $1::text RETURNING name",
      [name],
    );
    return rows.length > 0;
  }

  /**
   * Tells whether the user exists.
   *
   * @param name The user name.
   */
  async exists(name: string): Promise<boolean> {
    const { rows } = await this.#db.query(
      "SELECT 1 AS one FROM pop3d_users WHERE name = $1::text",
      [name],
    );
    return rows.length > 0;
  }

  /**
   * Returns the password (or, unless `plaintextPasswords` is set or the
   * password is stored hashed, a random string that never matches) and the
   * user's mailbox.
   *
   * @param name The user name.
   * @throws {RangeError} For an unknown user.
   */
  async lookup(name: string): Promise<readonly [string, PgMailbox]> {
    const row = this.#takeVerified(name) ?? await this.#userRow(name);
    if (!row) throw new RangeError("Unknown user");
    const password = this.plaintextPasswords && !isPasswordHash(row.password)
      ? row.password
      : `\u0000${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
    return [password, { id: row.id, name: row.mailbox }];
  }

  /** The user's password and mailbox, in one query. */
  async #userRow(name: string): Promise<VerifiedRow | undefined> {
    const { rows } = await this.#db.query(
      `SELECT u.password, m.id, m.name FROM pop3d_users u
       JOIN pop3d_mailboxes m ON m.id = u.mailbox_id
       WHERE u.name = $1::text`,
      [name],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      password: String(row.password),
      id: toNumber(row.id, "mailbox id"),
      mailbox: String(row.name),
      at: performance.now(),
    };
  }

  /** Takes the row a successful `authenticate` just read, if still fresh. */
  #takeVerified(name: string): VerifiedRow | undefined {
    const row = this.#verified.get(name);
    if (row === undefined) return undefined;
    this.#verified.delete(name);
    return performance.now() - row.at <= VERIFIED_FRESH_MS ? row : undefined;
  }

  /**
   * Checks a user's password against the stored plaintext or hash. A user
   * that does not exist is checked against a hash of the default cost, so
   * that it takes as long as a user with a default hash. PBKDF2 runs at
   * most `maxConcurrentHashes` at once. The query also reads the user's
   * mailbox: the `lookup` of the same name that follows a successful check
   * (within a second) answers from that row instead of asking again.
   *
   * @param name The user name.
   * @param password The password to check.
   * @returns `true` when the user exists and the password matches.
   */
  async authenticate(name: string, password: string): Promise<boolean> {
    const row = await this.#userRow(name);
    const stored = row === undefined ? this.#dummy : row.password;
    const ok = isPasswordHash(stored)
      ? await this.#gate.run(() => verifyPassword(stored, password))
      : await verifyPassword(stored, password);
    if (row === undefined || !ok) return false;
    // Bounded: entries are taken by the next lookup, and a flood of logins
    // whose sessions never looked up only costs a clear.
    if (this.#verified.size >= VERIFIED_MAX) this.#verified.clear();
    this.#verified.set(name, row);
    return true;
  }
}

/** A user row as read for a login. */
interface VerifiedRow {
  readonly password: string;
  /** The mailbox id and name. */
  readonly id: number;
  readonly mailbox: string;
  /** `performance.now()` when it was read. */
  readonly at: number;
}

/** How long `lookup` may answer from the row `authenticate` read. */
const VERIFIED_FRESH_MS = 1000;
/** Rows kept for `lookup` at most. */
const VERIFIED_MAX = 1024;
