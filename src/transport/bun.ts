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

const closedError = () => new Error("Cannot write: the connection closed");

/**
 * What the handlers of one socket feed, and the source of its readable: one
 * object and its methods instead of a dozen closures per connection (an idle
 * connection is mostly such objects).
 */
class Bridge implements UnderlyingDefaultSource<Uint8Array> {
  readonly socket: BunSocket;
  readonly conn: Conn;
  reader!: ReadableStreamDefaultController<Uint8Array>;
  reading = true; // the readable is open
  ended = false; // writes are over
  tail: Uint8Array | undefined; // bytes write() has not taken yet
  waiter: PromiseWithResolvers<void> | undefined; // of the pending write

  constructor(socket: BunSocket) {
    this.socket = socket;
    socket.pause();
    this.conn = {
      readable: new ReadableStream<Uint8Array>(this, { highWaterMark: 0 }),
      writable: new WritableStream<Uint8Array>(new Sink(this)),
      remoteAddr: { hostname: socket.remoteAddress, port: socket.remotePort },
      localAddr: { hostname: socket.localAddress, port: socket.localPort },
      encrypted: false,
      close: () => this.end(),
    };
  }

  /** The conn's `close()`. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    // Unsent bytes would hold end() back: cut the connection instead.
    if (this.tail) this.socket.terminate();
    else this.socket.end();
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.reader = controller;
  }

  pull(): void {
    this.socket.resume();
  }

  cancel(): void {
    this.reading = false;
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.ended) throw closedError();
    this.tail = chunk;
    const done = this.waiter = Promise.withResolvers<void>();
    this.onDrain();
    return done.promise;
  }

  /** Writes what is left of the pending write. */
  onDrain(): void {
    const { tail, waiter } = this;
    if (!tail || !waiter) return;
    const n = this.socket.write(tail);
    if (n < 0) return this.fail(closedError());
    this.tail = n < tail.length ? tail.subarray(n) : undefined;
    if (!this.tail) waiter.resolve(), this.waiter = undefined;
  }

  fail(error: unknown): void {
    this.tail = undefined;
    this.waiter?.reject(error);
    this.waiter = undefined;
  }

  onData(data: Uint8Array): void {
    if (!this.reading) return;
    this.reader.enqueue(data);
    if ((this.reader.desiredSize ?? 0) <= 0) this.socket.pause();
  }

  onClose(error?: unknown, readOnly?: boolean): void {
    if (!readOnly) this.ended = true, this.fail(error ?? closedError());
    if (!this.reading) return;
    this.reading = false;
    if (error) this.reader.error(error);
    else this.reader.close();
  }
}

/** The sink of a bridge's writable (its own object: a source's `start` differs). */
class Sink implements UnderlyingSink<Uint8Array> {
  readonly bridge: Bridge;
  constructor(bridge: Bridge) {
    this.bridge = bridge;
  }
  write(chunk: Uint8Array): Promise<void> {
    return this.bridge.write(chunk);
  }
  close(): void {
    this.bridge.socket.end();
  }
  abort(): void {
    this.bridge.socket.terminate();
  }
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
        const { conn } = socket.data = new Bridge(socket);
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
