/**
 * PBKDF2 over WebCrypto, for the password schemes that store it.
 *
 * @module
 */

/**
 * Derives `bits` bits from a password with PBKDF2-HMAC.
 *
 * @param hash `"SHA-1"` (Dovecot's `{PBKDF2}`) or `"SHA-256"`.
 * @param password The password bytes.
 * @param salt The salt.
 * @param iterations The iteration count.
 * @param bits The key length in bits.
 * @returns The derived key.
 *
 * @example
 * ```ts
 * import { pbkdf2 } from "./pbkdf2.ts";
 * const enc = new TextEncoder();
 * const key = await pbkdf2("SHA-256", enc.encode("pw"), enc.encode("salt"), 1000, 256);
 * console.assert(key.length === 32);
 * ```
 */
export async function pbkdf2(
  hash: "SHA-1" | "SHA-256",
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  bits: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    password as Uint8Array<ArrayBuffer>,
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const derived = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash, salt: salt as Uint8Array<ArrayBuffer>, iterations },
    key,
    bits,
  );
  return new Uint8Array(derived);
}
