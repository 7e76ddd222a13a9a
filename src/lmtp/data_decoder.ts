/**
 * The DATA section of SMTP/LMTP (RFC 5321 §4.5.2): removes dot-stuffing
 * and finds the `<CRLF>.<CRLF>` terminator, chunk by chunk, without
 * buffering lines.
 *
 * @module
 */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CR_ONLY = new Uint8Array([CR]);

// Where the decoder stands between two bytes.
const LINE_START = 0; // after CRLF (or at the start of the data)
const MIDDLE = 1; // inside a line
const AFTER_CR = 2; // the last byte was a CR inside a line (already emitted)
const AFTER_DOT = 3; // a "." at the start of a line (dropped: stuffing or end)
const AFTER_DOT_CR = 4; // ".\r" at the start of a line (the CR is held back)

/** What {@linkcode DataDecoder.push} made of one chunk. */
export interface DataDecoderResult {
  /**
   * The message bytes found in the chunk, in order, with the stuffing dots
   * removed. Subarrays of the chunk where possible: copy them to keep them.
   */
  readonly pieces: Uint8Array[];
  /**
   * Whether the terminator `<CRLF>.<CRLF>` ended the data in this chunk.
   * The CRLF before the dot belongs to the message.
   */
  readonly done: boolean;
  /** Octets of the chunk used; when `done`, the rest are the next commands. */
  readonly consumed: number;
}

/**
 * Decodes the DATA section of an SMTP or LMTP transaction incrementally:
 * feed the bytes after the `354` reply in chunks of any size, take the
 * message pieces, stop when `done`.
 *
 * A line that starts with a dot loses that dot (RFC 5321 §4.5.2); only a
 * line that is exactly `.` between CRLFs ends the data. Bare LF and bare CR
 * never end a line, so `<LF>.<LF>` and `<LF>.<CRLF>` are message content
 * (the SMTP smuggling attack, CVE-2023-51766 and kin, needs a server that
 * takes them for an end).
 *
 * @example Decoding a message split across chunks
 * ```ts
 * import { DataDecoder } from "./data_decoder.ts";
 *
 * const decoder = new DataDecoder();
 * const bytes = new TextEncoder().encode("Hi\r\n..dot\r\n.\r\nQUIT\r\n");
 * const out: number[] = [];
 * const first = decoder.push(bytes.subarray(0, 7));
 * for (const p of first.pieces) out.push(...p);
 * const second = decoder.push(bytes.subarray(7));
 * for (const p of second.pieces) out.push(...p);
 * console.assert(new TextDecoder().decode(new Uint8Array(out)) === "Hi\r\n.dot\r\n");
 * console.assert(second.done && 7 + second.consumed === bytes.length - 6);
 * ```
 */
export class DataDecoder {
  #state = LINE_START;
  #done = false;

  /** Whether the terminator has been seen. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Decodes one chunk.
   *
   * @param chunk Bytes received after the previous chunk.
   * @returns The message pieces, whether the data ended, and how many
   * octets of the chunk belong to the data.
   * @throws {Error} When called after the data ended.
   */
  push(chunk: Uint8Array): DataDecoderResult {
    if (this.#done) throw new Error("Cannot decode data: it already ended");
    const pieces: Uint8Array[] = [];
    let state = this.#state;
    let start = 0; // first byte of the piece being gathered
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (state) {
        case MIDDLE: {
          const cr = chunk.indexOf(CR, i);
          if (cr === -1) {
            i = n;
          } else {
            i = cr + 1;
            state = AFTER_CR;
          }
          break;
        }
        case AFTER_CR: {
          const b = chunk[i++];
          state = b === LF ? LINE_START : b === CR ? AFTER_CR : MIDDLE;
          break;
        }
        case LINE_START: {
          if (chunk[i] === DOT) {
            if (i > start) pieces.push(chunk.subarray(start, i));
            i++;
            start = i; // the dot is never part of the message
            state = AFTER_DOT;
          } else {
            state = MIDDLE;
          }
          break;
        }
        case AFTER_DOT: {
          if (chunk[i] === CR) {
            i++;
            start = i; // hold the CR back until we know what follows
            state = AFTER_DOT_CR;
          } else {
            state = MIDDLE; // a stuffed dot: the line goes on
          }
          break;
        }
        case AFTER_DOT_CR: {
          if (chunk[i] === LF) {
            this.#done = true;
            this.#state = LINE_START;
            return { pieces, done: true, consumed: i + 1 };
          }
          // ".\r" then something else: the dot was stuffing, the CR is data.
          pieces.push(CR_ONLY);
          state = AFTER_CR;
          break;
        }
      }
    }
    if (start < n && state !== AFTER_DOT && state !== AFTER_DOT_CR) {
      pieces.push(chunk.subarray(start, n));
    }
    this.#state = state;
    return { pieces, done: false, consumed: n };
  }
}
