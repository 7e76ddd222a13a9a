/**
 * Byte-level repairs for clients that mishandle some messages, as Dovecot's
 * `pop3_client_workarounds` do: NUL octets (`outlook-no-nuls`) and a missing empty
 * line after the headers (`oe-ns-eoh`, found by `HeaderEndFinder`). Both work
 * chunk by chunk.
 *
 * @module
 */

const NUL = 0x00;
/** What a NUL octet is sent as (Dovecot's choice). */
const NUL_REPLACEMENT = 0x80;

/**
 * Returns `chunk` with every NUL octet replaced by 0x80, one octet for one,
 * so sizes stay the same. A chunk without NULs is returned as it is; one
 * with NULs is copied, never changed in place (the bytes may be storage's).
 *
 * @param chunk Message bytes.
 * @returns The bytes to send.
 *
 * @example
 * ```ts
 * import { replaceNuls } from "./client_quirks.ts";
 * const out = replaceNuls(Uint8Array.of(0x61, 0x00, 0x62));
 * console.assert(out[1] === 0x80 && out.length === 3);
 * ```
 */
export function replaceNuls(chunk: Uint8Array): Uint8Array {
  let i = chunk.indexOf(NUL);
  if (i === -1) return chunk;
  const out = chunk.slice();
  while (i !== -1) {
    out[i] = NUL_REPLACEMENT;
    i = out.indexOf(NUL, i + 1);
  }
  return out;
}
