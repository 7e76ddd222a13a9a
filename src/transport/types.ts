/**
 * The seam between the protocol core and a host runtime: a {@linkcode Conn}
 * is a pair of Web Streams, a {@linkcode Listener} yields them.
 *
 * @module
 */

/** A network address. */
export interface NetAddr {
  /** Host name or IP address. */
  hostname: string;
  /** TCP port. */
  port: number;
}

/** TLS credentials: PEM certificate chain and private key, and the key exchange. */
export interface TlsOptions {
  /** PEM certificate (chain), as text or bytes. */
  cert: string | Uint8Array;
  /** PEM private key, as text or bytes. */
  key: string | Uint8Array;
  /**
   * The key exchange groups the server accepts, in its order of preference,
   * colon-separated OpenSSL names (`"X25519:P-256:P-384"`); without it, the
   * runtime's own list. Node 24 (OpenSSL 3.5) and Bun (BoringSSL) put the
   * post-quantum `X25519MLKEM768` first: a client that knows that group but
   * sent only an X25519 key share (rustls clients, such as Deno's) is asked
   * for another (a HelloRetryRequest: one more round trip, and a larger
   * handshake). Node takes a share the client already sent when its group is
   * in this list in the same preference run (OpenSSL's `/` separates runs);
   * Bun always asks for the first group both know. Deno's `node:tls`
   * (rustls) cannot be told: there this is a `TypeError`.
   */
  groups?: string;
}

/**
 * One accepted connection as the core sees it.
 *
 * @example A connection over in-memory streams
 * ```ts
 * import type { Conn } from "@x/pop3d";
 *
 * const conn: Conn = {
 *   readable: new ReadableStream(),
 *   writable: new WritableStream(),
 *   remoteAddr: { hostname: "127.0.0.1", port: 40000 },
 *   localAddr: { hostname: "127.0.0.1", port: 110 },
 *   encrypted: false,
 *   close() {},
 * };
 * ```
 */
export interface Conn {
  /** Bytes from the client. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the client. */
  readonly writable: WritableStream<Uint8Array>;
  /** The client's address. */
  readonly remoteAddr: NetAddr;
  /** The server's address of this connection. */
  readonly localAddr: NetAddr;
  /** Whether the bytes travel inside TLS. */
  readonly encrypted: boolean;
  /** Closes the connection; safe to call more than once. */
  close(): void;
  /**
   * Optional: upgrades this connection to TLS as a server (STLS). The core
   * calls it with no read pending and its reader and writer released, and
   * uses the returned connection from then on.
   */
  startTls?(): Promise<Conn>;
}

/**
 * A listening socket: an async iterable of accepted connections.
 *
 * @example Accepting connections
 * ```ts ignore
 * for await (const conn of listener) conn.close();
 * ```
 */
export interface Listener extends AsyncIterable<Conn> {
  /** The bound address (the real port when 0 was asked for). */
  readonly addr: NetAddr;
  /** Stops listening; the iteration then ends. */
  close(): void | Promise<void>;
}

/** What a {@linkcode SocketFactory} is asked to listen on. */
export interface ListenOptions {
  /** Interface to bind. */
  hostname: string;
  /** Port to bind; 0 lets the operating system choose. */
  port: number;
  /**
   * Share the port with other listeners that set it too (`SO_REUSEPORT`):
   * the kernel spreads new connections over them.
   */
  reusePort?: boolean;
  /**
   * TLS credentials for STLS upgrades, when the server has them. The
   * built-in adapters give their connections `startTls()` then: Deno runs
   * `node:tls` over the connection's streams, Bun (1.4.5 and newer) upgrades
   * the socket with its own TLS, Node wraps the socket in `tls.TLSSocket`. A
   * factory that ignores it simply offers no STLS.
   */
  tls?: TlsOptions;
}

/**
 * Opens the listening socket: the seed's `-socket` option. The default
 * listens with the host runtime's plain TCP API.
 *
 * @example A factory that wraps the default one
 * ```ts ignore
 * import { defaultSocket, type SocketFactory } from "@x/pop3d";
 * const socket: SocketFactory = (options) => defaultSocket(options);
 * ```
 */
export type SocketFactory = (
  options: ListenOptions,
) => Listener | Promise<Listener>;
