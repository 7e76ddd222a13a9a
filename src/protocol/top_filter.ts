/**
 * Cuts a message after its headers and a number of body lines (TOP).
 *
 * @module
 */

const LF = 0x0a;
const CR = 0x0d;

/**
 * Passes the header lines, the blank line and `bodyLines` body lines of a
 * message, chunk by chunk, then reports that it is done. A message without
 * a blank line is all headers and passes whole.
 *
 * @example
 * ```ts
 * import { TopFilter } from "./top_filter.ts";
 * const f = new TopFilter(1);
 * const r = f.filter(new TextEncoder().encode("A: 1\r\n\r\nx\r\ny\r\n"));
 * console.assert(new TextDecoder().decode(r) === "A: 1\r\n\r\nx\r\n" && f.done);
 * ```
 */
export class TopFilter {
  #inHeaders = true;
  #remaining: number;
  #lineLen = 0; // bytes of the current header line seen in earlier chunks
  #lineStartsCR = false;
  #done = false;

  /** @param bodyLines How many body lines to pass after the blank line. */
  constructor(bodyLines: number) {
    this.#remaining = bodyLines;
  }

  /** Whether everything wanted has passed; later chunks are not needed. */
  get done(): boolean {
    return this.#done;
  }

  /** Returns the part of `chunk` that belongs to the output. */
  filter(chunk: Uint8Array): Uint8Array {
    if (this.#done) return chunk.subarray(0, 0);
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const lf = chunk.indexOf(LF, i);
      if (lf === -1) {
        if (this.#inHeaders) {
          if (this.#lineLen === 0) this.#lineStartsCR = chunk[i] === CR;
          this.#lineLen += n - i;
        }
        return chunk;
      }
      if (this.#inHeaders) {
        const len = this.#lineLen + (lf - i);
        const first = this.#lineLen === 0
          ? chunk[i]
          : (this.#lineStartsCR ? CR : 0);
        this.#lineLen = 0;
        if (len === 0 || (len === 1 && first === CR)) {
          this.#inHeaders = false;
          if (this.#remaining === 0) {
            this.#done = true;
            return chunk.subarray(0, lf + 1);
          }
        }
      } else if (--this.#remaining === 0) {
        this.#done = true;
        return chunk.subarray(0, lf + 1);
      }
      i = lf + 1;
    }
    return chunk;
  }
}
