/**
 * One `Pop3d` on several addresses: a socket factory that opens a POP3
 * and/or POP3S listener per hostname and merges them into one listener, so
 * that limits and counters span all of them.
 *
 * @module
 */

import { defaultSocket } from "../transport/default_socket.ts";
import type {
  Conn,
  Listener,
  ListenOptions,
  SocketFactory,
} from "../transport/types.ts";

/** One address to listen on. */
export interface Endpoint {
  /** `pop3` (with STLS when the server has TLS) or `pop3s`. */
  proto: "pop3" | "pop3s";
  /** Interface address. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
}

/** A listener that could not be opened: the program exits 1. */
export class ListenError extends Error {
  /**
   * @param endpoint The address that failed.
   * @param flag The setting that names its port.
   * @param cause The runtime's error.
   */
  constructor(endpoint: Endpoint, flag: string, cause: unknown) {
    super(
      `Cannot listen on ${
        formatAddress(endpoint.hostname, endpoint.port)
      } (${flag}): ${reason(cause)}`,
      { cause },
    );
    this.name = "ListenError";
  }
}

/** `host:port`, with brackets around an IPv6 address. */
export function formatAddress(hostname: string, port: number): string {
  return hostname.includes(":")
    ? `[${hostname}]:${port}`
    : `${hostname}:${port}`;
}

function reason(error: unknown): string {
  const e = error as { code?: string; name?: string; message?: string };
  const text = `${e?.code ?? ""} ${e?.name ?? ""} ${e?.message ?? ""}`;
  if (/EADDRINUSE|AddrInUse|in use/i.test(text)) {
    return "the address is already in use";
  }
  if (/EACCES|PermissionDenied|permission denied/i.test(text)) {
    return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
  }
  if (
    /EADDRNOTAVAIL|AddrNotAvailable|not available|assign requested/i.test(text)
  ) {
    return "no such local address";
  }
  return e?.message ?? String(error);
}

class Merged implements Listener {
  #queue: Conn[] = [];
  #waiting: ((r: IteratorResult<Conn>) => void) | undefined;
  #closed = false;
  readonly addr: Listener["addr"];
  readonly parts: readonly Listener[];

  constructor(parts: readonly Listener[]) {
    this.parts = parts;
    this.addr = parts[0].addr;
    for (const part of parts) this.#pump(part);
  }

  async #pump(part: Listener): Promise<void> {
    try {
      for await (const conn of part) this.#push(conn);
    } catch {
      // The listener ended; the others go on.
    }
  }

  #push(conn: Conn): void {
    if (this.#closed) return conn.close();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) waiting({ value: conn, done: false });
    else this.#queue.push(conn);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of this.#queue.splice(0)) conn.close();
    this.#waiting?.({ value: undefined, done: true });
    this.#waiting = undefined;
    await Promise.all(this.parts.map((p) => p.close()));
  }

  [Symbol.asyncIterator](): AsyncIterator<Conn> {
    return {
      next: () => {
        const conn = this.#queue.shift();
        if (conn) return Promise.resolve({ value: conn, done: false });
        if (this.#closed) {
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve) => this.#waiting = resolve);
      },
    };
  }
}

/**
 * A socket factory that opens every endpoint: `pop3` ones with the host's
 * TCP adapter (STLS with the server's `tls`), `pop3s` ones with `tls`.
 * When one cannot be opened the others are closed again and the factory
 * throws a {@linkcode ListenError}.
 *
 * @param endpoints The addresses.
 * @param pop3s The factory for POP3S endpoints.
 * @param bound Called with each endpoint and its bound port.
 *
 * @example
 * ```ts ignore
 * const socket = multiSocket([{ proto: "pop3", hostname: "::1", port: 0 }]);
 * ```
 */
export function multiSocket(
  endpoints: readonly Endpoint[],
  pop3s?: SocketFactory,
  bound?: (endpoint: Endpoint, port: number) => void,
): SocketFactory {
  return async (listen: ListenOptions) => {
    const parts: Listener[] = [];
    for (const endpoint of endpoints) {
      const options: ListenOptions = {
        hostname: endpoint.hostname,
        port: endpoint.port,
        ...(listen.reusePort ? { reusePort: true } : {}),
      };
      try {
        const part = endpoint.proto === "pop3s"
          ? await pop3s!(options)
          : await defaultSocket(
            listen.tls ? { ...options, tls: listen.tls } : options,
          );
        parts.push(part);
        bound?.(endpoint, part.addr.port);
      } catch (error) {
        await Promise.all(parts.map((p) => p.close()));
        throw new ListenError(
          endpoint,
          endpoint.proto === "pop3s" ? "--tls-port" : "--port",
          error,
        );
      }
    }
    return new Merged(parts);
  };
}
