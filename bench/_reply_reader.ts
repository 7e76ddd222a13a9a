/**
 * Byte-level POP3 reply reader for the load driver: status lines and
 * multi-line bodies are scanned in the receive buffer with
 * `Uint8Array.indexOf`, never decoded into strings.
 *
 * @module
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const PLUS = 0x2b;

function isTerminator(t: Uint8Array): boolean {
  return t[0] === CR && t[1] === LF && t[2] === DOT && t[3] === CR &&
    t[4] === LF;
}

/** The minimal socket surface the reader needs (a `Deno.Conn` has it). */
export interface ByteSource {
  /** Reads into `p`; resolves to the count, or `null` at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
}

/** What {@linkcode ReplyReader.multiLine} found. */
export interface MultiLineResult {
  /** Octets of the body after removing the dot-stuffing, without the terminator. */
  octets: number;
  /** Lines in the body (only counted when asked for, else 0). */
  lines: number;
  /** Bytes of the body on the wire, stuffing and terminator included. */
  wire: number;
}

/**
 * Reads POP3 replies from a byte source into one reused buffer.
 *
 * @example
 * ```ts
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 110 });
 * const r = new ReplyReader(conn, 65536);
 * await r.status(); // greeting
 * ```
 */
export class ReplyReader {
  #src: ByteSource;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  /** Total bytes received so far. */
  bytes = 0;
  /** Start and end (before CRLF) of the last status line in {@linkcode buffer}. */
  lineStart = 0;
  /** End of the last status line, before its CRLF. */
  lineEnd = 0;

  /**
   * @param src The connection.
   * @param size Receive buffer size in bytes.
   */
  constructor(src: ByteSource, size: number) {
    this.#src = src;
    this.#buf = new Uint8Array(size);
  }

  /** Starts over on a new connection, keeping the buffer. */
  reset(src: ByteSource): void {
    this.#src = src;
    this.#start = this.#end = 0;
    this.bytes = 0;
  }

  /** The receive buffer (valid for the last status line until the next read). */
  get buffer(): Uint8Array {
    return this.#buf;
  }

  /** True when no received byte is left unread (no reply was sent unasked). */
  get drained(): boolean {
    return this.#start === this.#end;
  }

  async #fill(): Promise<void> {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (this.#end === this.#buf.length) {
      if (this.#start === 0) throw new Error("Reply line exceeds the buffer");
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const n = await this.#src.read(this.#buf.subarray(this.#end));
    if (n === null) throw new Error("Connection closed by the server");
    this.#end += n;
    this.bytes += n;
  }

  /**
   * Reads one status line. Resolves to true for `+OK`, false for `-ERR`;
   * the line is then at `buffer[lineStart..lineEnd]`.
   */
  async status(): Promise<boolean> {
    let from = this.#start;
    for (;;) {
      const i = this.#end > from ? this.#buf.indexOf(LF, from) : -1;
      if (i !== -1 && i < this.#end) {
        this.lineStart = this.#start;
        this.lineEnd = i > this.#start && this.#buf[i - 1] === CR ? i - 1 : i;
        this.#start = i + 1;
        return this.#buf[this.lineStart] === PLUS;
      }
      const scanned = this.#end - this.#start;
      await this.#fill();
      from = this.#start + scanned;
    }
  }

  /**
   * Reads exactly `wire` bytes (a multi-line body whose size on the wire is
   * already known from a fully checked read of the same message) and checks
   * that they end with the CRLF `.` CRLF terminator and that nothing follows.
   * The body itself is not scanned.
   */
  async knownBody(wire: number): Promise<void> {
    let left = wire;
    const tail = new Uint8Array(5);
    for (;;) {
      const avail = this.#end - this.#start;
      const take = Math.min(avail, left);
      const chunk = this.#buf.subarray(this.#start, this.#start + take);
      if (take >= 5) tail.set(chunk.subarray(take - 5));
      else {
        tail.copyWithin(0, take);
        tail.set(chunk, 5 - take);
      }
      left -= take;
      this.#start += take;
      if (left === 0) break;
      // a dot-stuffed body holds CRLF . CRLF only as its terminator
      if (isTerminator(tail)) throw new Error(`Body ended ${left} bytes early`);
      await this.#fill();
    }
    if (!isTerminator(tail)) {
      throw new Error("Body does not end with CRLF . CRLF");
    }
    if (!this.drained) throw new Error("Bytes after the terminator");
  }

