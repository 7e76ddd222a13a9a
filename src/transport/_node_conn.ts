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
import { DIRECT, type DirectIo, DONE } from "./_direct.ts";
import { directReadable, directWritable } from "./_direct_streams.ts";
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
  /** A socket under `socket` (STLS's plain socket), destroyed by `close()`. */
  raw?: NodeSocket;
}

/** What the bridge reads of a Node socket's handle (libuv's stream). */
interface LibuvHandle {
  /** Octets of written data libuv has not handed to the kernel yet. */
  writeQueueSize?: unknown;
  /** A TLS handle's stream below it (the TCP handle). */
  _parent?: LibuvHandle;
}

/** Milliseconds a closing socket may take to flush before it is cut. */
const CLOSE_GRACE = 2000;

function addr(host: string | undefined, port: number | undefined): NetAddr {
  return { hostname: host ?? "", port: port ?? 0 };
}

/** Where a socket's listeners find their bridge. */
const BRIDGE = Symbol("pop3d.nodeBridge");

type Bridged = NodeSocket & { [BRIDGE]?: Bridge };

const gone = () => new Error("Cannot write: the connection closed");

/**
 * One bridged socket: the {@linkcode Conn} itself, the source of its
 * readable and its {@linkcode DirectIo}, one object and its methods instead
 * of a dozen closures per connection (an idle connection is mostly such
 * objects). The session reads and writes through the direct path, and the
 * Web streams are made only when asked for (STLS over `node:tls` on Deno and
 * Bun reads them).
 */
class Bridge implements Conn, DirectIo, UnderlyingDefaultSource<Uint8Array> {
  reading = true; // the readable is still open
  closed = false;
  ready: boolean;
  drain: { resolve(): void; reject(error: unknown): void } | undefined;
  controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  /** The pending direct read. */
  waiter:
    | {
      resolve(result: ReadableStreamReadResult<Uint8Array>): void;
      reject(error: unknown): void;
    }
    | undefined;
  /** Bytes that came while no direct read was pending. */
  queued: Uint8Array[] | undefined;
  unflushed = 0; // writes whose callback has not run
  flushed: (() => void) | undefined; // the end() that waits for them
  readonly socket: NodeSocket;
  readonly readyPromise: Promise<unknown> | undefined;
  /** Waiters for every write callback to have run (`released()`). */
  idle: (() => void)[] | undefined;
  readonly written = () => {
    if (--this.unflushed > 0) return;
    this.flushed?.();
    this.onIdle();
  };
  readonly remoteAddr: NetAddr;
  #localAddr: NetAddr | undefined;
  /** The socket whose addresses are the conn's. */
  readonly #from: NodeSocket;
  readonly encrypted: boolean;
  readonly raw: NodeSocket | undefined;
  readonly [DIRECT]: DirectIo = this;
  declare startTls?: () => Promise<Conn>;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  constructor(socket: NodeSocket, options: NodeConnOptions) {
    this.socket = socket;
    this.readyPromise = options.ready;
    this.ready = options.ready === undefined;
    const from = options.addresses ?? socket;
    this.#from = from;
    this.remoteAddr = addr(from.remoteAddress, from.remotePort);
    this.encrypted = options.encrypted;
    this.raw = options.raw;
  }

