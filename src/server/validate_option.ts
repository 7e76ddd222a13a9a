/**
 * The validation of the options of {@linkcode Pop3d}.
 *
 * @module
 */

import {
  integer,
  MAX_TIMER,
  methods,
  optionalFunction,
  text,
} from "../_util/check_option.ts";
import { parseCidr } from "./address_key.ts";

const PRINTABLE_LINE = /^[^\r\n\0]*$/;

/**
 * Checks one option and its value.
 *
 * @throws {TypeError} For an unknown option or a value of the wrong type.
 * @throws {RangeError} For a value out of range.
 *
 * @example
 * ```ts
 * import { validateOption } from "./validate_option.ts";
 * validateOption("port", 1110);
 * ```
 */
export function validateOption(name: string, value: unknown): void {
  switch (name) {
    case "port":
      return integer(name, value, 0, 65535);
    case "hostname":
      return text(name, value, /^[^\s]+$/);
    case "serverName":
      return text(name, value, /^[!-=?-~]+$/);
    case "plaintextAuth":
      if (value !== "always" && value !== "loopback" && value !== "tls") {
        throw new TypeError(
          `Option "plaintextAuth" must be "always", "loopback" or "tls", got ${
            JSON.stringify(value)
          }`,
        );
      }
      return;
    case "greeting":
    case "implementation":
      return text(name, value, PRINTABLE_LINE);
    case "idleTimeout":
    case "loginTimeout":
    case "callbackTimeout":
    case "writeTimeout":
      return integer(name, value, 1, MAX_TIMER);
    case "authFailureDelay":
    case "authPenaltyMax":
      return integer(name, value, 0, 60_000);
    case "authPenalty":
      if (value === false) return;
      return integer(name, value, 0, 60_000);
    case "authPenaltyWindow":
      return integer(name, value, 1, 1_000_000_000);
    case "addressPrefixV6":
      return integer(name, value, 1, 128);
    case "authPenaltyTrusted":
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
        throw new TypeError(
          'Option "authPenaltyTrusted" must be an array of CIDR strings',
        );
      }
      for (const v of value as string[]) {
        try {
          parseCidr(v);
        } catch {
          throw new RangeError(
            `Option "authPenaltyTrusted" has an invalid network: "${
              v.slice(0, 60)
            }"`,
          );
        }
      }
      return;
    case "maxLineLength":
      return integer(name, value, 255, 65_536);
    case "maxAuthLineLength":
      return integer(name, value, 255, 1_048_576);
    case "maxBadCommands":
    case "maxAuthFailures":
    case "maxConnections":
    case "maxConnectionsPerAddress":
      return integer(name, value, 1, 1_000_000);
    case "auth":
      return methods(name, value, ["exists", "lookup"]);
    case "storage":
      if (
        typeof (value as { openMaildrop?: unknown } | null)?.openMaildrop ===
          "function"
      ) return;
      return methods(name, value, [
        "dele",
        "lock",
        "unlock",
        "size",
        "stat",
        "get",
      ]);
    case "tls":
      if (value === null || value === undefined) return;
      methods(name, value, []);
      for (const k of ["cert", "key"]) {
        const v = (value as Record<string, unknown>)[k];
        if (typeof v !== "string" && !(v instanceof Uint8Array)) {
          throw new TypeError(
            `Option "tls.${k}" must be a PEM string or bytes`,
          );
        }
      }
      {
        const groups = (value as Record<string, unknown>).groups;
        if (groups !== undefined && (typeof groups !== "string" || !groups)) {
          throw new TypeError(
            `Option "tls.groups" must be a non-empty string of group names, got ${
              JSON.stringify(groups)
            }`,
          );
        }
      }
      return;
    case "expire":
      if (value === null || value === undefined || value === "NEVER") return;
      return integer(name, value, 0, 1_000_000);
    case "loginDelay":
      if (value === null || value === undefined) return;
      return integer(name, value, 0, 1_000_000_000);
    case "reusePort":
    case "outlookNoNuls":
    case "oeNsEoh":
      if (typeof value !== "boolean") {
        throw new TypeError(
          `Option "${name}" must be a boolean, got ${typeof value}`,
        );
      }
      return;
    case "logger":
      if (value === null || value === undefined) return;
      return methods(name, value, ["info", "warn", "error"]);
    case "socket":
    case "transcript":
    case "onError":
    case "onEvent":
      return optionalFunction(name, value);
    case "state":
      throw new TypeError('Option "state" is read-only');
    default:
      throw new TypeError(`Unknown option: "${name}"`);
  }
}
