/**
 * A transcript driver for POP3 tests: reads everything the server sends in
 * the background (in-memory pairs barely buffer, so reading while writing
 * is what keeps a test from deadlocking), and parses single-line and
 * multi-line replies. Works on any pair of Web Streams.
 */

import { concatBytes } from "../../src/_util/concat.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The two streams and the close of a client connection. */
export interface ClientSide {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  close(): void;
}

/** A parsed multi-line reply. */
export interface MultiReply {
  /** The status line, without CRLF. */
  status: string;
  /** The body lines, dot-unstuffed, without CRLF (empty for `-ERR`). */
  lines: string[];
  /** The body bytes, dot-unstuffed, with CRLF line ends, without the terminator. */
  body: Uint8Array;
}

/** Default time a test waits for the server before it fails. */
export const WAIT_MS = 5000;

/** Rejects when `promise` takes longer than `ms`. */
export function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms: ${what}`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Drives one POP3 client connection. */
export class Pop3Client {
  #side: ClientSide;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #chunks: Uint8Array[] = [];
  #buf: Uint8Array = new Uint8Array(0);
  #eof = false;
  #error: unknown;
  #wake: (() => void) | undefined;
  /** Resolves when the server's side has ended (EOF or error). */
  readonly ended: Promise<void>;
  /** The greeting line, once {@linkcode Pop3Client.greeting} was awaited. */
  greetingLine = "";

  constructor(side: ClientSide) {
    this.#side = side;
    this.#writer = side.writable.getWriter();
    this.#writer.closed.catch(() => {});
    this.ended = this.#pump();
  }

  async #pump(): Promise<void> {
    const reader = this.#side.readable.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.#chunks.push(value);
        this.#notify();
      }
    } catch (error) {
      this.#error = error;
    } finally {
      this.#eof = true;
      this.#notify();
    }
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  #take(): Uint8Array {
    if (this.#chunks.length > 0) {
      this.#buf = concatBytes([this.#buf, ...this.#chunks]);
      this.#chunks = [];
    }
    return this.#buf;
  }

  /** Waits until `find` finds an end index in the buffer; returns the bytes before it. */
  async #until(
    find: (buf: Uint8Array) => number,
    what: string,
    ms: number,
  ): Promise<Uint8Array> {
    const wait = async () => {
      for (;;) {
        const buf = this.#take();
        const end = find(buf);
        if (end !== -1) {
          this.#buf = buf.subarray(end);
          return buf.subarray(0, end);
        }
        if (this.#eof) {
          throw new Error(
            `Connection closed while waiting for ${what}; got ${
              JSON.stringify(decoder.decode(buf).slice(0, 200))
            }`,
          );
        }
        await new Promise<void>((resolve) => this.#wake = resolve);
      }
    };
    return await within(wait(), ms, what);
  }

  /** Writes raw text or bytes. */
  async write(data: string | Uint8Array): Promise<void> {
    await this.#writer.write(
      typeof data === "string" ? encoder.encode(data) : data,
    );
  }

  /** Sends one command line (CRLF appended) without waiting for the reply. */
  send(line: string): Promise<void> {
    return this.write(line + "\r\n");
  }

  /** Reads the next line, without its CRLF. */
  async line(ms = WAIT_MS): Promise<string> {
    const bytes = await this.#until(
      (buf) => {
        const lf = buf.indexOf(10);
        return lf === -1 ? -1 : lf + 1;
      },
      "a reply line",
      ms,
    );
    const text = decoder.decode(bytes);
    if (!text.endsWith("\r\n")) {
      throw new Error(`Reply line without CRLF: ${JSON.stringify(text)}`);
    }
    return text.slice(0, -2);
  }

  /** Reads the greeting. */
  async greeting(): Promise<string> {
    this.greetingLine = await this.line();
    return this.greetingLine;
  }

  /** Reads a multi-line body after its status line was read. */
  async body(ms = WAIT_MS): Promise<{ raw: Uint8Array; body: Uint8Array }> {
    const raw = await this.#until(
      (buf) => {
        if (
          buf.length >= 3 && buf[0] === 0x2e && buf[1] === 13 && buf[2] === 10
        ) return 3;
        for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) {
          if (
            buf[i - 1] === 13 && buf[i + 1] === 0x2e && buf[i + 2] === 13 &&
            buf[i + 3] === 10
          ) return i + 4;
          if (i + 3 >= buf.length) break;
        }
        return -1;
      },
      "the end of a multi-line reply",
      ms,
    );
    // Unstuff: drop the terminator, then one leading dot of every line.
    const content = raw.subarray(0, raw.length - 3);
    const out: number[] = [];
    let atStart = true;
    for (let i = 0; i < content.length; i++) {
      const b = content[i];
      if (atStart && b === 0x2e) {
        atStart = false;
        continue;
      }
      atStart = b === 10;
      out.push(b);
    }
    return { raw, body: Uint8Array.from(out) };
  }

  /** Sends a command and returns its one-line reply. */
  async cmd(line: string, ms = WAIT_MS): Promise<string> {
    await this.send(line);
    return await this.line(ms);
  }

  /** Sends a command that answers with a multi-line reply on success. */
  async multi(line: string, ms = WAIT_MS): Promise<MultiReply> {
    await this.send(line);
    return await this.readMulti(ms);
  }

  /** Reads a status line and, after `+OK`, the multi-line body. */
  async readMulti(ms = WAIT_MS): Promise<MultiReply> {
    const status = await this.line(ms);
    if (!status.startsWith("+OK")) {
      return { status, lines: [], body: new Uint8Array(0) };
    }
    const { body } = await this.body(ms);
    const text = decoder.decode(body);
    const lines = text === "" ? [] : text.slice(0, -2).split("\r\n");
    return { status, lines, body };
  }

  /** Logs in with USER/PASS; throws unless both answer `+OK`. */
  async login(user: string, password: string): Promise<string> {
    const u = await this.cmd(`USER ${user}`);
    if (!u.startsWith("+OK")) throw new Error(`USER failed: ${u}`);
    const p = await this.cmd(`PASS ${password}`);
    if (!p.startsWith("+OK")) throw new Error(`PASS failed: ${p}`);
    return p;
  }

  /** Waits for the server to close; returns the bytes it sent meanwhile. */
  async closed(ms = WAIT_MS): Promise<string> {
    await within(this.ended, ms, "the server to close the connection");
    return decoder.decode(this.#take().slice());
  }

  /** Whether the server's side has ended. */
  get eof(): boolean {
    return this.#eof;
  }

  /** Bytes received and not yet consumed. */
  pending(): string {
    return decoder.decode(this.#take());
  }

  /** Half-closes: ends the client's writing side, keeps reading. */
  async closeWrite(): Promise<void> {
    await this.#writer.close();
  }

  /** Closes the connection from the client's side. */
  close(): void {
    this.#side.close();
  }
}
