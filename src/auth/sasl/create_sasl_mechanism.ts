/**
 * Creates the server side of a SASL exchange by mechanism name.
 *
 * @module
 */

import { SaslCramMd5, type SaslCramMd5Options } from "./sasl_cram_md5.ts";
import { SaslLogin } from "./sasl_login.ts";
import {
  saslMechanisms,
  type SaslMechanismsOptions,
} from "./sasl_mechanisms.ts";
import {
  SaslOAuthBearer,
  type SaslOAuthBearerOptions,
} from "./sasl_oauthbearer.ts";
import { SaslPlain } from "./sasl_plain.ts";
import {
  SaslScramSha256,
  type SaslScramSha256Options,
} from "./sasl_scram_sha256.ts";
import { SaslXOAuth2, type SaslXOAuth2Options } from "./sasl_xoauth2.ts";
import type { SaslCallbacks, SaslMechanism } from "./types.ts";

/** Options for {@linkcode createSaslMechanism}: policy plus per-mechanism settings. */
export interface SaslOptions extends SaslMechanismsOptions {
  /** Settings for CRAM-MD5. */
  cramMd5?: SaslCramMd5Options;
  /** Settings for SCRAM-SHA-256. */
  scramSha256?: SaslScramSha256Options;
  /** Settings for OAUTHBEARER. */
  oauthBearer?: SaslOAuthBearerOptions;
  /** Settings for XOAUTH2. */
  xoauth2?: SaslXOAuth2Options;
}

/**
 * Creates a fresh exchange for the mechanism the client named in `AUTH`.
 * The name is matched case-insensitively. Returns `undefined` when the name
 * is unknown or is not among {@linkcode saslMechanisms} for these callbacks
 * and options, so what is accepted is exactly what is advertised.
 *
 * @param name The mechanism name from the client.
 * @param callbacks The backend hooks.
 * @param options The cleartext policy and per-mechanism settings.
 * @returns A new exchange, or `undefined` if the mechanism is not available.
 * @throws {RangeError} If the SCRAM-SHA-256 iteration count is invalid.
 *
 * @example
 * ```ts
 * import { createSaslMechanism } from "./create_sasl_mechanism.ts";
 * const callbacks = { lookupPassword: (n: string) => n === "tim" ? "pw" : undefined };
 * console.assert(createSaslMechanism("cram-md5", callbacks)?.name === "CRAM-MD5");
 * console.assert(createSaslMechanism("PLAIN", callbacks, { cleartext: false }) === undefined);
 * ```
 */
export function createSaslMechanism(
  name: string,
  callbacks: SaslCallbacks,
  options: SaslOptions = {},
): SaslMechanism | undefined {
  const upper = typeof name === "string" ? name.toUpperCase() : "";
  const available = saslMechanisms(callbacks, options);
  const match = available.find((m) => m === upper);
  switch (match) {
    case "SCRAM-SHA-256":
      return new SaslScramSha256(callbacks, options.scramSha256);
    case "CRAM-MD5":
      return new SaslCramMd5(callbacks, options.cramMd5);
    case "OAUTHBEARER":
      return new SaslOAuthBearer(callbacks, options.oauthBearer);
    case "XOAUTH2":
      return new SaslXOAuth2(callbacks, options.xoauth2);
    case "PLAIN":
      return new SaslPlain(callbacks);
    case "LOGIN":
      return new SaslLogin(callbacks);
    default:
      return undefined;
  }
}
