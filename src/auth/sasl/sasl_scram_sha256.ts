/**
 * SASL SCRAM-SHA-256 (RFC 5802, RFC 7677), computed from the plaintext
 * password with WebCrypto.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "../../_util/base64.ts";
import { timingSafeEqual } from "../../_util/timing_safe_equal.ts";
import {
  authorize,
  BAD_CREDENTIALS,
  challenge,
  decodeSaslName,
  decodeUtf8,
  encodeUtf8,
  failure,
  outOfTurn,
  parseGs2Header,
  randomBytes,
  requireCallbacks,
} from "./_common.ts";
import type {
  SaslCallbacks,
  SaslFailure,
  SaslMechanism,
  SaslStep,
} from "./types.ts";

/** Options for {@linkcode SaslScramSha256}. */
export interface SaslScramSha256Options {
  /**
   * PBKDF2 iteration count sent to the client. RFC 7677 asks for at least
   * 4096.
   *
   * @default {4096}
   */
  iterations?: number;
  /**
   * Makes the server's part of the nonce: printable ASCII without commas,
   * unique per exchange. Defaults to 18 random bytes in base64. Injectable
   * so tests can replay the RFC 7677 example.
   */
  nonce?: () => string;
  /**
   * Returns the salt for a user. Defaults to 16 fresh random bytes per
   * exchange (the password is hashed anew each time anyway); a stable salt
   * lets clients cache their salted password.
   */
  salt?: (name: string) => Uint8Array | Promise<Uint8Array>;
}

const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;

interface ClientFirst {
  gs2Header: string;
  authzid: string;
  authcid: string;
  bare: string;
  nonce: string;
}

/**
 * Server side of SASL SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash). The
 * salted password is derived from the plaintext that `lookupPassword`
 * returns, with WebCrypto PBKDF2. Channel binding is not offered: the
 * `n` and `y` GS2 flags are accepted and `p=` is refused.
 *
 * The server's final message `v=<signature>` goes out as a challenge that
 * the client answers with an empty response; then the step is success (POP3
 * has no room for data in `+OK`, RFC 5034). A different authzid (`a=`) needs
 * the `authorize` callback. Unknown users get a random salt and a full
 * computation, and fail only at the proof. Passwords are prepared with a
 * subset of SASLprep (RFC 4013): non-ASCII spaces become U+0020, the
 * characters mapped to nothing are removed and NFKC is applied; prohibited
 * characters are not rejected.
 *
 * @example The RFC 7677 example conversation
 * ```ts
 * import { SaslScramSha256 } from "./sasl_scram_sha256.ts";
 * const text = new TextEncoder();
 * const scram = new SaslScramSha256(
 *   { lookupPassword: (n) => n === "user" ? "pencil" : undefined },
 *   {
 *     nonce: () => "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
 *     salt: () => Uint8Array.from(atob("W22ZaJ0SNY7soEsUEjb6gQ=="), (c) => c.charCodeAt(0)),
 *   },
 * );
 * await scram.start(text.encode("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
 * const final = await scram.step(text.encode(
 *   "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
 *     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
 * ));
 * console.assert(final.type === "challenge");
 * const done = await scram.step(new Uint8Array(0));
 * console.assert(done.type === "success" && done.user === "user");
 * ```
 */
export class SaslScramSha256 implements SaslMechanism {
  /** The mechanism name. */
  readonly name: "SCRAM-SHA-256" = "SCRAM-SHA-256";
  #callbacks: SaslCallbacks;
  #options: SaslScramSha256Options;
  #iterations: number;
  #state: "new" | "first" | "final" | "ack" | "done" = "new";
  #first: ClientFirst | undefined;
  #serverFirst = "";
  #combinedNonce = "";
  #salt: Uint8Array = new Uint8Array(0);
  #password: string | undefined;
  #result: SaslStep | undefined;

  /**
   * Creates one exchange; use a new object for each `AUTH` command.
   *
   * @param callbacks Needs `lookupPassword`; uses `authorize` for authzids.
   * @param options Iterations, nonce and salt.
   * @throws {TypeError} If `lookupPassword` is missing.
   * @throws {RangeError} If `iterations` is not an integer from 1 to 10000000.
   */
  constructor(callbacks: SaslCallbacks, options: SaslScramSha256Options = {}) {
    this.#callbacks = requireCallbacks(callbacks, this.name, "lookupPassword");
    const iterations = options.iterations ?? 4096;
    if (
      !Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000
    ) {
      throw new RangeError(
        `Cannot create SCRAM-SHA-256: iterations must be an integer from 1 to 10000000, got "${iterations}"`,
      );
    }
    this.#options = options;
    this.#iterations = iterations;
  }

  /**
   * Begins the exchange: with the client-first message as initial response
   * the step is the server-first challenge; without one, an empty challenge.
   *
   * @param initial The decoded client-first message, if any.
   * @returns The next step.
   */
  start(initial?: Uint8Array): Promise<SaslStep> {
    if (this.#state !== "new") return Promise.resolve(outOfTurn(this.name));
    if (initial === undefined) {
      this.#state = "first";
      return Promise.resolve(challenge(new Uint8Array(0)));
    }
    return this.#clientFirst(initial);
  }

  /**
   * Takes the client-first message, the client-final message, and the empty
   * acknowledgement of the server's final message, in turn.
   *
   * @param response The decoded client response.
   * @returns The next step.
   */
  step(response: Uint8Array): Promise<SaslStep> {
    switch (this.#state) {
      case "first":
        return this.#clientFirst(response);
      case "final":
        return this.#clientFinal(response);
      case "ack":
        this.#state = "done";
        return Promise.resolve(
          response.length === 0 ? this.#result! : failure(
            "malformed",
            "SCRAM-SHA-256 expected an empty response",
          ),
        );
      default:
        return Promise.resolve(outOfTurn(this.name));
    }
  }

