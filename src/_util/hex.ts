/**
 * Lowercase hexadecimal encoding of bytes.
 *
 * @module
 */

const DIGITS = "0123456789abcdef";

/**
 * Encodes bytes as lowercase hexadecimal, two digits per byte.
 *
 * @param bytes The bytes to encode.
 * @returns The hexadecimal string.
 *
 * @example Encoding two bytes
 * ```ts
 * import { toHex } from "./hex.ts";
 * console.assert(toHex(new Uint8Array([0, 255])) === "00ff");
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += DIGITS[b >> 4] + DIGITS[b & 15];
  return out;
}
