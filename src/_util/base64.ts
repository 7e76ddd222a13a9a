/**
 * Strict base64 (RFC 4648 section 4) for SASL on the wire.
 *
 * @module
 */

const encoder = new TextEncoder();
const ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const SHAPE =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Encodes bytes (or a string, as UTF-8) as padded base64.
 *
 * @param data The bytes to encode, or a string encoded as UTF-8 first.
 * @returns The base64 text; empty input gives `""`.
 * @throws {TypeError} If `data` is neither bytes nor a string.
 *
 * @example
 * ```ts
 * import { encodeBase64 } from "./base64.ts";
 * console.assert(encodeBase64("\0user\0pencil") === "AHVzZXIAcGVuY2ls");
 * ```
 */
export function encodeBase64(data: Uint8Array | string): string {
  let bytes: Uint8Array;
  if (typeof data === "string") bytes = encoder.encode(data);
  else if (data instanceof Uint8Array) bytes = data;
  else {throw new TypeError(
      "Cannot encode base64: expected a Uint8Array or a string",
    );}
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Decodes strict, padded base64: only the RFC 4648 alphabet, a length that is
 * a multiple of four, padding only at the end and no stray bits in the last
 * character. Whitespace and the URL-safe alphabet are refused. Empty text
 * decodes to no bytes.
 *
 * @param text The base64 text, as received from the client.
 * @returns The decoded bytes, or `undefined` if `text` is not strict base64.
 *
 * @example
 * ```ts
 * import { decodeBase64 } from "./base64.ts";
 * console.assert(decodeBase64("dXNlcg==")?.length === 4);
 * console.assert(decodeBase64("dXNlcg") === undefined);
 * ```
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (typeof text !== "string" || !SHAPE.test(text)) return undefined;
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  if (pad > 0) {
    // The last data character must not carry bits beyond the final byte.
    const last = ALPHABET.indexOf(text[text.length - pad - 1]);
    if ((last & (pad === 2 ? 0x0f : 0x03)) !== 0) return undefined;
  }
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * Decodes base64 as `atob` accepts it (padding optional, ASCII whitespace
 * ignored), for stored password hashes written by other programs; SASL on
 * the wire uses the strict {@linkcode decodeBase64}.
 *
 * @param text The base64 text.
 * @returns The bytes, or `undefined` when `atob` refuses the text.
 *
 * @example
 * ```ts
 * import { decodeBase64Lenient } from "./base64.ts";
 * console.assert(decodeBase64Lenient("dXNlcg")?.length === 4);
 * ```
 */
export function decodeBase64Lenient(text: string): Uint8Array | undefined {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
