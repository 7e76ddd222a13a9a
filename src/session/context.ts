/**
 * What the parts of a session (authorization, SASL, transaction commands,
 * capabilities, message streaming) see of it. The run loop in
 * `session.ts` implements it; the parts never touch the connection.
 *
 * @module
 */

import type { Conn } from "../transport/types.ts";
import type { SessionConfig, SessionObserver } from "./config.ts";
import type { CloseReason, LoginMethod, Pop3dEvent } from "./events.ts";
import type { Maildrop } from "./maildrop.ts";
import type { ReplyWriter } from "./reply_writer.ts";
import type { SaslExchange } from "./sasl_exchange.ts";
import type { SessionState } from "./state.ts";

/** How a session ends: after the queued replies are out, or at once. */
export type EndMode = "after-reply" | "now";

/**
 * The session as its parts see it.
 *
 * @example
 * ```ts ignore
 * function noop(s: SessionContext): void {
 *   s.out.send(ok());
 * }
 * ```
 */
export interface SessionContext<M = unknown> {
  /** The connection id. */
  readonly id: number;
  /** The client's address. */
  readonly remote: string;
  /** The session's configuration. */
  readonly config: SessionConfig<M>;
  /** Receives events, errors and transcript lines. */
  readonly observer: SessionObserver;
  /** The reply queue. */
  readonly out: ReplyWriter;
  /** The connection now (it changes after STLS); never read or write it. */
  readonly conn: Conn;
  /** The APOP timestamp of the greeting. */
  readonly timestamp: string;
  /** Aborts when the session ends at once (kill, timeout). */
  readonly signal: AbortSignal;
  /** Whether the session is ending (a close reason is set). */
  readonly ending: boolean;
  /** AUTHORIZATION, TRANSACTION or UPDATE. */
  state: SessionState;
  /** The user name given to USER, or the logged-in user. */
  user: string | null;
  /** How the session logged in, once it has. */
  method: LoginMethod | null;
  /** The locked maildrop, once logged in. */
  drop: Maildrop | undefined;
  /** Messages removed at QUIT. */
  committed: number;
  /** Failed logins so far. */
  authFailures: number;
  /** Bad commands so far. */
  badCommands: number;
  /** UTF8 was given (RFC 6856). */
  utf8: boolean;
  /** The language tag of replies (RFC 6856 LANG). */
  language: string;
  /** The SASL exchange waiting for the client's next response, if any. */
  sasl: SaslExchange | undefined;
  /** Calls an auth or storage callback under `callbackTimeout`. */
  call<T>(
    what: string,
    fn: () => T | Promise<T>,
    late?: (value: T) => void,
  ): Promise<T>;
  /** Like `call`, but gives a synchronous callback's value back as it is. */
  callNow<T>(what: string, fn: () => T | Promise<T>): T | Promise<T>;
  /** Reports an event (the session adds nothing to it). */
  emit(event: Pop3dEvent): void;
  /** Reports a server-side fault to the observer. */
  report(error: unknown): void;
  /** Sets the close reason (the first one wins) and ends the session. */
  end(reason: CloseReason, mode?: EndMode): void;
  /** Writes out the queued replies. */
  flush(): Promise<void>;
  /** The login deadline is over: the session is logged in. */
  loggedIn(): void;
  /** Runs the TLS handshake of STLS after `+OK` was written. */
  upgrade(): Promise<void>;
  /** Releases the maildrop lock, waiting at most `callbackTimeout`. */
  release(): Promise<void>;
}
