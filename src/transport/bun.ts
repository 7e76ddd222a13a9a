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
import { DIRECT, type DirectIo, DONE } from "./_direct.ts";
import { directReadable, directWritable } from "./_direct_streams.ts";
import type { Conn, Listener, ListenOptions, NetAddr } from "./types.ts";

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
  reusePort?: boolean;
  socket: Handlers;
}) => { hostname: string; port: number; stop(closeActive?: boolean): void };

const closedError = () => new Error("Cannot write: the connection closed");

/**
 * What the handlers of one socket feed: the {@linkcode Conn} itself, the
 * source of its readable and its {@linkcode DirectIo}, one object and its
 * methods instead of a dozen closures per connection (an idle connection is
 * mostly such objects). The session reads and writes through the direct
 * path; the Web streams are made only when asked for (STLS).
 */
class Bridge implements Conn, DirectIo, UnderlyingDefaultSource<Uint8Array> {
  readonly socket: BunSocket;
  readonly remoteAddr: NetAddr;
  readonly localAddr: NetAddr;
  readonly encrypted = false;
  readonly [DIRECT]: DirectIo = this;
  declare startTls?: () => Promise<Conn>;
  reader: ReadableStreamDefaultController<Uint8Array> | undefined;
  reading = true; // the readable is open
  ended = false; // writes are over
  tail: Uint8Array | undefined; // bytes write() has not taken yet
  waiter: PromiseWithResolvers<void> | undefined; // of the pending write
  /** The pending direct read. */
  pending:
    | {
      resolve(result: ReadableStreamReadResult<Uint8Array>): void;
      reject(error: unknown): void;
    }
    | undefined;
  /** Bytes that came while no direct read was pending. */
  queued: Uint8Array[] | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  constructor(socket: BunSocket) {
    this.socket = socket;
    socket.pause();
    this.remoteAddr = {
      hostname: socket.remoteAddress,
      port: socket.remotePort,
    };
    this.localAddr = { hostname: socket.localAddress, port: socket.localPort };
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= directReadable(this);
  }

  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= directWritable(this);
  }

  /** Closing the writable ends the socket. */
  closeWritable(): void {
    this.socket.end();
  }

  /** Aborting the writable cuts the connection. */
  abortWritable(): void {
    this.socket.terminate();
  }

  /** The conn's `close()`. */
  close(): void {
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

  /** The next bytes, or `done` at the end of input or after `cancel()`. */
  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const value = this.queued?.shift();
    if (value !== undefined) return Promise.resolve({ done: false, value });
    if (!this.reading) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.resume();
    });
  }

  cancel(): Promise<void> {
    this.reading = false;
    this.settleRead(DONE);
    return Promise.resolve();
  }

  /** Nothing is locked: the session lets go before STLS by not reading. */
  releaseLock(): void {}

  settleRead(result: ReadableStreamReadResult<Uint8Array>): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve(result);
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
    const reader = this.reader;
    if (reader !== undefined) {
      reader.enqueue(data);
      if ((reader.desiredSize ?? 0) <= 0) this.socket.pause();
      return;
    }
    this.socket.pause();
    if (this.pending !== undefined) {
      this.settleRead({ done: false, value: data });
    } else (this.queued ??= []).push(data);
  }

  onClose(error?: unknown, readOnly?: boolean): void {
    if (!readOnly) this.ended = true, this.fail(error ?? closedError());
    if (!this.reading) return;
    this.reading = false;
    const reader = this.reader;
    if (reader !== undefined) {
      if (error) reader.error(error);
      else reader.close();
    } else if (error) {
      const pending = this.pending;
      this.pending = undefined;
      pending?.reject(error);
    } else this.settleRead(DONE);
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
    ...(options.reusePort ? { reusePort: true } : {}),
    socket: {
      open(socket) {
        const conn = socket.data = new Bridge(socket);
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
