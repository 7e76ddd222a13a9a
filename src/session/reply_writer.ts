/**
 * The one place a session's bytes meet the connection: a queue of replies,
 * coalesced into few writes, with byte counts and the progress clock the
 * write deadline reads.
 *
 * @module
 */

import type { ConnWriter } from "../transport/_direct.ts";
import type { SessionObserver } from "./config.ts";

const encoder = new TextEncoder();
/** Many small replies up to this size are joined into one write. */
const COALESCE_MAX = 16 * 1024;
/**
 * Larger parts are written in pieces of at most this size, so that a slow
 * but steady reader shows progress to the write deadline between pieces,
 * unless the connection counts its progress within a write: then a part is
 * one write (fewer, larger system calls: a 50 MiB RETR 5-40% faster on
 * loopback).
 */
const WRITE_PIECE = 32 * 1024;

/**
 * Queues replies and writes them out on {@linkcode ReplyWriter.flush}.
 * While a flush runs, {@linkcode ReplyWriter.stalledSince} holds the time of
 * the last progress (the last piece the connection accepted, or the last
 * change of the connection's own progress count), so the write
 * deadline measures a stall, not the length of a whole flush.
 *
 * @example
 * ```ts ignore
 * const out = new ReplyWriter(1, observer, () => deadlines.update());
 * out.attach(conn.writable.getWriter());
 * out.send("+OK\r\n");
 * await out.flush();
 * ```
 */
export class ReplyWriter {
  readonly #id: number;
  readonly #observer: SessionObserver;
  readonly #onWrite: () => void;
  #writer: ConnWriter | undefined;
  #parts: Uint8Array[] = [];
  #queued = 0;
  /** Octets the connection accepted. */
  bytesOut = 0;
  /** While a flush runs: when the connection last accepted bytes; else 0. */
  #since = 0;
  /** The connection's progress count (`progress()`), when it keeps one. */
  #taken: number | undefined;

  /**
   * @param id The connection id, for transcript lines.
   * @param observer Receives transcript lines and byte counts.
   * @param onWrite Called when a flush starts (the write deadline begins).
   */
  constructor(id: number, observer: SessionObserver, onWrite: () => void) {
    this.#id = id;
    this.#observer = observer;
    this.#onWrite = onWrite;
  }

  /** Writes through `writer` from now on (at start, and after STLS). */
  attach(writer: ConnWriter): void {
    this.#writer = writer;
  }

  /** Gives the connection's writable back (before STLS). */
  detach(): void {
    this.#writer?.releaseLock();
    this.#writer = undefined;
  }

  /**
   * Whether a buffer written through this writer may be written into again
   * once {@linkcode ReplyWriter.released} settles.
   */
  get canRelease(): boolean {
    return this.#writer?.released !== undefined;
  }

  /** Waits until the connection holds none of the bytes written so far. */
  released(): Promise<void> | void {
    return this.#writer?.released?.();
  }

  /**
   * While a flush runs: when the connection last accepted bytes; else 0.
   * Reading it notes progress that the connection counted within a write
   * since the last reading (the write deadline reads it when it comes due,
   * so a stall within a write is found within twice the deadline).
   */
  get stalledSince(): number {
    if (this.#since !== 0 && this.#taken !== undefined) {
      const taken = this.#writer?.progress?.();
      if (taken !== undefined && taken !== this.#taken) {
        this.#taken = taken;
        this.#since = Date.now();
      }
    }
    return this.#since;
  }

  /** Octets queued and not yet written. */
  get queued(): number {
    return this.#queued;
  }

  /** Queues reply text (one or more CRLF-terminated lines) and logs it. */
  send(text: string): void {
    if (this.#observer.wantsTranscript) {
      for (const line of text.split("\r\n")) {
        if (line !== "") this.#observer.transcript(this.#id, "S", line);
      }
    }
    this.push(encoder.encode(text));
  }

  /** Queues bytes as they are (message bodies, already dot-stuffed). */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#parts.push(bytes);
    this.#queued += bytes.length;
  }

  /**
   * Writes everything queued. Rejects when the connection fails; without a
   * connection (a failed STLS handshake), the queue is dropped.
   */
  async flush(): Promise<void> {
    if (this.#queued === 0) return;
    const parts = this.#parts;
    const total = this.#queued;
    this.#parts = [];
    this.#queued = 0;
    const writer = this.#writer;
    if (writer === undefined) return;
    this.#since = Date.now();
    this.#taken = writer.progress?.();
    this.#onWrite();
    try {
      if (parts.length > 1 && total <= COALESCE_MAX) {
        // Many small replies (pipelining): one write.
        const chunk = new Uint8Array(total);
        let at = 0;
        for (const part of parts) {
          chunk.set(part, at);
          at += part.length;
        }
        await this.#write(writer, chunk);
      } else {
        // Large bodies: the parts as they are, without a copy.
        for (const part of parts) await this.#write(writer, part);
      }
    } finally {
      this.#since = 0;
      this.#taken = undefined;
    }
  }

  async #write(
    writer: ConnWriter,
    bytes: Uint8Array,
  ): Promise<void> {
    // Whole when the connection counts its progress within a write.
    const step = this.#taken === undefined ? WRITE_PIECE : bytes.length;
    for (let at = 0; at < bytes.length; at += step) {
      const piece = at === 0 && bytes.length <= step
        ? bytes
        : bytes.subarray(at, at + step);
      await writer.write(piece);
      this.#since = Date.now();
      if (this.#taken !== undefined) {
        this.#taken = writer.progress?.() ?? this.#taken;
      }
      this.bytesOut += piece.length;
      this.#observer.count("bytesOut", piece.length);
    }
  }
}