  /** The last status line as text (for error messages only). */
  lineText(): string {
    return new TextDecoder().decode(
      this.#buf.subarray(this.lineStart, this.lineEnd),
    );
  }

  /**
   * Parses the `index`-th space-separated field of the last status line as
   * an unsigned integer (`+OK 2 320`: field 1 is 2, field 2 is 320).
   */
  field(index: number): number {
    const buf = this.#buf;
    let p = this.lineStart;
    for (let k = 0; k < index; k++) {
      while (p < this.lineEnd && buf[p] !== 0x20) p++;
      while (p < this.lineEnd && buf[p] === 0x20) p++;
    }
    let n = 0;
    let digits = 0;
    while (p < this.lineEnd && buf[p] >= 0x30 && buf[p] <= 0x39) {
      n = n * 10 + buf[p++] - 0x30;
      digits++;
    }
    if (digits === 0) throw new Error(`No number in "${this.lineText()}"`);
    return n;
  }

  /**
   * Reads a multi-line body up to and including its `.` CRLF terminator,
   * checking the dot-stuffing on the way. Only dots are looked at, with
   * `indexOf`, so the cost per byte is a native scan.
   *
   * @param countLines Also count the body's lines (LIST, UIDL).
   */
  async multiLine(countLines = false): Promise<MultiLineResult> {
    let consumed = 0; // body bytes on the wire, terminator included
    let stuffed = 0;
    let lines = 0;
    let atLineStart = true; // the byte at #start begins a line
    let pending = 0; // 1: line-start "." ended the data; 2: line-start ".\r" did
    for (;;) {
      const buf = this.#buf;
      const start = this.#start;
      const end = this.#end;
      let p = start;
      let done = -1; // index just past the terminator
      if (pending === 1 && p < end) {
        const b = buf[p++];
        if (b === DOT) {
          stuffed++;
          pending = 0;
        } else if (b === CR) pending = 2;
        else throw new Error("Line starting with '.' is not dot-stuffed");
      }
      if (pending === 2 && p < end) {
        if (buf[p++] !== LF) throw new Error("Bare CR after a line-start '.'");
        done = p;
      }
      while (done === -1 && pending === 0 && p < end) {
        let i = buf.indexOf(DOT, p);
        if (i >= end) i = -1;
        if (i === -1) break;
        const lineStart = i > start ? buf[i - 1] === LF : atLineStart;
        if (!lineStart) {
          p = i + 1;
          continue;
        }
        if (i + 1 >= end) {
          pending = 1;
          break;
        }
        const b = buf[i + 1];
        if (b === DOT) {
          stuffed++;
          p = i + 2;
        } else if (b === CR) {
          if (i + 2 >= end) {
            pending = 2;
            break;
          }
          if (buf[i + 2] !== LF) {
            throw new Error("Bare CR after a line-start '.'");
          }
          done = i + 3;
        } else {
          throw new Error("Line starting with '.' is not dot-stuffed");
        }
      }
      const stop = done === -1 ? end : done;
      if (countLines) {
        for (
          let i = buf.indexOf(LF, start);
          i !== -1 && i < stop;
          i = buf.indexOf(LF, i + 1)
        ) {
          lines++;
        }
      }
      consumed += stop - start;
      if (done !== -1) {
        this.#start = done;
        return {
          octets: consumed - 3 - stuffed,
          lines: countLines ? lines - 1 : 0,
          wire: consumed,
        };
      }
      atLineStart = end > start ? buf[end - 1] === LF : atLineStart;
      this.#start = this.#end;
      await this.#fill();
    }
  }
}
