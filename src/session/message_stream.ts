/**
 * Message streaming for RETR and TOP: dot-stuffing, the size check, and the
 * rule that a reply which began with `+OK` is never finished with a lie.
 *
 * @module
 */

import { byobReader } from "../_util/chunks.ts";
import { type ReadInto, readInto } from "../_util/read_into.ts";
import {
  releaseBlock,
  type StufferBlock,
  stufferBlock,
} from "../protocol/_wasm_stuffer.ts";
import { replaceNuls } from "../protocol/client_quirks.ts";
import { HeaderEndFinder } from "../protocol/header_end_finder.ts";
import { DotStuffer } from "../protocol/dot_stuffer.ts";
import type { TopFilter } from "../protocol/top_filter.ts";
import type { MessageBody } from "../storage/message_body.ts";
import { CallbackTimeoutError } from "./call.ts";
import type { SessionContext } from "./context.ts";

/** Queued output beyond this is written before more is read. */
export const FLUSH_AT = 64 * 1024;
/** In-memory bodies are encoded and queued in views of this size. */
const BODY_CHUNK = 256 * 1024;
/** The most a byte stream is read into our own buffer at a time. */
const READ_BUFFER = 256 * 1024;
/**
 * A RETR of at least this many octets from a stream that can read into any
 * memory goes the direct way; a new encoder block costs up to 0.4 ms (Bun),
 * which a smaller message does not make up for when the pool is empty.
 */
const DIRECT_MIN = 256 * 1024;

/** The lines of `chunk` that TOP sends, or all of it for RETR. */
function filtered(chunk: Uint8Array, top: TopFilter | undefined): Uint8Array {
  return top ? top.filter(chunk) : chunk;
}

const LF_BYTE = Uint8Array.of(0x0a);

type BodyReader =
  | ReadableStreamDefaultReader<Uint8Array>
  | ReadableStreamBYOBReader;

/**
 * The callback deadline of a message stream: each read must settle within
 * `ms`, and none may outlive the session's abort. One timer per message,
 * armed once and re-armed only when it fires early (a read that started
 * later than the timer was armed); each chunk costs a clock read. On
 * expiry or abort the stream is cancelled, which settles a reader's pending
 * read at once; the read then throws the {@linkcode CallbackTimeoutError}
 * or the abort reason. A direct read ({@linkcode ReadWatchdog.start}) is
 * settled by the watchdog itself.
 */
class ReadWatchdog {
  readonly #cancel: (reason: unknown) => Promise<void>;
  readonly #ms: number;
  readonly #signal: AbortSignal;
  /** When the pending read started; 0 while none is pending. */
  #since = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failure: unknown;
  /** Settles the pending direct read with -1. */
  #settle: ((n: number) => void) | undefined;
  readonly #onAbort = () => this.#fail(this.#signal.reason);

  constructor(
    cancel: (reason: unknown) => Promise<void>,
    ms: number,
    signal: AbortSignal,
  ) {
    this.#cancel = cancel;
    this.#ms = ms;
    this.#signal = signal;
    if (signal.aborted) this.#failure = signal.reason;
    else signal.addEventListener("abort", this.#onAbort, { once: true });
    this.#arm(ms);
  }

  /** Reads the next chunk of `reader` under the deadline (into `view`: BYOB). */
  async read(
    reader: BodyReader,
    view?: Uint8Array,
  ): Promise<ReadableStreamReadResult<Uint8Array>> {
    this.check();
    this.#since = Date.now();
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await (view === undefined
        ? (reader as ReadableStreamDefaultReader<Uint8Array>).read()
        : (reader as ReadableStreamBYOBReader).read(
          view as Uint8Array<ArrayBuffer>,
        ));
    } finally {
      this.#since = 0;
    }
    this.check();
    return result;
  }

