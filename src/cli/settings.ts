/**
 * The settings of the `pop3d` program: one row per setting. The flags,
 * the config file keys, `--help`, validation and defaults all come from
 * {@linkcode SETTINGS}.
 *
 * @module
 */

import { DEFAULTS, validateOption } from "../server/options.ts";
import type { Pop3dOptions } from "../server/options.ts";

/** How a setting's text is read. */
export type SettingKind =
  | "string"
  | "path"
  | "port"
  | "int"
  | "duration"
  | "enum"
  | "list"
  | "expire";

/** A value once parsed. */
export type SettingValue = string | number | readonly string[];

/** One setting: its flag (`--key`) and config key (`key`) are the same name. */
export interface Setting {
  /** Flag without `--`, and config file key. */
  readonly key: string;
  /** One-letter flag (`-s`), if any. */
  readonly short?: string;
  /** How the text is parsed. */
  readonly kind: SettingKind;
  /** Allowed values of an `enum`. */
  readonly choices?: readonly string[];
  /** Bounds of an `int`. */
  readonly min?: number;
  /** Bounds of an `int`. */
  readonly max?: number;
  /** The `Pop3d` option it sets (validated by the library too). */
  readonly option?: keyof Pop3dOptions;
  /** The default, when there is one. */
  readonly default?: SettingValue;
  /** Placeholder in `--help`. */
  readonly arg: string;
  /** Help text. */
  readonly help: string;
  /** Section in `--help`. */
  readonly group: string;
  /** Whether SIGHUP applies a new value (others need a restart). */
  readonly reload?: boolean;
}

function fromLibrary(option: keyof Pop3dOptions): SettingValue | undefined {
  const value = (DEFAULTS as Record<string, unknown>)[option];
  return typeof value === "number" || typeof value === "string"
    ? value
    : undefined;
}

function limit(
  key: string,
  option: keyof Pop3dOptions,
  kind: "int" | "duration",
  help: string,
): Setting {
  return {
    key,
    kind,
    option,
    default: fromLibrary(option),
    arg: kind === "duration" ? "TIME" : "N",
    help,
    group: "Limits and timeouts (SIGHUP applies them to new connections)",
    reload: true,
  };
}

/**
 * Every setting of the program. Durations take `ms`, `s`, `m` or `h`; a
 * bare number is milliseconds.
 *
 * @example Looking a setting up
 * ```ts
 * import { SETTINGS } from "./settings.ts";
 * const port = SETTINGS.find((s) => s.key === "port");
 * console.assert(port?.default === 110);
 * ```
 */
