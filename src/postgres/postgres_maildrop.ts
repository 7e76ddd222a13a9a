/**
 * One session's PostgreSQL mailbox: the snapshot taken when the lease was
 * won, chunked reads, fenced deletes, and the lease renewal while open.
 *
 * @module
 */

import { Pop3Error } from "../errors.ts";
import type { MaildropHandle } from "../storage/maildrop_handle.ts";
import type { MessageSource } from "../storage/types.ts";
import { toBytes, toNumber } from "./_sql.ts";
import { LEASE_INTERVAL, LeaseLostError } from "./postgres_lease.ts";
import type { PgClient, PgMailbox } from "./types.ts";

/** Messages read ahead by one `get` at most. */
const READ_AHEAD_MAX = 32;

/** A lease won by a session. */
export interface PgLease {
  readonly db: PgClient;
  readonly mbox: PgMailbox;
  /** The fencing token. */
  readonly token: string;
  readonly leaseMs: number;
  readonly renewMs: number;
  readonly onError: (error: unknown) => void;
}

/** The snapshot of a mailbox, in message order. */
export interface PgSnapshot {
  readonly ids: readonly number[];
  readonly uids: readonly string[];
  readonly sizes: readonly number[];
  /** `performance.now()` before which the lease surely has not expired. */
  readonly validUntil: number;
  /**
   * Bytes of the following one-row messages that a read of a one-row
   * message fetches with it (0: none).
   */
  readonly readAhead: number;
  /** Bytes per chunk row: a larger message is never read ahead. */
  readonly chunkSize: number;
  /** Called once by `close`. */
  readonly closed: () => void;
}

/**
 * A leased PostgreSQL mailbox as one session holds it.
 *
 * @example
 * ```ts ignore
 * const handle = await storage.openMaildrop(mailbox, context);
 * ```
 */
export class PgMaildrop implements MaildropHandle {
  readonly count: number;
  readonly octets: number;
  readonly #lease: PgLease;
  readonly #snapshot: PgSnapshot;
  #validUntil: number;
  #lost = false;
  #open = true;
  #timer: ReturnType<typeof setTimeout> | undefined;
  // Messages read ahead (index -> bytes), each served once; dropped at the
  // next read that misses, the next lease renewal, and close.
  readonly #ahead = new Map<number, Uint8Array>();

  constructor(lease: PgLease, snapshot: PgSnapshot) {
    this.#lease = lease;
    this.#snapshot = snapshot;
    this.#validUntil = snapshot.validUntil;
    this.count = snapshot.ids.length;
    this.octets = snapshot.sizes.reduce((n, s) => n + s, 0);
    this.#schedule();
  }

  /** Deletes the lease row, if it still carries this token. */
  static async release(lease: PgLease): Promise<void> {
    await lease.db.query(
      `DELETE FROM pop3d_leases
       WHERE mailbox_id = $1::bigint AND token = $2::bigint`,
      [lease.mbox.id, lease.token],
    );
  }

  size(n: number): number {
    return this.#snapshot.sizes[this.#index(n)];
  }

  uid(n: number): string {
    return this.#snapshot.uids[this.#index(n)];
  }

