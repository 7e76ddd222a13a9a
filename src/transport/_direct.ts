/**
 * Internal: a way for the built-in adapters to let the session read and
 * write a connection without the Web Streams pair that {@linkcode Conn}
 * prescribes. A `ReadableStream`, a `WritableStream`, their controllers,
 * reader and writer and the promises of a pending read cost 2-5 KiB per
 * idle connection, more than the session itself; a conn that carries
 * {@linkcode DIRECT} creates its streams only when someone asks for them
 * (STLS over `node:tls` on Deno and Bun, a PROXY wrapper, a test).
 *
 * The object under {@linkcode DIRECT} has the shape of both a reader and a
 * writer of the conn's streams, so the session treats it as either. It is
 * used only while the streams are untouched: the session takes it in place
 * of `getReader()`/`getWriter()`, and gives it up (no read pending) before
 * STLS.
 *
 * @module
 */

import type { Conn } from "./types.ts";

/**
 * The key of a conn's {@linkcode DirectIo}.
 *
 * @example
 * ```ts ignore
 * const io = (conn as MaybeDirect)[DIRECT];
 * ```
 */
export const DIRECT: unique symbol = Symbol.for("@x/pop3d.direct");

/**
 * The key of a conn's writer alone: a wrapper that reads the conn's stream
 * itself (the PROXY header) still writes through the adapter's direct path.
 *
 * @example
 * ```ts ignore
 * (wrapped as MaybeDirect)[DIRECT_WRITER] = directWriter(conn);
 * ```
 */
export const DIRECT_WRITER: unique symbol = Symbol.for(
  "@x/pop3d.directWriter",
);

/**
 * What the session reads with: a reader of the conn's bytes, or its
 * {@linkcode DirectIo}.
 *
 * @example
 * ```ts ignore
 * const reader: ConnReader = directIo(conn) ?? conn.readable.getReader();
 * ```
 */
export type ConnReader = Pick<
  ReadableStreamDefaultReader<Uint8Array>,
  "read" | "cancel" | "releaseLock"
>;

/**
 * What the session writes with: a writer of the conn's bytes, or its
 * {@linkcode DirectIo}.
 *
 * @example
 * ```ts ignore
 * const writer: ConnWriter = directIo(conn) ?? conn.writable.getWriter();
 * await writer.write(new TextEncoder().encode("+OK\r\n"));
 * ```
 */
export interface ConnWriter {
  /** Writes `chunk` whole; a Promise when the caller must wait. */
  write(chunk: Uint8Array): Promise<void> | void;
  /**
   * Optional: waits until no write holds on to its chunk any more, so that
   * the caller may put new bytes into the buffers it wrote. A writer that
   * cannot tell has none, and a buffer it wrote is never written into again.
   */
  released?(): Promise<void> | void;
  /**
   * Optional: a count that changes whenever the connection takes bytes of
   * a pending write, and not while it takes none; `undefined` where this
   * connection cannot tell. A caller that sees it may write large chunks
   * whole and still tell a slow reader's progress from a stall; one that
   * does not writes in pieces small enough for each to show progress.
   */
  progress?(): number | undefined;
  /** Lets go of the connection (before STLS). */
  releaseLock(): void;
}

/**
 * Reads and writes a connection without Web Streams: one read at a time,
 * `cancel()` stops reading (and settles a pending read with `done`),
 * `releaseLock()` does nothing (nothing is locked).
 *
 * @example
 * ```ts ignore
 * const io = directIo(conn);
 * const { done, value } = await io!.read();
 * ```
 */
export interface DirectIo extends ConnReader, ConnWriter {
  /** Lets go of the connection (before STLS). */
  releaseLock(): void;
}

/**
 * A conn that may carry a {@linkcode DirectIo}.
 *
 * @example
 * ```ts ignore
 * const io = (conn as MaybeDirect)[DIRECT];
 * ```
 */
export type MaybeDirect = Conn & {
  readonly [DIRECT]?: DirectIo;
  readonly [DIRECT_WRITER]?: ConnWriter;
};

/**
 * The conn's {@linkcode DirectIo}, if its adapter gave it one.
 *
 * @example
 * ```ts
 * import { directIo } from "./_direct.ts";
 * const conn = {
 *   readable: new ReadableStream(),
 *   writable: new WritableStream(),
 *   remoteAddr: { hostname: "127.0.0.1", port: 1 },
 *   localAddr: { hostname: "127.0.0.1", port: 2 },
 *   encrypted: false,
 *   close() {},
 * };
 * console.assert(directIo(conn) === undefined);
 * ```
 */
export function directIo(conn: Conn): DirectIo | undefined {
  return (conn as MaybeDirect)[DIRECT];
}

/**
 * The writer of the conn's direct path: its {@linkcode DirectIo}, or the
 * writer a wrapper passed on under {@linkcode DIRECT_WRITER}.
 *
 * @example
 * ```ts
 * import { directWriter } from "./_direct.ts";
 * const conn = {
 *   readable: new ReadableStream(),
 *   writable: new WritableStream(),
 *   remoteAddr: { hostname: "127.0.0.1", port: 1 },
 *   localAddr: { hostname: "127.0.0.1", port: 2 },
 *   encrypted: false,
 *   close() {},
 * };
 * console.assert(directWriter(conn) === undefined);
 * ```
 */
export function directWriter(conn: Conn): ConnWriter | undefined {
  const maybe = conn as MaybeDirect;
  return maybe[DIRECT] ?? maybe[DIRECT_WRITER];
}

/**
 * The result of a read that saw the end of input.
 *
 * @example
 * ```ts
 * import { DONE } from "./_direct.ts";
 * console.assert(DONE.done);
 * ```
 */
export const DONE: ReadableStreamReadDoneResult<Uint8Array> = Object.freeze({
  done: true,
  value: undefined,
});
