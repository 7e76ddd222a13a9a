/**
 * Internal: a `node:net` or `node:tls` socket as a {@linkcode Conn}, for the
 * runtimes' `node:` sockets (all three ship them).
 *
 * @module
 */

import type { Duplex } from "node:stream";
import type { Conn } from "./types.ts";

/** What the bridge needs of a `net.Socket` or `tls.TLSSocket`. */
export type NodeSocket = Duplex & {
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
};

/**
 * Wraps a node socket as a {@linkcode Conn}. Reads happen only when the
 * core asks (no read-ahead into the Web stream), so a socket can still be
 * handed to `TLSSocket` after STLS with the ClientHello unread.
 */
export function fromNodeSocket(
  socket: NodeSocket,
  encrypted: boolean,
  startTls?: () => Promise<Conn>,
): Conn {
  let closed = false;
  let finished = false; // the readable is closed or cancelled
  let stop: (() => void) | undefined; // ends a pending pull
  const readable = new ReadableStream<Uint8Array>({
    pull(controller) {
      return new Promise<void>((resolve) => {
        const attempt = () => {
          if (finished) return stop?.();
          const chunk = socket.read() as Uint8Array | null;
          if (chunk !== null) {
            controller.enqueue(
              new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
            );
          } else if (socket.readableEnded || socket.destroyed) {
            finished = true;
            controller.close();
          } else return;
          stop!();
        };
        stop = () => {
          socket.off("readable", attempt);
          socket.off("end", attempt);
          socket.off("close", attempt);
          stop = undefined;
          resolve();
        };
        socket.on("readable", attempt);
        socket.on("end", attempt);
        socket.on("close", attempt);
        attempt();
      });
    },
    cancel() {
      // A cancelled stream must not be closed again when the socket ends.
      finished = true;
      stop?.();
      socket.destroy();
    },
  }, { highWaterMark: 0 });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      return new Promise<void>((resolve, reject) => {
        if (socket.destroyed) return reject(new Error("Socket is closed"));
        socket.write(chunk, (error) => error ? reject(error) : resolve());
      });
    },
    close() {
      return new Promise<void>((resolve) => socket.end(resolve));
    },
    abort() {
      socket.destroy();
    },
  });
  // Errors surface through the streams; an unhandled "error" would crash Node.
  socket.on("error", () => {});
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
    encrypted,
    close() {
      if (closed) return;
      closed = true;
      socket.destroy();
    },
  };
  if (startTls) conn.startTls = startTls;
  return conn;
}
