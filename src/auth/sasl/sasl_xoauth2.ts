/**
 * SASL XOAUTH2 (Google's format).
 *
 * @module
 */

import { BearerExchange, type BearerMessage } from "./_bearer.ts";
import { decodeUtf8, failure, parseBearer, parseKeyValues } from "./_common.ts";
import type { SaslCallbacks, SaslMechanism, SaslStep } from "./types.ts";

/** Options for {@linkcode SaslXOAuth2}. */
export interface SaslXOAuth2Options {
  /** OAuth scope named in the error challenge, if any. */
  scope?: string;
}

/**
 * Server side of Google's XOAUTH2: one client message
 * `user=<name>\x01auth=Bearer <token>\x01\x01`. The token goes to
 * `verifyToken(user, token, "XOAUTH2")`. On a rejected token the server
 * sends a JSON error challenge (`{"status":"401","schemes":"bearer",...}`),
 * the client answers with an empty response, and the exchange fails. The
 * token is a bearer credential: offer this mechanism only over TLS.
 *
 * @example A successful exchange
 * ```ts
 * import { SaslXOAuth2 } from "./sasl_xoauth2.ts";
 * const xoauth2 = new SaslXOAuth2({
 *   verifyToken: (user, token) => user === "alice" && token === "t0k3n",
 * });
 * const step = await xoauth2.start(new TextEncoder().encode(
 *   "user=alice\x01auth=Bearer t0k3n\x01\x01",
 * ));
 * console.assert(step.type === "success" && step.user === "alice");
 * ```
 */
export class SaslXOAuth2 implements SaslMechanism {
  /** The mechanism name. */
  readonly name: "XOAUTH2" = "XOAUTH2";
  #exchange: BearerExchange;

  /**
   * Creates one exchange; use a new object for each `AUTH` command.
   *
   * @param callbacks Needs `verifyToken`.
   * @param options What the error challenge tells the client.
   * @throws {TypeError} If `verifyToken` is missing.
   */
  constructor(callbacks: SaslCallbacks, options: SaslXOAuth2Options = {}) {
    this.#exchange = new BearerExchange(callbacks, {
      name: this.name,
      parse: parseMessage,
      errorChallenge: () => {
        const error: Record<string, string> = {
          status: "401",
          schemes: "bearer",
        };
        if (options.scope !== undefined) error.scope = options.scope;
        return JSON.stringify(error);
      },
    });
  }

  /**
   * Begins the exchange: checks the initial response, or sends an empty
   * challenge when there is none.
   *
   * @param initial The decoded initial response, if any.
   * @returns The next step.
   */
  start(initial?: Uint8Array): Promise<SaslStep> {
    return this.#exchange.start(initial);
  }

  /**
   * Takes the client message, or the client's (empty) answer to the error
   * challenge, which always ends in failure.
   *
   * @param response The decoded client response.
   * @returns The next step.
   */
  step(response: Uint8Array): Promise<SaslStep> {
    return this.#exchange.step(response);
  }
}

function parseMessage(message: Uint8Array): BearerMessage {
  const text = decodeUtf8(message);
  const pairs = text?.endsWith("\x01\x01")
    ? parseKeyValues(text.slice(0, -2))
    : undefined;
  const user = pairs?.get("user");
  const token = parseBearer(pairs?.get("auth"));
  if (!user || token === undefined) {
    return failure("malformed", "Malformed XOAUTH2 message");
  }
  return { user, token };
}
