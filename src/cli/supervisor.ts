/**
 * `pop3d --workers N`: N worker threads serve on the same ports
 * (`SO_REUSEPORT`, the kernel spreads new connections over them), one per
 * core. The supervisor starts them one after another, passes signals on,
 * writes their log lines, shares each login's outcome with the others'
 * auth penalty, serves one metrics endpoint for all, and starts a worker
 * again when one dies or stops answering (`worker-timeout`: a stuck
 * worker's share of the new connections would otherwise wait forever, as
 * the kernel keeps giving it some).
 *
 * @module
 */

import { checkServeConfig, type Config } from "./config.ts";
import type { Host, WorkerThread } from "./host.ts";
import { Log, type LogFormat } from "./log.ts";
import { mergeExpositions } from "./metrics_merge.ts";
import { metricsEndpoint, type MetricsServer } from "./metrics_server.ts";
import { readTls } from "./serve.ts";
import { ConfigError } from "./settings.ts";
import { fixedSettings, type FromWorker } from "./worker_role.ts";

/** How long the metrics endpoint waits for a worker's part. */
const METRICS_WAIT = 2_000;
/** The first delay before a dead worker is started again; doubles. */
const RESTART_DELAY = 500;
const RESTART_DELAY_MAX = 30_000;
/** A worker that served this long before dying is restarted at once. */
const STABLE_AFTER = 60_000;
/** The longest time between two heartbeats. */
const HEARTBEAT_MAX = 5_000;

