/**
 * Splits the client's bytes into command lines, with a hard length cap.
 *
 * @module
 */

/** Returned by {@linkcode LineFramer.next} for a line over the cap. */
export const LINE_TOO_LONG: unique symbol = Symbol("LINE_TOO_LONG");

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);

/**
 * Sans-I/O line framer: push bytes in, take lines out. A line ends in LF
 * (CRLF or a bare LF); the line returned excludes the line end. A line longer
 * than the cap is discarded as it arrives, so memory stays bounded, and is
 * reported once, as {@linkcode LINE_TOO_LONG}, when its end arrives.
 *
 * Lines are returned as copies, and an unfinished line is moved out of a
 * mostly consumed chunk: a framer never keeps a transport's read buffer
 * (often 8–64 KiB) alive while the connection waits for the next command.
 *
 * @example Framing pipelined commands
 * ```ts
 * import { LineFramer } from "./line_framer.ts";
 * const framer = new LineFramer(255);
 * framer.push(new TextEncoder().encode("STAT\r\nNO"));
 * const line = framer.next();
 * console.assert(line instanceof Uint8Array && line.length === 4);
 * console.assert(framer.next() === undefined);
 * ```
 */
export class LineFramer {
  #buf: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  // No LF lies in [#start, #scan): bytes already searched are not searched
  // again, so a line that arrives a byte at a time costs linear time.
  #scan = 0;
  // Whether #buf is our own allocation (with room to append) or a chunk.
  #owned = false;
  #max: number;
  #discarding = false;

  /** @param maxLength Longest line accepted, in octets, including CRLF. */
  constructor(maxLength: number) {
    this.#max = maxLength;
  }

  /** Bytes received but not yet returned as lines. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Whether a whole line is waiting, so that a call to `next` returns it. */
  hasLine(): boolean {
    const from = Math.max(this.#scan, this.#start);
    if (this.#buf.subarray(from, this.#end).indexOf(LF) !== -1) return true;
    this.#scan = this.#end;
    return false;
  }

  /** Appends received bytes. */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.#start === this.#end) {
      // Nothing pending: keep the chunk itself, no copy.
      this.#buf = chunk;
      this.#start = this.#scan = 0;
      this.#end = n;
      this.#owned = false;
      return;
    }
    if (this.#owned && this.#end + n <= this.#buf.length) {
      this.#buf.set(chunk, this.#end);
      this.#end += n;
      return;
    }
    // Grow geometrically, so appending many small chunks stays linear.
    const pending = this.#end - this.#start;
    const needed = pending + n;
    const next = new Uint8Array(Math.max(needed * 2, 256));
    next.set(this.#buf.subarray(this.#start, this.#end), 0);
    next.set(chunk, pending);
    this.#scan = Math.max(this.#scan, this.#start) - this.#start;
    this.#buf = next;
    this.#start = 0;
    this.#end = needed;
    this.#owned = true;
  }

  /**
   * Takes the next whole line: a copy of its bytes (without CR LF),
   * {@linkcode LINE_TOO_LONG}, or `undefined` when no whole line is
   * buffered.
   */
  next(): Uint8Array | typeof LINE_TOO_LONG | undefined {
    const buf = this.#buf;
    const start = this.#start;
    const from = Math.max(this.#scan, start);
    const found = buf.subarray(from, this.#end).indexOf(LF);
    if (found === -1) {
      this.#scan = this.#end;
      const pending = this.#end - start;
      if (pending >= this.#max) {
        this.#discarding = true;
        this.#start = this.#end = this.#scan = 0;
        this.#buf = EMPTY;
        this.#owned = false;
      } else if (!this.#owned && 2 * pending < buf.buffer.byteLength) {
        // Keep the unfinished line, not the rest of the chunk it came in.
        this.#buf = buf.slice(start, this.#end);
        this.#start = 0;
        this.#end = this.#scan = pending;
        this.#owned = true;
      }
      return undefined;
    }
    const lineEnd = from + found;
    const lf = lineEnd - start;
    this.#start = this.#scan = lineEnd + 1;
    if (this.#start === this.#end) {
      this.#start = this.#end = this.#scan = 0;
      this.#buf = EMPTY;
      this.#owned = false;
    }
    if (this.#discarding || lf + 1 > this.#max) {
      this.#discarding = false;
      return LINE_TOO_LONG;
    }
    const contentEnd = lf > 0 && buf[lineEnd - 1] === CR
      ? lineEnd - 1
      : lineEnd;
    return buf.slice(start, contentEnd);
  }

  /** Drops every buffered byte (for STLS: nothing sent before the handshake counts). */
  clear(): number {
    const dropped = this.buffered;
    this.#buf = EMPTY;
    this.#start = this.#end = this.#scan = 0;
    this.#owned = false;
    this.#discarding = false;
    return dropped;
  }
}
