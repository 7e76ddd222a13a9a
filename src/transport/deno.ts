/**
 * The Deno adapter: `Deno.listen` connections as Web Streams. STLS: Deno
 * has no server-side `startTls` (denoland/deno#18451), so the upgrade runs
 * `node:tls` over the connection's streams (Deno 2 and later).
 *
 * The session reads and writes a conn through its direct path
 * (`conn.read()` into a buffer sized by the last read, 512 bytes after a
 * command line, and `conn.write()`), so an idle connection holds 512 bytes
 * and no Web stream. Deno's `conn.readable` holds a 64 KiB buffer per
 * pending read (8 KiB through a BYOB reader) plus a byte stream's worth of
 * objects, and is never touched. The conn's own `readable` and `writable`
 * are made on first use, over the same reads and writes; between reads
 * nothing is pending on the socket, so `startTls()` can hand both streams
 * to `node:tls` once the core has let go of the connection.
 *
 * @module
 */

import type { SecureContext } from "node:tls";
import { closeOnce } from "../_util/close_once.ts";
import { DIRECT, type DirectIo, DONE } from "./_direct.ts";
import { directReadable, directWritable } from "./_direct_streams.ts";
import { secureContext, startTlsOverStreams } from "./_node_tls.ts";
import type { Conn, Listener, ListenOptions, NetAddr } from "./types.ts";

function toNetAddr(addr: Deno.Addr): NetAddr {
  return addr.transport === "tcp" || addr.transport === "udp"
    ? { hostname: addr.hostname, port: addr.port }
    : { hostname: "", port: 0 };
}

/** Bytes the first read after a short one asks for: a command line is at most 255 octets. */
export const MIN_READ = 512;
/** The largest read: one TLS record (STLS runs `node:tls` over these bytes). */
export const MAX_READ = 16 * 1024;

/**
 * The size of the next read: twice the last one when it filled its buffer
 * (a client sending a lot), back to {@linkcode MIN_READ} otherwise. An idle
 * connection's pending read, which follows a short command, thus holds only
 * {@linkcode MIN_READ} bytes.
 *
 * @example
 * ```ts ignore
 * nextReadSize(512, 512); // 1024
 * nextReadSize(16384, 20); // 512
 * ```
 */
export function nextReadSize(size: number, got: number): number {
  return got < size ? MIN_READ : Math.min(size * 2, MAX_READ);
}

/**
 * One Deno connection as a {@linkcode Conn}. Its {@linkcode DirectIo} reads
 * with `conn.read()` into a fresh buffer of {@linkcode nextReadSize}, one
 * read at a time, and writes each chunk whole with `conn.write()`; the
 * session uses it and no Web stream is made. `readable` and `writable` are
 * made on first use, over the same object (the source pulls only while the
 * consumer has a read pending, `highWaterMark` 0): STLS hands them to
 * `node:tls`. Deno's own `conn.readable` is never touched: its byte stream
 * and reader cost more than this per connection. Cancelling closes the
 * connection; end of input ends the reads only (the replies to a
 * half-closed client's last commands can still go out). A class, not
 * closures: its methods are shared by every connection.
 */
class DenoConn implements Conn, DirectIo, UnderlyingDefaultSource<Uint8Array> {
  readonly conn: Deno.Conn;
  readonly remoteAddr: NetAddr;
  readonly localAddr: NetAddr;
  readonly encrypted: boolean;
  readonly [DIRECT]: DirectIo = this;
  declare startTls?: () => Promise<Conn>;
  size = MIN_READ;
  /** Octets the kernel took so far. */
  taken = 0;
  open = true;
  closed = false;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  constructor(conn: Deno.Conn, encrypted: boolean) {
    this.conn = conn;
    this.remoteAddr = toNetAddr(conn.remoteAddr);
    this.localAddr = toNetAddr(conn.localAddr);
    this.encrypted = encrypted;
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= directReadable(this);
  }

  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= directWritable(this);
  }

  /** Aborting the writable closes the connection. */
  abortWritable(): void {
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // The streams may have closed the resource already.
    }
  }

  /** The next bytes, or `done` at the end of input or after `cancel()`. */
  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    if (!this.open) return Promise.resolve(DONE);
    const buffer = new Uint8Array(this.size);
    return this.conn.read(buffer).then((got) => {
      if (got === null || !this.open) {
        this.open = false;
        return DONE;
      }
      this.size = nextReadSize(buffer.length, got);
      return {
        done: false,
        value: got === buffer.length ? buffer : buffer.subarray(0, got),
      };
    }, (error) => {
      if (!this.open) return DONE; // cancelled: the read fails as it closes
      this.open = false;
      throw error;
    });
  }

  async pull(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await this.read();
    } catch (error) {
      controller.error(error);
      return;
    }
    if (result.done) controller.close();
    else controller.enqueue(result.value);
  }

  /** Stops reading and closes the connection. */
  cancel(): Promise<void> {
    this.open = false;
    this.close();
    return Promise.resolve();
  }

  /** Nothing is locked: the session lets go before STLS by not reading. */
  releaseLock(): void {}

  async write(chunk: Uint8Array): Promise<void> {
    let at = await this.conn.write(chunk);
    this.taken += at;
    while (at < chunk.length) {
      const n = await this.conn.write(chunk.subarray(at));
      at += n;
      this.taken += n;
    }
  }

  /** Octets the kernel took: every `conn.write()` settles with its part. */
  progress(): number {
    return this.taken;
  }

  /** A write resolves once the kernel took all of it: nothing held. */
  released(): void {}
}

/**
 * Wraps an accepted Deno connection as a {@linkcode Conn}.
 *
 * @example
 * ```ts ignore
 * const conn = fromDenoConn(await listener.accept(), false);
 * ```
 */
export function fromDenoConn(
  conn: Deno.Conn,
  encrypted: boolean,
  tls?: SecureContext,
): Conn {
  const wrapped = new DenoConn(conn, encrypted);
  if (tls) wrapped.startTls = () => startTlsOverStreams(wrapped, tls);
  return wrapped;
}

/**
 * Listens on TCP with `Deno.listen`; accepted connections have no-delay set
 * (replies are written whole, so Nagle only adds latency). With
 * `options.tls`, connections offer STLS through one shared `SecureContext`.
 * `options.reusePort` needs `--unstable-net` (without it Deno ends the
 * process); `defaultSocket` checks for it.
 *
 * @example
 * ```ts ignore
 * import { listenDeno } from "./deno.ts";
 * const listener = listenDeno({ hostname: "127.0.0.1", port: 0 });
 * await listener.close();
 * ```
 */
export function listenDeno(options: ListenOptions): Listener {
  const tls = options.tls ? secureContext(options.tls) : undefined;
  const listener = Deno.listen({
    hostname: options.hostname,
    port: options.port,
    // Only asked for under --unstable-net (see defaultSocket).
    ...(options.reusePort ? { reusePort: true } : {}),
  } as Deno.TcpListenOptions);
  let closed = false;
  const closeListener = closeOnce(() => listener.close());
  return {
    addr: toNetAddr(listener.addr),
    close() {
      closed = true;
      closeListener();
    },
    async *[Symbol.asyncIterator]() {
      while (!closed) {
        let conn: Deno.TcpConn;
        try {
          conn = await listener.accept();
        } catch (error) {
          if (closed || error instanceof Deno.errors.BadResource) return;
          // A transient accept failure (EMFILE and the like): wait, then go on.
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        try {
          conn.setNoDelay(true);
        } catch {
          // Not a TCP connection.
        }
        yield fromDenoConn(conn, false, tls);
      }
    },
  };
}
