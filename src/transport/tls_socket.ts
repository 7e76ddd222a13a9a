/**
 * Implicit TLS (POP3S, RFC 8314): a socket factory whose connections speak
 * TLS from the first byte.
 *
 * @module
 */

import type { Socket } from "node:net";
import { fromNodeSocket } from "./_node_conn.ts";
import { serverTls } from "./_node_tls.ts";
import {
  checkGroups,
  checkPem,
  nodeNet,
  replaceCredentials,
  secureContext,
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
   * before it is dropped. The connection is handed to the server at accept,
   * so it counts against `maxConnections` (and may be evicted) while it
   * shakes hands; its session waits for the handshake to send the greeting.
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
 * (port 995). It uses `node:tls` on Deno and Node, with no-delay on every
 * connection (`Deno.listenTls` cannot set it, which delays the greeting by
 * ~40 ms), and Bun's own TLS on Bun 1.4.5 or newer. Connections report `encrypted: true`, so
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
  if (options.groups !== undefined) checkGroups(options.groups);
  const timeout = options.handshakeTimeout ?? 30_000;
  if (!Number.isSafeInteger(timeout) || timeout < 1) {
    throw new RangeError(
      `TLS "handshakeTimeout" must be a positive integer, got ${timeout}`,
    );
  }
  // Every listener's context is made from this one object; a reload
  // registers a newer context for it, which new handshakes then use.
  const origin: TlsOptions = { cert: options.cert, key: options.key };
  if (options.groups !== undefined) origin.groups = options.groups;
  const factory = (listen: ListenOptions) => listenTls(listen, origin, timeout);
  return Object.assign(factory, {
    reload(next: TlsOptions): void {
      replaceCredentials(origin, next);
    },
  });
}

async function listenTls(
  listen: ListenOptions,
  credentials: TlsOptions,
  handshakeTimeout: number,
): Promise<Listener> {
  if (
    typeof (globalThis as { Bun?: { listen?: unknown } }).Bun?.listen ===
      "function"
  ) {
    // Bun's own TLS: less CPU per handshake than node:tls there, and about
    // half the memory per connection; reload() still applies.
    const bun = await import("./bun.ts");
    if (bun.hasNativeTls()) {
      return bun.listenBunTls(listen, credentials, handshakeTimeout);
    }
  }
  const context = secureContext(credentials);
  const queue = new ConnQueue();
  // Plain TCP accept, then TLS on each socket: the connection is handed to
  // the server at once, so that it counts (and can be evicted) during its
  // handshake; tls.Server would show it only after the handshake.
  const server = nodeNet().createServer({ noDelay: true }, (raw: Socket) => {
    raw.on("error", () => {});
    const { secure, handshake } = serverTls(raw, context);
    const timer = setTimeout(() => secure.destroy(), handshakeTimeout);
    handshake.then(() => clearTimeout(timer), () => clearTimeout(timer));
    queue.push(
      fromNodeSocket(secure, {
        encrypted: true,
        ready: handshake,
        addresses: raw,
      }),
    );
  });
  server.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const { hostname: host, port, reusePort } = listen;
    server.listen({ host, port, ...(reusePort ? { reusePort } : {}) }, () => {
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
      server.close(); // its callback would wait for open sessions
    },
    [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](),
  };
}
