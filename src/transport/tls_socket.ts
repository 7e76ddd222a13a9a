/**
 * Implicit TLS (POP3S, RFC 8314): a socket factory whose connections speak
 * TLS from the first byte.
 *
 * @module
 */

import type { Socket } from "node:net";
import type { Server as TlsServer, TLSSocket } from "node:tls";
import { fromNodeSocket } from "./_node_conn.ts";
import {
  checkCredentials,
  checkPem,
  nodeTls,
  pem,
} from "./_tls_credentials.ts";
import { ConnQueue } from "./_conn_queue.ts";
import type {
  Listener,
  ListenOptions,
  SocketFactory,
  TlsOptions,
} from "./types.ts";

/** Options for {@linkcode tlsSocket}: the credentials and a handshake deadline. */
export interface TlsSocketOptions extends TlsOptions {
  /**
   * Milliseconds a new connection may take to finish the TLS handshake
   * before it is dropped (the session and its login timeout start after).
   *
   * @default {30000}
   */
  handshakeTimeout?: number;
}

/** What {@linkcode tlsSocket} returns: a socket factory whose certificate can be swapped. */
export interface TlsSocketFactory extends SocketFactory {
  /**
   * Uses `credentials` for new handshakes on every listener of this factory
   * (and on later ones); open connections keep theirs.
   *
   * @throws {TypeError} When the PEM does not parse or the key does not
   * belong to the certificate; the old credentials stay in use.
   */
  reload(credentials: TlsOptions): void;
}

/**
 * Returns a {@linkcode SocketFactory} that serves POP3 over implicit TLS
 * (port 995). It uses `node:tls`, which Deno, Bun and Node all ship, with
 * no-delay on every connection (`Deno.listenTls` cannot set it, which
 * delays the greeting by ~40 ms). Connections report `encrypted: true`, so
 * STLS is never offered on them and passwords are allowed in the clear.
 *
 * @param options PEM certificate chain and private key, as text or bytes,
 * and optionally the handshake deadline.
 * @returns A factory for the `socket` option of `Pop3d`, with `reload()`
 * to swap in a renewed certificate.
 * @throws {TypeError} When `cert` or `key` is missing or not PEM text or bytes.
 * @throws {RangeError} When `handshakeTimeout` is not a positive integer.
 * @throws {TypeError} From the factory (so from `up()`), when the PEM does
 * not parse or the key does not belong to the certificate.
 * @throws {Error} From the factory, when the port cannot be bound.
 *
 * @example POP3S on port 995
 * ```ts ignore
 * import { MemoryAuth, MemoryStorage, Pop3d, tlsSocket } from "@x/pop3d";
 *
 * const cert = await Deno.readTextFile("cert.pem");
 * const key = await Deno.readTextFile("key.pem");
 * const server = new Pop3d({
 *   port: 995,
 *   socket: tlsSocket({ cert, key }),
 *   auth: new MemoryAuth().addUser("alice", "secret"),
 *   storage: new MemoryStorage(),
 * });
 * await server.up();
 * ```
 *
 * @example Bad input is refused at once
 * ```ts
 * import { tlsSocket } from "@x/pop3d";
 * let threw = false;
 * try {
 *   tlsSocket({ cert: "", key: "" });
 * } catch (error) {
 *   threw = error instanceof TypeError;
 * }
 * console.assert(threw);
 * ```
 */
export function tlsSocket(options: TlsSocketOptions): TlsSocketFactory {
  if (options === null || typeof options !== "object") {
    throw new TypeError("TLS options must be an object with cert and key");
  }
  checkPem("cert", options.cert);
  checkPem("key", options.key);
  const timeout = options.handshakeTimeout ?? 30_000;
  if (!Number.isSafeInteger(timeout) || timeout < 1) {
    throw new RangeError(
      `TLS "handshakeTimeout" must be a positive integer, got ${timeout}`,
    );
  }
  let credentials: TlsOptions = { cert: options.cert, key: options.key };
  const servers = new Set<TlsServer>();
  const factory = (listen: ListenOptions) =>
    listenTls(listen, credentials, timeout, servers);
  return Object.assign(factory, {
    reload(next: TlsOptions): void {
      checkPem("cert", next?.cert);
      checkPem("key", next?.key);
      checkCredentials(next);
      credentials = { cert: next.cert, key: next.key };
      const pems = { cert: pem(next.cert), key: pem(next.key) };
      for (const server of servers) server.setSecureContext(pems);
    },
  });
}

async function listenTls(
  listen: ListenOptions,
  credentials: TlsOptions,
  handshakeTimeout: number,
  servers: Set<TlsServer>,
): Promise<Listener> {
  const tls = nodeTls();
  checkCredentials(credentials);
  const queue = new ConnQueue();
  const server = tls.createServer({
    cert: pem(credentials.cert),
    key: pem(credentials.key),
    noDelay: true,
    handshakeTimeout,
  });
  server.on("secureConnection", (socket: TLSSocket) => {
    socket.setNoDelay(true);
    queue.push(fromNodeSocket(socket, true));
  });
  // A failed handshake concerns one client only; the socket is destroyed.
  server.on("tlsClientError", (_error: Error, socket: Socket) => {
    socket.destroy();
  });
  server.on("error", () => {});
  servers.add(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: listen.hostname, port: listen.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address();
  const addr = typeof bound === "object" && bound !== null
    ? { hostname: bound.address, port: bound.port }
    : { hostname: listen.hostname, port: listen.port };
  return {
    addr,
    close() {
      if (queue.closed) return;
      queue.close();
      servers.delete(server);
      server.close(); // its callback would wait for open sessions
    },
    [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](),
  };
}
