/**
 * Finds the empty line that ends a message's headers, chunk by chunk: for
 * TOP (`TopFilter`) and for the `oe-ns-eoh` client workaround.
 *
 * @module
 */

const LF = 0x0a;
const CR = 0x0d;

/**
 * Watches a message go by, chunk by chunk, for the empty line that ends its
 * headers (`LF` or `CR LF` alone on a line, as TOP takes
 * it). A message that is only headers never shows one.
 *
 * @example
 * ```ts
 * import { HeaderEndFinder } from "./header_end_finder.ts";
 * const te = new TextEncoder();
 * const f = new HeaderEndFinder();
 * f.scan(te.encode("Subject: x\r\n\r"));
 * console.assert(!f.found);
 * console.assert(f.scan(te.encode("\nbody\r\n")) === 1 && f.found);
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

  /**
   * Looks at the next chunk of the message.
   *
   * @param chunk The next bytes of the message.
   * @returns Where in `chunk` the body starts (just past the empty line)
   *   when the empty line ends in this chunk, else -1.
   */
  scan(chunk: Uint8Array): number {
    if (this.#found) return -1;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const lf = chunk.indexOf(LF, i);
      if (lf === -1) {
        if (this.#lineLen === 0) this.#lineStartsCR = chunk[i] === CR;
        this.#lineLen += n - i;
        return -1;
      }
      const len = this.#lineLen + (lf - i);
      const first = this.#lineLen === 0
        ? chunk[i]
        : (this.#lineStartsCR ? CR : 0);
      this.#lineLen = 0;
      if (len === 0 || (len === 1 && first === CR)) {
        this.#found = true;
        return lf + 1;
      }
      i = lf + 1;
    }
    return -1;
  }
}
