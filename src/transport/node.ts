/**
 * The Node adapter: `node:net` bridged to Web Streams by hand.
 *
 * `Duplex.toWeb` is not used: it keeps the socket flowing, so bytes that
 * arrive while nothing reads land in an abandoned stream. Here the socket is
 * paused unless the core has a read pending, and its read high-water mark is
 * 0, so Node reads nothing ahead: between reads the socket holds no buffered
 * bytes and STLS (`startTls()`, with `options.tls`) wraps it in
 * `tls.TLSSocket` once the core has released its reader and writer and this
 * bridge's listeners are removed. A write resolves at once unless
 * `socket.write()` returns false, then on `drain`; with a write high-water
 * mark of 0 that means once the kernel has taken the bytes.
 *
 * @module
 */

import * as net from "node:net";
import type { SecureContext } from "node:tls";
import { ConnQueue } from "./_conn_queue.ts";
import { secureContext, startTlsOnSocket } from "./_node_tls.ts";
import type { Conn, Listener, ListenOptions } from "./types.ts";

function fromSocket(socket: net.Socket, tls?: SecureContext): Conn {
  let reading = true; // the readable is still open
  let closed = false;
  let drain: { resolve(): void; reject(error: unknown): void } | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  socket.pause();
  const listeners = {
    data(chunk: Uint8Array) {
      if (!reading) return;
      controller.enqueue(chunk);
      if ((controller.desiredSize ?? 0) <= 0) socket.pause();
    },
    end() {
      if (reading) reading = false, controller.close();
    },
    close() {
      if (reading) reading = false, controller.close();
      drain?.reject(new Error("Cannot write: the connection closed"));
      drain = undefined;
    },
    drain() {
      drain?.resolve();
      drain = undefined;
    },
  };
  for (const [event, fn] of Object.entries(listeners)) socket.on(event, fn);
  const readable = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    pull: () => void socket.resume(),
    cancel() {
      reading = false;
      socket.pause();
    },
  }, { highWaterMark: 0 });
  socket.on("error", () => {
    // Reported through "close"; without a listener Node would throw.
  });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (closed || socket.destroyed) {
        throw new Error("Cannot write: the connection closed");
      }
      if (socket.write(chunk)) return;
      return new Promise<void>((resolve, reject) => {
        drain = { resolve, reject };
      });
    },
    close: () => new Promise<void>((resolve) => socket.end(() => resolve())),
    abort: () => void socket.destroy(),
  });
  const conn: Conn = {
    readable,
    writable,
    remoteAddr: {
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    },
    localAddr: {
      hostname: socket.localAddress ?? "",
      port: socket.localPort ?? 0,
    },
    encrypted: false,
    close() {
      if (closed) return;
      closed = true;
      // Bytes still queued would hold end() back: cut the connection instead.
      if (socket.writableLength > 0) socket.destroy();
      else socket.end(() => socket.destroy());
    },
  };
  if (tls) {
    // STLS: detach this bridge, then tls.TLSSocket takes over the socket.
    conn.startTls = () => {
      reading = false;
      for (const [event, fn] of Object.entries(listeners)) {
        socket.off(event, fn);
      }
      return startTlsOnSocket(socket, conn, tls);
    };
  }
  return conn;
}

/**
 * Listens on TCP with `node:net`, with no-delay set on every connection.
 *
 * @param options Hostname and port to bind.
 * @returns A listener that resolves its address once bound.
 *
 * @example Listening on a free port
 * ```ts ignore
 * import { listenNode } from "./node.ts";
 * const listener = await listenNode({ hostname: "127.0.0.1", port: 0 });
 * console.log(listener.addr.port);
 * await listener.close();
 * ```
 */
export async function listenNode(options: ListenOptions): Promise<Listener> {
  const tls = options.tls ? secureContext(options.tls) : undefined;
  const queue = new ConnQueue();
  const server = net.createServer({
    noDelay: true,
    allowHalfOpen: true,
    pauseOnConnect: true,
    highWaterMark: 0,
  }, (socket) => queue.push(fromSocket(socket, tls)));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: options.hostname, port: options.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", () => {
    // Accept errors (EMFILE and the like) are transient: keep listening.
  });
  const bound = server.address() as net.AddressInfo;
  return {
    addr: { hostname: bound.address, port: bound.port },
    close() {
      if (queue.closed) return;
      queue.close();
      server.close(); // its callback would wait for open sessions
    },
    [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](),
  };
}
