/**
 * Line-end conversion: bare LF becomes CRLF, as POP3 sends messages.
 *
 * @module
 */

/**
 * Converts bare LF line ends to CRLF, leaving CRLF as it is. `previous` is
 * the byte before `bytes` when they are one piece of a longer stream (`-1`
 * at the start), so that a CR ending one piece pairs with a LF starting the
 * next.
 *
 * @param bytes The bytes to convert.
 * @param previous The byte before them, or `-1`.
 * @returns `bytes` itself when nothing changes, else a new array.
 *
 * @example
 * ```ts
 * import { toCrlf } from "./crlf.ts";
 * const out = toCrlf(new TextEncoder().encode("a\nb\r\n"));
 * console.assert(new TextDecoder().decode(out) === "a\r\nb\r\n");
 * ```
 */
export function toCrlf(bytes: Uint8Array, previous = -1): Uint8Array {
  const bare = countBareLf(bytes, previous);
  if (bare === 0) return bytes;
  const out = new Uint8Array(bytes.length + bare);
  let at = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 10 && (i === 0 ? previous : bytes[i - 1]) !== 13) {
      out[at++] = 13;
    }
    out[at++] = bytes[i];
  }
  return out;
}

/**
 * Counts the LF bytes not preceded by CR; `previous` as for
 * {@linkcode toCrlf}.
 *
 * @example
 * ```ts
 * import { countBareLf } from "./crlf.ts";
 * console.assert(countBareLf(new TextEncoder().encode("a\nb\r\n")) === 1);
 * ```
 */
export function countBareLf(bytes: Uint8Array, previous = -1): number {
  let bare = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) {
    if ((i === 0 ? previous : bytes[i - 1]) !== 13) bare++;
  }
  return bare;
}
