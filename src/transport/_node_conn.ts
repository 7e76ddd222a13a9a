/**
 * Internal: the one bridge from a `node:net` or `node:tls` socket (all three
 * runtimes ship them) to a {@linkcode Conn}: plain Node connections, POP3S
 * connections and every STLS upgrade go through it.
 *
 * Reads are pull-based: the socket is paused unless the core has a read
 * pending, and the Web stream's high-water mark is 0, so nothing is read
 * ahead; between reads the socket holds no bytes of ours, and STLS can hand
 * it to `tls.TLSSocket` with the ClientHello unread (`Duplex.toWeb` keeps the
 * socket flowing and loses such bytes). A write resolves at once unless
 * `socket.write()` returned false, then on `drain`.
 *
 * @module
 */

import type { Duplex } from "node:stream";
import type { Conn, NetAddr } from "./types.ts";

/** What the bridge needs of a `net.Socket` or `tls.TLSSocket`. */
export type NodeSocket = Duplex & {
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
};

/** How {@linkcode fromNodeSocket} wraps a socket. */
export interface NodeConnOptions {
  /** Whether the bytes travel inside TLS. */
  encrypted: boolean;
  /**
   * Settles when the socket can carry bytes (a TLS handshake is done):
   * writes wait for it and fail when it rejects; `close()` before it
   * destroys the socket at once.
   */
  ready?: Promise<unknown>;
  /** Where to read the addresses from, when not `socket` (a TLS socket's raw socket). */
  addresses?: NodeSocket;
  /** STLS: upgrades `socket` once this bridge has let go of it. */
  startTls?: (socket: NodeSocket) => Promise<Conn>;
}

/** Milliseconds a closing socket may take to flush before it is cut. */
const CLOSE_GRACE = 2000;

function addr(host: string | undefined, port: number | undefined): NetAddr {
  return { hostname: host ?? "", port: port ?? 0 };
}

/**
 * Wraps a node socket as a {@linkcode Conn}.
 *
 * @example
 * ```ts ignore
 * const conn = fromNodeSocket(socket, { encrypted: false });
 * ```
 */
export function fromNodeSocket(
  socket: NodeSocket,
  options: NodeConnOptions,
): Conn {
  let reading = true; // the readable is still open
  let closed = false;
  let ready = options.ready === undefined;
  options.ready?.then(() => ready = true, () => {});
  let drain: { resolve(): void; reject(error: unknown): void } | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const gone = () => new Error("Cannot write: the connection closed");
  socket.pause();
  const listeners = {
    data(chunk: Uint8Array) {
      if (!reading) return;
      controller.enqueue(
        new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      );
      if ((controller.desiredSize ?? 0) <= 0) socket.pause();
    },
    end() {
      if (reading) reading = false, controller.close();
    },
    close() {
      if (reading) reading = false, controller.close();
      drain?.reject(gone());
      drain = undefined;
    },
    drain() {
      drain?.resolve();
      drain = undefined;
    },
  };
  for (const [event, fn] of Object.entries(listeners)) socket.on(event, fn);
  // Errors surface through "close"; an unhandled "error" would crash Node.
  socket.on("error", () => {});
  let unflushed = 0; // writes whose callback has not run
  let flushed: (() => void) | undefined; // the end() that waits for them
  const written = () => {
    if (--unflushed === 0) flushed?.();
  };
  function send(chunk: Uint8Array): Promise<void> | undefined {
    if (closed || socket.destroyed) throw gone();
    unflushed++;
    if (socket.write(chunk, written)) return;
    return new Promise<void>((resolve, reject) => {
      drain = { resolve, reject };
    });
  }
  const from = options.addresses ?? socket;
  const conn: Conn = {
    readable: new ReadableStream<Uint8Array>({
      start: (c) => void (controller = c),
      pull() {
        // A socket that closed before this bridge saw it ends the stream.
        if (socket.destroyed) listeners.close();
        else socket.resume();
      },
      cancel() {
        reading = false;
        socket.pause();
      },
    }, { highWaterMark: 0 }),
    writable: new WritableStream<Uint8Array>({
      write: (chunk) =>
        ready ? send(chunk) : options.ready!.then(() => send(chunk)),
      close: () => new Promise<void>((resolve) => socket.end(() => resolve())),
      abort: () => void socket.destroy(),
    }),
    remoteAddr: addr(from.remoteAddress, from.remotePort),
    localAddr: addr(from.localAddress, from.localPort),
    encrypted: options.encrypted,
    close() {
      if (closed) return;
      closed = true;
      // A handshake would have to finish first: cut the connection.
      if (!ready) return void socket.destroy();
      // End once every write callback has run. `writableLength > 0` is no
      // sign of a client that stopped reading: a TLS socket counts records
      // still on their way there (destroying then lost the last replies on
      // Deno). A client that does not read is cut after CLOSE_GRACE.
      const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE);
      socket.once("close", () => clearTimeout(timer));
      const end = () => void socket.end(() => socket.destroy());
      if (unflushed === 0) end();
      else flushed = end;
    },
  };
  const upgrade = options.startTls;
  if (upgrade) {
    conn.startTls = () => {
      // Let go of the socket: TLSSocket takes it over with any unread bytes.
      reading = false;
      for (const [event, fn] of Object.entries(listeners)) {
        socket.off(event, fn);
      }
      return upgrade(socket);
    };
  }
  return conn;
}
