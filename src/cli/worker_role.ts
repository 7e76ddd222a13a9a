/**
 * What passes between the `pop3d` supervisor (`--workers N`) and its
 * worker threads, and how a worker's settings differ from the program's.
 *
 * @module
 */

import { DEFAULTS } from "../server/options.ts";
import type { Config } from "./config.ts";

/** What a worker thread is started with. */
export interface WorkerData {
  /** The program's command line, read again by the worker. */
  args: readonly string[];
  /** This worker's number, 1 to `count`. */
  index: number;
  /** How many workers share the ports. */
  count: number;
}

/** A message from the supervisor to a worker. */
export type ToWorker =
  | { type: "signal"; signal: "SIGHUP" | "SIGTERM" | "SIGINT" }
  | { type: "metrics"; request: number }
  | { type: "peer-login"; remote: string; ok: boolean }
  | { type: "ping" };

/** A message from a worker to the supervisor. */
export type FromWorker =
  | { type: "out" | "err"; text: string }
  | { type: "ready" }
  | { type: "metrics"; request: number; text: string }
  | { type: "login"; remote: string; ok: boolean }
  | { type: "pong" }
  | { type: "done"; code: number };

/**
 * A worker's side of serving: `serve()` runs as one of several workers
 * sharing the ports when given one.
 */
export interface WorkerRole {
  /** This worker's number, 1 to `count`. */
  readonly index: number;
  /** How many workers share the ports. */
  readonly count: number;
  /** Tells the supervisor that the listeners are open. */
  ready(): void;
  /** Tells the other workers of a login here (for their auth penalty). */
  shareLogin(remote: string, ok: boolean): void;
  /** Applies the other workers' logins here. */
  onPeerLogin(handler: (remote: string, ok: boolean) => void): void;
  /** Answers the supervisor's requests for this worker's metrics. */
  onMetrics(render: () => string): void;
}

/**
 * A worker's settings: the program's, with the ports shared
 * (`reuse-port`), no metrics endpoint of its own (the supervisor serves
 * one for all), and `max-connections` divided among the workers (rounded
 * up), so that the total stays what the administrator set.
 *
 * @example
 * ```ts
 * import { workerConfig } from "./worker_role.ts";
 * const c = workerConfig({ "max-connections": 1000, "metrics-port": 9110 }, 3);
 * console.assert(c["max-connections"] === 334 && c["reuse-port"] === true);
 * console.assert(c["metrics-port"] === undefined);
 * ```
 */
export function workerConfig(config: Config, count: number): Config {
  const total = (config["max-connections"] as number | undefined) ??
    DEFAULTS.maxConnections;
  return {
    ...config,
    "reuse-port": true,
    "metrics-port": undefined,
    "max-connections": Math.ceil(total / count),
  };
}
