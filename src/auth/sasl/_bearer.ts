/**
 * The exchange shared by the bearer-token mechanisms OAUTHBEARER and
 * XOAUTH2: one client message, then on a rejected token a JSON error
 * challenge whose answer always ends in failure.
 *
 * @module
 */

import {
  BAD_CREDENTIALS,
  challenge,
  outOfTurn,
  requireCallbacks,
} from "./_common.ts";
import type { SaslCallbacks, SaslStep, SaslTokenMechanism } from "./types.ts";

/** A parsed client message: who and which token, or a failure step. */
export type BearerMessage = { user: string; token: string } | SaslStep;

/** What differs between the bearer mechanisms. */
export interface BearerRules {
  /** The mechanism name, for out-of-turn failures and `verifyToken`. */
  name: SaslTokenMechanism;
  /** Parses the client message. */
  parse(message: Uint8Array): BearerMessage;
  /** The JSON error challenge sent after a rejected token. */
  errorChallenge(): string;
}

/**
 * The state machine of one bearer-token exchange.
 *
 * @example
 * ```ts ignore
 * const exchange = new BearerExchange(callbacks, rules);
 * const step = await exchange.start(initial);
 * ```
 */
export class BearerExchange {
  #rules: BearerRules;
  #callbacks: SaslCallbacks;
  #state: "new" | "message" | "error" | "done" = "new";

  /**
   * @param callbacks Needs `verifyToken`, which gets the mechanism's name.
   * @param rules What the mechanism parses and answers.
   * @throws {TypeError} If `verifyToken` is missing.
   */
  constructor(callbacks: SaslCallbacks, rules: BearerRules) {
    this.#callbacks = requireCallbacks(callbacks, rules.name, "verifyToken");
    this.#rules = rules;
  }

  /** Checks the initial response, or asks for the message with an empty challenge. */
  start(initial?: Uint8Array): Promise<SaslStep> {
    if (this.#state !== "new") {
      return Promise.resolve(outOfTurn(this.#rules.name));
    }
    if (initial === undefined) {
      this.#state = "message";
      return Promise.resolve(challenge(new Uint8Array(0)));
    }
    return this.#check(initial);
  }

  /** Takes the client message, or the answer to the error challenge. */
  step(response: Uint8Array): Promise<SaslStep> {
    if (this.#state === "message") return this.#check(response);
    if (this.#state === "error") {
      this.#state = "done";
      return Promise.resolve(BAD_CREDENTIALS);
    }
    return Promise.resolve(outOfTurn(this.#rules.name));
  }

  async #check(message: Uint8Array): Promise<SaslStep> {
    this.#state = "done";
    const parsed = this.#rules.parse(message);
    if ("type" in parsed) return parsed;
    const { user, token } = parsed;
    const verified = await this.#callbacks.verifyToken?.(
      user,
      token,
      this.#rules.name,
    );
    if (verified === true) {
      return { type: "success", user, authcid: user };
    }
    this.#state = "error";
    return challenge(this.#rules.errorChallenge());
  }
}
