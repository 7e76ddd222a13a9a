/**
 * Random identifiers.
 *
 * @module
 */

import { toHex } from "./hex.ts";

/** Octets drawn from the CSPRNG at once: `getRandomValues` costs 20-100 µs a call on Node. */
const POOL_OCTETS = 4096;
let pool = new Uint8Array(0);
let poolAt = 0;

/**
 * A random lowercase hex string of `bytes` random bytes. Up to 4 KiB are
 * taken from a pool filled from the CSPRNG 4 KiB at a time, each octet used
 * once and then zeroed: one call per session (a greeting's timestamp, a
 * Maildir lock's token) was 1-2% of a short session's CPU on Node.
 *
 * @example
 * ```ts
 * import { randomHex } from "./random.ts";
 * console.assert(randomHex(12).length === 24);
 * ```
 */
export function randomHex(bytes: number): string {
  if (bytes > POOL_OCTETS) {
    return toHex(crypto.getRandomValues(new Uint8Array(bytes)));
  }
  if (poolAt + bytes > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_OCTETS));
    poolAt = 0;
  }
  const random = pool.subarray(poolAt, poolAt + bytes);
  poolAt += bytes;
  const hex = toHex(random);
  random.fill(0);
  return hex;
}
