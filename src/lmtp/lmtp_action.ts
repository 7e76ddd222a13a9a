/**
 * What an {@linkcode LmtpProtocol} is given and what it asks of its driver:
 * its options, recipients, delivery outcomes and actions.
 *
 * @module
 */

/** Limits and names of an {@linkcode LmtpProtocol}. */
export interface LmtpProtocolOptions {
  /** The host name in the greeting and the LHLO reply. */
  serverName: string;
  /** Largest message in octets (after dot-unstuffing); announced as SIZE. */
  maxMessageSize: number;
  /** Recipients per transaction; more get `452 4.5.3`. */
  maxRecipients: number;
  /** Longest command line in octets, including CRLF. */
  maxLineLength: number;
  /** Bad commands before the session is closed with `421 4.7.0`. */
  maxBadCommands: number;
}

/** A recipient the driver accepted: its address, user and storage reference. */
export interface LmtpRecipient<M = unknown> {
  /** The address from `RCPT TO:`. */
  readonly address: string;
  /** The user the address belongs to. */
  readonly user: string;
  /** The user's storage reference, from the auth's `lookup`. */
  readonly mbox: M;
}

/** The driver's answer to a `recipient` action. */
export type LmtpRecipientResult<M = unknown> =
  | { status: "accepted"; user: string; mbox: M }
  | { status: "unknown" }
  | { status: "temporary" };

/** The outcome of delivering to one recipient. */
export type LmtpDeliveryOutcome = "delivered" | "temporary" | "permanent";

/**
 * What the driver must do next.
 *
 * - `reply`: send `text` (one or more CRLF-terminated lines); when `close`
 *   is set, close the connection after sending it. `verb` names the
 *   command answered, when one was.
 * - `recipient`: decide whether `address` may receive mail, then call
 *   {@linkcode LmtpProtocol.recipient}.
 * - `deliver`: deliver `message` to each of `recipients`, then call
 *   {@linkcode LmtpProtocol.delivered} with one outcome each, in order.
 */
export type LmtpAction<M = unknown> =
  | {
    type: "reply";
    text: string;
    verb?: string;
    ok?: boolean;
    close?: "quit" | "errors";
  }
  | { type: "recipient"; address: string }
  | {
    type: "deliver";
    from: string;
    recipients: readonly LmtpRecipient<M>[];
    message: Uint8Array;
  };
