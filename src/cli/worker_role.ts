/**
 * What passes between the `pop3d` supervisor (`--workers N`) and its
 * worker threads, and how a worker's settings differ from the program's.
 *
 * @module
 */

import { DEFAULTS } from "../server/options.ts";
import type { Config } from "./config.ts";
import { SETTINGS } from "./settings.ts";

/** What a worker thread is started with. */
export interface WorkerData {
  /** The program's command line, read again by the worker. */
  args: readonly string[];
  /** This worker's number, 1 to `count`. */
  index: number;
  /** How many workers share the ports. */
  count: number;
  /**
   * The settings that apply only at start, as the supervisor read them
   * ({@linkcode fixedSettings}): a worker started again after the file
   * changed keeps the running workers' ports and the like.
   */
  fixed?: Config;
  /**
   * The thread's young generation in MiB (V8's `maxYoungGenerationSizeMb`;
   * Bun has no such limit); the runtime's own when absent or 0.
   */
  youngGenerationMb?: number;
}

/** A message from the supervisor to a worker. */
export type ToWorker =
  | { type: "signal"; signal: "SIGHUP" | "SIGTERM" | "SIGINT" }
  | { type: "metrics"; request: number }
  | { type: "peer-login"; remotes: string[]; ok: boolean }
  | { type: "ping" };

/** A message from a worker to the supervisor. */
export type FromWorker =
  | { type: "out" | "err"; text: string }
  | { type: "ready" }
  | { type: "metrics"; request: number; text: string }
  | { type: "login"; remotes: string[]; ok: boolean }
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
  /** The settings to keep from the program's start, if any. */
  readonly fixed?: Config;
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

/**
 * The settings of `config` that SIGHUP does not apply (they take effect at
 * start only), for {@linkcode keepFixed} in a worker.
 *
 * @example
 * ```ts
 * import { fixedSettings } from "./worker_role.ts";
 * const f = fixedSettings({ port: 110, "log-format": "json" });
 * console.assert(f.port === 110 && !("log-format" in f));
 * ```
 */
export function fixedSettings(config: Config): Config {
  const fixed: Record<string, Config[string]> = {};
  for (const s of SETTINGS) {
    if (!s.reload && s.key in config) fixed[s.key] = config[s.key];
  }
  return fixed;
}

/**
 * `config` with the `fixed` settings in place of its own, and the names
 * of those that differed: a worker started again after the settings file
 * changed serves like the workers still running (the same ports, the same
 * storage), as a SIGHUP would have left them.
 *
 * @example
 * ```ts
 * import { keepFixed } from "./worker_role.ts";
 * const { config, kept } = keepFixed({ port: 1110 }, { port: 110 });
 * console.assert(config.port === 110 && kept[0] === "port");
 * ```
 */
export function keepFixed(
  config: Config,
  fixed: Config | undefined,
): { config: Config; kept: string[] } {
  if (!fixed) return { config, kept: [] };
  const kept = Object.keys(fixed).filter((key) =>
    JSON.stringify(config[key]) !== JSON.stringify(fixed[key])
  );
  return { config: { ...config, ...fixed }, kept };
}
