/**
 * Adapts a {@linkcode Pop3dAuth} to the callbacks SASL mechanisms use.
 *
 * @module
 */

import type { Pop3dAuth } from "../auth/types.ts";
import type { SaslCallbacks } from "../auth/sasl/types.ts";
import type { Caller } from "./call.ts";

/**
 * Whether `auth.lookup` yields the plaintext password (see
 * {@linkcode Pop3dAuth.plaintextPasswords}).
 *
 * @example
 * ```ts
 * import { hasPlaintext } from "./sasl_callbacks.ts";
 * console.assert(hasPlaintext({ exists: () => true, lookup: () => ["pw", 1] }));
 * ```
 */
export function hasPlaintext(auth: Pop3dAuth<unknown> | null): boolean {
  if (!auth) return false;
  return auth.plaintextPasswords ?? typeof auth.authenticate !== "function";
}

/**
 * Builds SASL callbacks over `auth`, each call under the session's deadline.
 * `onTokenRejected` hears when `verifyToken` refuses a token, before the
 * mechanism answers with its error challenge.
 *
 * @example
 * ```ts ignore
 * const callbacks = saslCallbacks(auth, call);
 * ```
 */
export function saslCallbacks<M>(
  auth: Pop3dAuth<M> | null,
  call: Caller,
  onTokenRejected?: () => void,
): SaslCallbacks {
  if (!auth) return {};
  const callbacks: SaslCallbacks = {};
  if (hasPlaintext(auth)) {
    callbacks.lookupPassword = async (name) => {
      const exists = await call("auth.exists", () =>
        auth.exists(name)) === true;
      // lookup runs for unknown users too, its result and errors ignored:
      // one path for both, no user enumeration by timing.
      let entry: unknown;
      try {
        entry = await call("auth.lookup", () => auth.lookup(name));
      } catch (error) {
        if (exists) throw error;
      }
      return exists && Array.isArray(entry) && typeof entry[0] === "string"
        ? entry[0]
        : undefined;
    };
  }
  if (typeof auth.authenticate === "function") {
    const authenticate = auth.authenticate.bind(auth);
    callbacks.authenticate = (name, password) =>
      call("auth.authenticate", () => authenticate(name, password));
  }
  if (typeof auth.verifyToken === "function") {
    const verifyToken = auth.verifyToken.bind(auth);
    callbacks.verifyToken = async (name, token, mechanism) => {
      const valid = await call(
        "auth.verifyToken",
        () => verifyToken(name, token, mechanism),
      );
      if (valid !== true) onTokenRejected?.();
      return valid;
    };
  }
  if (typeof auth.authorize === "function") {
    const authorize = auth.authorize.bind(auth);
    callbacks.authorize = (authcid, authzid) =>
      call("auth.authorize", () => authorize(authcid, authzid));
  }
  return callbacks;
}
