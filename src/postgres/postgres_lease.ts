/**
 * The PostgreSQL mailbox lease: what a lost lease is called, and the SQL
 * interval shared by taking and renewing it.
 *
 * @module
 */

/** `$3` milliseconds as an SQL interval (the lease length parameter). */
export const LEASE_INTERVAL = "$3::integer * interval '1 millisecond'";

/**
 * The mailbox lock was lost: another instance took the lease after it
 * expired (this instance was paused, partitioned or too slow to renew).
 * A delete throws it and deletes nothing.
 *
 * @example
 * ```ts
 * import { LeaseLostError } from "@x/pop3d/postgres";
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
