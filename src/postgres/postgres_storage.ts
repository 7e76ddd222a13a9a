/**
 * Maildrops in PostgreSQL, with a cluster-wide mailbox lock: a lease row per
 * mailbox, renewed while the session lives, and a fencing token checked by
 * `dele`.
 *
 * @module
 */

import { Pop3Error } from "../errors.ts";
import { toCrlf } from "../_util/crlf.ts";
import type { MessageSource, Pop3dStorage } from "../storage/types.ts";
import { ensureMailbox, toBytes, toNumber } from "./_sql.ts";
import type { PgClient, PgMailbox } from "./types.ts";

const encoder = new TextEncoder();
const UID_PATTERN = /^[!-~]{1,70}$/;

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
   * Bytes per row of `pop3d_chunks`; RETR reads one row at a time.
   *
   * @default {1048576}
   */
  chunkSize?: number;
  /** Receives background errors (failed lease renewals, lost leases). */
  onError?: (error: unknown) => void;
}

/** Options for {@linkcode PostgresStorage.deliver}. */
export interface PgDeliverOptions {
  /** Unique id for UIDL (1 to 70 characters from `!` to `~`); default: the row id. */
  uid?: string;
}

/** A delivered message, as {@linkcode PostgresStorage.deliver} reports it. */
export interface PgDelivery {
  /** Row id in `pop3d_messages`; later deliveries get larger ids. */
  readonly id: number;
  /** The UIDL. */
  readonly uid: string;
  /** Size in octets with CRLF line ends, as RETR sends it. */
  readonly size: number;
}

/**
 * The mailbox lock was lost: another instance took the lease after it
 * expired (this instance was paused, partitioned or too slow to renew).
 * `dele` throws it and deletes nothing.
 *
 * @example
 * ```ts
 * import { LeaseLostError } from "./postgres_storage.ts";
 * const error = new LeaseLostError("alice");
 * console.assert(error.name === "LeaseLostError");
 * ```
 */
export class LeaseLostError extends Error {
  /**
   * Creates the error.
   *
   * @param mailbox The mailbox name.
   * @param options Standard error options (`cause`).
   */
  constructor(mailbox: string, options?: ErrorOptions) {
    super(`Lost the lock lease of mailbox "${mailbox}"`, options);
    this.name = "LeaseLostError";
  }
}

interface Held {
  readonly token: string;
  readonly ids: number[];
  readonly uids: string[];
  readonly sizes: number[];
  readonly total: number;
  /** `performance.now()` before which the lease surely has not expired. */
  validUntil: number;
  lost: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

function checkMs(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `Option "${name}" must be an integer of at least ${min}, got ${value}`,
    );
  }
  return value;
}

/** Inserts CR before every LF not preceded by CR; `prev` is the byte before. */
function crlfPiece(piece: Uint8Array, prev: number): Uint8Array {
  let bare = 0;
  for (let i = piece.indexOf(10); i !== -1; i = piece.indexOf(10, i + 1)) {
    if ((i === 0 ? prev : piece[i - 1]) !== 13) bare++;
  }
  if (bare === 0) return piece;
  const out = new Uint8Array(piece.length + bare);
  let at = 0;
  for (let i = 0; i < piece.length; i++) {
    if (piece[i] === 10 && (i === 0 ? prev : piece[i - 1]) !== 13) {
      out[at++] = 13;
    }
    out[at++] = piece[i];
  }
  return out;
}

const LEASE_INTERVAL = "$3::integer * interval '1 millisecond'";

