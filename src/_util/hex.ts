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
  // One flat string: `+=` left a chain of concatenations (32 octets each
  // past 13 characters, on V8 and JavaScriptCore alike) that lived as long
  // as the string, such as a session's greeting timestamp and lock token.
  const digits = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) digits[i] = BYTE_HEX[bytes[i]];
  return digits.join("");
}

/** The two digits of each byte value. */
const BYTE_HEX: readonly string[] = Array.from(
  { length: 256 },
  (_, b) => DIGITS[b >> 4] + DIGITS[b & 15],
);

/**
 * Decodes hexadecimal (either case), or returns `undefined` for text that
 * is not an even number of hex digits.
 *
 * @param text The hexadecimal text.
 * @returns The bytes, or `undefined`.
 *
 * @example
 * ```ts
 * import { fromHex } from "./hex.ts";
 * console.assert(fromHex("00FF")?.[1] === 255 && fromHex("0") === undefined);
 * ```
 */
export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0, j = 0; i < out.length; i++, j += 2) {
    const high = nibble(text.charCodeAt(j));
    const low = nibble(text.charCodeAt(j + 1));
    if (high < 0 || low < 0) return undefined;
    out[i] = (high << 4) | low;
  }
  return out;
}

function nibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87; // a-f, A-F
  return -1;
}
