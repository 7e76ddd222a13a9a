/**
 * The authentication callback interface of {@linkcode Pop3d}: the seed's
 * `exists` and `lookup`, plus the optional `authenticate`.
 *
 * @module
 */

/**
 * Decides who may log in and which maildrop they get. Every method may
 * return its value directly or as a Promise.
 *
 * @example An auth object over a Map
 * ```ts
 * import type { Pop3dAuth } from "@x/pop3d";
 *
 * const users = new Map([["alice", "secret"]]);
 * const auth: Pop3dAuth<string> = {
 *   exists: (name) => users.has(name),
 *   lookup: (name) => [users.get(name) ?? "", name],
 * };
 * ```
 */
export interface Pop3dAuth<M = unknown> {
  /** Tells whether the user exists. */
  exists(name: string): boolean | Promise<boolean>;
  /**
   * Returns the user's password and storage reference, in this order. The
   * storage reference is passed unchanged to the storage callbacks.
   *
   * It is also called, with the result and any error ignored, for a name
   * that `exists` denied, so that an unknown user and a wrong password take
   * the same path (no user enumeration by timing).
   */
  lookup(
    name: string,
  ): readonly [password: string, mbox: M] | Promise<readonly [string, M]>;
  /**
   * Optional: verifies a password itself, for stores that keep only password
   * hashes. When present, USER/PASS (and SASL PLAIN/LOGIN) call it instead
   * of comparing the password from `lookup`; `lookup` is still called for
   * the storage reference after a successful check.
   */
  authenticate?(name: string, password: string): boolean | Promise<boolean>;
  /**
   * Optional: whether `lookup` returns the real plaintext password. APOP,
   * CRAM-MD5 and SCRAM-SHA-256 need it. Defaults to `true` without
   * `authenticate` and `false` with it.
   */
  readonly plaintextPasswords?: boolean;
  /**
   * Optional: verifies an OAuth 2.0 bearer token for a user; enables the
   * SASL mechanisms OAUTHBEARER and XOAUTH2.
   */
  verifyToken?(
    name: string,
    token: string,
    mechanism: "OAUTHBEARER" | "XOAUTH2",
  ): boolean | Promise<boolean>;
  /**
   * Optional: lets the user `authcid` act as `authzid` (SASL authorization
   * identity). Without it, such requests are refused.
   */
  authorize?(authcid: string, authzid: string): boolean | Promise<boolean>;
}
