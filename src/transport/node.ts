/**
 * The Node adapter: `node:net` through the one pull-based socket bridge
 * (`_node_conn.ts`): the socket is paused unless the core has a read
 * pending and its read high-water mark is 0, so Node reads nothing ahead
 * and STLS (`startTls()`, with `options.tls`) can wrap it in
 * `tls.TLSSocket` once the core has released its reader and writer.
 *
 * @module
 */

import * as net from "node:net";
import { ConnQueue } from "./_conn_queue.ts";
import { fromNodeSocket, type NodeSocket } from "./_node_conn.ts";
import { secureContext, startTlsOnSocket } from "./_node_tls.ts";
import type { Listener, ListenOptions } from "./types.ts";

/**
 * Listens on TCP with `node:net`, with no-delay set on every connection.
 *
 * @param options Hostname and port to bind.
 * @returns A listener that resolves its address once bound.
 *
 * @example Listening on a free port
 * ```ts ignore
 * import { listenNode } from "./node.ts";
 * const listener = await listenNode({ hostname: "127.0.0.1", port: 0 });
 * console.log(listener.addr.port);
 * await listener.close();
 * ```
 */
export async function listenNode(options: ListenOptions): Promise<Listener> {
  const tls = options.tls ? secureContext(options.tls) : undefined;
  const queue = new ConnQueue();
  const startTls = tls
    ? (socket: NodeSocket) => startTlsOnSocket(socket, tls)
    : undefined;
  const server = net.createServer({
    noDelay: true,
    allowHalfOpen: true,
    pauseOnConnect: true,
    highWaterMark: 0,
  }, (socket) => {
    queue.push(fromNodeSocket(socket, { encrypted: false, startTls }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const { hostname: host, port, reusePort } = options;
    server.listen({ host, port, ...(reusePort ? { reusePort } : {}) }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", () => {
    // Accept errors (EMFILE and the like) are transient: keep listening.
  });
  const bound = server.address() as net.AddressInfo;
  return {
    addr: { hostname: bound.address, port: bound.port },
    close() {
      if (queue.closed) return;
      queue.close();
      server.close(); // its callback would wait for open sessions
    },
    [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](),
  };
}
