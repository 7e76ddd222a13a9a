/**
 * Maildrops in PostgreSQL, with a cluster-wide mailbox lock: a lease row per
 * mailbox, renewed while the session lives, and a fencing token checked by
 * every delete.
 *
 * @module
 */

import type {
  MaildropHandle,
  MaildropStore,
  OpenMaildropContext,
} from "../storage/maildrop_handle.ts";
import { toNumber } from "./_sql.ts";
import {
  deliverMessage,
  type PgDeliverOptions,
  type PgDelivery,
} from "./postgres_deliver.ts";
import { LEASE_INTERVAL, LeaseLostError } from "./postgres_lease.ts";
import { PgMaildrop } from "./postgres_maildrop.ts";
import { ensureMailbox } from "./_sql.ts";
import type { PgClient, PgMailbox } from "./types.ts";

type PgRows = readonly Record<string, unknown>[];

/** A boolean column as a driver returns it (true, or "t" as text). */
function isTrue(value: unknown): boolean {
  return value === true || value === "t" || value === "true";
}

/** Whether a driver's error is PostgreSQL's undefined_function (42883). */
function isUndefinedFunction(error: unknown): boolean {
  const e = error as { code?: unknown; fields?: { code?: unknown } } | null;
  return e?.code === "42883" || e?.fields?.code === "42883";
}

export { LeaseLostError };
export type { PgDeliverOptions, PgDelivery };

/** Options for {@linkcode PostgresStorage}. */
export interface PostgresStorageOptions {
  /**
   * How long a lock lease lasts without renewal, in milliseconds. A crashed
   * instance's mailboxes become free this long after its last renewal.
   *
   * @default {30000}
   */
  leaseMs?: number;
  /**
   * How often a held lease is renewed, in milliseconds; must be less than
   * `leaseMs`.
   *
   * @default {leaseMs / 3}
   */
  renewMs?: number;
  /**
   * This instance's name in the `owner` column of `pop3d_leases`, for
   * operators. Safety rests on the fencing token, not on this name.
   *
   * @default {a random UUID}
   */
  owner?: string;
  /**
   * Bytes per row of `pop3d_chunks`. RETR sends a one-row message whole
   * and streams a longer one, reading the next row while the current one
   * is sent: at most two rows per RETR in memory.
   *
   * @default {1048576}
   */
  chunkSize?: number;
  /**
   * Bytes of the following messages that a RETR of a one-row message reads
   * in the same query (at most 32 messages, each of one row), since POP3
   * clients mostly fetch in order: their RETRs then need no query. Kept
   * until taken, the next RETR of another message, or the next lease
   * renewal. 0 reads only the message asked for.
   *
   * @default {65536}
   */
  readAhead?: number;
  /** Receives background errors (failed lease renewals, lost leases). */
  onError?: (error: unknown) => void;
}

function checkMs(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `Option "${name}" must be an integer of at least ${min}, got ${value}`,
    );
  }
  return value;
}

/**
 * Maildrops in PostgreSQL (see {@linkcode POSTGRES_SCHEMA}), shared by any
 * number of {@linkcode Pop3d} instances on one database.
 *
 * - `openMaildrop` takes the mailbox's lease row when it is free or expired,
 *   with a new fencing token from the sequence `pop3d_fence`, and snapshots
 *   the message list as committed after the lease was won: numbers stay
 *   stable while new mail arrives. Both in one round trip through the
 *   function `pop3d_open` (two in a schema from before it: run
 *   {@linkcode createSchema} again to add it).
 * - While open, a timer renews the lease every `renewMs`; the handle's
 *   `close` stops it and deletes the lease row.
 * - A delete runs one transaction that first renews the lease *only if it
 *   still carries this session's token* (locking the row against a takeover)
 *   and then deletes the messages: all go, or none and it throws
 *   {@linkcode LeaseLostError}.
 * - Once this instance knows the lease may have lapsed, RETR/TOP/DELE
 *   answer `-ERR [SYS/TEMP]`.
 * - Messages are stored with CRLF line ends in `chunkSize` rows, so sizes
 *   are exact; RETR streams a message of several rows with one row read
 *   ahead (backpressure from the client, two rows in memory at most), and
 *   reads a one-row message with the next ones up to `readAhead` bytes.
 *
 * @example Serving mail from PostgreSQL
 * ```ts ignore
 * import { Pop3d } from "@x/pop3d";
 * import { createSchema, PostgresAuth, PostgresStorage } from "@x/pop3d/postgres";
 *
 * await createSchema(db); // db: a PgClient, see fromPg / fromPostgresJs
 * const auth = new PostgresAuth(db);
 * const storage = new PostgresStorage(db, { leaseMs: 30_000 });
 * await auth.addUser("alice", "secret", { hash: true });
 * await storage.deliver("alice", "Subject: hi\r\n\r\nHello\r\n");
 * const server = new Pop3d({ port: 110, auth, storage });
 * await server.up();
 * ```
 */
