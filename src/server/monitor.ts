/**
 * Counters, events, logging and transcripts of a {@linkcode Pop3d}.
 *
 * @module
 */

import type { SessionCounter, SessionObserver } from "../session/config.ts";
import type { Pop3dEvent } from "../session/events.ts";

/**
 * Anything shaped like `console`: the server calls `info`, `warn` and
 * `error` (and `debug` when present).
 */
export interface Pop3dLogger {
  /** Routine events: logins, connections closed. */
  info(...data: unknown[]): void;
  /** Failed logins, refused connections. */
  warn(...data: unknown[]): void;
  /** Errors from callbacks and transports. */
  error(...data: unknown[]): void;
  /** Connections opened, when present. */
  debug?(...data: unknown[]): void;
}

/**
 * One line of a session transcript. Client lines are rebuilt from the parsed
 * command, so the arguments of PASS, APOP and AUTH and every SASL response
 * appear as `<redacted>` by construction; message bodies are not included.
 */
export interface TranscriptEntry {
  /** Connection id. */
  id: number;
  /** `"C"` for a client line, `"S"` for a server line. */
  from: "C" | "S";
  /** The line without CRLF. */
  line: string;
}

/**
 * Counters since the server was created, from {@linkcode Pop3d.stats}.
 *
 * @example
 * ```ts ignore
 * const { loginsOk, bytesOut } = server.stats();
 * ```
 */
export interface Pop3dStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted since start. */
  connectionsTotal: number;
  /** Connections refused by `maxConnections` or `maxConnectionsPerAddress` (every counted one had logged in). */
  connectionsRefused: number;
  /** Connections that had not logged in, closed to admit a new one at a connection cap. */
  connectionsEvicted: number;
  /** Addresses (IPv6: prefixes) under an auth penalty now. */
  authPenalties: number;
  /** Sessions logged in now. */
  sessions: number;
  /** Successful logins. */
  loginsOk: number;
  /** Failed logins (bad credentials, lock refused, callback errors). */
  loginsFailed: number;
  /** Complete messages sent by RETR. */
  messagesSent: number;
  /** Messages deleted at QUIT. */
  messagesDeleted: number;
  /** Octets received from clients. */
  bytesIn: number;
  /** Octets sent to clients. */
  bytesOut: number;
  /** Errors reported to `onError`. */
  errors: number;
}

/** The hooks a monitor feeds. */
export interface MonitorHooks {
  /** The `onEvent` option. */
  onEvent: ((event: Pop3dEvent) => void) | null;
  /** The `onError` option. */
  onError: ((error: unknown) => void) | null;
  /** The `logger` option. */
  logger: Pop3dLogger | null;
  /** The `transcript` option. */
  transcript: ((entry: TranscriptEntry) => void) | null;
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A failing hook must never end a session.
  }
}

/**
 * Collects counters and fans events out to the hooks. One per server,
 * shared by its sessions; costs a few increments when no hook is set.
 *
 * @example
 * ```ts
 * import { Monitor } from "./monitor.ts";
 * const m = new Monitor({ onEvent: null, onError: null, logger: null, transcript: null });
 * m.event({
 *   type: "login",
 *   id: 1,
 *   remote: "127.0.0.1",
 *   user: "alice",
 *   method: "USER",
 * });
 * console.assert(m.snapshot().loginsOk === 1);
 * ```
 */
