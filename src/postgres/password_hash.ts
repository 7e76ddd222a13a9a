/**
 * Password hashes for {@linkcode PostgresAuth}: PBKDF2-HMAC-SHA-256 through
 * `crypto.subtle`, in the text form
 * `$pbkdf2-sha256$<iterations>$<salt base64>$<key base64>`.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "../_util/base64.ts";
import { pbkdf2 } from "../_util/pbkdf2.ts";
import { timingSafeEqual } from "../_util/timing_safe_equal.ts";

const encoder = new TextEncoder();
const PREFIX = "$pbkdf2-sha256$";
const KEY_BITS = 256;

/**
 * PBKDF2 iterations used by {@linkcode hashPassword} by default: OWASP's
 * 2023 recommendation for PBKDF2-HMAC-SHA-256.
 */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000;

/** Options for {@linkcode hashPassword}. */
export interface PgHashPasswordOptions {
  /**
   * PBKDF2 iterations, from 1,000 to 10,000,000.
   *
   * @default {600000}
   */
  iterations?: number;
}

function derive(
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array> {
  return pbkdf2(
    "SHA-256",
    encoder.encode(password),
    salt,
    iterations,
    KEY_BITS,
  );
}

/**
 * Hashes a password with PBKDF2-HMAC-SHA-256 and a random 16-byte salt.
 *
 * @param password The password.
 * @param options The iteration count.
 * @returns `$pbkdf2-sha256$<iterations>$<salt base64>$<key base64>`.
 * @throws {TypeError} When the password is not a string.
 * @throws {RangeError} When the iteration count is out of range.
 *
 * @example
 * ```ts
 * import { hashPassword, verifyPassword } from "./password_hash.ts";
 * const hash = await hashPassword("secret", { iterations: 1000 });
 * console.assert(hash.startsWith("$pbkdf2-sha256$1000$"));
 * console.assert(await verifyPassword(hash, "secret"));
 * ```
 */
export async function hashPassword(
  password: string,
  options: PgHashPasswordOptions = {},
): Promise<string> {
  if (typeof password !== "string") {
    throw new TypeError("Password must be a string");
  }
  const iterations = options.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
  if (
    !Number.isSafeInteger(iterations) || iterations < 1000 ||
    iterations > 10_000_000
  ) {
    throw new RangeError(
      `Iterations must be an integer from 1000 to 10000000, got ${iterations}`,
    );
  }
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await derive(password, salt, iterations);
  return `${PREFIX}${iterations}$${encodeBase64(salt)}$${encodeBase64(key)}`;
}

/**
 * Tells whether `stored` is a hash made by {@linkcode hashPassword}.
 *
 * @param stored A stored password column.
 * @returns `true` for the `$pbkdf2-sha256$` form.
 *
 * @example
 * ```ts
 * import { isPasswordHash } from "./password_hash.ts";
 * console.assert(!isPasswordHash("plain secret"));
 * ```
 */
export function isPasswordHash(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

/**
 * Checks a password against a stored value: a hash from
 * {@linkcode hashPassword}, or otherwise a plaintext password compared in
 * constant time. A malformed hash never matches.
 *
 * @param stored The stored hash or plaintext password.
 * @param password The password to check.
 * @returns `true` when it matches.
 *
 * @example
 * ```ts
 * import { verifyPassword } from "./password_hash.ts";
 * console.assert(await verifyPassword("plain", "plain"));
 * console.assert(!(await verifyPassword("plain", "other")));
 * ```
 */
export async function verifyPassword(
  stored: string,
  password: string,
): Promise<boolean> {
  if (!isPasswordHash(stored)) return timingSafeEqual(stored, password);
  const parts = stored.slice(PREFIX.length).split("$");
  if (parts.length !== 3 || !/^[1-9][0-9]{3,7}$/.test(parts[0])) return false;
  const iterations = Number(parts[0]);
  const salt = decodeBase64(parts[1]);
  const expected = decodeBase64(parts[2]);
  if (!salt || !expected || expected.length !== KEY_BITS / 8) return false;
  const key = await derive(password, salt, iterations);
  return timingSafeEqual(key, expected);
}

/**
 * A well-formed hash that no password matches in practice (random salt and
 * key), with `iterations` rounds: checking a password against it costs what
 * a real check of that cost does. For users that do not exist.
 *
 * @param iterations PBKDF2 iterations, as for {@linkcode hashPassword}.
 * @returns A `$pbkdf2-sha256$` string.
 *
 * @example
 * ```ts
 * import { dummyPasswordHash, verifyPassword } from "./password_hash.ts";
 * console.assert(!(await verifyPassword(dummyPasswordHash(1000), "x")));
 * ```
 */
export function dummyPasswordHash(
  iterations: number = DEFAULT_PBKDF2_ITERATIONS,
): string {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = crypto.getRandomValues(new Uint8Array(KEY_BITS / 8));
  return `${PREFIX}${iterations}$${encodeBase64(salt)}$${encodeBase64(key)}`;
}
