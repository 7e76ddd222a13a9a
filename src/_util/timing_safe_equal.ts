/**
 * Constant-time comparison of secrets.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Tells whether two secrets are equal, taking time that depends only on the
 * longer input's length, never on where they differ. Inputs of different
 * lengths are compared over the longer length and are never equal. Strings
 * are compared as UTF-8.
 *
 * @param a The first secret.
 * @param b The second secret.
 * @returns `true` if both hold the same bytes.
 * @throws {TypeError} If an argument is neither bytes nor a string.
 *
 * @example
 * ```ts
 * import { timingSafeEqual } from "./timing_safe_equal.ts";
 * console.assert(timingSafeEqual("pencil", "pencil"));
 * console.assert(!timingSafeEqual("pencil", "pencil2"));
 * ```
 */
export function timingSafeEqual(
  a: Uint8Array | string,
  b: Uint8Array | string,
): boolean {
  const x = toBytes(a);
  const y = toBytes(b);
  const length = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < length; i++) {
    // Out-of-range reads give undefined; `| 0` keeps the loop uniform.
    diff |= (x[i] | 0) ^ (y[i] | 0);
  }
  return diff === 0;
}

function toBytes(data: Uint8Array | string): Uint8Array {
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  throw new TypeError(
    "Cannot compare secrets: expected a Uint8Array or a string",
  );
}
