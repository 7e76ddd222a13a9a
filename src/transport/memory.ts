/**
 * In-memory connections and listeners, for tests: a POP3 session driven
 * without sockets. Uses only Web Streams.
 *
 * @module
 */

import { closeOnce } from "../_util/close_once.ts";
import type { Conn, Listener, NetAddr } from "./types.ts";

/** The client end of an in-memory connection. */
export interface MemoryClient {
  /** Bytes from the server. Ends when either side closes. */
  readonly readable: ReadableStream<Uint8Array>;
  /**
   * Bytes to the server. Closing it (`writable.close()`) ends the server's
   * reads but lets the client go on reading, like a TCP half-close.
   */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes both directions; safe to call more than once. */
  close(): void;
}

/** Addresses of an in-memory connection. */
export interface MemoryConnOptions {
  /**
   * The client's address as the server sees it.
   *
   * @default {{ hostname: "127.0.0.1", port: 40000 }}
   */
  remoteAddr?: NetAddr;
  /**
   * The server's address of the connection.
   *
   * @default {{ hostname: "127.0.0.1", port: 110 }}
   */
  localAddr?: NetAddr;
}

interface Pipe {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  end(): void;
}

/**
 * One direction: a TransformStream that passes chunks through. It buffers
 * almost nothing (a write waits until the other end reads), like Go's
 * `net.Pipe`, so a test must read while it writes.
 */
function pipe(): Pipe {
  let controller!: TransformStreamDefaultController<Uint8Array>;
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  return {
    readable: stream.readable,
    writable: stream.writable,
    // Closes the readable end (pending reads resolve `done`) and errors the
    // writable end (pending and later writes reject); the readable end may
    // have been cancelled already.
    end: closeOnce(() => controller.terminate()),
  };
}

/**
 * Creates a connected pair: a {@linkcode MemoryClient} and the server's
 * {@linkcode Conn}. Closing either end ends the other end's reads, so
 * nothing waits forever.
 *
 * @param options Addresses the server's `Conn` reports.
 * @returns `[client, server]`.
 *
 * @example Talking to a POP3 session without sockets
 * ```ts
 * import { memoryConnPair } from "@x/pop3d";
 *
 * const [client, server] = memoryConnPair();
 * const writer = server.writable.getWriter();
 * const reader = client.readable.getReader();
 * // Read while writing: the pair barely buffers.
 * const [read] = await Promise.all([
 *   reader.read(),
 *   writer.write(new TextEncoder().encode("+OK ready\r\n")),
 * ]);
 * console.assert(new TextDecoder().decode(read.value) === "+OK ready\r\n");
 * server.close();
 * console.assert((await reader.read()).done);
 * ```
 */
export function memoryConnPair(
  options: MemoryConnOptions = {},
): [client: MemoryClient, server: Conn] {
  const toServer = pipe();
  const toClient = pipe();
  function close(): void {
    toServer.end();
    toClient.end();
  }
  const client: MemoryClient = {
    readable: toClient.readable,
    writable: toServer.writable,
    close,
  };
  const server: Conn = {
    readable: toServer.readable,
    writable: toClient.writable,
    remoteAddr: { ...(options.remoteAddr ?? DEFAULT_REMOTE) },
    localAddr: { ...(options.localAddr ?? DEFAULT_LOCAL) },
    encrypted: false,
    close,
  };
  return [client, server];
}

const DEFAULT_REMOTE: NetAddr = { hostname: "127.0.0.1", port: 40000 };
const DEFAULT_LOCAL: NetAddr = { hostname: "127.0.0.1", port: 110 };

/** Options of {@linkcode memoryListener}. */
export interface MemoryListenerOptions {
  /**
   * The address the listener reports as bound. Port 0 becomes a made-up
   * port from 49152 up, as an operating system would pick one.
   *
   * @default {{ hostname: "127.0.0.1", port: 0 }}
   */
  hostname?: string;
  /** See `hostname`. */
  port?: number;
}

/** A {@linkcode Listener} whose connections come from {@linkcode MemoryListener.connect}. */
export interface MemoryListener extends Listener {
  /**
   * Opens a connection to this listener and returns the client end. The
   * server end is yielded by the listener's iterator.
   *
   * @throws {Error} When the listener is closed.
   */
  connect(remoteAddr?: NetAddr): MemoryClient;
  /** Whether `close()` was called. */
  readonly closed: boolean;
}

let nextPort = 49152;
let nextClientPort = 50000;

/**
 * Creates an in-memory {@linkcode Listener}: a server given
 * `socket: () => listener` accepts what `listener.connect()` opens. Closing
 * the listener ends its iteration and refuses later `connect()` calls;
 * connections already made stay open.
 *
 * @param options The address to report as bound.
 * @returns The listener.
 *
 * @example A Pop3d server without sockets
 * ```ts
 * import { memoryListener, Pop3d } from "@x/pop3d";
 *
 * const listener = memoryListener();
 * const server = new Pop3d({ socket: () => listener });
 * await server.up();
 * const client = listener.connect();
 * const reader = client.readable.getReader();
 * const { value } = await reader.read();
 * console.assert(new TextDecoder().decode(value).startsWith("+OK"));
 * await server.destroy("kill");
 * ```
 */
export function memoryListener(
  options: MemoryListenerOptions = {},
): MemoryListener {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port || nextPort++;
  const addr: NetAddr = { hostname, port };
  const pending: Conn[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  function notify(): void {
    const w = wake;
    wake = undefined;
    w?.();
  }
  return {
    addr,
    get closed() {
      return closed;
    },
    close() {
      closed = true;
      notify();
    },
    connect(remoteAddr?: NetAddr): MemoryClient {
      if (closed) throw new Error("Cannot connect: the listener is closed");
      const [client, server] = memoryConnPair({
        remoteAddr: remoteAddr ??
          { hostname: "127.0.0.1", port: nextClientPort++ },
        localAddr: addr,
      });
      pending.push(server);
      notify();
      return client;
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<Conn> {
      for (;;) {
        while (pending.length > 0 && !closed) yield pending.shift()!;
        if (closed) {
          // Connections nobody accepted are refused, as a closed socket would.
          for (const conn of pending.splice(0)) conn.close();
          return;
        }
        await new Promise<void>((resolve) => wake = resolve);
      }
    },
  };
}
