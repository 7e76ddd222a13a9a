/**
 * Cuts a message after its headers and a number of body lines (TOP).
 *
 * @module
 */

import { HeaderEndFinder } from "./header_end_finder.ts";

const LF = 0x0a;

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
  #headers: HeaderEndFinder | undefined = new HeaderEndFinder();
  #remaining: number;
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
    let i = 0;
    if (this.#headers !== undefined) {
      i = this.#headers.scan(chunk);
      if (i === -1) return chunk;
      this.#headers = undefined;
      if (this.#remaining === 0) {
        this.#done = true;
        return chunk.subarray(0, i);
      }
    }
    const n = chunk.length;
    while (i < n) {
      const lf = chunk.indexOf(LF, i);
      if (lf === -1) return chunk;
      if (--this.#remaining === 0) {
        this.#done = true;
        return chunk.subarray(0, lf + 1);
      }
      i = lf + 1;
    }
    return chunk;
  }
}
