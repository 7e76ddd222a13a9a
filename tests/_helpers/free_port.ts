/**
 * A loopback port that was free a moment ago (bound on 127.0.0.1 and
 * released), for what needs a fixed port: servers sharing one, peers
 * started with a port in their config.
 */

import { createServer } from "node:net";

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}
