/**
 * The settings of the `pop3d` program: one row per setting. The flags,
 * the config file keys, `--help`, validation and defaults all come from
 * {@linkcode SETTINGS}.
 *
 * @module
 */

import { libraryDefault, type Setting } from "./setting.ts";
import { LIMIT_SETTINGS } from "./settings_limits.ts";

export type { Setting, SettingKind, SettingValue } from "./setting.ts";
export { ConfigError, parseSetting } from "./parse_setting.ts";

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
    key: "sync-metadata",
    kind: "boolean",
    default: true,
    arg: "BOOL",
    help:
      "List Maildirs, stat, take locks and read small files and the passwd-file with blocking calls: microseconds each on a local disk, but one slow call stalls every session, so set false on NFS or a slow disk (and on Node and Bun start the program with UV_THREADPOOL_SIZE=16)",
    group: "Users and mail",
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
    key: "reuse-port",
    kind: "boolean",
    option: "reusePort",
    default: false,
    arg: "BOOL",
    help:
      "Share the POP3, POP3S and LMTP ports with other pop3d processes (SO_REUSEPORT), one per core; each needs its own --metrics-port",
    group: "Listeners",
  },
  {
    key: "workers",
    kind: "int",
    min: 1,
    max: 256,
    auto: true,
    default: 1,
    arg: "N",
    help:
      "Serve on N threads sharing the ports (SO_REUSEPORT); auto: one per core; one metrics endpoint and one auth penalty for all; needs fixed ports",
    group: "Listeners",
  },
  {
    key: "worker-young-generation",
    kind: "int",
    min: 0,
    max: 1024,
    default: 8,
    arg: "MIB",
    help:
      "With --workers on Deno and Node: each worker's young generation of the JavaScript heap, in MiB; 0: the runtime's own, which grows during a burst of logins and keeps that memory (the small default served more sessions/s here, with less memory per idle connection)",
    group: "Listeners",
  },
  {
    key: "worker-timeout",
    kind: "duration",
    default: 60_000,
    arg: "TIME",
    help:
      "With --workers: a worker that does not answer the supervisor for this long (stuck, its event loop blocked) is ended and started again; 0 turns the check off",
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
    key: "tls-groups",
    kind: "string",
    arg: "LIST",
    help:
      "TLS key exchange groups in order of preference, colon-separated (X25519MLKEM768:X25519:P-256); default: the runtime's own; not on Deno; SIGHUP reloads it",
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
    default: libraryDefault("plaintextAuth"),
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
    default: libraryDefault("serverName"),
    arg: "NAME",
    help: "Host name in the APOP timestamp of the greeting",
    group: "Protocol",
    reload: true,
  },
  {
    key: "greeting",
    kind: "string",
    option: "greeting",
    default: libraryDefault("greeting"),
    arg: "TEXT",
    help: "Greeting text",
    group: "Protocol",
    reload: true,
  },
  {
    key: "implementation",
    kind: "string",
    option: "implementation",
    default: libraryDefault("implementation"),
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
  {
    key: "outlook-no-nuls",
    kind: "boolean",
    option: "outlookNoNuls",
    default: false,
    arg: "BOOL",
    help:
      "Send each NUL octet of a message as 0x80 (Outlook stops at a NUL; Dovecot's outlook-no-nuls)",
    group: "Protocol",
    reload: true,
  },
  {
    key: "oe-ns-eoh",
    kind: "boolean",
    option: "oeNsEoh",
    default: false,
    arg: "BOOL",
    help:
      "Send an empty line after a message that is only headers (Outlook Express, Netscape; Dovecot's oe-ns-eoh)",
    group: "Protocol",
    reload: true,
  },
  // Limits
  ...LIMIT_SETTINGS,
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