  /**
   * The message bytes: a message of one chunk row whole (read together
   * with the following one-row messages up to `readAhead` bytes, which
   * their own `get` then takes without a query), a longer one as a stream
   * that reads the next row while the current one is being sent (one query
   * in flight, so at most two rows in memory).
   *
   * @throws {Pop3Error} `SYS/TEMP` when the lease may be lost or the message is gone.
   */
  async get(n: number): Promise<MessageSource> {
    const i = this.#index(n);
    const { mbox, db } = this.#lease;
    if (!this.#live()) {
      throw new Pop3Error(
        `Lost the lock of mailbox "${mbox.name}"; log in again`,
        "SYS/TEMP",
      );
    }
    const id = this.#snapshot.ids[i];
    const size = this.#snapshot.sizes[i];
    if (size === 0) return new Uint8Array(0);
    const early = this.#ahead.get(i);
    if (early !== undefined) {
      this.#ahead.delete(i);
      return early;
    }
    this.#ahead.clear();
    const chunk = async (seq: number) => {
      const { rows } = await db.query(
        `SELECT data FROM pop3d_chunks
         WHERE message_id = $1::bigint AND seq = $2::integer`,
        [id, seq],
      );
      return rows.length === 0 ? undefined : toBytes(rows[0].data);
    };
    const batched = await this.#readWithNext(i);
    const first = batched === undefined ? await chunk(0) : batched;
    if (!first) {
      throw new Pop3Error(`Message ${n} no longer exists`, "SYS/TEMP");
    }
    // One row holds the whole message: no stream needed.
    if (first.length === size) return first;
    let sent = 0;
    let seq = 0;
    // The row being fetched ahead, as a settled outcome (never an
    // unhandled rejection when the client goes away meanwhile).
    type Ahead = { data?: Uint8Array; error?: unknown };
    let ahead: Promise<Ahead> = Promise.resolve({ data: first });
    const fetchAhead = (next: number): Promise<Ahead> => {
      if (!this.#live()) {
        return Promise.resolve({ error: new LeaseLostError(mbox.name) });
      }
      return chunk(next).then(
        (data) =>
          data ? { data } : {
            error: new Error(`Message ${id} is missing chunk ${next}`),
          },
        (error) => ({ error }),
      );
    };
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const got = await ahead;
        if (got.error !== undefined) throw got.error;
        const data = got.data!;
        seq++;
        sent += data.length;
        if (sent > size) throw new Error(`Message ${id} is longer than stored`);
        // Ask for the next row before this one is sent, so the database
        // and the client socket work at the same time.
        if (sent < size) ahead = fetchAhead(seq);
        controller.enqueue(data);
        if (sent === size) controller.close();
      },
    }, { highWaterMark: 0 });
  }

  /**
   * Reads the first row of message index `i` in one query with the
   * following one-row messages that fit in `readAhead` bytes (POP3 clients
   * mostly fetch in order), keeping those for their own `get`. Returns
   * `undefined` when there is nothing to read with it, `null` when the
   * message is gone.
   */
  async #readWithNext(i: number): Promise<Uint8Array | null | undefined> {
    const { ids, sizes, readAhead, chunkSize } = this.#snapshot;
    if (sizes[i] > chunkSize) return undefined;
    const next: number[] = [];
    let budget = readAhead;
    for (let j = i + 1; j < ids.length && next.length < READ_AHEAD_MAX; j++) {
      if (sizes[j] > chunkSize || sizes[j] > budget) break;
      budget -= sizes[j];
      if (sizes[j] > 0) next.push(j);
    }
    if (next.length === 0) return undefined;
    const { rows } = await this.#lease.db.query(
      `SELECT message_id, data FROM pop3d_chunks
       WHERE message_id = ANY($1::bigint[]) AND seq = 0`,
      [[ids[i], ...next.map((j) => ids[j])]],
    );
    const byId = new Map<number, Uint8Array>();
    for (const row of rows) {
      byId.set(toNumber(row.message_id, "message id"), toBytes(row.data));
    }
    for (const j of next) {
      const data = byId.get(ids[j]);
      // Only a whole message: a first row shorter than it is not one.
      if (data !== undefined && data.length === sizes[j]) {
        this.#ahead.set(j, data);
      }
    }
    return byId.get(ids[i]) ?? null;
  }

  /**
   * Deletes messages in one transaction, only while this session's fencing
   * token is still the lease's: all of them, or none.
   *
   * @throws {LeaseLostError} When another session took the lease; nothing is deleted.
   */
  async delete(msgIds: readonly number[]): Promise<readonly number[]> {
    const { db, mbox, token, leaseMs } = this.#lease;
    if (!this.#live()) throw new LeaseLostError(mbox.name);
    const ids = msgIds.map((n) => this.#snapshot.ids[this.#index(n)]);
    if (ids.length === 0) return [];
    await db.transaction(async (tx) => {
      const fence = await tx.query(
        `UPDATE pop3d_leases SET expires_at = clock_timestamp() + ${LEASE_INTERVAL}
         WHERE mailbox_id = $1::bigint AND token = $2::bigint
         RETURNING token`,
        [mbox.id, token, leaseMs],
      );
      if (fence.rows.length === 0) {
        this.#lost = true;
        throw new LeaseLostError(mbox.name);
      }
      await tx.query(
        `DELETE FROM pop3d_messages
         WHERE mailbox_id = $1::bigint AND id = ANY($2::bigint[])`,
        [mbox.id, ids],
      );
    });
    return msgIds;
  }

  /** Stops renewing and deletes the lease row (only if it is still ours). */
  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#ahead.clear();
    this.#snapshot.closed();
    await PgMaildrop.release(this.#lease);
  }

  #index(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > this.count) {
      throw new RangeError(`No message ${n}`);
    }
    return n - 1;
  }

  /** Whether the lease surely still holds; marks it lost otherwise. */
  #live(): boolean {
    if (this.#lost || performance.now() > this.#validUntil) {
      this.#lost = true;
      return false;
    }
    return true;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => this.#renew(), this.#lease.renewMs);
  }

  async #renew(): Promise<void> {
    this.#timer = undefined;
    // Read-ahead is for a client fetching now, not for an idle session.
    this.#ahead.clear();
    const { db, mbox, token, leaseMs, onError } = this.#lease;
    const started = performance.now();
    try {
      const { rows } = await db.query(
        `UPDATE pop3d_leases SET expires_at = clock_timestamp() + ${LEASE_INTERVAL}
         WHERE mailbox_id = $1::bigint AND token = $2::bigint
         RETURNING token`,
        [mbox.id, token, leaseMs],
      );
      if (!this.#open) return;
      if (rows.length === 0) {
        this.#lost = true;
        onError(new LeaseLostError(mbox.name));
        return;
      }
      this.#validUntil = started + leaseMs;
    } catch (error) {
      if (!this.#open) return;
      onError(error);
    }
    if (!this.#lost && this.#open) this.#schedule();
  }
}
