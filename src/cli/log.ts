/**
 * The program's log: one line per event, as text or JSON.
 *
 * Text: `<ISO time> <event> key=value ...`, values that are not plain
 * tokens in JSON quotes. JSON: `{"time":...,"event":...,...}`. In both the
 * fields come in a fixed order, and a failed login is always
 *
 *     2026-01-02T03:04:05.678Z login-failed id=7 remote=192.0.2.1 method=USER reason=credentials user="bob"
 *     {"time":"2026-01-02T03:04:05.678Z","event":"login-failed","id":7,"remote":"192.0.2.1","method":"USER","reason":"credentials","user":"bob"}
 *
 * with the client-chosen user name last, so that a user name can never
 * pass for the address (contrib/fail2ban/pop3d.conf relies on it).
 *
 * @module
 */

import type { Pop3dEvent } from "../server/events.ts";

/** A log record: the event name and its fields, in order. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Which worker of `--workers` writes the log. */
export interface LogWorker {
  /** Its number, 1 to `count`. */
  index: number;
  /** How many there are. */
  count: number;
}

/** The log formats. */
export type LogFormat = "text" | "json";

const PLAIN = /^[\w.:/@+\-\[\]]+$/;

/**
 * Formats one record as a line (without the line end).
 *
 * @example
 * ```ts
 * import { formatLine } from "./log.ts";
 * const line = formatLine("text", new Date(0), "login", { id: 1, remote: "::1", user: "a b" });
 * console.assert(line === '1970-01-01T00:00:00.000Z login id=1 remote=::1 user="a b"');
 * ```
 */
export function formatLine(
  format: LogFormat,
  time: Date,
  event: string,
  fields: LogFields,
): string {
  if (format === "json") {
    return JSON.stringify({ time: time.toISOString(), event, ...fields });
  }
  let line = `${time.toISOString()} ${event}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = String(value);
    line += ` ${key}=${
      typeof value === "string" && (key === "user" || !PLAIN.test(text))
        ? JSON.stringify(text)
        : text
    }`;
  }
  return line;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error
      ? `: ${error.cause.message}`
      : "";
    return `${error.name}: ${error.message}${cause}`;
  }
  return String(error);
}

/**
 * Writes log lines, and turns the server's events into them. Keeps each
 * open session's address so that errors carry it too.
 *
 * @example
 * ```ts
 * import { Log } from "./log.ts";
 * const lines: string[] = [];
 * const log = new Log((line) => lines.push(line), "json");
 * log.event({ type: "login", id: 1, remote: "::1", user: "alice", method: "USER" });
 * console.assert(JSON.parse(lines[0]).event === "login");
 * ```
 */
export class Log {
  #write: (line: string) => void;
  /** The format; may change on reload. */
  format: LogFormat;
  /** Whether each command gets a line. */
  debug = false;
  #remotes = new Map<number, string>();
  #worker: LogWorker | undefined;

  /**
   * A log that hands each line to `write`.
   *
   * @param write Receives each line, without the line end.
   * @param format Text or JSON.
   * @param worker Set in a worker of `--workers`: which one it is.
   */
  constructor(
    write: (line: string) => void,
    format: LogFormat,
    worker?: LogWorker,
  ) {
    this.#write = write;
    this.format = format;
    this.#worker = worker;
  }

  /**
   * Writes one record. In a worker, a record without a session `id` ends
   * with `worker=N`; session ids tell the worker already.
   */
  line(event: string, fields: LogFields = {}): void {
    const worker = this.#worker;
    if (worker && !("id" in fields)) {
      fields = { ...fields, worker: worker.index };
    }
    this.#write(formatLine(this.format, new Date(), event, fields));
  }

  /** Writes one server event. */
  event(e: Pop3dEvent): void {
    const w = this.#worker;
    // Worker k of n numbers its sessions k, k+n, k+2n, ...: unique in
    // the one log, and the fail2ban filter's `id=\d+` still matches.
    const id = w && e.id !== undefined ? w.index + (e.id - 1) * w.count : e.id;
    switch (e.type) {
      case "open":
        this.#remotes.set(e.id, e.remote);
        return this.line("open", {
          id,
          remote: e.remote,
          tls: e.encrypted,
        });
      case "close":
        this.#remotes.delete(e.id);
        return this.line("close", {
          id,
          remote: e.remote,
          reason: e.reason,
          bytes_in: e.bytesIn,
          bytes_out: e.bytesOut,
          duration_ms: e.durationMs,
        });
      case "login":
        return this.line("login", {
          id,
          remote: e.remote,
          method: e.method,
          user: e.user,
        });
      case "login-failed":
        return this.line("login-failed", {
          id,
          remote: e.remote,
          method: e.method,
          reason: e.reason,
          user: e.user,
        });
      case "logout":
        return this.line("logout", {
          id,
          remote: e.remote,
          deleted: e.deleted,
          user: e.user,
        });
      case "command":
        if (!this.debug) return;
        return this.line("command", {
          id,
          remote: e.remote,
          verb: e.verb,
          ok: e.ok,
          duration_ms: e.durationMs,
        });
      case "error":
        return this.line("error", {
          id,
          remote: e.id === undefined ? undefined : this.#remotes.get(e.id),
          error: describe(e.error),
        });
    }
  }
}
