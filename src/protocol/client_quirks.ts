/**
 * Byte-level repairs for clients that mishandle some messages, as Dovecot's
 * `pop3_client_workarounds` do: NUL octets (`outlook-no-nuls`) and a missing empty
 * line after the headers (`oe-ns-eoh`). Both work chunk by chunk.
 *
 * @module
 */

const NUL = 0x00;
const LF = 0x0a;
const CR = 0x0d;
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

/**
 * Watches a message go by, chunk by chunk, for the empty line that ends its
 * headers (`LF` or `CR LF` alone on a line, as TOP takes
 * it). A message that is only headers never shows one.
 *
 * @example
 * ```ts
 * import { HeaderEndFinder } from "./client_quirks.ts";
 * const te = new TextEncoder();
 * const f = new HeaderEndFinder();
 * f.scan(te.encode("Subject: x\r\n\r"));
 * console.assert(!f.found);
 * f.scan(te.encode("\nbody\r\n"));
 * console.assert(f.found);
 * ```
 */
export class HeaderEndFinder {
  #found = false;
  #lineLen = 0; // bytes of the current line seen in earlier chunks
  #lineStartsCR = false;

  /** Whether the empty line after the headers has gone by. */
  get found(): boolean {
    return this.#found;
  }

  /** Looks at the next chunk of the message. */
  scan(chunk: Uint8Array): void {
    if (this.#found) return;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const lf = chunk.indexOf(LF, i);
      if (lf === -1) {
        if (this.#lineLen === 0) this.#lineStartsCR = chunk[i] === CR;
        this.#lineLen += n - i;
        return;
      }
      const len = this.#lineLen + (lf - i);
      const first = this.#lineLen === 0
        ? chunk[i]
        : (this.#lineStartsCR ? CR : 0);
      this.#lineLen = 0;
      if (len === 0 || (len === 1 && first === CR)) {
        this.#found = true;
        return;
      }
      i = lf + 1;
    }
  }
}
