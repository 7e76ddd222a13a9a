/**
 * The metrics endpoint: `GET /metrics` over `node:http`, which Deno, Bun
 * and Node all ship.
 *
 * @module
 */

import { createServer } from "node:http";
import type { Config } from "./config.ts";
import { formatAddress, ListenError } from "./listeners.ts";
import type { Log } from "./log.ts";

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

/**
 * Starts the endpoint that `--metrics-port` asks for, on
 * `--metrics-hostname`, and logs where it listens.
 *
 * @returns The endpoint, or `undefined` without `--metrics-port`.
 * @throws {ListenError} Naming `--metrics-port` when it cannot listen.
 *
 * @example
 * ```ts ignore
 * const server = await metricsEndpoint(config, () => "up 1\n", log);
 * await server?.close();
 * ```
 */
export async function metricsEndpoint(
  config: Config,
  render: () => string | Promise<string>,
  log: Log,
): Promise<MetricsServer | undefined> {
  const port = config["metrics-port"] as number | undefined;
  if (port === undefined) return undefined;
  const hostname = config["metrics-hostname"] as string;
  let server: MetricsServer;
  try {
    server = await serveMetrics(hostname, port, render);
  } catch (error) {
    throw new ListenError(
      { proto: "pop3", hostname, port },
      "--metrics-port",
      error,
    );
  }
  log.line("listening", {
    proto: "metrics",
    address: formatAddress(hostname, server.port),
  });
  return server;
}
