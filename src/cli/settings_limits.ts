/**
 * The "Limits and timeouts" rows of the settings table of the `pop3d`
 * program: each sets a `Pop3d` option of the same meaning, and SIGHUP
 * applies a new value to new connections.
 *
 * @module
 */

import type { Pop3dOptions } from "../server/options.ts";
import { libraryDefault, type Setting } from "./setting.ts";

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
    default: libraryDefault(option),
    arg: kind === "duration" ? "TIME" : "N",
    help,
    group: "Limits and timeouts (SIGHUP applies them to new connections)",
    reload: true,
  };
}

/**
 * The limits and timeouts, in `--help` order.
 *
 * @example
 * ```ts
 * import { LIMIT_SETTINGS } from "./settings_limits.ts";
 * console.assert(LIMIT_SETTINGS.some((s) => s.key === "idle-timeout"));
 * ```
 */
export const LIMIT_SETTINGS: readonly Setting[] = [
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
];