export class Monitor implements SessionObserver {
  #hooks: MonitorHooks;
  readonly #stats: Pop3dStats = {
    connections: 0,
    connectionsTotal: 0,
    connectionsRefused: 0,
    connectionsEvicted: 0,
    authPenalties: 0,
    sessions: 0,
    loginsOk: 0,
    loginsFailed: 0,
    messagesSent: 0,
    messagesDeleted: 0,
    bytesIn: 0,
    bytesOut: 0,
    errors: 0,
  };

  #tap: ((event: Pop3dEvent) => void) | undefined;

  /**
   * @param hooks The hooks to feed.
   * @param tap Sees every session event first (the server's own bookkeeping).
   */
  constructor(hooks: MonitorHooks, tap?: (event: Pop3dEvent) => void) {
    this.#hooks = hooks;
    this.#tap = tap;
  }

  /** Replaces the hooks (after `configure`). */
  setHooks(hooks: MonitorHooks): void {
    this.#hooks = hooks;
  }

  /** Whether per-command events are wanted. */
  get wantsCommands(): boolean {
    return this.#hooks.onEvent !== null;
  }

  /** Whether a transcript is being written. */
  get wantsTranscript(): boolean {
    return this.#hooks.transcript !== null;
  }

  /** The counters, with mutable fields for the sessions. */
  get stats(): Pop3dStats {
    return this.#stats;
  }

  /** A copy of the counters. */
  snapshot(): Pop3dStats {
    return { ...this.#stats };
  }

  /** Adds `n` to one of the counters a session feeds. */
  count(counter: SessionCounter, n: number): void {
    this.#stats[counter] += n;
  }

  /** Writes one transcript line. */
  transcript(id: number, from: "C" | "S", line: string): void {
    const hook = this.#hooks.transcript;
    if (hook) safely(() => hook({ id, from, line }));
  }

  /** Counts a refused connection. */
  refused(remote: string): void {
    this.#stats.connectionsRefused++;
    const logger = this.#hooks.logger;
    if (logger) {
      safely(() =>
        logger.warn(
          `pop3d: refused a connection from ${remote}: too many connections`,
        )
      );
    }
  }

  /** Counts a connection evicted to admit a new one. */
  evicted(remote: string): void {
    this.#stats.connectionsEvicted++;
    const logger = this.#hooks.logger;
    if (logger) {
      safely(() =>
        logger.warn(
          `pop3d: closed a connection from ${remote} that had not logged in, to admit a new one`,
        )
      );
    }
  }

  /** Reports an error to `onError`, the logger and as an event. */
  error(id: number | undefined, error: unknown): void {
    this.#stats.errors++;
    const { onError, logger } = this.#hooks;
    if (onError) safely(() => onError(error));
    if (logger) {
      safely(() =>
        logger.error(
          `pop3d: error${id === undefined ? "" : ` on #${id}`}:`,
          error,
        )
      );
    }
    this.#dispatch({ type: "error", id, error });
  }

  /** Counts and dispatches one event. */
  event(event: Pop3dEvent): void {
    this.#tap?.(event);
    const s = this.#stats;
    const logger = this.#hooks.logger;
    switch (event.type) {
      case "open":
        s.connections++;
        s.connectionsTotal++;
        if (logger?.debug) {
          safely(() =>
            logger.debug!(`pop3d: #${event.id} open from ${event.remote}`)
          );
        }
        break;
      case "close":
        s.connections--;
        if (logger) {
          safely(() =>
            logger.info(
              `pop3d: #${event.id} closed (${event.reason}), ${event.bytesIn} in, ${event.bytesOut} out, ${event.durationMs} ms`,
            )
          );
        }
        break;
      case "login":
        s.loginsOk++;
        s.sessions++;
        if (logger) {
          safely(() =>
            logger.info(
              `pop3d: #${event.id} login ${event.user} (${event.method})`,
            )
          );
        }
        break;
      case "login-failed":
        s.loginsFailed++;
        if (logger) {
          safely(() =>
            logger.warn(
              `pop3d: #${event.id} login failed for ${
                JSON.stringify(event.user)
              } (${event.method}): ${event.reason}`,
            )
          );
        }
        break;
      case "logout":
        s.sessions--;
        break;
      case "tls-failed":
        if (logger) {
          safely(() =>
            logger.warn(
              `pop3d: #${event.id} TLS handshake with ${event.remote} failed`,
            )
          );
        }
        break;
    }
    this.#dispatch(event);
  }

  #dispatch(event: Pop3dEvent): void {
    const hook = this.#hooks.onEvent;
    if (hook) safely(() => hook(event));
  }
}