export const SETTINGS: readonly Setting[] = [
  // Users and mail
  {
    key: "maildir",
    kind: "path",
    arg: "ROOT",
    help: "Maildir root: each user's mail is ROOT/<user> (with --passwd)",
    group: "Users and mail",
  },
  {
    key: "passwd",
    kind: "path",
    arg: "FILE",
    help:
      "Dovecot passwd-file of the users (with --maildir); SIGHUP re-reads it",
    group: "Users and mail",
    reload: true,
  },
  {
    key: "postgres",
    kind: "string",
    arg: "URL",
    help: "Users and mail in PostgreSQL (instead of --maildir/--passwd)",
    group: "Users and mail",
  },
  {
    key: "postgres-driver",
    kind: "string",
    arg: "MODULE",
    help:
      'Driver for --postgres: "pg", "postgres", or a path to one (default: the first that loads)',
    group: "Users and mail",
  },
  // Listeners
  {
    key: "hostname",
    kind: "list",
    default: ["0.0.0.0"],
    arg: "HOST",
    help: "Address to listen on; repeat for several (IPv4 and IPv6)",
    group: "Listeners",
  },
  {
    key: "port",
    kind: "port",
    default: 110,
    arg: "PORT",
    help: "POP3 port (STLS offered when a certificate is set); 0 picks one",
    group: "Listeners",
  },
  {
    key: "tls-port",
    kind: "port",
    arg: "PORT",
    help: "POP3S port (implicit TLS); needs --tls-cert and --tls-key",
    group: "Listeners",
  },
  {
    key: "lmtp-port",
    kind: "port",
    arg: "PORT",
    help:
      "LMTP port (RFC 2033) for mail from the MTA, delivered into the same users' mail",
    group: "Listeners",
  },
  {
    key: "lmtp-hostname",
    kind: "string",
    default: "127.0.0.1",
    arg: "HOST",
    help:
      "Address of the LMTP listener (LMTP has no authentication: keep it private)",
    group: "Listeners",
  },
  {
    key: "trusted-proxies",
    kind: "list",
    arg: "CIDR",
    help:
      "Load balancers that send a PROXY protocol v1/v2 header: every POP3, POP3S and LMTP connection must come from one of them and start with a header, whose client address is then used; repeat for several",
    group: "Listeners",
  },
  {
    key: "tls-cert",
    kind: "path",
    arg: "FILE",
    help: "PEM certificate chain; SIGHUP reloads it",
    group: "Listeners",
    reload: true,
  },
  {
    key: "tls-key",
    kind: "path",
    arg: "FILE",
    help: "PEM private key; SIGHUP reloads it",
    group: "Listeners",
    reload: true,
  },
  {
    key: "tls-handshake-timeout",
    kind: "duration",
    default: 30_000,
    min: 1,
    arg: "TIME",
    help: "Time a POP3S client has to finish the TLS handshake",
    group: "Listeners",
  },
  {
    key: "plaintext-auth",
    kind: "enum",
    choices: ["always", "loopback", "tls"],
    option: "plaintextAuth",
    default: fromLibrary("plaintextAuth"),
    arg: "WHEN",
    help:
      "When passwords may be sent: always, loopback (or inside TLS), tls (only inside TLS)",
    group: "Listeners",
    reload: true,
  },
  // Metrics and logs
  {
    key: "metrics-port",
    kind: "port",
    arg: "PORT",
    help: "Serve Prometheus metrics at http://HOST:PORT/metrics",
    group: "Metrics and logs",
  },
  {
    key: "metrics-hostname",
    kind: "string",
    default: "127.0.0.1",
    arg: "HOST",
    help: "Address of the metrics endpoint",
    group: "Metrics and logs",
  },
  {
    key: "log-format",
    kind: "enum",
    choices: ["text", "json"],
    default: "text",
    arg: "FORMAT",
    help: "One line per event on stderr: text or json",
    group: "Metrics and logs",
    reload: true,
  },
  {
    key: "log-level",
    kind: "enum",
    choices: ["info", "debug"],
    default: "info",
    arg: "LEVEL",
    help: "debug adds one line per command",
    group: "Metrics and logs",
    reload: true,
  },
  // Protocol
  {
    key: "server-name",
    kind: "string",
    option: "serverName",
    default: fromLibrary("serverName"),
    arg: "NAME",
    help: "Host name in the APOP timestamp of the greeting",
    group: "Protocol",
    reload: true,
  },
  {
    key: "greeting",
    kind: "string",
    option: "greeting",
    default: fromLibrary("greeting"),
    arg: "TEXT",
    help: "Greeting text",
    group: "Protocol",
    reload: true,
  },
  {
    key: "implementation",
    kind: "string",
    option: "implementation",
    default: fromLibrary("implementation"),
    arg: "TEXT",
    help: 'CAPA IMPLEMENTATION text ("" leaves it out)',
    group: "Protocol",
    reload: true,
  },
  {
    key: "expire",
    kind: "expire",
    option: "expire",
    arg: "DAYS",
    help: "Announce CAPA EXPIRE: days, or NEVER",
    group: "Protocol",
    reload: true,
  },
  {
    key: "login-delay",
    kind: "int",
    option: "loginDelay",
    min: 0,
    max: 1_000_000_000,
    arg: "SECONDS",
    help: "Announce CAPA LOGIN-DELAY",
    group: "Protocol",
    reload: true,
  },
  // Limits
  limit(
    "idle-timeout",
    "idleTimeout",
    "duration",
    "Idle time after login before autologout",
  ),
  limit(
    "login-timeout",
    "loginTimeout",
    "duration",
    "Idle time before login",
  ),
  limit(
    "callback-timeout",
    "callbackTimeout",
    "duration",
    "Time a storage or auth call may take",
  ),
  limit(
    "write-timeout",
    "writeTimeout",
    "duration",
    "Time a client may stop reading",
  ),
  limit(
    "auth-failure-delay",
    "authFailureDelay",
    "duration",
    "Delay before answering a failed login",
  ),
  limit(
    "max-line-length",
    "maxLineLength",
    "int",
    "Octets per command line, CRLF included",
  ),
  limit(
    "max-auth-line-length",
    "maxAuthLineLength",
    "int",
    "Octets per AUTH line and SASL response",
  ),
  limit(
    "max-bad-commands",
    "maxBadCommands",
    "int",
    "Bad commands before disconnect",
  ),
  limit(
    "max-auth-failures",
    "maxAuthFailures",
    "int",
    "Failed logins per connection before disconnect",
  ),
  limit(
    "max-connections",
    "maxConnections",
    "int",
    "Open connections in total",
  ),
  limit(
    "max-connections-per-address",
    "maxConnectionsPerAddress",
    "int",
    "Open connections from one client address",
  ),
  limit(
    "address-prefix-v6",
    "addressPrefixV6",
    "int",
    "Bits of an IPv6 address that name one client, for per-address limits and penalties",
  ),
  limit(
    "auth-penalty",
    "authPenalty",
    "duration",
    "Per-address delay after a failed login, doubling per recent failure; 0 turns it off",
  ),
  limit(
    "auth-penalty-max",
    "authPenaltyMax",
    "duration",
    "Cap of the per-address auth penalty",
  ),
  limit(
    "auth-penalty-window",
    "authPenaltyWindow",
    "duration",
    "Failures from an address are forgotten this long after the last one",
  ),
  {
    key: "auth-penalty-trusted",
    kind: "list",
    option: "authPenaltyTrusted",
    default: [],
    arg: "CIDR",
    help: "Network exempt from the auth penalty; repeat for several",
    group: "Limits and timeouts (SIGHUP applies them to new connections)",
    reload: true,
  },
  {
    key: "drain-timeout",
    kind: "duration",
    default: 30_000,
    arg: "TIME",
    help:
      "On SIGTERM/SIGINT, time open sessions get to finish before they are closed",
    group: "Limits and timeouts (SIGHUP applies them to new connections)",
    reload: true,
  },
  // Subcommands
  {
    key: "scheme",
    short: "s",
    kind: "enum",
    choices: [
      "SHA512-CRYPT",
      "SHA256-CRYPT",
      "PBKDF2",
      "SSHA512",
      "SSHA256",
      "PLAIN",
    ],
    default: "SHA512-CRYPT",
    arg: "SCHEME",
    help: "Password scheme of `pw` and `user add` (passwd-file)",
    group: "Subcommands",
  },
  {
    key: "rounds",
    short: "r",
    kind: "int",
    min: 1000,
    max: 999_999_999,
    arg: "N",
    help: "Rounds of SHA512-CRYPT, SHA256-CRYPT and PBKDF2",
    group: "Subcommands",
  },
];

