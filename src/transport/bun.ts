/**
 * The Bun adapter: `Bun.listen` handlers bridged to Web Streams (the bridge
 * is in `_bun_conn.ts`).
 *
 * TLS uses Bun's own: POP3S accepts plain TCP and upgrades each socket with
 * `socket.upgradeTLS` at once, STLS upgrades the socket after `+OK`. Both
 * take the newest credentials given for the listener's `tls` object (see
 * `replaceTlsCredentials`, `TlsSocketFactory.reload`), so a swap needs no
 * new listener. A Bun older than {@linkcode NATIVE_TLS_SINCE} gets STLS
 * through `node:tls` over the conn's paused Web streams, and POP3S through
 * `node:tls` in `tls_socket.ts`.
 *
 * @module
 */

import { ConnQueue } from "./_conn_queue.ts";
import { secureContext, startTlsOverStreams } from "./_node_tls.ts";
import { checkCurrent, currentPem } from "./_tls_credentials.ts";
import {
  Bridge,
  type BunSocket,
  type SocketHandlers,
  startBunTls,
  upgradeSocket,
} from "./_bun_conn.ts";
import type { Conn, Listener, ListenOptions, TlsOptions } from "./types.ts";

type BunListen = (options: {
  hostname: string;
  port: number;
  reusePort?: boolean;
  socket: SocketHandlers;
}) => { hostname: string; port: number; stop(closeActive?: boolean): void };

type BunHost = { Bun: { listen: BunListen; version?: string } };

/**
 * The first Bun whose `socket.upgradeTLS` was checked on accepted sockets
 * (older ones crashed there).
 *
 * @example
 * ```ts
 * import { NATIVE_TLS_SINCE } from "./bun.ts";
 * console.assert(NATIVE_TLS_SINCE.length === 3);
 * ```
 */
export const NATIVE_TLS_SINCE: readonly number[] = [1, 4, 5];

/**
 * Whether this is a Bun whose own TLS the adapter uses.
 *
 * @returns `true` on Bun {@linkcode NATIVE_TLS_SINCE} or newer.
 *
 * @example
 * ```ts
 * import { hasNativeTls } from "./bun.ts";
 * console.assert(typeof hasNativeTls() === "boolean");
 * ```
 */
export function hasNativeTls(): boolean {
  const version = (globalThis as Partial<BunHost>).Bun?.version;
  if (typeof version !== "string") return false;
  const parts = version.split(/[.-]/, 3).map(Number);
  for (let i = 0; i < NATIVE_TLS_SINCE.length; i++) {
    const part = parts[i] ?? 0;
    if (part !== NATIVE_TLS_SINCE[i]) return part > NATIVE_TLS_SINCE[i];
  }
  return true;
}

/** STLS with Bun's TLS, as a method shared by every conn (`this` is the conn). */
function startTls(this: Bridge): Promise<Conn> {
  return startBunTls(this, currentPem(this.tlsOrigin!));
}

/** The handlers of a plain listener; `socket.data` is gone after STLS. */
function plainHandlers(
  open: (socket: BunSocket) => void,
): SocketHandlers {
  return {
    open,
    data: (socket, data) => socket.data?.onData(data),
    drain: (socket) => socket.data?.onDrain(),
    end: (socket) => socket.data?.onClose(undefined, true), // client's FIN
    close: (socket, error) => socket.data?.onClose(error),
    error: (socket, error) => socket.data?.onClose(error),
  };
}

function listen(
  options: ListenOptions,
  queue: ConnQueue,
  socket: SocketHandlers,
): Listener {
  const server = (globalThis as unknown as BunHost).Bun.listen({
    hostname: options.hostname,
    port: options.port,
    ...(options.reusePort ? { reusePort: true } : {}),
    socket,
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

/**
 * Listens on TCP with `Bun.listen` (Bun sets no-delay on its sockets).
 * With `options.tls`, connections offer STLS.
 *
 * @param options Hostname and port to bind, `reusePort`, STLS credentials.
 * @returns A listener whose connections bridge Bun's socket handlers to Web Streams.
 * @throws {TypeError} When `options.tls` does not parse or does not match.
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
  const queue = new ConnQueue();
  const origin = options.tls;
  let open = (socket: BunSocket) =>
    queue.push(socket.data = new Bridge(socket, false));
  if (origin && hasNativeTls()) {
    checkCurrent(origin);
    open = (socket) => {
      const conn = socket.data = new Bridge(socket, false);
      conn.tlsOrigin = origin;
      conn.startTls = startTls;
      queue.push(conn);
    };
  } else if (origin) {
    const context = secureContext(origin);
    open = (socket) => {
      const conn = socket.data = new Bridge(socket, false);
      conn.startTls = () => startTlsOverStreams(conn, context);
      queue.push(conn);
    };
  }
  return listen(options, queue, plainHandlers(open));
}

/** The handlers of a POP3S listener's plain sockets: TLS takes each over. */
function ignore(): void {}

/**
 * Listens for implicit TLS (POP3S) with `Bun.listen` and Bun's TLS: each
 * accepted socket is upgraded at once with the newest credentials for
 * `origin`, and handed to the server before its handshake (it counts
 * against the limits while it shakes hands). A handshake that fails or
 * takes longer than `handshakeTimeout` ms closes the connection.
 *
 * @param options Hostname, port and `reusePort`.
 * @param origin The credentials object whose replacements apply.
 * @param handshakeTimeout Milliseconds a handshake may take.
 * @returns A listener of encrypted connections.
 * @throws {TypeError} When the credentials do not parse or do not match.
 *
 * @example
 * ```ts ignore
 * import { listenBunTls } from "./bun.ts";
 * const listener = listenBunTls({ hostname: "127.0.0.1", port: 0 }, { cert, key }, 30_000);
 * await listener.close();
 * ```
 */
export function listenBunTls(
  options: ListenOptions,
  origin: TlsOptions,
  handshakeTimeout: number,
): Listener {
  checkCurrent(origin);
  const queue = new ConnQueue();
  return listen(options, queue, {
    open(raw) {
      let conn: Bridge;
      try {
        conn = upgradeSocket(raw, currentPem(origin));
      } catch {
        return raw.terminate(); // nothing to serve
      }
      if (conn.ended) return; // failed already
      conn.deadline = setTimeout(
        () => conn.close(),
        handshakeTimeout,
      );
      queue.push(conn);
    },
    data: ignore,
    close: ignore,
    error: ignore,
  });
}
