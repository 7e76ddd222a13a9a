/**
 * SASL OAUTHBEARER (RFC 7628).
 *
 * @module
 */

import { BearerExchange, type BearerMessage } from "./_bearer.ts";
import {
  decodeUtf8,
  failure,
  parseBearer,
  parseGs2Header,
  parseKeyValues,
} from "./_common.ts";
import type { SaslCallbacks, SaslMechanism, SaslStep } from "./types.ts";

/** Options for {@linkcode SaslOAuthBearer}. */
export interface SaslOAuthBearerOptions {
  /** OAuth scope named in the error challenge, if any. */
  scope?: string;
  /** OpenID discovery URL named in the error challenge, if any. */
  openidConfiguration?: string;
}

/**
 * Server side of SASL OAUTHBEARER (RFC 7628). The client message is a GS2
 * header whose authzid (`a=`) names the user, then `key=value` pairs
 * separated by U+0001, of which `auth=Bearer <token>` is required; `host`
 * and `port` are ignored. The token goes to `verifyToken(user, token,
 * "OAUTHBEARER")`. A message without `a=` fails: the user must be named.
 *
 * On a rejected token the server sends the JSON error challenge
 * `{"status":"invalid_token",...}`, the client answers with the single byte
 * U+0001, and the exchange fails (RFC 7628 section 3.2.3). The token is a
 * bearer credential: offer this mechanism only over TLS.
 *
 * @example A successful exchange
 * ```ts
 * import { SaslOAuthBearer } from "./sasl_oauthbearer.ts";
 * const bearer = new SaslOAuthBearer({
 *   verifyToken: (user, token) => user === "alice" && token === "t0k3n",
 * });
 * const step = await bearer.start(new TextEncoder().encode(
 *   "n,a=alice,\x01host=mail.example\x01port=995\x01auth=Bearer t0k3n\x01\x01",
 * ));
 * console.assert(step.type === "success" && step.user === "alice");
 * ```
 */
export class SaslOAuthBearer implements SaslMechanism {
  /** The mechanism name. */
  readonly name: "OAUTHBEARER" = "OAUTHBEARER";
  #exchange: BearerExchange;

  /**
   * Creates one exchange; use a new object for each `AUTH` command.
   *
   * @param callbacks Needs `verifyToken`.
   * @param options What the error challenge tells the client.
   * @throws {TypeError} If `verifyToken` is missing.
   */
  constructor(callbacks: SaslCallbacks, options: SaslOAuthBearerOptions = {}) {
    this.#exchange = new BearerExchange(callbacks, {
      name: this.name,
      parse: parseMessage,
      errorChallenge: () => {
        const error: Record<string, string> = { status: "invalid_token" };
        if (options.scope !== undefined) error.scope = options.scope;
        if (options.openidConfiguration !== undefined) {
          error["openid-configuration"] = options.openidConfiguration;
        }
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
   * Takes the client message, or the client's U+0001 answer to the error
   * challenge (which always ends in failure).
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
  if (text === undefined) return malformed();
  const gs2 = parseGs2Header(text, "OAUTHBEARER");
  if ("type" in gs2) return gs2;
  const { rest } = gs2;
  if (!rest.startsWith("\x01") || !rest.endsWith("\x01\x01")) {
    return malformed();
  }
  const pairs = parseKeyValues(rest.slice(1, -2));
  const token = parseBearer(pairs?.get("auth"));
  if (token === undefined) return malformed();
  if (gs2.authzid === "") {
    return failure(
      "malformed",
      "OAUTHBEARER needs the user name in the authzid",
    );
  }
  return { user: gs2.authzid, token };
}

function malformed(): SaslStep {
  return failure("malformed", "Malformed OAUTHBEARER message");
}
