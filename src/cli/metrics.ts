/**
 * Prometheus metrics of the program, in the text exposition format
 * (version 0.0.4): counted from the server's events and its `stats()`.
 *
 * @module
 */

import type { Pop3dEvent } from "../server/events.ts";
import type { Pop3dStats } from "../server/monitor.ts";
import { COMMAND_NAMES } from "../protocol/command.ts";

/**
 * The verbs counted by name: the server's command table; anything else a
 * client sends counts as "other", so clients cannot add series.
 */
const VERBS: ReadonlySet<string> = new Set(COMMAND_NAMES);

type Labels = Record<string, string>;

class Family {
  readonly samples = new Map<string, { labels: Labels; value: number }>();
  readonly name: string;
  readonly type: "counter" | "gauge";
  readonly help: string;
  constructor(name: string, type: "counter" | "gauge", help: string) {
    this.name = name;
    this.type = type;
    this.help = help;
  }

  add(labels: Labels, delta: number): void {
    const key = JSON.stringify(labels);
    const sample = this.samples.get(key);
    if (sample) sample.value += delta;
    else this.samples.set(key, { labels, value: delta });
  }

  set(labels: Labels, value: number): void {
    this.samples.set(JSON.stringify(labels), { labels, value });
  }
}

function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(
    /"/g,
    '\\"',
  );
}

function render(family: Family, out: string[]): void {
  const name = family.type === "counter" ? `${family.name}_total` : family.name;
  out.push(`# HELP ${name} ${family.help}`);
  out.push(`# TYPE ${name} ${family.type}`);
  for (const { labels, value } of family.samples.values()) {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
    out.push(`${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${value}`);
  }
}

/**
 * Counts the server's events, and renders them with the server's counters
 * as a Prometheus exposition.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const m = new Metrics();
 * m.event({ type: "login", id: 1, remote: "::1", user: "a", method: "USER" });
 * console.assert(m.render().includes('pop3d_logins_total{result="ok",method="USER"} 1'));
 * ```
 */
export class Metrics {
  #connections = new Family(
    "pop3d_connections",
    "counter",
    "Connections accepted, by whether they began in TLS (POP3S).",
  );
  #active = new Family(
    "pop3d_connections_active",
    "gauge",
    "Connections open now, by whether they are in TLS (POP3S or after STLS).",
  );
  #logins = new Family(
    "pop3d_logins",
    "counter",
    "Login attempts, by result and method.",
  );
  #failures = new Family(
    "pop3d_login_failures",
    "counter",
    "Failed logins, by reason.",
  );
  #commands = new Family(
    "pop3d_commands",
    "counter",
    "Commands answered, by verb and result.",
  );
  #closes = new Family(
    "pop3d_connections_closed",
    "counter",
    "Connections closed, by reason.",
  );
  #reloads = new Family(
    "pop3d_reloads",
    "counter",
    "Configuration reloads (SIGHUP), by result.",
  );
  #open = new Map<number, boolean>();
  /** Extra gauges: name → [help, value]. */
  readonly gauges = new Map<string, [string, number]>();

  constructor() {
    for (const tls of ["true", "false"]) {
      this.#connections.add({ tls }, 0);
      this.#active.set({ tls }, 0);
    }
    this.#logins.add({ result: "ok", method: "USER" }, 0);
    this.#logins.add({ result: "failed", method: "USER" }, 0);
    for (const result of ["ok", "failed"]) this.#reloads.add({ result }, 0);
  }

  /** Counts one server event. */
  event(e: Pop3dEvent): void {
    switch (e.type) {
      case "open":
        this.#open.set(e.id, e.encrypted);
        this.#connections.add({ tls: String(e.encrypted) }, 1);
        break;
      case "close":
        this.#open.delete(e.id);
        this.#closes.add({ reason: e.reason }, 1);
        break;
      case "login":
        this.#logins.add({ result: "ok", method: e.method }, 1);
        break;
      case "login-failed":
        this.#logins.add({ result: "failed", method: e.method }, 1);
        this.#failures.add({ reason: e.reason }, 1);
        break;
      case "command": {
        const verb = VERBS.has(e.verb) ? e.verb : "other";
        this.#commands.add({ verb, result: e.ok ? "ok" : "err" }, 1);
        if (verb === "STLS" && e.ok && this.#open.has(e.id)) {
          this.#open.set(e.id, true);
        }
        break;
      }
    }
  }

  /** Counts one reload. */
  reloaded(ok: boolean): void {
    this.#reloads.add({ result: ok ? "ok" : "failed" }, 1);
  }

  /**
   * The exposition text.
   *
   * @param stats The server's counters, when there is a server.
   */
  render(stats?: Pop3dStats): string {
    const out: string[] = [];
    let tls = 0;
    for (const encrypted of this.#open.values()) if (encrypted) tls++;
    this.#active.set({ tls: "true" }, tls);
    this.#active.set({ tls: "false" }, this.#open.size - tls);
    for (
      const family of [
        this.#connections,
        this.#active,
        this.#closes,
        this.#logins,
        this.#failures,
        this.#commands,
        this.#reloads,
      ]
    ) render(family, out);
    if (stats) {
      const counters: [string, string, number][] = [
        [
          "pop3d_connections_refused",
          "Connections refused by max-connections or max-connections-per-address.",
          stats.connectionsRefused,
        ],
        [
          "pop3d_received_bytes",
          "Octets received from clients.",
          stats.bytesIn,
        ],
        ["pop3d_sent_bytes", "Octets sent to clients.", stats.bytesOut],
        [
          "pop3d_messages_retrieved",
          "Messages sent whole by RETR.",
          stats.messagesSent,
        ],
        [
          "pop3d_messages_deleted",
          "Messages deleted at QUIT.",
          stats.messagesDeleted,
        ],
        [
          "pop3d_errors",
          "Errors from storage, auth and transports.",
          stats.errors,
        ],
      ];
      counters.push([
        "pop3d_connections_evicted",
        "Connections that had not logged in, closed to admit a new one at a connection cap.",
        stats.connectionsEvicted,
      ]);
      for (const [name, help, value] of counters) {
        const family = new Family(name, "counter", help);
        family.set({}, value);
        render(family, out);
      }
      const penalties = new Family(
        "pop3d_auth_penalty_addresses",
        "gauge",
        "Client addresses (IPv6: prefixes) under an auth penalty now.",
      );
      penalties.set({}, stats.authPenalties);
      render(penalties, out);
      const sessions = new Family(
        "pop3d_sessions_active",
        "gauge",
        "Sessions logged in now.",
      );
      sessions.set({}, stats.sessions);
      render(sessions, out);
    }
    for (const [name, [help, value]] of this.gauges) {
      const family = new Family(name, "gauge", help);
      family.set({}, value);
      render(family, out);
    }
    return `${out.join("\n")}\n`;
  }
}