const BY_KEY = new Map(SETTINGS.map((s) => [s.key, s]));
const BY_SHORT = new Map(
  SETTINGS.filter((s) => s.short).map((s) => [s.short!, s]),
);

/**
 * Finds a setting by its key, or by its one-letter flag.
 *
 * @example
 * ```ts
 * import { findSetting } from "./settings.ts";
 * console.assert(findSetting("s")?.key === "scheme");
 * ```
 */
export function findSetting(name: string): Setting | undefined {
  return BY_KEY.get(name) ??
    (name.length === 1 ? BY_SHORT.get(name) : undefined);
}

/** An error in the configuration, naming the setting; the program exits 2. */
export class ConfigError extends Error {
  /**
   * @param message What is wrong, naming the setting.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

const DURATION = /^(\d+)\s*(ms|s|m|h)?$/;
const UNIT: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

function integer(setting: Setting, text: string): number {
  if (!/^-?\d+$/.test(text)) {
    throw new ConfigError(
      `--${setting.key} must be an integer, got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

/**
 * Parses and checks the text of one setting, and for a library option runs
 * the library's own validation too.
 *
 * @throws {ConfigError} Naming the setting, when the value is invalid.
 *
 * @example
 * ```ts
 * import { findSetting, parseSetting } from "./settings.ts";
 * console.assert(parseSetting(findSetting("idle-timeout")!, "10m") === 600_000);
 * ```
 */
export function parseSetting(setting: Setting, text: string): SettingValue {
  const name = `--${setting.key}`;
  let value: SettingValue;
  switch (setting.kind) {
    case "string":
    case "path":
      if (setting.kind === "path" && text === "") {
        throw new ConfigError(`${name} must not be empty`);
      }
      value = text;
      break;
    case "list":
      if (text === "") throw new ConfigError(`${name} must not be empty`);
      value = [text];
      break;
    case "enum": {
      const choice = setting.choices!.find((c) =>
        c.toLowerCase() === text.toLowerCase()
      );
      if (choice === undefined) {
        throw new ConfigError(
          `${name} must be one of ${setting.choices!.join(", ")}, got ${
            JSON.stringify(text)
          }`,
        );
      }
      value = choice;
      break;
    }
    case "port":
      value = integer(setting, text);
      if (value < 0 || value > 65535) {
        throw new ConfigError(
          `${name} must be a port from 0 to 65535, got ${value}`,
        );
      }
      break;
    case "int":
      value = integer(setting, text);
      if (
        (setting.min !== undefined && value < setting.min) ||
        (setting.max !== undefined && value > setting.max)
      ) {
        throw new ConfigError(
          `${name} must be from ${setting.min} to ${setting.max}, got ${value}`,
        );
      }
      break;
    case "expire":
      value = text.toUpperCase() === "NEVER" ? "NEVER" : integer(setting, text);
      break;
    case "duration": {
      const match = DURATION.exec(text.trim());
      if (!match) {
        throw new ConfigError(
          `${name} must be a duration like 500ms, 30s, 10m or 1h, got ${
            JSON.stringify(text)
          }`,
        );
      }
      value = Number(match[1]) * UNIT[match[2] ?? "ms"];
      if (!Number.isSafeInteger(value) || value < (setting.min ?? 0)) {
        throw new ConfigError(
          `${name} must be a duration of at least ${setting.min ?? 0} ms`,
        );
      }
      break;
    }
  }
  if (setting.option) {
    try {
      validateOption(setting.option, value);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new ConfigError(
        `${name}: ${why.replace(`Option "${setting.option}"`, "the value")}`,
      );
    }
  }
  return value;
}
