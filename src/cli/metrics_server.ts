/**
 * The metrics endpoint: `GET /metrics` over `node:http`, which Deno, Bun
 * and Node all ship.
 *
 * @module
 */

import { createServer } from "node:http";

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The bound port. */
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * Serves `render()` at `/metrics` in the Prometheus text format; anything
 * else gets 404.
 *
 * @throws {Error} When the address cannot be bound.
 *
 * @example
 * ```ts ignore
 * const server = await serveMetrics("127.0.0.1", 9110, () => "up 1\n");
 * await server.close();
 * ```
 */
export async function serveMetrics(
  hostname: string,
  port: number,
  render: () => string | Promise<string>,
): Promise<MetricsServer> {
  const server = createServer(async (request, response) => {
    const path = (request.url ?? "").split("?")[0];
    if (
      path !== "/metrics" ||
      (request.method !== "GET" && request.method !== "HEAD")
    ) {
      response.writeHead(404, { "content-type": "text/plain" });
      response.end("Not found: try /metrics\n");
      return;
    }
    let body: string;
    try {
      body = await render();
    } catch {
      response.writeHead(500, { "content-type": "text/plain" });
      response.end("Cannot render the metrics\n");
      return;
    }
    response.writeHead(200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
    response.end(request.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: hostname, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", () => {});
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