  /**
   * Read when first asked for: the session never does, and Node keeps what
   * `getsockname` returned on the socket (a system call and three objects
   * per idle connection).
   */
  get localAddr(): NetAddr {
    return this.#localAddr ??= addr(
      this.#from.localAddress,
      this.#from.localPort,
    );
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= directReadable(this);
  }

  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= directWritable(this);
  }

  /** Closing the writable ends the socket once its writes are out. */
  closeWritable(): Promise<void> {
    const socket = this.socket;
    return new Promise<void>((resolve) => socket.end(() => resolve()));
  }

  /** Aborting the writable cuts the connection. */
  abortWritable(): void {
    this.socket.destroy();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#close();
    this.raw?.destroy();
  }

  #close(): void {
    const socket = this.socket;
    // A handshake would have to finish first: cut the connection.
    if (!this.ready) return void socket.destroy();
    // End once every write callback has run. `writableLength > 0` is no
    // sign of a client that stopped reading: a TLS socket counts records
    // still on their way there (destroying then lost the last replies on
    // Deno). A client that does not read is cut after CLOSE_GRACE.
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE);
    socket.once("close", () => clearTimeout(timer));
    const end = () => void socket.end(() => socket.destroy());
    if (this.unflushed === 0) end();
    else this.flushed = end;
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = controller;
  }

  pull(): void {
    // A socket that closed before this bridge saw it ends the stream.
    if (this.socket.destroyed) this.onClose();
    else this.socket.resume();
  }

  /** The next bytes, or `done` at the end of input or after `cancel()`. */
  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const value = this.queued?.shift();
    if (value !== undefined) return Promise.resolve({ done: false, value });
    if (!this.reading) return Promise.resolve(DONE);
    if (this.socket.destroyed) {
      this.onClose();
      return Promise.resolve(DONE);
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.socket.resume();
    });
  }

  cancel(): Promise<void> {
    this.reading = false;
    this.socket.pause();
    this.settleRead(DONE);
    return Promise.resolve();
  }

  /** Nothing is locked: the session lets go before STLS by not reading. */
  releaseLock(): void {}

  settleRead(result: ReadableStreamReadResult<Uint8Array>): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve(result);
  }

  onData(chunk: Uint8Array): void {
    if (!this.reading) return;
    const value = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    const controller = this.controller;
    if (controller !== undefined) {
      controller.enqueue(value);
      if ((controller.desiredSize ?? 0) <= 0) this.socket.pause();
      return;
    }
    this.socket.pause();
    if (this.waiter !== undefined) this.settleRead({ done: false, value });
    else (this.queued ??= []).push(value);
  }

  onEnd(): void {
    if (!this.reading) return;
    this.reading = false;
    if (this.controller !== undefined) this.controller.close();
    else this.settleRead(DONE);
  }

  onClose(): void {
    this.onEnd();
    this.drain?.reject(gone());
    this.drain = undefined;
    this.onIdle(); // a closed socket holds nothing
  }

  onIdle(): void {
    const idle = this.idle;
    this.idle = undefined;
    idle?.forEach((resolve) => resolve());
  }

  onDrain(): void {
    this.drain?.resolve();
    this.drain = undefined;
  }

  send(chunk: Uint8Array): Promise<void> | undefined {
    if (this.closed || this.socket.destroyed) throw gone();
    this.unflushed++;
    if (this.socket.write(chunk, this.written)) return;
    return new Promise<void>((resolve, reject) => {
      this.drain = { resolve, reject };
    });
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    return this.ready
      ? this.send(chunk)
      : this.readyPromise!.then(() => this.send(chunk));
  }

  /**
   * A count that changes as the kernel takes the bytes written: on Node,
   * libuv's queue of the TCP handle (`writeQueueSize`, under a TLS socket
   * its `_parent`) falls as the kernel takes a write's bytes, and nothing
   * else changes it while a write is pending (one native property read;
   * `bytesWritten` would build an array per call). The `node:net` and
   * `node:tls` of Deno and Bun have no such live count: `undefined`.
   */
  progress(): number | undefined {
    const handle = (this.socket as { _handle?: LibuvHandle | null })._handle;
    const queued = (this.encrypted ? handle?._parent : handle)?.writeQueueSize;
    return typeof queued === "number" ? -queued : undefined;
  }

  /**
   * A write may resolve while the socket still holds the end of its chunk
   * (`socket.write()` returned true with bytes below the high-water mark
   * left): done once every write callback has run.
   */
  released(): Promise<void> | undefined {
    if (this.unflushed === 0 || this.socket.destroyed) return;
    return new Promise<void>((resolve) => (this.idle ??= []).push(resolve));
  }
}

// One set of listener functions for every socket: `this` is the socket.
function onData(this: Bridged, chunk: Uint8Array): void {
  this[BRIDGE]?.onData(chunk);
}
function onEnd(this: Bridged): void {
  this[BRIDGE]?.onEnd();
}
function onClose(this: Bridged): void {
  this[BRIDGE]?.onClose();
}
function onDrain(this: Bridged): void {
  this[BRIDGE]?.onDrain();
}
function ignore(): void {}
const LISTENERS = [
  ["data", onData],
  ["end", onEnd],
  ["close", onClose],
  ["drain", onDrain],
] as const;

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
  const bridge = new Bridge(socket, options);
  options.ready?.then(() => bridge.ready = true, ignore);
  socket.pause();
  (socket as Bridged)[BRIDGE] = bridge;
  for (const [event, fn] of LISTENERS) socket.on(event, fn);
  // Errors surface through "close"; an unhandled "error" would crash Node.
  socket.on("error", ignore);
  const upgrade = options.startTls;
  if (upgrade) {
    bridge.startTls = () => {
      // Let go of the socket: TLSSocket takes it over with any unread bytes.
      bridge.reading = false;
      for (const [event, fn] of LISTENERS) socket.off(event, fn);
      delete (socket as Bridged)[BRIDGE];
      // Bytes read ahead belong to the plaintext phase: dropped (RFC 2595).
      bridge.queued = undefined;
      return upgrade(socket);
    };
  }
  return bridge;
}
