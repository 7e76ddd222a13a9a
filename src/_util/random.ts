/**
 * Random identifiers.
 *
 * @module
 */

import { toHex } from "./hex.ts";

/**
 * A random lowercase hex string of `bytes` random bytes.
 *
 * @example
 * ```ts
 * import { randomHex } from "./random.ts";
 * console.assert(randomHex(12).length === 24);
 * ```
 */
export function randomHex(bytes: number): string {
  return toHex(crypto.getRandomValues(new Uint8Array(bytes)));
}