  /**
   * Starts a direct read under the deadline. The promise never rejects
   * (the caller may await it only after a write): it resolves with the
   * octets read, or with -1 on a failure, the read's own or the deadline's,
   * which {@linkcode ReadWatchdog.check} then throws. The deadline counts
   * only while the read is pending.
   */
  start(read: ReadInto, view: Uint8Array): Promise<number> {
    if (this.#failure !== undefined) return Promise.resolve(-1);
    this.#since = Date.now();
    return new Promise<number>((resolve) => {
      this.#settle = resolve;
      const done = (n: number) => {
        if (this.#settle === resolve) {
          this.#since = 0;
          this.#settle = undefined;
        }
        resolve(n);
      };
      read(view).then(done, (error) => {
        this.#failure ??= error;
        done(-1);
      });
    });
  }

  /** Throws the failure, if there was one. */
  check(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Clears the timer and the abort listener. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#signal.removeEventListener("abort", this.#onAbort);
  }

  #arm(wait: number): void {
    this.#timer = setTimeout(() => this.#check(), wait);
  }

  #check(): void {
    const since = this.#since;
    const left = since === 0 ? this.#ms : since + this.#ms - Date.now();
    if (left > 0) return this.#arm(left);
    this.#fail(new CallbackTimeoutError("storage.get stream", this.#ms));
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.stop();
    this.#settle?.(-1);
    // Settles a reader's pending read with `done` at once, whatever the
    // source does.
    this.#cancel(error).catch(() => {});
  }
}

/**
 * Streams a message as a multi-line reply after its `+OK`. A failure cannot
 * become `-ERR` any more: the connection is closed without the terminator,
 * so the client never takes a partial message for a whole one.
 *
 * @param s The session.
 * @param n The message number.
 * @param body The message bytes.
 * @param top The TOP filter, or `undefined` for RETR.
 * @param size The size storage announced (RETR), checked against the bytes.
 *
 * @example
 * ```ts ignore
 * s.out.send(ok(`${size} octets`));
 * await streamMessage(s, n, body, undefined, size);
 * ```
 */
