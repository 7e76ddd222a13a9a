/**
 * Builds a session's narrow configuration from the server's options.
 *
 * @module
 */

import type { SessionConfig } from "../session/config.ts";
import { maildropStore } from "../storage/callback_maildrop.ts";
import type { ResolvedOptions } from "./options.ts";

/**
 * The part of the server's options a session needs, with storage behind
 * the maildrop seam and the failure delay asked per failure.
 *
 * @param options The server's resolved options.
 * @param failureDelay Milliseconds from the start of a failed login from an
 * address to its answer.
 * @returns The session's configuration.
 *
 * @example
 * ```ts
 * import { DEFAULTS } from "./options.ts";
 * import { sessionConfig } from "./session_config.ts";
 * const config = sessionConfig(DEFAULTS, () => DEFAULTS.authFailureDelay);
 * console.assert(config.failureDelay() === 1000);
 * ```
 */
export function sessionConfig<M>(
  options: ResolvedOptions<M>,
  failureDelay: (remote: string) => number,
): SessionConfig<M> {
  const o = options;
  return {
    auth: o.auth,
    storage: o.storage ? maildropStore(o.storage) : null,
    startTls: o.tls !== null,
    plaintextAuth: o.plaintextAuth,
    serverName: o.serverName,
    greeting: o.greeting,
    implementation: o.implementation,
    idleTimeout: o.idleTimeout,
    loginTimeout: o.loginTimeout,
    callbackTimeout: o.callbackTimeout,
    writeTimeout: o.writeTimeout,
    maxLineLength: o.maxLineLength,
    maxAuthLineLength: o.maxAuthLineLength,
    maxBadCommands: o.maxBadCommands,
    maxAuthFailures: o.maxAuthFailures,
    failureDelay,
    expire: o.expire,
    loginDelay: o.loginDelay,
    outlookNoNuls: o.outlookNoNuls,
    oeNsEoh: o.oeNsEoh,
  };
}
