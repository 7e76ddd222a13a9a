/**
 * SASL PLAIN (RFC 4616).
 *
 * @module
 */

import {
  authorize,
  BAD_CREDENTIALS,
  challenge,
  decodeUtf8,
  failure,
  outOfTurn,
  requireCallbacks,
  verifyPassword,
} from "./_common.ts";
import type { SaslCallbacks, SaslMechanism, SaslStep } from "./types.ts";

/**
 * Server side of SASL PLAIN (RFC 4616): one message
 * `[authzid] NUL authcid NUL passwd`. The password is checked with
 * `authenticate`, or else against `lookupPassword` in constant time. An
 * empty authzid, or one equal to the authcid, logs in as the authcid; a
 * different authzid is refused unless `authorize` allows it. PLAIN sends the
 * password in the clear: offer it only over TLS or loopback.
 *
 * @example The RFC 4616 example
 * ```ts
 * import { SaslPlain } from "./sasl_plain.ts";
 * const plain = new SaslPlain({
 *   lookupPassword: (name) => name === "tim" ? "tanstaaftanstaaf" : undefined,
 * });
 * const step = await plain.start(
 *   new TextEncoder().encode("\0tim\0tanstaaftanstaaf"),
 * );
 * console.assert(step.type === "success" && step.user === "tim");
 * ```
 */
export class SaslPlain implements SaslMechanism {
  /** The mechanism name. */
  readonly name: "PLAIN" = "PLAIN";
  #callbacks: SaslCallbacks;
  #state: "new" | "message" | "done" = "new";

  /**
   * Creates one exchange; use a new object for each `AUTH` command.
   *
   * @param callbacks Needs `authenticate` or `lookupPassword`.
   * @throws {TypeError} If neither callback is present.
   */
  constructor(callbacks: SaslCallbacks) {
    this.#callbacks = requireCallbacks(
      callbacks,
      this.name,
      "authenticate",
      "lookupPassword",
    );
  }

  /**
   * Begins the exchange: with an initial response it is checked at once;
   * without one the step is an empty challenge.
   *
   * @param initial The decoded initial response, if any.
   * @returns The next step.
   */
  start(initial?: Uint8Array): Promise<SaslStep> {
    if (this.#state !== "new") return Promise.resolve(outOfTurn(this.name));
    if (initial === undefined) {
      this.#state = "message";
      return Promise.resolve(challenge(new Uint8Array(0)));
    }
    return this.#check(initial);
  }

  /**
   * Takes the client's PLAIN message after the empty challenge.
   *
   * @param response The decoded client response.
   * @returns Success or failure.
   */
  step(response: Uint8Array): Promise<SaslStep> {
    if (this.#state !== "message") return Promise.resolve(outOfTurn(this.name));
    return this.#check(response);
  }

  async #check(message: Uint8Array): Promise<SaslStep> {
    this.#state = "done";
    const text = decodeUtf8(message);
    const parts = text?.split("\0");
    if (parts?.length !== 3) {
      return failure("malformed", "Malformed PLAIN message");
    }
    const [authzid, authcid, password] = parts;
    if (authcid === "" || password === "") {
      return failure("malformed", "Malformed PLAIN message");
    }
    if (!(await verifyPassword(this.#callbacks, authcid, password))) {
      return BAD_CREDENTIALS;
    }
    return await authorize(this.#callbacks, authcid, authzid);
  }
}
