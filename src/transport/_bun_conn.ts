/**
 * Internal: one Bun socket as a {@linkcode Conn}, plain or inside Bun's own
 * TLS (`socket.upgradeTLS`). Reads are pull-based (the socket is paused
 * unless the core has a read pending), and a write resolves only once the
 * kernel has taken every byte: the tail that `socket.write()` left waits for
 * `drain`. A TLS conn holds its writes until the handshake is done.
 *
 * @module
 */

import { DIRECT, type DirectIo, DONE } from "./_direct.ts";
import { directReadable, directWritable } from "./_direct_streams.ts";
import type { BunTlsOptions } from "./_tls_credentials.ts";
import type { Conn, NetAddr, TlsOptions } from "./types.ts";

/** The parts of Bun's socket used here (Bun's types are not loaded). */
export type BunSocket =
  & Record<"remoteAddress" | "localAddress", string>
  & Record<"remotePort" | "localPort", number>
  & Record<"pause" | "resume" | "end" | "terminate", () => void>
  & {
    data: Bridge | undefined;
    write(data: Uint8Array): number; // bytes taken, -1: closed
    upgradeTLS(options: {
      data: Bridge;
      tls: BunTlsOptions;
      socket: SocketHandlers;
    }): [BunSocket, BunSocket];
  };

/** One set of handlers for many sockets, as `Bun.listen` and `upgradeTLS` take them. */
export type SocketHandlers =
  & Partial<Record<"open" | "drain" | "end", (s: BunSocket) => void>>
  & {
    data(s: BunSocket, data: Uint8Array): void;
    close(s: BunSocket, error?: unknown): void;
    error(s: BunSocket, error: unknown): void;
    handshake?(s: BunSocket, success: boolean, error: unknown): void;
  };

const closedError = () => new Error("Cannot write: the connection closed");
const handshakeError = () =>
  new Error("Connection closed during the TLS handshake");

/**
 * What the handlers of one socket feed: the {@linkcode Conn} itself, the
 * source of its readable and its {@linkcode DirectIo}, one object and its
 * methods instead of a dozen closures per connection (an idle connection is
 * mostly such objects). The session reads and writes through the direct
 * path; the Web streams are made only when asked for (a PROXY wrapper, STLS
 * over `node:tls`).
 */
