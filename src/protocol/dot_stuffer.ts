/**
 * The multi-line encoder of RFC 1939 §3: CRLF line ends, dot-stuffing and
 * the `.` terminator, across chunk boundaries.
 *
 * @module
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const CR_BYTE = new Uint8Array([CR]);
const DOT_BYTE = new Uint8Array([DOT]);
const TERMINATOR = new Uint8Array([DOT, CR, LF]);
const LF_TERMINATOR = new Uint8Array([LF, DOT, CR, LF]);
const CRLF_TERMINATOR = new Uint8Array([CR, LF, DOT, CR, LF]);

/**
 * Encodes a message body for a multi-line reply, one chunk at a time: a
 * line that starts with `.` gets another `.` in front, a bare LF becomes
 * CRLF, and {@linkcode DotStuffer.end} returns the terminator (after a CRLF
 * when the body does not end in one). Chunks without any change pass through
 * without a copy.
 *
 * @example
 * ```ts
 * import { DotStuffer } from "./dot_stuffer.ts";
 * const te = new TextEncoder(), td = new TextDecoder();
 * const s = new DotStuffer();
 * const out = td.decode(s.encode(te.encode("a\n.b\n"))) + td.decode(s.end());
 * console.assert(out === "a\r\n..b\r\n.\r\n");
 * ```
 */
export class DotStuffer {
  #atLineStart = true;
  #prevCR = false;
  #octets = 0;

  /** Octets of message content seen so far, counting each line end as CRLF. */
  get octets(): number {
    return this.#octets;
  }

  /** Encodes one chunk; the result may be the chunk itself. */
  encode(chunk: Uint8Array): Uint8Array {
    const n = chunk.length;
    if (n === 0) return chunk;
    let parts: Uint8Array[] | undefined;
    let from = 0;
    let added = 0;
    let i = 0;
    while (i < n) {
      if (this.#atLineStart) {
        this.#atLineStart = false;
        if (chunk[i] === DOT) {
          (parts ??= []).push(chunk.subarray(from, i), DOT_BYTE);
          from = i;
        }
      }
      const lf = chunk.indexOf(LF, i);
      if (lf === -1) {
        this.#prevCR = chunk[n - 1] === CR;
        break;
      }
      const crBefore = lf > 0 ? chunk[lf - 1] === CR : this.#prevCR;
      if (!crBefore) {
        (parts ??= []).push(chunk.subarray(from, lf), CR_BYTE);
        from = lf;
        added++;
      }
      i = lf + 1;
      this.#atLineStart = true;
      this.#prevCR = false;
    }
    this.#octets += n + added;
    if (parts === undefined) return chunk;
    parts.push(chunk.subarray(from, n));
    let total = 0;
    for (const p of parts) total += p.length;
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Returns the terminator, preceded by a line end if the body lacks one. */
  end(): Uint8Array {
    if (this.#atLineStart) return TERMINATOR;
    return this.#prevCR ? LF_TERMINATOR : CRLF_TERMINATOR;
  }
}
