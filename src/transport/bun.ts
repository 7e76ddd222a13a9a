/**
 * The Bun adapter: bridges the handlers of `Bun.listen` to Web Streams with
 * backpressure both ways.
 *
 * Reading is pull-based: the socket stays paused unless the core has a read
 * pending, so nothing is read ahead. Writing keeps the tail that
 * `socket.write()` did not take and sends it on `drain`; a write resolves only
 * once the kernel has taken every byte, so a slow client holds the server to
 * one chunk in flight. Between reads the raw socket is paused with nothing
 * queued: a future `startTls()` can hand it to `socket.upgradeTLS()` once the
 * core has released its reader and writer.
 *
 * @module
 */

import type { Conn, Listener, ListenOptions, NetAddr } from "./types.ts";

/** The part of Bun's `Socket` this adapter uses (Bun's types are not loaded here). */
interface BunSocket {
  data: Bridge;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  write(data: Uint8Array): number;
  pause(): void;
  resume(): void;
  end(): void;
  terminate(): void;
}

interface BunListener {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}

interface BunApi {
  listen(options: {
    hostname: string;
    port: number;
    socket: {
      open(socket: BunSocket): void;
      data(socket: BunSocket, data: Uint8Array): void;
      drain(socket: BunSocket): void;
      end(socket: BunSocket): void;
      close(socket: BunSocket, error?: unknown): void;
      error(socket: BunSocket, error: unknown): void;
    };
  }): BunListener;
}

/** Per-socket state: the stream ends the handlers feed. */
interface Bridge {
  conn: Conn;
  onData(data: Uint8Array): void;
  onDrain(): void;
  onEof(error?: unknown): void;
  onClose(error?: unknown): void;
}

function bridge(socket: BunSocket): Bridge {
  let readController!: ReadableStreamDefaultController<Uint8Array>;
  let reading = true; // the readable is still open
  let tail: Uint8Array | undefined; // bytes write() did not take yet
  let waiter: { resolve(): void; reject(error: unknown): void } | undefined;
  let ended = false;
  socket.pause();
  const readable = new ReadableStream<Uint8Array>({
    start: (c) => void (readController = c),
    pull: () => socket.resume(),
    cancel: () => void (reading = false),
  }, { highWaterMark: 0 });
  function flush(): void {
    if (!tail || !waiter) return;
    const n = socket.write(tail);
    if (n < 0) return fail(new Error("Cannot write: the socket is closed"));
    tail = n < tail.length ? tail.subarray(n) : undefined;
    if (!tail) waiter.resolve(), waiter = undefined;
  }
  function fail(error: unknown): void {
    tail = undefined;
    waiter?.reject(error);
    waiter = undefined;
  }
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (ended) throw new Error("Cannot write: the socket is closed");
      tail = chunk;
      return new Promise<void>((resolve, reject) => {
        waiter = { resolve, reject };
        flush();
      });
    },
    close: () => socket.end(),
    abort: () => socket.terminate(),
  });
  const addr = (hostname: string, port: number): NetAddr => ({
    hostname,
    port,
  });
  const conn: Conn = {
    readable,
    writable,
    remoteAddr: addr(socket.remoteAddress, socket.remotePort),
    localAddr: addr(socket.localAddress, socket.localPort),
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
      readController.enqueue(data);
      if ((readController.desiredSize ?? 0) <= 0) socket.pause();
    },
    onDrain: flush,
    onEof(error) {
      if (!reading) return;
      reading = false;
      if (error) readController.error(error);
      else readController.close();
    },
    onClose(error) {
      ended = true;
      fail(error ?? new Error("Cannot write: the connection closed"));
      this.onEof(error);
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
  const bun = (globalThis as unknown as { Bun: BunApi }).Bun;
  const pending: Conn[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const server = bun.listen({
    hostname: options.hostname,
    port: options.port,
    socket: {
      open(socket) {
        socket.data = bridge(socket);
        if (closed) return socket.data.conn.close();
        pending.push(socket.data.conn);
        wake?.();
      },
      data: (socket, data) => socket.data.onData(data),
      drain: (socket) => socket.data.onDrain(),
      end: (socket) => socket.data.onEof(),
      close: (socket, error) => socket.data?.onClose(error),
      error: (socket, error) => socket.data?.onClose(error),
    },
  });
  return {
    addr: { hostname: server.hostname, port: server.port },
    close() {
      if (closed) return;
      closed = true;
      server.stop(false);
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const conn = pending.shift();
        if (conn) yield conn;
        else if (closed) return;
        else await new Promise<void>((resolve) => wake = resolve);
      }
    },
  };
}
