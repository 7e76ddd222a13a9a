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
    return this.#end > this.#start &&
      this.#buf.subarray(this.#start, this.#end).indexOf(LF) !== -1;
  }

  /** Appends received bytes. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#start === this.#end) {
      // Nothing pending: keep the chunk itself, no copy.
      this.#buf = chunk;
      this.#start = 0;
      this.#end = chunk.length;
      return;
    }
    const pending = this.#end - this.#start;
    const needed = pending + chunk.length;
    const next = new Uint8Array(Math.max(needed, 256));
    next.set(this.#buf.subarray(this.#start, this.#end), 0);
    next.set(chunk, pending);
    this.#buf = next;
    this.#start = 0;
    this.#end = needed;
  }

  /**
   * Takes the next whole line: a copy of its bytes (without CR LF),
   * {@linkcode LINE_TOO_LONG}, or `undefined` when no whole line is
   * buffered.
   */
  next(): Uint8Array | typeof LINE_TOO_LONG | undefined {
    const buf = this.#buf;
    const start = this.#start;
    const lf = buf.subarray(start, this.#end).indexOf(LF);
    if (lf === -1) {
      const pending = this.#end - start;
      if (pending >= this.#max) {
        this.#discarding = true;
        this.#start = this.#end = 0;
        this.#buf = EMPTY;
      } else if (pending > 0 && 2 * pending < buf.buffer.byteLength) {
        // Keep the unfinished line, not the rest of the chunk it came in.
        this.#buf = buf.slice(start, this.#end);
        this.#start = 0;
        this.#end = pending;
      }
      return undefined;
    }
    const lineEnd = start + lf;
    this.#start = lineEnd + 1;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      this.#buf = EMPTY;
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
    this.#start = this.#end = 0;
    this.#discarding = false;
    return dropped;
  }
}
