/**
 * SASL LOGIN (draft-murchison-sasl-login).
 *
 * @module
 */

import {
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
 * Server side of the obsolete but common SASL LOGIN: the server asks
 * `Username:` then `Password:` and the client answers each. A client may
 * send the user name as the initial response. The password is checked with
 * `authenticate`, or else against `lookupPassword` in constant time. LOGIN
 * sends the password in the clear: offer it only over TLS or loopback.
 *
 * @example A LOGIN exchange
 * ```ts
 * import { SaslLogin } from "./sasl_login.ts";
 * const text = new TextEncoder();
 * const login = new SaslLogin({ authenticate: (u, p) => u === "tim" && p === "pw" });
 * const first = await login.start();
 * console.assert(first.type === "challenge");
 * await login.step(text.encode("tim"));
 * const last = await login.step(text.encode("pw"));
 * console.assert(last.type === "success" && last.user === "tim");
 * ```
 */
export class SaslLogin implements SaslMechanism {
  /** The mechanism name. */
  readonly name: "LOGIN" = "LOGIN";
  #callbacks: SaslCallbacks;
  #state: "new" | "username" | "password" | "done" = "new";
  #username = "";

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
   * Begins the exchange with the `Username:` challenge, or with
   * `Password:` if the initial response carried the user name.
   *
   * @param initial The decoded initial response (a user name), if any.
   * @returns The next step.
   */
  start(initial?: Uint8Array): Promise<SaslStep> {
    if (this.#state !== "new") return Promise.resolve(outOfTurn(this.name));
    if (initial === undefined) {
      this.#state = "username";
      return Promise.resolve(challenge("Username:"));
    }
    return Promise.resolve(this.#takeUsername(initial));
  }

  /**
   * Takes the user name, then the password.
   *
   * @param response The decoded client response.
   * @returns The next step.
   */
  async step(response: Uint8Array): Promise<SaslStep> {
    if (this.#state === "username") return this.#takeUsername(response);
    if (this.#state !== "password") return outOfTurn(this.name);
    this.#state = "done";
    const password = decodeUtf8(response);
    if (password === undefined || password.includes("\0")) {
      return failure("malformed", "Malformed LOGIN password");
    }
    if (!(await verifyPassword(this.#callbacks, this.#username, password))) {
      return BAD_CREDENTIALS;
    }
    return { type: "success", user: this.#username, authcid: this.#username };
  }

  #takeUsername(bytes: Uint8Array): SaslStep {
    const name = decodeUtf8(bytes);
    if (name === undefined || name === "" || name.includes("\0")) {
      this.#state = "done";
      return failure("malformed", "Malformed LOGIN user name");
    }
    this.#username = name;
    this.#state = "password";
    return challenge("Password:");
  }
}
