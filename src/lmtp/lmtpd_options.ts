/**
 * Options of {@linkcode Lmtpd}, their defaults and their validation.
 *
 * @module
 */

import type { Pop3dAuth } from "../auth/types.ts";
import { integer, MAX_TIMER } from "../_util/check_option.ts";
import type { SocketFactory } from "../transport/types.ts";
import type { LmtpDelivery, LmtpdEvent, LmtpdLogger } from "./lmtpd_types.ts";

/** Options of {@linkcode Lmtpd}. All are optional. */
export interface LmtpdOptions<M = unknown> {
  /**
   * Port to listen on; 0 lets the operating system choose.
   *
   * @default {24}
   */
  port?: number;
  /**
   * Interface to bind. LMTP has no authentication: keep it on loopback or
   * an internal network.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * Decides which recipients exist (`exists`) and their storage reference
   * (`lookup`); the same object `Pop3d` takes. Without it every recipient
   * gets `550 5.1.1`.
   */
  auth?: Pop3dAuth<M> | null;
  /** Stores the mail. Without it every delivery fails with `451 4.3.0`. */
  storage?: LmtpDelivery<M> | null;
  /** Opens the listening socket; e.g. `tlsSocket(...)` or `proxySocket(...)`. */
  socket?: SocketFactory | null;
  /**
   * Maps a recipient address to a user name for the auth; `null` or `""`
   * answers `550 5.1.1`.
   *
   * @default {the local part: `alice` for `alice@example.org`}
   */
  recipientUser?:
    | ((address: string) => string | null | Promise<string | null>)
    | null;
  /**
   * The host name in the greeting and LHLO reply.
   *
   * @default {"localhost"}
   */
  serverName?: string;
  /**
   * Largest message in octets (announced as `SIZE`); a larger one gets
   * `552 5.3.4`. A message is held in memory until delivered.
   *
   * @default {33554432}
   */
  maxMessageSize?: number;
  /**
   * Recipients per transaction; more get `452 4.5.3`.
   *
   * @default {100}
   */
  maxRecipients?: number;
  /**
   * Longest command line in octets, including CRLF (RFC 5321: at least 512).
   *
   * @default {1000}
   */
  maxLineLength?: number;
  /**
   * Bad commands before the connection is closed with `421 4.7.0`.
   *
   * @default {20}
   */
  maxBadCommands?: number;
  /**
   * Open connections; more get `421 4.3.2` and are closed.
   *
   * @default {100}
   */
  maxConnections?: number;
  /**
   * Milliseconds to wait for a command (RFC 5321 §4.5.3.2: 5 minutes).
   *
   * @default {300000}
   */
  idleTimeout?: number;
  /**
   * Milliseconds to wait for more of the message during DATA.
   *
   * @default {600000}
   */
  dataTimeout?: number;
  /**
   * Milliseconds an auth call or a delivery may take; then the recipient
   * gets `451 4.3.0`.
   *
   * @default {30000}
   */
  callbackTimeout?: number;
  /**
   * Milliseconds a write to the client may stall.
   *
   * @default {60000}
   */
  writeTimeout?: number;
  /** Receives errors from callbacks and transports. */
  onError?: ((error: unknown) => void) | null;
  /** Receives structured events. */
  onEvent?: ((event: LmtpdEvent) => void) | null;
  /** A `console`-like logger: one line per delivery, refusal and error. */
  logger?: LmtpdLogger | null;
}

/** Every option of {@linkcode Lmtpd} with its value filled in. */
export type ResolvedLmtpdOptions<M = unknown> = Required<LmtpdOptions<M>>;

/** The defaults of {@linkcode LmtpdOptions}. */
export const LMTPD_DEFAULTS: Readonly<ResolvedLmtpdOptions<unknown>> = Object
  .freeze({
    port: 24,
    hostname: "127.0.0.1",
    auth: null,
    storage: null,
    socket: null,
    recipientUser: null,
    serverName: "localhost",
    maxMessageSize: 32 * 1024 * 1024,
    maxRecipients: 100,
    maxLineLength: 1000,
    maxBadCommands: 20,
    maxConnections: 100,
    idleTimeout: 300_000,
    dataTimeout: 600_000,
    callbackTimeout: 30_000,
    writeTimeout: 60_000,
    onError: null,
    onEvent: null,
    logger: null,
  });

/**
 * Checks one option of {@linkcode Lmtpd} and its value.
 *
 * @throws {TypeError} For an unknown option or a value of the wrong type.
 * @throws {RangeError} For a value out of range.
 *
 * @example
 * ```ts
 * import { checkLmtpdOption } from "./lmtpd_options.ts";
 * checkLmtpdOption("port", 24);
 * ```
 */
export function checkLmtpdOption(name: string, value: unknown): void {
  const fn = (v: unknown) => v === null || typeof v === "function";
  switch (name) {
    case "port":
      return integer(name, value, 0, 65535);
    case "hostname":
    case "serverName":
      if (typeof value !== "string" || !/^[!-~]+$/.test(value)) {
        throw new TypeError(`Option "${name}" must be a host name`);
      }
      return;
    case "maxMessageSize":
      return integer(name, value, 1, 1024 * 1024 * 1024);
    case "maxRecipients":
    case "maxBadCommands":
    case "maxConnections":
      return integer(name, value, 1, 1_000_000);
    case "maxLineLength":
      return integer(name, value, 512, 65_536);
    case "idleTimeout":
    case "dataTimeout":
    case "callbackTimeout":
    case "writeTimeout":
      return integer(name, value, 1, MAX_TIMER);
    case "auth":
      if (value === null) return;
      for (const m of ["exists", "lookup"]) {
        if (typeof (value as Record<string, unknown>)?.[m] !== "function") {
          throw new TypeError(`Option "auth" must have a "${m}" method`);
        }
      }
      return;
    case "storage":
      if (value === null) return;
      if (typeof (value as Record<string, unknown>)?.deliver !== "function") {
        throw new TypeError(`Option "storage" must have a "deliver" method`);
      }
      return;
    case "logger":
      if (value === null) return;
      for (const m of ["info", "warn", "error"]) {
        if (typeof (value as Record<string, unknown>)?.[m] !== "function") {
          throw new TypeError(`Option "logger" must have a "${m}" method`);
        }
      }
      return;
    case "socket":
    case "recipientUser":
    case "onError":
    case "onEvent":
      if (!fn(value)) {
        throw new TypeError(`Option "${name}" must be a function`);
      }
      return;
    default:
      throw new TypeError(`Unknown option: "${name}"`);
  }
}
