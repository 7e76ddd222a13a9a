/**
 * Internal: the Web Streams pair of a built-in adapter's conn, built on
 * first use over the conn's own {@linkcode DirectIo} (see `_direct.ts`), so
 * that an idle connection holds neither stream. The conn is the readable's
 * source; one small sink object forwards the writable's calls to it.
 *
 * @module
 */

import type { DirectIo } from "./_direct.ts";

/**
 * A conn whose Web Streams pair stands on its own {@linkcode DirectIo}: the
 * conn is the readable's source, and the writable's sink writes with its
 * `write()` and ends or cuts the connection through the two methods here.
 * The built-in adapters' conns are such classes, so the pair costs nothing
 * until {@linkcode directReadable} or {@linkcode directWritable} builds it.
 *
 * @example
 * ```ts ignore
 * class MyConn implements DirectStreamsConn {
 *   // read(), cancel(), releaseLock(), write() and pull() or start() ...
 *   abortWritable(): void {
 *     this.socket.destroy();
 *   }
 * }
 * ```
 */
export interface DirectStreamsConn extends DirectIo {
  /** The readable's `start()`: takes its controller (else reads go through `pull`). */
  start?(controller: ReadableStreamDefaultController<Uint8Array>): void;
  /** The readable's `pull()`: called while the consumer has a read pending. */
  pull?(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> | void;
  /** The writable's `close()`: ends the sending side. Absent: nothing to do. */
  closeWritable?(): Promise<void> | void;
  /** The writable's `abort()`: cuts the connection. */
  abortWritable(): void;
}

/**
 * The readable of a {@linkcode DirectStreamsConn}, the conn itself its
 * source. The high-water mark is 0: the source is pulled only while the
 * consumer has a read pending, so nothing is read ahead and, between reads,
 * no bytes of the connection are held (STLS can hand it on).
 *
 * @example
 * ```ts
 * import { DONE } from "./_direct.ts";
 * import { directReadable } from "./_direct_streams.ts";
 * const conn = {
 *   read: () => Promise.resolve(DONE),
 *   cancel: () => Promise.resolve(),
 *   releaseLock() {},
 *   write() {},
 *   abortWritable() {},
 *   pull(controller: ReadableStreamDefaultController<Uint8Array>) {
 *     controller.close();
 *   },
 * };
 * const { done } = await directReadable(conn).getReader().read();
 * console.assert(done);
 * ```
 */
export function directReadable(
  conn: DirectStreamsConn,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(conn, { highWaterMark: 0 });
}

/**
 * The writable of a {@linkcode DirectStreamsConn}: each chunk goes whole to
 * the conn's `write()`; closing calls its `closeWritable()`, aborting its
 * `abortWritable()`.
 *
 * @example
 * ```ts
 * import { DONE } from "./_direct.ts";
 * import { directWritable } from "./_direct_streams.ts";
 * const sent: Uint8Array[] = [];
 * const conn = {
 *   read: () => Promise.resolve(DONE),
 *   cancel: () => Promise.resolve(),
 *   releaseLock() {},
 *   write(chunk: Uint8Array) {
 *     sent.push(chunk);
 *   },
 *   abortWritable() {},
 * };
 * const writer = directWritable(conn).getWriter();
 * await writer.write(new Uint8Array([43, 79, 75]));
 * console.assert(sent.length === 1);
 * ```
 */
export function directWritable(
  conn: DirectStreamsConn,
): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>(new DirectSink(conn));
}

/**
 * The sink of {@linkcode directWritable}: an object of its own, since a
 * conn's `start()` (the readable's) differs from a sink's.
 */
class DirectSink implements UnderlyingSink<Uint8Array> {
  readonly conn: DirectStreamsConn;
  constructor(conn: DirectStreamsConn) {
    this.conn = conn;
  }
  write(chunk: Uint8Array): Promise<void> | void {
    return this.conn.write(chunk);
  }
  close(): Promise<void> | void {
    return this.conn.closeWritable?.();
  }
  abort(): void {
    this.conn.abortWritable();
  }
}