  async #clientFirst(message: Uint8Array): Promise<SaslStep> {
    this.#state = "done";
    const first = parseClientFirst(message);
    if ("type" in first) return first;
    this.#first = first;
    const password = await this.#callbacks.lookupPassword!(first.authcid);
    this.#password = typeof password === "string" ? password : undefined;
    this.#salt = (await this.#options.salt?.(first.authcid)) ?? randomBytes(16);
    this.#combinedNonce = first.nonce +
      (this.#options.nonce?.() ?? encodeBase64(randomBytes(18)));
    this.#serverFirst = `r=${this.#combinedNonce},s=${
      encodeBase64(this.#salt)
    },i=${this.#iterations}`;
    this.#state = "final";
    return challenge(this.#serverFirst);
  }

  async #clientFinal(message: Uint8Array): Promise<SaslStep> {
    this.#state = "done";
    const first = this.#first!;
    const text = decodeUtf8(message);
    const at = text?.lastIndexOf(",p=") ?? -1;
    if (text === undefined || at < 0) {
      return failure(
        "malformed",
        "Malformed SCRAM-SHA-256 client-final message",
      );
    }
    const withoutProof = text.slice(0, at);
    const proof = decodeBase64(text.slice(at + 3));
    const attributes = withoutProof.split(",");
    const binding = attributes[0]?.startsWith("c=")
      ? decodeBase64(attributes[0].slice(2))
      : undefined;
    if (
      proof?.length !== 32 || binding === undefined ||
      attributes[1] !== `r=${this.#combinedNonce}` ||
      attributes.slice(2).some((a) => !/^[A-Za-z]=/.test(a))
    ) {
      return failure(
        "malformed",
        "Malformed SCRAM-SHA-256 client-final message",
      );
    }
    if (!timingSafeEqual(binding, first.gs2Header)) {
      return failure("malformed", "SCRAM-SHA-256 channel binding mismatch");
    }
    const authMessage = `${first.bare},${this.#serverFirst},${withoutProof}`;
    const password = this.#password ?? encodeBase64(randomBytes(24));
    const salted = await pbkdf2(
      saslPrep(password),
      this.#salt,
      this.#iterations,
    );
    const clientKey = await hmac(salted, "Client Key");
    const storedKey = await sha256(clientKey);
    const clientSignature = await hmac(storedKey, authMessage);
    const claimedKey = proof.map((b, i) => b ^ clientSignature[i]);
    const valid = timingSafeEqual(await sha256(claimedKey), storedKey);
    if (!valid || this.#password === undefined) return BAD_CREDENTIALS;
    const result = await authorize(
      this.#callbacks,
      first.authcid,
      first.authzid,
    );
    if (result.type === "failure") return result;
    const serverSignature = await hmac(
      await hmac(salted, "Server Key"),
      authMessage,
    );
    this.#result = result;
    this.#state = "ack";
    return challenge(`v=${encodeBase64(serverSignature)}`);
  }
}

function parseClientFirst(message: Uint8Array): ClientFirst | SaslFailure {
  const text = decodeUtf8(message);
  if (text === undefined) {
    return failure("malformed", "Malformed SCRAM-SHA-256 client-first message");
  }
  const gs2 = parseGs2Header(text, "SCRAM-SHA-256");
  if ("type" in gs2) return gs2;
  const bare = gs2.rest;
  const attributes = bare.split(",");
  if (attributes[0]?.startsWith("m=")) {
    return failure(
      "malformed",
      "SCRAM-SHA-256 mandatory extensions are not supported",
    );
  }
  const authcid = attributes[0]?.startsWith("n=")
    ? decodeSaslName(attributes[0].slice(2))
    : undefined;
  const nonce = attributes[1]?.startsWith("r=") ? attributes[1].slice(2) : "";
  if (
    authcid === undefined || authcid === "" || !PRINTABLE.test(nonce) ||
    attributes.slice(2).some((a) => !/^[A-Za-z]=/.test(a))
  ) {
    return failure("malformed", "Malformed SCRAM-SHA-256 client-first message");
  }
  return {
    gs2Header: gs2.header,
    authzid: gs2.authzid,
    authcid,
    bare,
    nonce,
  };
}

/**
 * A subset of SASLprep (RFC 4013): removes the characters RFC 3454 table B.1
 * maps to nothing, maps non-ASCII spaces to U+0020, then applies NFKC.
 */
function saslPrep(text: string): string {
  return text
    .replace(
      /[\u00ad\u034f\u1806\u180b-\u180d\u200b-\u200d\u2060\ufe00-\ufe0f\ufeff]/g,
      "",
    )
    .replace(/[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g, " ")
    .normalize("NFKC");
}

async function pbkdf2(
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey(
    "raw",
    encodeUtf8(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(salt), iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

async function hmac(
  key: Uint8Array<ArrayBuffer>,
  data: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    key,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", cryptoKey, encodeUtf8(data)),
  );
}

async function sha256(
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}
