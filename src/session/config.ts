/**
 * What a session needs to know, and whom it tells: its own narrow
 * configuration and the observer it reports to. The server builds both; the
 * session never sees the server's options, sockets or counters.
 *
 * @module
 */

import type { Pop3dAuth } from "../auth/types.ts";
import type { MaildropStore } from "../storage/maildrop_handle.ts";
import type { Pop3dEvent } from "./events.ts";

/**
 * The configuration of one session.
 *
 * @example A configuration for a test session
 * ```ts
 * import type { SessionConfig } from "./config.ts";
 * const config: SessionConfig<string> = {
 *   auth: null, storage: null, startTls: false, plaintextAuth: "always",
 *   serverName: "localhost", greeting: "POP3 server ready",
 *   implementation: "", idleTimeout: 600_000, loginTimeout: 60_000,
 *   callbackTimeout: 30_000, writeTimeout: 60_000, maxLineLength: 255,
 *   maxAuthLineLength: 16_384, maxBadCommands: 20, maxAuthFailures: 5,
 *   failureDelay: () => 1000, expire: null, loginDelay: null,
 * };
 * console.assert(config.failureDelay() === 1000);
 * ```
 */
export interface SessionConfig<M = unknown> {
  /** Who may log in; `null` refuses every login. */
  auth: Pop3dAuth<M> | null;
  /** Opens maildrops; `null` gives every user an empty one. */
  storage: MaildropStore<M> | null;
  /** Whether STLS may be offered (TLS credentials are configured). */
  startTls: boolean;
  /** When a password may cross the wire in the clear. */
  plaintextAuth: "always" | "loopback" | "tls";
  /** Host name in the APOP timestamp. */
  serverName: string;
  /** Text of the greeting before the APOP timestamp. */
  greeting: string;
  /** The CAPA `IMPLEMENTATION` text; empty leaves it out. */
  implementation: string;
  /** Milliseconds of silence allowed while waiting for a command. */
  idleTimeout: number;
  /** Milliseconds from connect to a successful login, whatever the traffic. */
  loginTimeout: number;
  /** Milliseconds an auth or storage callback may take. */
  callbackTimeout: number;
  /** Milliseconds a write may go without any byte accepted by the connection. */
  writeTimeout: number;
  /** Longest command line in octets, CRLF included. */
  maxLineLength: number;
  /** Longest AUTH line or SASL response in octets. */
  maxAuthLineLength: number;
  /** Bad commands before the session is closed. */
  maxBadCommands: number;
  /** Failed logins before the session is closed. */
  maxAuthFailures: number;
  /**
   * Milliseconds from the start of a failed login attempt to its answer;
   * asked at each failure with the client's address, so the server may vary
   * it (per-address penalty) and share one configuration among sessions.
   */
  failureDelay(remote: string): number;
  /** The RFC 2449 `EXPIRE` policy to announce, or `null`. */
  expire: number | "NEVER" | null;
  /** The RFC 2449 `LOGIN-DELAY` to announce in seconds, or `null`. */
  loginDelay: number | null;
  /** Send NUL octets in RETR/TOP output as 0x80 (Dovecot's `outlook-no-nuls`). */
  outlookNoNuls?: boolean;
  /**
   * Send an empty line after a message that has none after its headers
   * (Dovecot's `oe-ns-eoh`).
   */
  oeNsEoh?: boolean;
}

/** The counters a session adds to. */
export type SessionCounter =
  | "bytesIn"
  | "bytesOut"
  | "messagesSent"
  | "messagesDeleted";

/**
 * Receives what a session reports: events, errors, transcript lines and
 * counts. The server's monitor implements it.
 *
 * @example An observer that keeps the events
 * ```ts
 * import type { SessionObserver } from "./config.ts";
 * import type { Pop3dEvent } from "./events.ts";
 * const events: Pop3dEvent[] = [];
 * const observer: SessionObserver = {
 *   wantsCommands: true,
 *   wantsTranscript: false,
 *   event: (e) => void events.push(e),
 *   error: () => {},
 *   transcript: () => {},
 *   count: () => {},
 * };
 * observer.event({ type: "open", id: 1, remote: "127.0.0.1", encrypted: false });
 * console.assert(events.length === 1);
 * ```
 */
export interface SessionObserver {
  /** Whether per-command events are wanted (they cost a clock read each). */
  readonly wantsCommands: boolean;
  /** Whether transcript lines are wanted. */
  readonly wantsTranscript: boolean;
  /** One event. */
  event(event: Pop3dEvent): void;
  /** An error that is the server's or a callback's fault, never the client's. */
  error(id: number, error: unknown): void;
  /** One transcript line; client lines come redacted. */
  transcript(id: number, from: "C" | "S", line: string): void;
  /** Adds `n` to a counter. */
  count(counter: SessionCounter, n: number): void;
}
