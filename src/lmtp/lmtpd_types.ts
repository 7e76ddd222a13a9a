/**
 * The types {@linkcode Lmtpd} reports and returns: the delivery target, its
 * events, counters, connection snapshots and logger.
 *
 * @module
 */

import type { LmtpState } from "./lmtp_command.ts";

/**
 * Where {@linkcode Lmtpd} puts mail: any object with a `deliver` method.
 * `MemoryStorage`, `PostgresStorage` and `MaildirDeliver` have one.
 *
 * `deliver` gets the storage reference from the auth's `lookup` and the
 * message bytes exactly as received (dot-unstuffed, CRLF line ends). It
 * must not change the bytes. When it resolves, the message is accepted and
 * the MTA forgets it; when it throws or rejects (or times out), the
 * recipient gets `451 4.3.0` and the MTA tries again later.
 *
 * @example A delivery target over a Map
 * ```ts
 * import type { LmtpDelivery } from "@x/pop3d";
 *
 * const boxes = new Map<string, Uint8Array[]>();
 * const target: LmtpDelivery<string> = {
 *   deliver(mbox, message) {
 *     boxes.set(mbox, [...(boxes.get(mbox) ?? []), message.slice()]);
 *   },
 * };
 * ```
 */
export interface LmtpDelivery<M = unknown> {
  /** Stores one message for one maildrop. */
  deliver(mbox: M, message: Uint8Array): unknown;
}

/** Why an LMTP connection closed. */
export type LmtpdCloseReason =
  | "quit"
  | "client"
  | "timeout"
  | "limit"
  | "killed"
  | "error";

/**
 * One event of {@linkcode Lmtpd}, for the `onEvent` option. Session events
 * carry the connection id and the client's address (`remote`): with
 * `proxySocket`, the address from the PROXY header.
 *
 * @example Logging deliveries
 * ```ts
 * import { Lmtpd, type LmtpdEvent } from "@x/pop3d";
 * const server = new Lmtpd({
 *   port: 0,
 *   onEvent: (e: LmtpdEvent) => {
 *     if (e.type === "delivery") console.log(e.user, e.outcome, e.size);
 *   },
 * });
 * ```
 */
export type LmtpdEvent =
  | { type: "open"; id: number; remote: string; encrypted: boolean }
  | {
    type: "close";
    id: number;
    remote: string;
    reason: LmtpdCloseReason;
    bytesIn: number;
    bytesOut: number;
    durationMs: number;
  }
  | {
    type: "recipient";
    id: number;
    remote: string;
    address: string;
    user: string | undefined;
    status: "accepted" | "unknown" | "temporary";
  }
  | {
    type: "delivery";
    id: number;
    remote: string;
    from: string;
    user: string;
    size: number;
    outcome: "delivered" | "temporary";
    durationMs: number;
  }
  | { type: "refused"; remote: string; reason: "connections" }
  | { type: "error"; id: number | undefined; error: unknown };

/** Counters of an {@linkcode Lmtpd} since it was created. */
export interface LmtpdStats {
  /** Open connections now. */
  connections: number;
  /** Connections accepted in total. */
  connectionsTotal: number;
  /** Connections refused by `maxConnections`. */
  connectionsRefused: number;
  /** Messages stored (one per recipient). */
  delivered: number;
  /** Deliveries that failed (the recipient got `451`). */
  deliveryFailures: number;
  /** Recipients refused (`550 5.1.1` or `451`). */
  recipientsRejected: number;
  /** Octets received. */
  bytesIn: number;
  /** Octets sent. */
  bytesOut: number;
  /** Errors reported to `onError`. */
  errors: number;
}

/** A snapshot of one LMTP connection, from {@linkcode Lmtpd.conn}. */
export interface LmtpdConnectionState {
  /** The connection id. */
  id: number;
  /** The client's address (from the PROXY header behind `proxySocket`). */
  remoteAddress: string;
  /** The client's port. */
  remotePort: number;
  /** Whether the connection is inside TLS. */
  encrypted: boolean;
  /** Where the protocol stands. */
  state: LmtpState;
  /** Whether the message is being received. */
  inData: boolean;
  /** The sender of the current transaction (`""` for `<>` or none). */
  from: string;
  /** Accepted recipients of the current transaction. */
  recipients: number;
  /** Messages stored by this connection (one per recipient). */
  delivered: number;
  /** Octets received. */
  bytesIn: number;
  /** Octets sent. */
  bytesOut: number;
  /** When the connection opened, in milliseconds since the epoch. */
  startTime: number;
}

/** A `console`-like logger for {@linkcode LmtpdOptions.logger}. */
export interface LmtpdLogger {
  /** Deliveries, connections. */
  info(...data: unknown[]): void;
  /** Refused recipients and connections. */
  warn(...data: unknown[]): void;
  /** Errors. */
  error(...data: unknown[]): void;
}

/** The `conn` sub-object of {@linkcode Lmtpd}. */
export interface LmtpdConnections {
  /** Ids of the open connections. */
  list(): number[];
  /**
   * A snapshot of one connection.
   *
   * @throws {RangeError} When no open connection has that id.
   */
  state(id: number | string): LmtpdConnectionState;
}
