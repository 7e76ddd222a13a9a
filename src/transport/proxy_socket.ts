/**
 * A socket factory for servers behind a load balancer that speaks the
 * PROXY protocol (HAProxy `send-proxy`/`send-proxy-v2`, nginx
 * `proxy_protocol`, AWS NLB): the client's address from the header
 * replaces the balancer's.
 *
 * @module
 */

import { type ConnWriter, DIRECT_WRITER, directWriter } from "./_direct.ts";
import { ConnQueue } from "./_conn_queue.ts";
import { type CidrRange, matchCidr, parseCidr } from "./_ip.ts";
import {
  parseProxyHeader,
  type ProxyHeader,
  ProxyProtocolError,
} from "./proxy_protocol.ts";
import type {
  Conn,
  Listener,
  ListenOptions,
  NetAddr,
  SocketFactory,
} from "./types.ts";

/** Options of {@linkcode proxySocket}. */
export interface ProxySocketOptions {
  /**
   * The networks the proxies connect from, as CIDR ranges (`"10.0.0.0/8"`,
   * `"::1/128"`) or single addresses. Only they may send a PROXY header,
   * and every connection from elsewhere is closed.
   */
  trusted: readonly string[];
  /**
   * Milliseconds a trusted peer has to send the whole header; then the
   * connection is closed.
   *
   * @default {5000}
   */
  timeout?: number;
  /**
   * Receives a {@linkcode ProxyProtocolError} for every connection closed
   * here (untrusted peer, missing, late or malformed header), with the
   * peer's address in the message. Log it: nothing else reports these.
   */
  onError?: ((error: ProxyProtocolError) => void) | null;
  /** Receives each parsed header with the proxy's address, for debugging. */
  onHeader?: ((header: ProxyHeader, proxy: NetAddr) => void) | null;
}

const EMPTY: Uint8Array = new Uint8Array(0);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Wraps a {@linkcode SocketFactory} so that each accepted connection first
 * yields a PROXY protocol header (v1 or v2). The header's source address
 * becomes the connection's `remoteAddr` (so `conn.state()`, per-address
 * limits, events and logs see the client), and its destination the
 * `localAddr`. Exactly the header's bytes are consumed: whatever the
 * client sent after it reaches the session. A `LOCAL` header (health
 * checks) or an `UNKNOWN`/`UNSPEC` one keeps the proxy's own addresses.
 *
 * A connection from an address outside `trusted`, or whose header is
 * missing, malformed or later than `timeout`, is closed before the server
 * sees it, and `onError` is told why. The header is read without blocking
 * the accept loop.
 *
 * @param inner The factory that listens, e.g. `defaultSocket` or
 * `tlsSocket(...)` (the PROXY header then comes inside TLS, which is what
 * HAProxy does only in `ssl` mode; with TCP passthrough wrap the plain one).
 * @param options The trusted networks, the header deadline and the hooks.
 * @returns A factory for the `socket` option of `Pop3d` or `Lmtpd`.
 * @throws {TypeError} When `trusted` is not a list of addresses or ranges.
 * @throws {RangeError} When `timeout` is not a positive integer or a
 * prefix length is out of range.
 *
 * @example POP3 behind HAProxy on the same host
 * ```ts ignore
 * import { defaultSocket, MemoryAuth, Pop3d, proxySocket } from "@x/pop3d";
 *
 * const server = new Pop3d({
 *   port: 1110,
 *   hostname: "127.0.0.1",
 *   auth: new MemoryAuth().addUser("alice", "secret"),
 *   socket: proxySocket(defaultSocket, {
 *     trusted: ["127.0.0.1/32", "::1/128"],
 *     onError: (error) => console.warn(error.message),
 *   }),
 * });
 * await server.up();
 * ```
 *
 * @example Bad options are refused at once
 * ```ts
 * import { defaultSocket, proxySocket } from "@x/pop3d";
 * let threw = false;
 * try {
 *   proxySocket(defaultSocket, { trusted: ["10.0.0.0/33"] });
 * } catch (error) {
 *   threw = error instanceof RangeError;
 * }
 * console.assert(threw);
 * ```
 */