/**
 * Maildrops in PostgreSQL (see {@linkcode POSTGRES_SCHEMA}), shared by any
 * number of {@linkcode Pop3d} instances on one database.
 *
 * - `lock` takes the mailbox's lease row when it is free or expired, with a
 *   new fencing token from the sequence `pop3d_fence`, and snapshots the
 *   message list: numbers stay stable while new mail arrives.
 * - While locked, a timer renews the lease every `renewMs`; `unlock` stops
 *   it and deletes the lease row.
 * - `dele` runs one transaction that first renews the lease *only if it
 *   still carries this session's token* (locking the row against a takeover)
 *   and then deletes the messages: all go, or none and it throws
 *   {@linkcode LeaseLostError}.
 * - Once this instance knows the lease may have lapsed, RETR/TOP/DELE
 *   answer `-ERR [SYS/TEMP]`.
 * - Messages are stored with CRLF line ends in `chunkSize` rows, so sizes
 *   are exact and RETR streams one row at a time.
 *
 * @example Serving mail from PostgreSQL
 * ```ts ignore
 * import { createSchema, PostgresAuth, PostgresStorage, Pop3d } from "@x/pop3d";
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
export class PostgresStorage implements Pop3dStorage<PgMailbox> {
  readonly #db: PgClient;
  readonly #leaseMs: number;
  readonly #renewMs: number;
  readonly #owner: string;
  readonly #chunkSize: number;
  readonly #onError: (error: unknown) => void;
  readonly #held = new Map<number, Held>();

  /**
   * Creates the storage; run {@linkcode createSchema} once beforehand.
   *
   * @param db A client that can run queries and transactions.
   * @param options Lease timing, owner name and chunk size.
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
  async deliver(
    mailbox: string | PgMailbox,
    message: string | Uint8Array | ReadableStream<Uint8Array>,
    options: PgDeliverOptions = {},
  ): Promise<PgDelivery> {
    if (options.uid !== undefined && !UID_PATTERN.test(options.uid)) {
      throw new TypeError(
        'Message uid must be 1 to 70 characters from "!" to "~"',
      );
    }
    let source: ReadableStream<Uint8Array> | Uint8Array;
    if (typeof message === "string") source = toCrlf(encoder.encode(message));
    else if (message instanceof Uint8Array) source = toCrlf(message);
    else if (message instanceof ReadableStream) source = message;
    else {
      throw new TypeError(
        "Message must be a string, a Uint8Array or a ReadableStream",
      );
    }
    const chunkSize = this.#chunkSize;
    return await this.#db.transaction(async (tx) => {
      const box = typeof mailbox === "string"
        ? await ensureMailbox(tx, mailbox)
        : mailbox;
      const { rows } = await tx.query(
        `WITH n AS (
           SELECT nextval(pg_get_serial_sequence('pop3d_messages', 'id')) AS id
         )
         INSERT INTO pop3d_messages (id, mailbox_id, uid, size)
         SELECT n.id, $1::bigint, COALESCE($2::text, n.id::text), $3::bigint
         FROM n RETURNING id, uid`,
        [
          box.id,
          options.uid ?? null,
          source instanceof Uint8Array ? source.length : 0,
        ],
      );
      const id = toNumber(rows[0]?.id, "message id");
      const uid = String(rows[0]?.uid);
      let seq = 0;
      const put = (data: Uint8Array) =>
        tx.query(
          `INSERT INTO pop3d_chunks (message_id, seq, data)
           VALUES ($1::bigint, $2::integer, $3::bytea)`,
          [id, seq++, data],
        );
      if (source instanceof Uint8Array) {
        for (let at = 0; at < source.length; at += chunkSize) {
          await put(source.subarray(at, at + chunkSize));
        }
        return { id, uid, size: source.length };
      }
      let size = 0;
      let prev = -1;
      let buffer = new Uint8Array(chunkSize);
      let filled = 0;
      const reader = source.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (!(value instanceof Uint8Array)) {
            throw new TypeError("Message stream must yield Uint8Array chunks");
          }
          if (value.length === 0) continue;
          let piece = crlfPiece(value, prev);
          prev = value[value.length - 1];
          size += piece.length;
          while (piece.length > 0) {
            const n = Math.min(piece.length, chunkSize - filled);
            buffer.set(piece.subarray(0, n), filled);
            filled += n;
            piece = piece.subarray(n);
            if (filled === chunkSize) {
              await put(buffer);
              buffer = new Uint8Array(chunkSize);
              filled = 0;
            }
          }
        }
      } finally {
        reader.releaseLock();
      }
      if (filled > 0) await put(buffer.subarray(0, filled));
      await tx.query(
        "UPDATE pop3d_messages SET size = $2::bigint WHERE id = $1::bigint",
        [id, size],
      );
      return { id, uid, size };
    });
  }

  /**
   * Takes the mailbox's lease if it is free or expired, snapshots its
   * messages and starts renewing the lease.
   *
   * @param mbox The mailbox reference from {@linkcode PostgresAuth.lookup}.
   * @returns `false` when another session anywhere holds a live lease.
   */
  async lock(mbox: PgMailbox): Promise<boolean> {
    if (this.#held.has(mbox.id)) return false;
    const started = performance.now();
    const { rows } = await this.#db.query(
      `INSERT INTO pop3d_leases AS l (mailbox_id, owner, token, expires_at)
       VALUES ($1::bigint, $2::text, nextval('pop3d_fence'),
               clock_timestamp() + ${LEASE_INTERVAL})
       ON CONFLICT (mailbox_id) DO UPDATE
         SET owner = EXCLUDED.owner, token = EXCLUDED.token,
             expires_at = EXCLUDED.expires_at
         WHERE l.expires_at <= clock_timestamp()
       RETURNING token`,
      [mbox.id, this.#owner, this.#leaseMs],
    );
    if (rows.length === 0) return false;
    const token = String(rows[0].token);
    let list;
    try {
      list = await this.#db.query(
        `SELECT id, uid, size FROM pop3d_messages
         WHERE mailbox_id = $1::bigint ORDER BY id`,
        [mbox.id],
      );
    } catch (error) {
      await this.#release(mbox.id, token).catch(() => {});
      throw error;
    }
    const held: Held = {
      token,
      ids: [],
      uids: [],
      sizes: [],
      total: 0,
      validUntil: started + this.#leaseMs,
      lost: false,
      timer: undefined,
    };
    let total = 0;
    for (const row of list.rows) {
      held.ids.push(toNumber(row.id, "message id"));
      held.uids.push(String(row.uid));
      const size = toNumber(row.size, "message size");
      held.sizes.push(size);
      total += size;
    }
    (held as { total: number }).total = total;
    this.#held.set(mbox.id, held);
    this.#schedule(mbox, held);
    return true;
  }

  /**
   * Stops renewing and deletes the lease row (only if it is still ours).
   *
   * @param mbox The mailbox reference.
   */
  async unlock(mbox: PgMailbox): Promise<void> {
    const held = this.#held.get(mbox.id);
    if (!held) return;
    this.#held.delete(mbox.id);
    clearTimeout(held.timer);
    held.timer = undefined;
    await this.#release(mbox.id, held.token);
  }

  /**
   * Stops every renewal timer and releases every lease this instance holds,
   * for a graceful shutdown after the server has stopped.
   */
  async close(): Promise<void> {
    const held = [...this.#held.entries()];
    this.#held.clear();
    for (const [, h] of held) clearTimeout(h.timer);
    await Promise.all(
      held.map(([id, h]) => this.#release(id, h.token).catch(this.#onError)),
    );
  }

  /**
   * Number of messages in the snapshot taken at lock time.
   *
   * @param mbox The locked mailbox.
   */
  stat(mbox: PgMailbox): number {
    return this.#locked(mbox).ids.length;
  }

  /**
   * Size of one message, or of the snapshot, in octets with CRLF.
   *
   * @param mbox The locked mailbox.
   * @param msgId A message number, or none for the total.
   * @throws {RangeError} For a message number outside the snapshot.
   */
  size(mbox: PgMailbox, msgId?: number): number {
    const held = this.#locked(mbox);
    if (msgId === undefined) return held.total;
    return held.sizes[this.#index(held, msgId)];
  }

  /**
   * The message's UIDL, stored at delivery.
   *
   * @param mbox The locked mailbox.
   * @param msgId A message number.
   * @throws {RangeError} For a message number outside the snapshot.
   */
  uidl(mbox: PgMailbox, msgId: number): string {
    const held = this.#locked(mbox);
    return held.uids[this.#index(held, msgId)];
  }

  /**
   * Streams a message one chunk row at a time.
   *
   * @param mbox The locked mailbox.
   * @param msgId A message number.
   * @returns A stream of the message bytes.
   * @throws {Pop3Error} `SYS/TEMP` when the lease may be lost or the message is gone.
   */
  async get(mbox: PgMailbox, msgId: number): Promise<MessageSource> {
    const held = this.#locked(mbox);
    const i = this.#index(held, msgId);
    this.#checkLive(mbox, held);
    const id = held.ids[i];
    const size = held.sizes[i];
    const db = this.#db;
    const chunk = async (seq: number) => {
      const { rows } = await db.query(
        `SELECT data FROM pop3d_chunks
         WHERE message_id = $1::bigint AND seq = $2::integer`,
        [id, seq],
      );
      return rows.length === 0 ? undefined : toBytes(rows[0].data);
    };
    if (size === 0) return new Uint8Array(0);
    const first = await chunk(0);
    if (!first) {
      throw new Pop3Error(`Message ${msgId} no longer exists`, "SYS/TEMP");
    }
    let sent = 0;
    let seq = 0;
    let next: Uint8Array | undefined = first;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (next === undefined) {
          if (held.lost || performance.now() > held.validUntil) {
            throw new LeaseLostError(mbox.name);
          }
          next = await chunk(seq);
          if (!next) throw new Error(`Message ${id} is missing chunk ${seq}`);
        }
        seq++;
        sent += next.length;
        if (sent > size) throw new Error(`Message ${id} is longer than stored`);
        controller.enqueue(next);
        next = undefined;
        if (sent === size) controller.close();
      },
    }, { highWaterMark: 0 });
  }

  /**
   * Deletes messages in one transaction, only while this session's fencing
   * token is still the lease's: all of them, or none.
   *
   * @param mbox The locked mailbox.
   * @param msgIds Message numbers from the snapshot.
   * @throws {LeaseLostError} When another session took the lease; nothing is deleted.
   */
  async dele(mbox: PgMailbox, msgIds: readonly number[]): Promise<void> {
    const held = this.#held.get(mbox.id);
    if (!held || held.lost || performance.now() > held.validUntil) {
      if (held) held.lost = true;
      throw new LeaseLostError(mbox.name);
    }
    const ids = msgIds.map((n) => held.ids[this.#index(held, n)]);
    if (ids.length === 0) return;
    await this.#db.transaction(async (tx) => {
      const fence = await tx.query(
        `UPDATE pop3d_leases SET expires_at = clock_timestamp() + ${LEASE_INTERVAL}
         WHERE mailbox_id = $1::bigint AND token = $2::bigint
         RETURNING token`,
        [mbox.id, held.token, this.#leaseMs],
      );
      if (fence.rows.length === 0) {
        held.lost = true;
        throw new LeaseLostError(mbox.name);
      }
      await tx.query(
        `DELETE FROM pop3d_messages
         WHERE mailbox_id = $1::bigint AND id = ANY($2::bigint[])`,
        [mbox.id, ids],
      );
    });
  }

  #locked(mbox: PgMailbox): Held {
    const held = this.#held.get(mbox?.id);
    if (!held) {
      throw new Error(`Mailbox "${mbox?.name}" is not locked by this instance`);
    }
    return held;
  }

  #index(held: Held, msgId: number): number {
    if (!Number.isInteger(msgId) || msgId < 1 || msgId > held.ids.length) {
      throw new RangeError(`No message ${msgId}`);
    }
    return msgId - 1;
  }

  #checkLive(mbox: PgMailbox, held: Held): void {
    if (held.lost || performance.now() > held.validUntil) {
      held.lost = true;
      throw new Pop3Error(
        `Lost the lock of mailbox "${mbox.name}"; log in again`,
        "SYS/TEMP",
      );
    }
  }

  #schedule(mbox: PgMailbox, held: Held): void {
    held.timer = setTimeout(() => this.#renew(mbox, held), this.#renewMs);
  }

  async #renew(mbox: PgMailbox, held: Held): Promise<void> {
    held.timer = undefined;
    const started = performance.now();
    try {
      const { rows } = await this.#db.query(
        `UPDATE pop3d_leases SET expires_at = clock_timestamp() + ${LEASE_INTERVAL}
         WHERE mailbox_id = $1::bigint AND token = $2::bigint
         RETURNING token`,
        [mbox.id, held.token, this.#leaseMs],
      );
      if (this.#held.get(mbox.id) !== held) return;
      if (rows.length === 0) {
        held.lost = true;
        this.#onError(new LeaseLostError(mbox.name));
        return;
      }
      held.validUntil = started + this.#leaseMs;
    } catch (error) {
      if (this.#held.get(mbox.id) !== held) return;
      this.#onError(error);
    }
    if (!held.lost && this.#held.get(mbox.id) === held) {
      this.#schedule(mbox, held);
    }
  }

  async #release(mailboxId: number, token: string): Promise<void> {
    await this.#db.query(
      `DELETE FROM pop3d_leases
       WHERE mailbox_id = $1::bigint AND token = $2::bigint`,
      [mailboxId, token],
    );
  }
}
