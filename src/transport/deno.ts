/**
 * The Deno adapter: `Deno.listen` connections as Web Streams. STLS: Deno
 * has no server-side `startTls` (denoland/deno#18451), so the upgrade runs
 * `node:tls` over the connection's streams (Deno 2 and later).
 *
 * The conn's streams are our own, over `conn.read()` and `conn.write()`:
 * Deno's `conn.readable` holds a 64 KiB buffer per pending read (8 KiB
 * through the BYOB reader used before) plus a byte stream's worth of objects. Reads happen
 * only while the core has one pending, into a buffer sized by the last read
 * (512 bytes after a command line), so an idle connection holds 512 bytes.
 * Between reads nothing is pending on the socket, so `startTls()` can hand
 * both streams to `node:tls` once the core has released its reader and
 * writer.
 *
 * @module
 */

import type { SecureContext } from "node:tls";
import { closeOnce } from "../_util/close_once.ts";
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
 * The source of a conn's readable: reads `conn` with `conn.read()` into a
 * fresh buffer of {@linkcode nextReadSize}, only while the consumer has a
 * read pending (`highWaterMark` 0). Deno's own `conn.readable` is never
 * touched: its byte stream and reader cost more than this per connection.
 * Cancelling closes the connection; end of input closes the stream only
 * (the replies to a half-closed client's last commands can still go out).
 * A class, not closures: its methods are shared by every connection.
 */
class Source implements UnderlyingDefaultSource<Uint8Array> {
  readonly conn: Deno.Conn;
  readonly close: () => void;
  size = MIN_READ;
  open = true;

  constructor(conn: Deno.Conn, close: () => void) {
    this.conn = conn;
    this.close = close;
  }

  async pull(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    const buffer = new Uint8Array(this.size);
    let got: number | null;
    try {
      got = await this.conn.read(buffer);
    } catch (error) {
      if (this.open) this.open = false, controller.error(error);
      return;
    }
    if (!this.open) return;
    if (got === null) {
      this.open = false;
      controller.close();
      return;
    }
    this.size = nextReadSize(buffer.length, got);
    controller.enqueue(
      got === buffer.length ? buffer : buffer.subarray(0, got),
    );
  }

  cancel(): void {
    this.open = false;
    this.close();
  }
}

/** The sink of a conn's writable: each chunk whole with `conn.write()`; closing closes the connection. */
class Sink implements UnderlyingSink<Uint8Array> {
  readonly conn: Deno.Conn;
  readonly close: () => void;

  constructor(conn: Deno.Conn, close: () => void) {
    this.conn = conn;
    this.close = close;
  }

  async write(chunk: Uint8Array): Promise<void> {
    let at = await this.conn.write(chunk);
    while (at < chunk.length) at += await this.conn.write(chunk.subarray(at));
  }

  abort(): void {
    this.close();
  }
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
  const close = () => wrapped.close();
  const wrapped: Conn = {
    readable: new ReadableStream(new Source(conn, close), { highWaterMark: 0 }),
    writable: new WritableStream(new Sink(conn, close)),
    remoteAddr: toNetAddr(conn.remoteAddr),
    localAddr: toNetAddr(conn.localAddr),
    encrypted,
    // The streams may have closed the resource already.
    close: closeOnce(() => conn.close()),
  };
  if (tls) wrapped.startTls = () => startTlsOverStreams(wrapped, tls);
  return wrapped;
}

/**
 * Listens on TCP with `Deno.listen`; accepted connections have no-delay set
 * (replies are written whole, so Nagle only adds latency). With
 * `options.tls`, connections offer STLS through one shared `SecureContext`.
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
  });
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
