/**
 * Helpers shared by the SASL mechanisms. Internal.
 *
 * @module
 */

import { timingSafeEqual } from "../../_util/timing_safe_equal.ts";
import type {
  SaslCallbacks,
  SaslChallenge,
  SaslFailure,
  SaslFailureReason,
  SaslSuccess,
} from "./types.ts";

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});

/** Builds a challenge step from bytes or UTF-8 text. */
export function challenge(data: Uint8Array | string): SaslChallenge {
  return {
    type: "challenge",
    challenge: typeof data === "string" ? encoder.encode(data) : data,
  };
}

/** Builds a success step. */
export function success(user: string, authcid: string): SaslSuccess {
  return { type: "success", user, authcid };
}

/** Builds a failure step. */
export function failure(
  reason: SaslFailureReason,
  message: string,
): SaslFailure {
  return { type: "failure", reason, message };
}

/**
 * Checks that a mechanism got at least one of the callbacks it needs.
 *
 * @throws {TypeError} `Cannot create <name>: callbacks need <a> or <b>`.
 */
export function requireCallbacks(
  callbacks: SaslCallbacks | undefined,
  name: string,
  ...needs: (keyof SaslCallbacks)[]
): SaslCallbacks {
  if (callbacks && needs.some((key) => callbacks[key])) return callbacks;
  throw new TypeError(
    `Cannot create ${name}: callbacks need ${needs.join(" or ")}`,
  );
}

/** The failure for a call that comes out of turn. */
export function outOfTurn(name: string): SaslFailure {
  return failure("malformed", `${name} exchange is not expecting a response`);
}

/** The failure for bad credentials; one message for every cause. */
export const BAD_CREDENTIALS: SaslFailure = failure(
  "credentials",
  "Authentication failed",
);

/** Decodes strict UTF-8, or returns undefined for invalid bytes. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Encodes text as UTF-8. */
export function encodeUtf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** Random bytes from the web crypto generator. */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(length));
}

/**
 * Checks a name and password with `authenticate`, or else against
 * `lookupPassword` in constant time. Unknown users are compared against a
 * random value so they take the same path.
 */
export async function verifyPassword(
  callbacks: SaslCallbacks,
  name: string,
  password: string,
): Promise<boolean> {
  if (callbacks.authenticate) {
    return (await callbacks.authenticate(name, password)) === true;
  }
  if (callbacks.lookupPassword) {
    const expected = await callbacks.lookupPassword(name);
    const equal = timingSafeEqual(
      typeof expected === "string" ? expected : randomBytes(16),
      password,
    );
    return equal && typeof expected === "string";
  }
  return false;
}

/**
 * Applies the requested authzid: empty or equal to the authcid logs in as
 * the authcid; anything else needs `authorize` to agree.
 */
export async function authorize(
  callbacks: SaslCallbacks,
  authcid: string,
  authzid: string,
): Promise<SaslSuccess | SaslFailure> {
  if (authzid === "" || authzid === authcid) return success(authcid, authcid);
  if (
    callbacks.authorize &&
    (await callbacks.authorize(authcid, authzid)) === true
  ) {
    return success(authzid, authcid);
  }
  return failure(
    "authorization",
    "Not authorized to log in as the requested identity",
  );
}

/**
 * Decodes a SCRAM/GS2 `saslname`: `=2C` is a comma and `=3D` an equals
 * sign; any other `=`, or a bare comma, makes it invalid.
 */
export function decodeSaslName(text: string): string | undefined {
  if (text.includes(",")) return undefined;
  if (/=(?!2C|3D)/.test(text)) return undefined;
  return text.replaceAll("=2C", ",").replaceAll("=3D", "=");
}

/** The parts of a GS2 header (RFC 5801), as SCRAM and OAUTHBEARER use it. */
export interface Gs2Header {
  /** The header text including its final comma. */
  header: string;
  /** The decoded `a=` authzid, or `""` when absent. */
  authzid: string;
  /** The text after the header. */
  rest: string;
}

/**
 * Parses a GS2 header. Accepts the `n` and `y` channel-binding flags;
 * returns a failure for `p=` (channel binding is not offered) and for bad
 * syntax.
 */
export function parseGs2Header(
  text: string,
  mechanism: string,
): Gs2Header | SaslFailure {
  if (text.startsWith("p=")) {
    return failure("malformed", "Channel binding is not supported");
  }
  if (!text.startsWith("n,") && !text.startsWith("y,")) {
    return failure("malformed", `Malformed ${mechanism} header`);
  }
  const end = text.indexOf(",", 2);
  if (end < 0) return failure("malformed", `Malformed ${mechanism} header`);
  const field = text.slice(2, end);
  let authzid = "";
  if (field !== "") {
    const name = field.startsWith("a=")
      ? decodeSaslName(field.slice(2))
      : undefined;
    if (name === undefined || name === "") {
      return failure("malformed", `Malformed ${mechanism} authzid`);
    }
    authzid = name;
  }
  return { header: text.slice(0, end + 1), authzid, rest: text.slice(end + 1) };
}

/**
 * Extracts the token from an `auth` value `Bearer <token>` (scheme
 * case-insensitive, RFC 6750 b64token syntax), or returns undefined.
 */
export function parseBearer(value: string | undefined): string | undefined {
  const match = value?.match(/^bearer +([A-Za-z0-9\-._~+/]+=*)$/i);
  return match?.[1];
}

/**
 * Splits `key=value` pairs separated by U+0001 (RFC 7628 kvpairs, also used
 * by XOAUTH2). Returns undefined for a pair without `=`, an empty or
 * repeated key.
 */
export function parseKeyValues(
  text: string,
): Map<string, string> | undefined {
  const pairs = new Map<string, string>();
  if (text === "") return pairs;
  for (const pair of text.split("\x01")) {
    const eq = pair.indexOf("=");
    const key = pair.slice(0, eq);
    if (eq < 1 || pairs.has(key)) return undefined;
    pairs.set(key, pair.slice(eq + 1));
  }
  return pairs;
}
