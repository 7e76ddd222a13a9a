/**
 * The Deno adapter: `Deno.listen` already speaks Web Streams. STLS: Deno
 * has no server-side `startTls` (denoland/deno#18451), so the upgrade runs
 * `node:tls` over the connection's streams (Deno 2 and later).
 *
 * Reads go through a BYOB reader into a fresh 8 KiB buffer, and only while
 * the core has a read pending: the default reader would hold a 64 KiB buffer
 * per idle connection. Between reads nothing is pending on the socket, so
 * `startTls()` can hand the small-read stream and `conn.writable` to
 * `node:tls` once the core has released its reader and writer.
 *
 * @module
 */

import type { SecureContext } from "node:tls";
import { secureContext, startTlsOverStreams } from "./_node_tls.ts";
import type { Conn, Listener, ListenOptions, NetAddr } from "./types.ts";

function toNetAddr(addr: Deno.Addr): NetAddr {
  return addr.transport === "tcp" || addr.transport === "udp"
    ? { hostname: addr.hostname, port: addr.port }
    : { hostname: "", port: 0 };
}

/** Bytes per read: a command line is at most 255 octets. */
const READ_SIZE = 8 * 1024;

/** Re-reads a byte stream through a BYOB reader, one small read per pull. */
function smallReads(
  source: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  const reader = source.getReader({ mode: "byob" });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read(new Uint8Array(READ_SIZE));
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
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
  let closed = false;
  const wrapped: Conn = {
    readable: smallReads(conn.readable),
    writable: conn.writable,
    remoteAddr: toNetAddr(conn.remoteAddr),
    localAddr: toNetAddr(conn.localAddr),
    encrypted,
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // The streams may have closed the resource already.
      }
    },
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
  return {
    addr: toNetAddr(listener.addr),
    close() {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
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