class Slot {
  readonly index: number;
  thread: WorkerThread | undefined;
  ready = false;
  code: number | undefined;
  started = 0;
  delay = RESTART_DELAY;
  /** When the thread last said anything (Date.now()). */
  heard = 0;
  /** Ended by the supervisor for not answering in time. */
  stuck = false;
  readonly metrics = new Map<number, (text: string) => void>();
  exited: Promise<number> = Promise.resolve(0);
  constructor(index: number) {
    this.index = index;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs `count` workers until SIGTERM or SIGINT; resolves with the exit
 * code: 0 after a stop, else the code of the worker that could not start.
 *
 * @param host The runtime; it must be able to start threads.
 * @param loadConfig Reads the settings (again on SIGHUP).
 * @param config The settings already read.
 * @param count How many workers (`--workers`, `auto` resolved).
 * @throws {ConfigError} For bad settings, before any thread starts.
 *
 * @example
 * ```ts ignore
 * const code = await supervise(nodeHost(), load, await load(), 4);
 * ```
 */
export async function supervise(
  host: Host,
  loadConfig: () => Promise<Config>,
  config: Config,
  count: number,
): Promise<number> {
  checkServeConfig(config);
  for (const key of ["port", "tls-port", "lmtp-port"]) {
    if (config[key] === 0) {
      throw new ConfigError(
        `--${key} 0 cannot go with --workers ${count}: the workers share one port, so give its number`,
      );
    }
  }
  const start = host.startWorker;
  if (!start) {
    throw new ConfigError(`--workers ${count}: this host cannot start threads`);
  }
  await readTls(config, host);
  const log = new Log(
    (line) => host.err(`${line}\n`),
    config["log-format"] as LogFormat,
  );
  let stopping = false;
  let restarts = 0;
  let request = 0;
  const slots = Array.from({ length: count }, (_, i) => new Slot(i + 1));
  const timeout = (config["worker-timeout"] as number | undefined) ?? 60_000;
  // What only a restart applies stays as read now, for every worker.
  const fixed = fixedSettings(config);

  const onMessage = (slot: Slot, message: FromWorker) => {
    switch (message.type) {
      case "out":
        return host.out(message.text);
      case "err":
        return host.err(message.text);
      case "login":
        for (const other of slots) {
          if (other !== slot && other.ready) {
            other.thread!.post({
              type: "peer-login",
              remotes: message.remotes,
              ok: message.ok,
            });
          }
        }
        return;
      case "metrics":
        slot.metrics.get(message.request)?.(message.text);
        slot.metrics.delete(message.request);
        return;
      case "done":
        slot.code = message.code;
        slot.thread?.terminate();
        return;
      case "pong":
        return;
    }
  };

  /** Starts the slot's thread; resolves once it is ready or has ended. */
  const launch = (slot: Slot): Promise<"ready" | number> => {
    const thread = start({
      args: host.args,
      index: slot.index,
      count,
      fixed,
      youngGenerationMb: config["worker-young-generation"] as
        | number
        | undefined,
    });
    slot.thread = thread;
    slot.ready = false;
    slot.code = undefined;
    slot.started = slot.heard = Date.now();
    slot.stuck = false;
    return new Promise((resolve) => {
      let resolveExit!: (code: number) => void;
      slot.exited = new Promise((r) => resolveExit = r);
      thread.onMessage((message) => {
        slot.heard = Date.now();
        if (message.type === "ready") {
          slot.ready = true;
          resolve("ready");
        } else onMessage(slot, message);
      });
      thread.onExit((threadCode, exitError) => {
        const error = slot.stuck
          ? new Error(`did not answer for ${timeout} ms (worker-timeout)`)
          : exitError;
        const wasReady = slot.ready;
        const code = slot.code ?? (threadCode || 1);
        slot.ready = false;
        slot.thread = undefined;
        for (const answer of slot.metrics.values()) answer("");
        slot.metrics.clear();
        resolveExit(code);
        if (!wasReady && slot.code !== undefined) return resolve(code);
        if (!wasReady) {
          // Died before it could say why (a module that would not load).
          log.line("fatal", {
            error: `--workers ${count}: worker ${slot.index} did not start: ${
              error ? errorText(error) : `exit code ${code}`
            }`,
          });
          return resolve(code);
        }
        if (stopping && slot.code !== undefined) return;
        log.line("worker-exit", {
          worker: slot.index,
          code,
          error: error ? errorText(error) : undefined,
        });
        if (!stopping) restart(slot);
      });
    });
  };

  const restart = (slot: Slot) => {
    const stable = Date.now() - slot.started >= STABLE_AFTER;
    const delay = stable ? 0 : slot.delay;
    slot.delay = stable
      ? RESTART_DELAY
      : Math.min(slot.delay * 2, RESTART_DELAY_MAX);
    setTimeout(async () => {
      if (stopping) return;
      restarts++;
      const result = await launch(slot);
      log.line("worker-restarted", {
        worker: slot.index,
        ok: result === "ready",
        delay_ms: delay,
      });
      if (result !== "ready" && !stopping) restart(slot);
    }, delay);
  };

  const stopAll = async (signal: "SIGTERM" | "SIGINT") => {
    for (const slot of slots) slot.thread?.post({ type: "signal", signal });
    const codes = await Promise.all(slots.map((slot) => slot.exited));
    return codes.find((code) => code !== 0) ?? 0;
  };

  // The signals are taken from the start: starting N threads takes N
  // times a thread's start-up, and a SIGHUP meanwhile must not end the
  // process (its default). A worker still starting keeps a signal until
  // it listens for it.
  // The metrics endpoint, once it listens.
  const open: { metrics?: MetricsServer } = {};
  let stopped!: (code: number) => void;
  const done = new Promise<number>((resolve) => stopped = resolve);
  host.onSignal("SIGHUP", async () => {
    if (stopping) return;
    try {
      const next = await loadConfig();
      log.format = next["log-format"] as LogFormat;
    } catch {
      // the workers read the settings too, and say what is wrong
    }
    for (const slot of slots) {
      slot.thread?.post({ type: "signal", signal: "SIGHUP" });
    }
  });
  const stop = async (signal: "SIGTERM" | "SIGINT") => {
    if (stopping) {
      for (const slot of slots) slot.thread?.post({ type: "signal", signal });
      return;
    }
    stopping = true;
    const started = Date.now();
    log.line("stopping", { signal, workers: count });
    const code = await stopAll(signal);
    await open.metrics?.close();
    log.line("stopped", { duration_ms: Date.now() - started });
    stopped(code);
  };
  host.onSignal("SIGTERM", () => void stop("SIGTERM"));
  host.onSignal("SIGINT", () => void stop("SIGINT"));

  const watchdog = timeout > 0 ? watch(slots, timeout, log) : undefined;
  try {
    // One after another: a setting only a worker can check (the passwd
    // file, PostgreSQL, a port in use) fails once, in the first.
    for (const slot of slots) {
      const result = await launch(slot);
      if (stopping) return await done;
      if (result !== "ready") {
        stopping = true;
        await stopAll("SIGTERM");
        return result;
      }
    }

    const render = async (): Promise<string> => {
      const id = ++request;
      const parts = await Promise.all(
        slots.map((slot) =>
          new Promise<{ worker: number; text: string }>((resolve) => {
            const answer = (text: string) => {
              clearTimeout(timer);
              resolve({ worker: slot.index, text });
            };
            const timer = setTimeout(() => {
              slot.metrics.delete(id);
              answer("");
            }, METRICS_WAIT);
            if (!slot.thread || !slot.ready) return answer("");
            slot.metrics.set(id, answer);
            slot.thread.post({ type: "metrics", request: id });
          })
        ),
      );
      const up = slots.filter((slot) => slot.ready).length;
      return mergeExpositions(parts) +
        "# HELP pop3d_workers Worker threads serving now.\n" +
        "# TYPE pop3d_workers gauge\n" +
        `pop3d_workers ${up}\n` +
        "# HELP pop3d_worker_restarts_total Worker threads started again after one died.\n" +
        "# TYPE pop3d_worker_restarts_total counter\n" +
        `pop3d_worker_restarts_total ${restarts}\n`;
    };
    let endpoint: MetricsServer | undefined;
    try {
      endpoint = await metricsEndpoint(config, render, log);
    } catch (error) {
      if (stopping) return await done;
      log.line("fatal", { error: errorText(error) });
      stopping = true;
      await stopAll("SIGTERM");
      return 1;
    }
    if (stopping) {
      await endpoint?.close();
      return await done;
    }
    open.metrics = endpoint;
    log.line("ready", { workers: count });
    return await done;
  } finally {
    clearInterval(watchdog);
  }
}

/**
 * Pings every thread often enough to notice within `timeout` one that does
 * not answer, and ends that one (its exit then restarts it, or fails the
 * start). Any message counts as an answer. A round that comes late, because
 * this thread was held up itself, judges no one.
 */
function watch(
  slots: readonly Slot[],
  timeout: number,
  log: Log,
): ReturnType<typeof setInterval> {
  const period = Math.min(HEARTBEAT_MAX, Math.max(50, Math.floor(timeout / 4)));
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    const late = now - last > period + timeout / 2;
    last = now;
    for (const slot of slots) {
      if (!slot.thread || slot.stuck) continue;
      if (late) slot.heard = now;
      else if (now - slot.heard > timeout) {
        slot.stuck = true;
        log.line("worker-stuck", {
          worker: slot.index,
          silent_ms: now - slot.heard,
        });
        slot.thread.terminate();
        continue;
      }
      slot.thread.post({ type: "ping" });
    }
  }, period);
  return timer;
}