export class Bridge
  implements Conn, DirectIo, UnderlyingDefaultSource<Uint8Array> {
  /** The socket: the plain one, or the TLS one once it exists. */
  socket: BunSocket;
  /** The client's address. */
  readonly remoteAddr: NetAddr;
  /** The server's address of this connection. */
  readonly localAddr: NetAddr;
  /** Whether the bytes travel inside TLS. */
  readonly encrypted: boolean;
  /** This bridge is its own direct reader and writer. */
  readonly [DIRECT]: DirectIo = this;
  declare startTls?: () => Promise<Conn>;
  /** STLS with Bun's TLS: the credentials' origin (see `currentPem`). */
  tlsOrigin: TlsOptions | undefined;
  /** The controller of the readable, once someone asked for it. */
  reader: ReadableStreamDefaultController<Uint8Array> | undefined;
  /** Whether the readable is open. */
  reading = true;
  /** Whether writes are over. */
  ended = false;
  /** Whether bytes may be written: plain, or the handshake is done. */
  ready: boolean;
  /** Bytes `write()` has not taken yet. */
  tail: Uint8Array | undefined;
  /** Octets the socket took so far. */
  taken = 0;
  /** Settles the pending write. */
  waiter: PromiseWithResolvers<void> | undefined;
  /** The pending direct read. */
  pending:
    | {
      resolve(result: ReadableStreamReadResult<Uint8Array>): void;
      reject(error: unknown): void;
    }
    | undefined;
  /** Bytes that came while no direct read was pending. */
  queued: Uint8Array[] | undefined;
  /** A TLS conn's handshake deadline. */
  deadline: ReturnType<typeof setTimeout> | undefined;
  /** STLS: settles once the handshake is done or failed. */
  handshake: PromiseWithResolvers<Conn> | undefined;
  /** STLS: the TLS conn that took this socket over. */
  upgraded: Bridge | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /**
   * `socket` is the plain socket; a TLS bridge takes the TLS socket over
   * in {@linkcode Bridge.attach}. `from` gives the addresses (STLS keeps
   * the plain conn's).
   */
  constructor(socket: BunSocket, encrypted: boolean, from?: Conn) {
    this.socket = socket;
    this.encrypted = encrypted;
    this.ready = !encrypted;
    socket.pause();
    this.remoteAddr = from?.remoteAddr ?? {
      hostname: socket.remoteAddress,
      port: socket.remotePort,
    };
    this.localAddr = from?.localAddr ??
      { hostname: socket.localAddress, port: socket.localPort };
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
    if (this.upgraded) return this.upgraded.close();
    if (this.ended) return;
    this.ended = true;
    // Unsent bytes would hold end() back: cut the connection instead.
    // Before the handshake nothing was sent, and end() closes at once.
    if (this.tail && this.ready) this.socket.terminate();
    else this.socket.end();
  }

  /** The readable's start: keeps its controller. */
  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.reader = controller;
  }

  /** The readable wants bytes. */
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

  /** Stops reading; a pending read ends with `done`. */
  cancel(): Promise<void> {
    this.reading = false;
    this.settleRead(DONE);
    return Promise.resolve();
  }

  /** Nothing is locked: the session lets go before STLS by not reading. */
  releaseLock(): void {}

  /** Settles the pending direct read. */
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

  /** A write resolves only once the socket took all of it: nothing held. */
  released(): void {}

  /** Octets the socket took, counted at every `socket.write()`. */
  progress(): number {
    return this.taken;
  }

  /** Writes what is left of the pending write. */
  onDrain(): void {
    const { tail, waiter } = this;
    if (!tail || !waiter || !this.ready) return;
    const n = this.socket.write(tail);
    if (n < 0) return this.fail(closedError());
    this.taken += n;
    this.tail = n < tail.length ? tail.subarray(n) : undefined;
    if (!this.tail) waiter.resolve(), this.waiter = undefined;
  }

  /** Rejects the pending write. */
  fail(error: unknown): void {
    this.tail = undefined;
    this.waiter?.reject(error);
    this.waiter = undefined;
  }

  /** Bytes came: to the pending read, the readable or the queue; pauses. */
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

  /** The socket closed, or only its input ended (`readOnly`). */
  onClose(error?: unknown, readOnly?: boolean): void {
    if (!readOnly) {
      this.ended = true;
      this.fail(error ?? closedError());
      this.settleHandshake(error ?? handshakeError());
    }
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

  /** The TLS socket exists (called from within `upgradeTLS`). */
  attach(socket: BunSocket): void {
    this.socket = socket;
    socket.pause(); // the handshake goes on; data waits for a read
  }

  /** The TLS handshake is over; a failed one closes the conn. */
  onHandshake(success: boolean, error: unknown): void {
    if (!success) {
      // Bun closes the socket next; say so now, whatever it reports.
      this.close();
      return this.onClose(error ?? handshakeError());
    }
    this.ready = true;
    this.settleHandshake();
    this.onDrain(); // the greeting, if the session wrote it already
  }

  /** Clears the handshake deadline and settles a waiting STLS. */
  settleHandshake(error?: unknown): void {
    clearTimeout(this.deadline);
    this.deadline = undefined;
    const handshake = this.handshake;
    this.handshake = undefined;
    if (!handshake) return;
    if (error === undefined) handshake.resolve(this);
    else handshake.reject(error);
  }
}

/** The handlers of every TLS socket: `socket.data` is its bridge. */
const TLS_HANDLERS: SocketHandlers = {
  open: (socket) => socket.data?.attach(socket),
  handshake: (socket, success, error) =>
    socket.data?.onHandshake(success, error),
  data: (socket, data) => socket.data?.onData(data),
  drain: (socket) => socket.data?.onDrain(),
  end: (socket) => socket.data?.onClose(undefined, true), // close_notify or FIN
  close: (socket, error) => socket.data?.onClose(error),
  error: (socket, error) => socket.data?.onClose(error),
};

/**
 * Starts the server side of Bun's TLS on `raw` and returns the encrypted
 * conn at once; its writes wait for the handshake, and it closes when the
 * handshake fails. The plain socket's own handlers must ignore it from now
 * on (they still see its encrypted bytes).
 *
 * @throws {Error} When Bun refuses to upgrade the socket.
 */
export function upgradeSocket(
  raw: BunSocket,
  tls: BunTlsOptions,
  from?: Conn,
): Bridge {
  const secure = new Bridge(raw, true, from);
  const [, socket] = raw.upgradeTLS({
    data: secure,
    tls,
    socket: TLS_HANDLERS,
  });
  if (secure.socket !== socket) secure.attach(socket);
  return secure;
}

/**
 * STLS on a plain bridge with Bun's TLS: drops what was read ahead (plaintext
 * the client sent after STLS must never reach the session, RFC 2595), hands
 * the socket to TLS and resolves once the handshake is done. Closing the
 * plain conn from then on closes the TLS one.
 */
export function startBunTls(
  plain: Bridge,
  tls: BunTlsOptions,
): Promise<Conn> {
  if (plain.ended) return Promise.reject(handshakeError()); // client gone
  plain.reading = false;
  plain.queued = undefined;
  const raw = plain.socket;
  raw.data = undefined;
  let secure: Bridge;
  try {
    secure = plain.upgraded = upgradeSocket(raw, tls, plain);
  } catch (error) {
    raw.terminate();
    return Promise.reject(error);
  }
  if (secure.ready) return Promise.resolve(secure);
  if (secure.ended) return Promise.reject(handshakeError());
  return (secure.handshake = Promise.withResolvers<Conn>()).promise;
}
