/**
 * Capabilities and the TLS policy: which CAPA lines the session itself adds
 * (beyond those of its commands), when a password may cross the wire, which
 * SASL mechanisms are on offer, and STLS.
 *
 * @module
 */

import { Pop3Error } from "../errors.ts";
import { saslMechanisms } from "../auth/sasl/sasl_mechanisms.ts";
import { ok } from "../protocol/reply.ts";
import type { SessionContext } from "./context.ts";
import { saslCallbacks } from "./sasl_callbacks.ts";

const LOOPBACK = /^(127\.|::1$|::ffff:127\.|localhost$)/i;

/**
 * Whether a password may be sent in the clear on this connection now.
 *
 * @example
 * ```ts ignore
 * if (!plaintextAllowed(s)) throw new Pop3Error("...", "AUTH");
 * ```
 */
export function plaintextAllowed(s: SessionContext): boolean {
  const policy = s.config.plaintextAuth;
  if (policy === "always" || s.conn.encrypted) return true;
  return policy === "loopback" && LOOPBACK.test(s.remote);
}

/**
 * Throws unless a password may be sent in the clear now.
 *
 * @throws {Pop3Error} `[AUTH]` on a connection where that is refused.
 *
 * @example
 * ```ts ignore
 * requirePlaintext(s);
 * ```
 */
export function requirePlaintext(s: SessionContext): void {
  if (!plaintextAllowed(s)) {
    throw new Pop3Error(
      "Plaintext authentication disallowed on non-secure connections",
      "AUTH",
    );
  }
}

/**
 * The SASL mechanisms on offer on this connection now.
 *
 * @example
 * ```ts ignore
 * const names = mechanisms(s); // ["SCRAM-SHA-256", "PLAIN", ...]
 * ```
 */
export function mechanisms(s: SessionContext): string[] {
  const auth = s.config.auth;
  if (!auth) return [];
  return saslMechanisms(saslCallbacks(auth, (what, fn) => s.call(what, fn)), {
    cleartext: plaintextAllowed(s),
  });
}

/**
 * Whether STLS can be offered now.
 *
 * @example
 * ```ts ignore
 * if (canStartTls(s)) lines.push("STLS");
 * ```
 */
export function canStartTls(s: SessionContext): boolean {
  return s.config.startTls && !s.conn.encrypted &&
    typeof s.conn.startTls === "function";
}

/**
 * The CAPA lines that belong to no command, in RFC 2449 order of mention.
 *
 * @example
 * ```ts ignore
 * lines.push(...sessionCapabilities(s));
 * ```
 */
export function sessionCapabilities(s: SessionContext): string[] {
  const lines = ["RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"];
  const { expire, loginDelay, implementation } = s.config;
  if (expire !== null) lines.push(`EXPIRE ${expire}`);
  if (loginDelay !== null) lines.push(`LOGIN-DELAY ${loginDelay}`);
  if (implementation) lines.push(`IMPLEMENTATION ${implementation}`);
  return lines;
}

/**
 * STLS (RFC 2595): `+OK`, then the handshake. Plaintext pipelined after
 * STLS is dropped by the run loop (CVE-2011-0411).
 *
 * @throws {Pop3Error} When already in TLS or TLS is not available.
 *
 * @example
 * ```ts ignore
 * await stls(s);
 * ```
 */
export async function stls(s: SessionContext): Promise<void> {
  if (s.conn.encrypted) throw new Pop3Error("Already using TLS");
  if (!canStartTls(s)) throw new Pop3Error("STLS is not available");
  s.out.send(ok("Begin TLS negotiation now"));
  await s.flush();
  s.user = null;
  await s.upgrade();
}
