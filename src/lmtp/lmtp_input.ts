/**
 * The bytes an LMTP client sent and the protocol has not used yet: cut into
 * command lines, or fed to the DATA decoder.
 *
 * @module
 */

import type { DataDecoder, DataDecoderResult } from "./data_decoder.ts";

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

/**
 * The unread input of one LMTP connection. A line longer than the limit is
 * dropped as it arrives (never buffered whole) and reported once as
 * `"too-long"` when its end comes.
 *
 * @example
 * ```ts
 * import { LmtpInput } from "./lmtp_input.ts";
 * const input = new LmtpInput();
 * input.push(new TextEncoder().encode("NOOP\r\nQU"));
 * console.assert(input.takeLine(512) === "NOOP");
 * console.assert(input.takeLine(512) === undefined);
 * ```
 */
export class LmtpInput {
  #buf: Uint8Array = EMPTY;
  #pos = 0;
  #discarding = false;

  /** Appends bytes; kept by reference until consumed. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#pos >= this.#buf.length) {
      this.#buf = chunk;
      this.#pos = 0;
      return;
    }
    const rest = this.#buf.length - this.#pos;
    const next = new Uint8Array(rest + chunk.length);
    next.set(this.#buf.subarray(this.#pos), 0);
    next.set(chunk, rest);
    this.#buf = next;
    this.#pos = 0;
  }

  /** Drops every unread byte and returns how many there were. */
  clear(): number {
    const dropped = this.#buf.length - this.#pos;
    this.#buf = EMPTY;
    this.#pos = 0;
    return dropped;
  }

  /**
   * The next line as text (without CRLF or LF), `"too-long"` for a line of
   * more than `maxLength` octets, or `undefined` when no line is complete.
   */
  takeLine(maxLength: number): string | "too-long" | undefined {
    const buf = this.#buf;
    const lf = buf.indexOf(LF, this.#pos);
    if (lf === -1) {
      if (buf.length - this.#pos >= maxLength) {
        this.#discarding = true;
        this.#buf = EMPTY;
        this.#pos = 0;
      }
      return undefined;
    }
    const start = this.#pos;
    this.#pos = lf + 1;
    if (this.#discarding || lf + 1 - start > maxLength) {
      this.#discarding = false;
      return "too-long";
    }
    const end = lf > start && buf[lf - 1] === CR ? lf - 1 : lf;
    return decoder.decode(buf.subarray(start, end));
  }

  /**
   * Feeds the unread bytes to the DATA decoder and consumes what it used;
   * `undefined` when there are none.
   */
  decode(data: DataDecoder): DataDecoderResult | undefined {
    if (this.#pos >= this.#buf.length) return undefined;
    const result = data.push(this.#buf.subarray(this.#pos));
    this.#pos += result.consumed;
    if (this.#pos >= this.#buf.length) {
      this.#buf = EMPTY;
      this.#pos = 0;
    }
    return result;
  }
}
