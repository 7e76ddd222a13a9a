/**
 * The shared shape of the server-side SASL mechanisms: the callbacks they
 * need and the steps they answer with. Mechanisms are sans-I/O: they take
 * decoded client responses and return challenges or an outcome; the POP3
 * session does the base64, the `+ ` lines, `*` cancels and `=` initial
 * responses.
 *
 * @module
 */

/** Names of the mechanisms this package implements. */
export type SaslMechanismName =
  | "SCRAM-SHA-256"
  | "CRAM-MD5"
  | "OAUTHBEARER"
  | "XOAUTH2"
  | "PLAIN"
  | "LOGIN";

/** Which mechanism an OAuth token came through. */
export type SaslTokenMechanism = "OAUTHBEARER" | "XOAUTH2";

/**
 * The backend hooks the mechanisms use. Each may return its value directly or
 * as a Promise; a hook that throws (or rejects) makes `start`/`step` reject
 * with the same error, so the session can answer `-ERR [SYS/TEMP]` or the
 * thrown `Pop3Error`'s code.
 *
 * @example Hooks over a Map of plaintext passwords
 * ```ts
 * import type { SaslCallbacks } from "./types.ts";
 * const users = new Map([["user", "pencil"]]);
 * const callbacks: SaslCallbacks = {
 *   lookupPassword: (name) => users.get(name),
 * };
 * console.assert(callbacks.lookupPassword?.("user") === "pencil");
 * ```
 */
export interface SaslCallbacks {
  /**
   * Returns the user's plaintext password, or `undefined` if there is no
   * such user. Needed by CRAM-MD5 and SCRAM-SHA-256; PLAIN and LOGIN use it
   * when `authenticate` is absent (compared in constant time).
   */
  lookupPassword?(
    name: string,
  ): string | undefined | Promise<string | undefined>;
  /**
   * Verifies a name and password itself (for hashed password stores). When
   * present, PLAIN and LOGIN call it instead of `lookupPassword`.
   */
  authenticate?(name: string, password: string): boolean | Promise<boolean>;
  /** Verifies an OAuth 2.0 bearer token for the user (OAUTHBEARER, XOAUTH2). */
  verifyToken?(
    name: string,
    token: string,
    mechanism: SaslTokenMechanism,
  ): boolean | Promise<boolean>;
  /**
   * Decides whether the authenticated `authcid` may act as a different
   * `authzid` (PLAIN and SCRAM-SHA-256). Only called when the two differ;
   * without this hook such requests are refused.
   */
  authorize?(authcid: string, authzid: string): boolean | Promise<boolean>;
}

/** Why an exchange failed. */
export type SaslFailureReason =
  /** The client's message broke the mechanism's syntax, or came out of turn. */
  | "malformed"
  /** Unknown user, wrong password, bad proof or token. */
  | "credentials"
  /** The credentials were good but the requested authzid is not allowed. */
  | "authorization";

/** The mechanism wants the client to answer this challenge (`+ <base64>`). */
export interface SaslChallenge {
  /** Discriminant. */
  readonly type: "challenge";
  /** Raw challenge bytes; the session base64-encodes them (may be empty). */
  readonly challenge: Uint8Array;
}

/** The client has authenticated. */
export interface SaslSuccess {
  /** Discriminant. */
  readonly type: "success";
  /**
   * The identity to log in as: the authzid when the client asked for one
   * (and it was allowed), otherwise the authcid.
   */
  readonly user: string;
  /** The identity whose credentials were checked. */
  readonly authcid: string;
}

/** The exchange failed; answer `-ERR` and end it. */
export interface SaslFailure {
  /** Discriminant. */
  readonly type: "failure";
  /** The kind of failure, to pick a response code. */
  readonly reason: SaslFailureReason;
  /** A sentence safe to send to the client; never contains secrets. */
  readonly message: string;
}

/** What a mechanism answers to `start` or `step`. */
export type SaslStep = SaslChallenge | SaslSuccess | SaslFailure;

/**
 * One server-side SASL exchange. Create a fresh object per `AUTH` command;
 * call `start` once, then `step` with each client response while the result
 * is a challenge. Never call `step` before the previous Promise settles.
 * Malformed client data gives a `failure` step, never a rejection; the
 * Promises reject only when a callback throws.
 *
 * @example Driving PLAIN
 * ```ts
 * import type { SaslMechanism } from "./types.ts";
 * import { SaslPlain } from "./sasl_plain.ts";
 * const mechanism: SaslMechanism = new SaslPlain({
 *   lookupPassword: (name) => name === "tim" ? "tanstaaf" : undefined,
 * });
 * const result = await mechanism.start(new TextEncoder().encode("\0tim\0tanstaaf"));
 * console.assert(result.type === "success" && result.user === "tim");
 * ```
 */
export interface SaslMechanism {
  /** The mechanism's registered name. */
  readonly name: SaslMechanismName;
  /**
   * Begins the exchange.
   *
   * @param initial The decoded initial response from `AUTH mech <ir>`:
   * `undefined` when the client sent none, an empty array when it sent `=`.
   */
  start(initial?: Uint8Array): Promise<SaslStep>;
  /**
   * Feeds the next decoded client response (an empty line is an empty
   * array). After success or failure, further calls give a failure.
   */
  step(response: Uint8Array): Promise<SaslStep>;
}
