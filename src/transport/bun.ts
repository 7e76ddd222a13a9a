/**
 * The Bun adapter: `Bun.listen` handlers bridged to Web Streams. Reads are
 * pull-based (the socket is paused unless the core has a read pending), and
 * a write resolves only once the kernel has taken every byte: the tail that
 * `socket.write()` left waits for `drain`.
 *
 * STLS (`options.tls`) runs `node:tls` over the conn's paused Web streams.
 *
 * @module
 */

import { ConnQueue } from "./_conn_queue.ts";
import { secureContext, startTlsOverStreams } from "./_node_tls.ts";
import type { Conn, Listener, ListenOptions } from "./types.ts";

/** The parts of Bun's socket and `listen` used here (Bun's types are not loaded). */
type BunSocket =
  & Record<"remoteAddress" | "localAddress", string>
  & Record<"remotePort" | "localPort", number>
  & Record<"pause" | "resume" | "end" | "terminate", () => void>
  & { data: Bridge; write(data: Uint8Array): number }; // bytes taken, -1: closed
type Handlers = Record<"open" | "drain" | "end", (s: BunSocket) => void> & {
  data(s: BunSocket, data: Uint8Array): void;
  close(s: BunSocket, error?: unknown): void;
  error(s: BunSocket, error: unknown): void;
};
type BunListen = (options: {
  hostname: string;
  port: number;
  socket: Handlers;
}) => { hostname: string; port: number; stop(closeActive?: boolean): void };

/** What the handlers of one socket feed. */
interface Bridge {
  conn: Conn;
  onData(data: Uint8Array): void;
  onDrain(): void;
  onClose(error?: unknown, readOnly?: boolean): void;
}

const closedError = () => new Error("Cannot write: the connection closed");

function bridge(socket: BunSocket): Bridge {
  let reader!: ReadableStreamDefaultController<Uint8Array>;
  let reading = true, ended = false; // the readable is open; writes are over
  let tail: Uint8Array | undefined; // bytes write() has not taken yet
  let waiter: PromiseWithResolvers<void> | undefined; // of the pending write
  socket.pause();
  function flush(): void {
    if (!tail || !waiter) return;
    const n = socket.write(tail);
    if (n < 0) return fail(closedError());
    tail = n < tail.length ? tail.subarray(n) : undefined;
    if (!tail) waiter.resolve(), waiter = undefined;
  }
  function fail(error: unknown): void {
    tail = undefined;
    waiter?.reject(error);
    waiter = undefined;
  }
  const conn: Conn = {
    readable: new ReadableStream<Uint8Array>({
      start: (controller) => void (reader = controller),
      pull: () => socket.resume(),
      cancel: () => void (reading = false),
    }, { highWaterMark: 0 }),
    writable: new WritableStream<Uint8Array>({
      write(chunk) {
        if (ended) throw closedError();
        tail = chunk;
        const done = waiter = Promise.withResolvers<void>();
        flush();
        return done.promise;
      },
      close: () => socket.end(),
      abort: () => socket.terminate(),
    }),
    remoteAddr: { hostname: socket.remoteAddress, port: socket.remotePort },
    localAddr: { hostname: socket.localAddress, port: socket.localPort },
    encrypted: false,
    close() {
      if (ended) return;
      ended = true;
      // Unsent bytes would hold end() back: cut the connection instead.
      if (tail) socket.terminate();
      else socket.end();
    },
  };
  return {
    conn,
    onData(data) {
      if (!reading) return;
      reader.enqueue(data);
      if ((reader.desiredSize ?? 0) <= 0) socket.pause();
    },
    onDrain: flush,
    onClose(error, readOnly) {
      if (!readOnly) ended = true, fail(error ?? closedError());
      if (!reading) return;
      reading = false;
      if (error) reader.error(error);
      else reader.close();
    },
  };
}

/**
 * Listens on TCP with `Bun.listen` (Bun sets no-delay on its sockets).
 *
 * @param options Hostname and port to bind.
 * @returns A listener whose connections bridge Bun's socket handlers to Web Streams.
 *
 * @example Listening on a free port
 * ```ts ignore
 * import { listenBun } from "./bun.ts";
 * const listener = listenBun({ hostname: "127.0.0.1", port: 0 });
 * console.log(listener.addr.port);
 * await listener.close();
 * ```
 */
export function listenBun(options: ListenOptions): Listener {
  const host = globalThis as unknown as { Bun: { listen: BunListen } };
  const queue = new ConnQueue();
  const tls = options.tls ? secureContext(options.tls) : undefined;
  const server = host.Bun.listen({
    hostname: options.hostname,
    port: options.port,
    socket: {
      open(socket) {
        const { conn } = socket.data = bridge(socket);
        if (tls) conn.startTls = () => startTlsOverStreams(conn, tls);
        queue.push(conn);
      },
      data: (socket, data) => socket.data.onData(data),
      drain: (socket) => socket.data.onDrain(),
      end: (socket) => socket.data.onClose(undefined, true), // client's FIN
      close: (socket, error) => socket.data?.onClose(error),
      error: (socket, error) => socket.data?.onClose(error),
    },
  });
  return {
    addr: { hostname: server.hostname, port: server.port },
    close() {
      if (queue.closed) return;
      queue.close();
      server.stop(false); // stop accepting; open sessions go on
    },
    [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](),
  };
}
