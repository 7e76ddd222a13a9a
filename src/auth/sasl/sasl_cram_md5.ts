/**
 * SASL CRAM-MD5 (RFC 2195).
 *
 * @module
 */

import { toHex } from "../../_util/hex.ts";
import { hmacMd5 } from "../../_util/md5.ts";
import { timingSafeEqual } from "../../_util/timing_safe_equal.ts";
import {
  BAD_CREDENTIALS,
  challenge,
  decodeUtf8,
  failure,
  outOfTurn,
  randomBytes,
  requireCallbacks,
} from "./_common.ts";
import type { SaslCallbacks, SaslMechanism, SaslStep } from "./types.ts";

/** Options for {@linkcode SaslCramMd5}. */
export interface SaslCramMd5Options {
  /**
   * Host name put in the challenge `<random.timestamp@hostname>`.
   *
   * @default {"localhost"}
   */
  hostname?: string;
  /**
   * Makes the whole challenge string instead of the default; for tests that
   * replay the RFC 2195 example. It must be unique per exchange.
   */
  challenge?: () => string;
}

/**
 * Server side of SASL CRAM-MD5 (RFC 2195): the server sends
 * `<random.timestamp@host>` and the client answers `user hexdigest` where
 * the digest is HMAC-MD5 keyed with the password. Needs the plaintext
 * password from `lookupPassword`. The hex digest is compared
 * case-insensitively, in constant time.
 *
 * @example The RFC 2195 example
 * ```ts
 * import { SaslCramMd5 } from "./sasl_cram_md5.ts";
 * const cram = new SaslCramMd5(
 *   { lookupPassword: (n) => n === "tim" ? "tanstaaftanstaaf" : undefined },
 *   { challenge: () => "<1896.697170952@postoffice.reston.mci.net>" },
 * );
 * await cram.start();
 * const step = await cram.step(
 *   new TextEncoder().encode("tim b913a602c7eda7a495b4e6e7334d3890"),
 * );
 * console.assert(step.type === "success" && step.user === "tim");
 * ```
 */
export class SaslCramMd5 implements SaslMechanism {
  /** The mechanism name. */
  readonly name: "CRAM-MD5" = "CRAM-MD5";
  #callbacks: SaslCallbacks;
  #options: SaslCramMd5Options;
  #state: "new" | "response" | "done" = "new";
  #challenge = "";

  /**
   * Creates one exchange; use a new object for each `AUTH` command.
   *
   * @param callbacks Needs `lookupPassword`.
   * @param options Challenge settings.
   * @throws {TypeError} If `lookupPassword` is missing.
   */
  constructor(callbacks: SaslCallbacks, options: SaslCramMd5Options = {}) {
    this.#callbacks = requireCallbacks(callbacks, this.name, "lookupPassword");
    this.#options = options;
  }

  /**
   * Sends the challenge. CRAM-MD5 is server-first, so an initial response
   * (even an empty one) fails the exchange.
   *
   * @param initial Must be `undefined`.
   * @returns The challenge, or a failure.
   */
  start(initial?: Uint8Array): Promise<SaslStep> {
    if (this.#state !== "new") return Promise.resolve(outOfTurn(this.name));
    if (initial !== undefined) {
      this.#state = "done";
      return Promise.resolve(
        failure("malformed", "CRAM-MD5 does not take an initial response"),
      );
    }
    this.#state = "response";
    this.#challenge = this.#options.challenge?.() ?? defaultChallenge(
      this.#options.hostname ?? "localhost",
    );
    return Promise.resolve(challenge(this.#challenge));
  }

  /**
   * Checks the client's `user hexdigest` answer.
   *
   * @param response The decoded client response.
   * @returns Success or failure.
   */
  async step(response: Uint8Array): Promise<SaslStep> {
    if (this.#state !== "response") return outOfTurn(this.name);
    this.#state = "done";
    const text = decodeUtf8(response);
    const space = text?.lastIndexOf(" ") ?? -1;
    const name = text?.slice(0, space) ?? "";
    const digest = text?.slice(space + 1) ?? "";
    if (space < 1 || !/^[0-9a-fA-F]{32}$/.test(digest)) {
      return failure("malformed", "Malformed CRAM-MD5 response");
    }
    const password = await this.#callbacks.lookupPassword!(name);
    const expected = toHex(
      hmacMd5(
        typeof password === "string" ? password : randomBytes(16),
        this.#challenge,
      ),
    );
    const equal = timingSafeEqual(expected, digest.toLowerCase());
    if (!equal || typeof password !== "string") return BAD_CREDENTIALS;
    return { type: "success", user: name, authcid: name };
  }
}

function defaultChallenge(hostname: string): string {
  const [a, b] = new Uint32Array(randomBytes(8).buffer);
  return `<${a}${b}.${Date.now()}@${hostname}>`;
}
