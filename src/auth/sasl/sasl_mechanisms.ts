/**
 * Which SASL mechanisms can work with the configured callbacks.
 *
 * @module
 */

import type { SaslCallbacks, SaslMechanismName } from "./types.ts";

/** Options for {@linkcode saslMechanisms}. */
export interface SaslMechanismsOptions {
  /**
   * Whether mechanisms that send a reusable credential in the clear (PLAIN,
   * LOGIN, and the bearer-token OAUTHBEARER and XOAUTH2) may be offered.
   * Pass `false` on an unencrypted, non-loopback connection.
   *
   * @default {true}
   */
  cleartext?: boolean;
}

/**
 * Lists the mechanisms that can work with the given callbacks, strongest
 * first: SCRAM-SHA-256 and CRAM-MD5 need `lookupPassword` (the plaintext);
 * OAUTHBEARER and XOAUTH2 need `verifyToken`; PLAIN and LOGIN need
 * `authenticate` or `lookupPassword`. With `cleartext: false`, PLAIN,
 * LOGIN, OAUTHBEARER and XOAUTH2 are left out.
 *
 * @param callbacks The callbacks the mechanisms would use; only which ones
 * exist matters.
 * @param options The cleartext policy.
 * @returns Mechanism names in advertisement order, for CAPA `SASL ...`.
 *
 * @example A store that keeps only password hashes
 * ```ts
 * import { saslMechanisms } from "./sasl_mechanisms.ts";
 * const names = saslMechanisms({ authenticate: () => false });
 * console.assert(names.join(" ") === "PLAIN LOGIN");
 * ```
 */
export function saslMechanisms(
  callbacks: SaslCallbacks,
  options: SaslMechanismsOptions = {},
): SaslMechanismName[] {
  const plaintext = typeof callbacks?.lookupPassword === "function";
  const password = plaintext ||
    typeof callbacks?.authenticate === "function";
  const token = typeof callbacks?.verifyToken === "function";
  const cleartext = options.cleartext ?? true;
  const names: SaslMechanismName[] = [];
  if (plaintext) names.push("SCRAM-SHA-256", "CRAM-MD5");
  if (cleartext && token) names.push("OAUTHBEARER", "XOAUTH2");
  if (cleartext && password) names.push("PLAIN", "LOGIN");
  return names;
}