export class PostgresStorage implements MaildropStore<PgMailbox> {
  readonly #db: PgClient;
  readonly #leaseMs: number;
  readonly #renewMs: number;
  readonly #owner: string;
  readonly #chunkSize: number;
  readonly #readAhead: number;
  readonly #onError: (error: unknown) => void;
  // Open handles, for close() at shutdown (not consulted for locking: the
  // lease row is the lock).
  readonly #handles = new Set<PgMaildrop>();
  // Whether the schema has pop3d_open (until a call says it has not).
  #hasOpenFunction = true;

  /**
   * Creates the storage; run {@linkcode createSchema} once beforehand.
   *
   * @param db A client that can run queries and transactions.
   * @param options Lease timing, owner name, chunk size and read-ahead.
   * @throws {TypeError} When `db` lacks `query` or `transaction`.
   * @throws {RangeError} For out-of-range timings or chunk size.
   */
  constructor(db: PgClient, options: PostgresStorageOptions = {}) {
    if (
      typeof db?.query !== "function" || typeof db.transaction !== "function"
    ) {
      throw new TypeError(
        "Database client must have query() and transaction() methods",
      );
    }
    this.#db = db;
    this.#leaseMs = checkMs("leaseMs", options.leaseMs ?? 30_000, 100);
    this.#renewMs = checkMs(
      "renewMs",
      options.renewMs ?? Math.floor(this.#leaseMs / 3),
      10,
    );
    if (this.#renewMs >= this.#leaseMs) {
      throw new RangeError('Option "renewMs" must be less than "leaseMs"');
    }
    this.#chunkSize = checkMs(
      "chunkSize",
      options.chunkSize ?? 1 << 20,
      1024,
    );
    this.#readAhead = checkMs("readAhead", options.readAhead ?? 65536, 0);
    this.#owner = options.owner ?? crypto.randomUUID();
    if (typeof this.#owner !== "string" || this.#owner === "") {
      throw new TypeError('Option "owner" must be a non-empty string');
    }
    this.#onError = options.onError ?? (() => {});
  }

  /** This instance's owner name in `pop3d_leases`. */
  get owner(): string {
    return this.#owner;
  }

  /**
   * Returns the mailbox named `name`, creating it when missing.
   *
   * @param name The mailbox name.
   * @returns Its storage reference.
   * @throws {TypeError} For an empty name.
   */
  mailbox(name: string): Promise<PgMailbox> {
    return ensureMailbox(this.#db, name);
  }

  /**
   * Stores a message in one transaction; bare LF line ends become CRLF and
   * the size is counted as sent. A stream is stored piece by piece, never
   * held whole in memory.
   *
   * @param mailbox The mailbox name (created when missing) or reference.
   * @param message The message bytes or text.
   * @param options An explicit UIDL.
   * @returns The new message's id, uid and size.
   * @throws {TypeError} For a bad message or uid.
   */
  deliver(
    mailbox: string | PgMailbox,
    message: string | Uint8Array | ReadableStream<Uint8Array>,
    options: PgDeliverOptions = {},
  ): Promise<PgDelivery> {
    return deliverMessage(this.#db, this.#chunkSize, mailbox, message, options);
  }

  /**
   * Takes the mailbox's lease if it is free or expired, snapshots its
   * messages (one query, see `pop3d_open`) and starts renewing the lease.
   *
   * @param mbox The mailbox reference from {@linkcode PostgresAuth.lookup}.
   * @param context The session's user and abort signal.
   * @returns The session's handle, or `null` when another session anywhere
   *   holds a live lease, or the session was killed meanwhile (then the
   *   lease is given back).
   */
  async openMaildrop(
    mbox: PgMailbox,
    context?: OpenMaildropContext,
  ): Promise<MaildropHandle | null> {
    const started = performance.now();
    const opened = await this.#takeLease(mbox);
    if (opened === null) return null;
    const { token, rows } = opened;
    const lease = {
      db: this.#db,
      mbox,
      token,
      leaseMs: this.#leaseMs,
      renewMs: this.#renewMs,
      onError: this.#onError,
    };
    if (context?.signal.aborted) {
      await PgMaildrop.release(lease);
      return null;
    }
    let list: PgRows | undefined = rows;
    if (list === undefined) {
      try {
        list = (await this.#db.query(
          `SELECT id, uid, size FROM pop3d_messages
           WHERE mailbox_id = $1::bigint ORDER BY id`,
          [mbox.id],
        )).rows;
      } catch (error) {
        await PgMaildrop.release(lease).catch(() => {});
        throw error;
      }
    }
    const handle = new PgMaildrop(lease, {
      ids: list.map((row) => toNumber(row.id, "message id")),
      uids: list.map((row) => String(row.uid)),
      sizes: list.map((row) => toNumber(row.size, "message size")),
      validUntil: started + this.#leaseMs,
      readAhead: this.#readAhead,
      chunkSize: this.#chunkSize,
      closed: () => this.#handles.delete(handle),
    });
    this.#handles.add(handle);
    return handle;
  }

  /**
   * Takes the lease: with `pop3d_open`, in one round trip that also lists
   * the messages (`rows`); in a schema without it (or under an isolation
   * level stricter than READ COMMITTED), `rows` is undefined and the caller
   * lists them.
   */
  async #takeLease(
    mbox: PgMailbox,
  ): Promise<{ token: string; rows?: PgRows } | null> {
    const params = [mbox.id, this.#owner, this.#leaseMs];
    if (this.#hasOpenFunction) {
      try {
        const { rows } = await this.#db.query(
          `SELECT lease_token AS token, listed, message_id AS id,
                  message_uid AS uid, message_size AS size
           FROM pop3d_open($1::bigint, $2::text, $3::integer)`,
          params,
        );
        if (rows.length === 0) return null;
        const token = String(rows[0].token);
        // Not listed (isolation stricter than READ COMMITTED): the caller
        // lists them in a statement of its own, after the lease.
        return isTrue(rows[0].listed) ? { token, rows: rows.slice(1) } : {
          token,
        };
      } catch (error) {
        if (!isUndefinedFunction(error)) throw error;
        // A schema from before pop3d_open: run createSchema to add it.
        this.#hasOpenFunction = false;
      }
    }
    const { rows } = await this.#db.query(
      `INSERT INTO pop3d_leases AS l (mailbox_id, owner, token, expires_at)
       VALUES ($1::bigint, $2::text, nextval('pop3d_fence'),
               clock_timestamp() + ${LEASE_INTERVAL})
       ON CONFLICT (mailbox_id) DO UPDATE
         SET owner = EXCLUDED.owner, token = EXCLUDED.token,
             expires_at = EXCLUDED.expires_at
         WHERE l.expires_at <= clock_timestamp()
       RETURNING token`,
      params,
    );
    return rows.length === 0 ? null : { token: String(rows[0].token) };
  }

  /**
   * Closes every handle still open (stops its renewals and releases its
   * lease), for a graceful shutdown after the server has stopped.
   */
  async close(): Promise<void> {
    const open = [...this.#handles];
    this.#handles.clear();
    await Promise.all(open.map((h) => h.close().catch(this.#onError)));
  }
}