export function proxySocket(
  inner: SocketFactory,
  options: ProxySocketOptions,
): SocketFactory {
  if (typeof inner !== "function") {
    throw new TypeError("proxySocket needs the socket factory to wrap");
  }
  if (!Array.isArray(options?.trusted)) {
    throw new TypeError(
      'proxySocket option "trusted" must be a list of CIDR ranges',
    );
  }
  const ranges = options.trusted.map(parseCidr);
  const timeout = options.timeout ?? 5000;
  if (!Number.isSafeInteger(timeout) || timeout < 1) {
    throw new RangeError(
      `proxySocket option "timeout" must be a positive integer, got ${timeout}`,
    );
  }
  const onError = options.onError ?? undefined;
  const onHeader = options.onHeader ?? undefined;
  const report = (error: ProxyProtocolError) => {
    try {
      onError?.(error);
    } catch {
      // A hook that throws must not break the listener.
    }
  };
  return async (listen: ListenOptions): Promise<Listener> => {
    const listener = await inner(listen);
    const queue = new ConnQueue();
    (async () => {
      try {
        for await (const conn of listener) {
          accept(conn, ranges, timeout, report, onHeader).then(
            (wrapped) => wrapped && queue.push(wrapped),
            (error) => {
              conn.close();
              report(
                new ProxyProtocolError("Cannot accept a connection", {
                  cause: error,
                }),
              );
            },
          );
        }
      } catch (error) {
        if (!queue.closed) {
          report(
            new ProxyProtocolError("The inner listener failed", {
              cause: error,
            }),
          );
        }
      } finally {
        queue.close();
      }
    })();
    return {
      get addr() {
        return listener.addr;
      },
      async close() {
        queue.close();
        await listener.close();
      },
      [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](),
    };
  };
}

/** Reads the header of one connection; `undefined` when it was closed. */
async function accept(
  conn: Conn,
  ranges: readonly CidrRange[],
  timeout: number,
  report: (error: ProxyProtocolError) => void,
  onHeader: ((header: ProxyHeader, proxy: NetAddr) => void) | undefined,
): Promise<Conn | undefined> {
  const peer = conn.remoteAddr?.hostname;
  if (typeof peer !== "string" || peer === "") {
    // Bun (undefined) and Node ("") report no address for a socket that
    // closed before it was accepted (HAProxy's health checks do that):
    // nothing is left to serve.
    conn.close();
    return undefined;
  }
  if (!ranges.some((r) => matchCidr(r, peer))) {
    conn.close();
    report(
      new ProxyProtocolError(
        `Closed connection from ${peer}: not a trusted proxy address`,
      ),
    );
    return undefined;
  }
  const reader = conn.readable.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(
          new ProxyProtocolError(
            `Closed connection from ${peer}: no PROXY header within ${timeout} ms`,
          ),
        );
      }, timeout);
    });
    let buffer: Uint8Array = EMPTY;
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), deadline]);
      if (done) {
        throw new ProxyProtocolError(
          `Closed connection from ${peer}: it ended before the PROXY header`,
        );
      }
      buffer = concat(buffer, value);
      let result;
      try {
        result = parseProxyHeader(buffer);
      } catch (error) {
        throw new ProxyProtocolError(
          `Closed connection from ${peer}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      if (!result.done) continue;
      clearTimeout(timer);
      try {
        onHeader?.(result.header, conn.remoteAddr);
      } catch {
        // Debug hook only.
      }
      return wrap(conn, reader, buffer.subarray(result.length), result.header);
    }
  } catch (error) {
    clearTimeout(timer);
    reader.releaseLock();
    conn.close();
    report(
      error instanceof ProxyProtocolError ? error : new ProxyProtocolError(
        `Closed connection from ${peer}: ${
          timedOut ? "timeout" : "read failed"
        }`,
        { cause: error },
      ),
    );
    return undefined;
  }
}

/**
 * The connection as the server sees it: the bytes after the header first,
 * then the rest of the stream (pulled only when the server reads), with the
 * client's addresses.
 */
function wrap(
  conn: Conn,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  rest: Uint8Array,
  header: ProxyHeader,
): Conn {
  let pending: Uint8Array | undefined = rest.length > 0 ? rest : undefined;
  let released = false;
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending) {
        controller.enqueue(pending);
        pending = undefined;
        return;
      }
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        controller.error(error);
      }
    },
    cancel(reason) {
      if (!released) return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  const use = header.command === "PROXY" && header.source !== undefined;
  const remoteAddr = use ? header.source! : conn.remoteAddr;
  const localAddr = use && header.destination
    ? header.destination
    : conn.localAddr;
  const wrapped: Conn & { [DIRECT_WRITER]?: ConnWriter } = {
    readable,
    // Made only when asked for: the session writes through the direct path.
    get writable() {
      return conn.writable;
    },
    remoteAddr,
    localAddr,
    encrypted: conn.encrypted,
    close: () => conn.close(),
  };
  // Only the header was read from the stream: writes still go straight to
  // the adapter (no stream per write, and a large RETR can reuse buffers).
  const writer = directWriter(conn);
  if (writer !== undefined) wrapped[DIRECT_WRITER] = writer;
  if (typeof conn.startTls === "function") {
    const startTls = conn.startTls.bind(conn);
    (wrapped as { startTls?: () => Promise<Conn> }).startTls = async () => {
      // Bytes that came with the header but before the handshake are
      // plaintext the client sent early: dropped, as STLS requires.
      pending = undefined;
      released = true;
      reader.releaseLock();
      const secure = await startTls();
      return {
        readable: secure.readable,
        writable: secure.writable,
        remoteAddr,
        localAddr,
        encrypted: secure.encrypted,
        close: () => secure.close(),
      };
    };
  }
  return wrapped;
}
