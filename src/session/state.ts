/**
 * The session states (RFC 1939 §3). Which commands each allows is in the
 * command table (`commands.ts`).
 *
 * @module
 */

/** A session's state: AUTHORIZATION, TRANSACTION or UPDATE. */
export type SessionState = "auth" | "trans" | "update";