export async function streamMessage(
  s: SessionContext,
  n: number,
  body: MessageBody,
  top: TopFilter | undefined,
  size: number | undefined,
): Promise<void> {
  const stuffer = new DotStuffer();
  const out = s.out;
  const noNuls = s.config.outlookNoNuls === true;
  const eoh = s.config.oeNsEoh === true ? new HeaderEndFinder() : undefined;
  // Bytes in memory are encoded view by view in a plain loop; only a stream
  // needs a reader and a promise per chunk. When the connection can say that
  // it let go of written bytes, a large chunk is encoded into a buffer of
  // ours, and a byte stream is also read into one, each used again for the
  // next chunk: no allocation per chunk (on a 50 MiB RETR from a Maildir
  // they were most of the server's CPU on Node).
  //
  // A file of ours goes further (`direct`): each chunk is read straight into
  // the memory of an encoder of its own, encoded there and written from
  // there, and the next chunk is read while this one is being written.
  const direct = body instanceof Uint8Array || !out.canRelease ||
      size === undefined || size < DIRECT_MIN || noNuls || eoh !== undefined
    ? undefined
    : readInto(body);
  const block = direct && stufferBlock();
  const own = body instanceof Uint8Array || !out.canRelease || block
    ? undefined
    : byobReader(body);
  const reader = body instanceof Uint8Array || block
    ? undefined
    : own ?? body.getReader();
  let writing = false;
  let watchdog: ReadWatchdog | undefined;
  const encode = (chunk: Uint8Array, into?: Uint8Array) => {
    let part = filtered(chunk, top);
    eoh?.scan(part);
    if (noNuls) part = replaceNuls(part);
    return stuffer.encode(part, into);
  };
  const flush = async () => {
    writing = true;
    await s.flush();
    writing = false;
  };
  let scratch: Uint8Array | undefined;
  // Encodes and queues one chunk; `ours` when it is a view of our read
  // buffer, which is filled again after this.
  const put = async (chunk: Uint8Array, ours: boolean) => {
    if (chunk.length < FLUSH_AT || !out.canRelease) {
      // Queued with what follows (a view of our buffer as a copy).
      const encoded = encode(chunk);
      out.push(
        ours && encoded.buffer === chunk.buffer ? encoded.slice() : encoded,
      );
      if (out.queued >= FLUSH_AT) await flush();
      return;
    }
    // Encoded into our scratch buffer, written and let go before either
    // buffer is used again.
    const room = Math.ceil(chunk.length * 1.25);
    if (scratch === undefined || scratch.length < room) {
      scratch = new Uint8Array(room);
    }
    out.push(encode(chunk, scratch));
    await flush();
    writing = true;
    await out.released();
    writing = false;
  };
  // Given back only when no read is pending into it and no write holds it.
  let freeBlock: StufferBlock | undefined;
  try {
    if (block) {
      const stream = body as ReadableStream<Uint8Array>;
      watchdog = new ReadWatchdog(
        (reason) => stream.cancel(reason),
        s.config.callbackTimeout,
        s.signal,
      );
      let pending = watchdog.start(direct!, block.input);
      for (;;) {
        const n = await pending;
        watchdog.check();
        if (n === 0) break;
        const encoded = stuffer.encodeBlock(block, n);
        // The input is free again: the next read overlaps this write.
        pending = watchdog.start(direct!, block.input);
        out.push(encoded);
        await flush();
        writing = true;
        await out.released();
        writing = false;
      }
      freeBlock = block;
    } else if (reader === undefined) {
      const bytes = body as Uint8Array;
      for (let at = 0; at < bytes.length && !top?.done; at += BODY_CHUNK) {
        await put(bytes.subarray(at, at + BODY_CHUNK), false);
      }
    } else {
      // A stream that stalls is a callback that never settles: one watchdog
      // per message, not a timer and a promise per chunk.
      const cancel = (reason: unknown) => reader.cancel(reason);
      watchdog = new ReadWatchdog(cancel, s.config.callbackTimeout, s.signal);
      const length = Math.max(4096, Math.min(READ_BUFFER, size ?? READ_BUFFER));
      let view: Uint8Array | undefined = own && new Uint8Array(length);
      for (;;) {
        const { done, value } = await watchdog.read(reader, view);
        if (done) break;
        if (!(value instanceof Uint8Array)) {
          throw new TypeError(
            `Storage "get" stream for message ${n} yielded a non-Uint8Array chunk`,
          );
        }
        await put(value, view !== undefined);
        if (view !== undefined) view = new Uint8Array(value.buffer);
        if (top?.done) break;
      }
    }
    if (size !== undefined && stuffer.octets !== size) {
      throw new RangeError(
        `Message ${n} has ${stuffer.octets} octets but storage "size" said ${size}`,
      );
    }
  } catch (error) {
    watchdog?.stop();
    if (block) (body as ReadableStream<Uint8Array>).cancel().catch(() => {});
    reader?.cancel().catch(() => {});
    // A failed write means the client went away: not a storage fault.
    if (!writing && !s.ending) s.report(error);
    // Send the replies queued before this one and what was read of this
    // one, never the terminator, then cut the connection.
    if (!writing) await s.flush().catch(() => {});
    s.end(writing ? "client" : "error", "now");
    return;
  }
  watchdog?.stop();
  if (freeBlock) releaseBlock(freeBlock);
  if (top) reader?.cancel().catch(() => {});
  else reader?.releaseLock();
  if (eoh !== undefined && !eoh.found) {
    // oe-ns-eoh: end the last header line, then the missing empty line.
    // Like Dovecot, after the size check: the announced size stays.
    if (!stuffer.atLineStart) out.push(stuffer.encode(LF_BYTE));
    out.push(stuffer.encode(LF_BYTE));
  }
  out.push(stuffer.end());
  if (size !== undefined) s.observer.count("messagesSent", 1);
}
