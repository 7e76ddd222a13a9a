/**
 * The shape of a POP3 unique id (RFC 1939 section 7, UIDL).
 *
 * @module
 */

/** 1 to 70 characters from `!` to `~`. */
export const UID_PATTERN: RegExp = /^[!-~]{1,70}$/;

/**
 * Whether `uid` can be sent in a UIDL reply.
 *
 * @example
 * ```ts
 * import { isValidUid } from "./uid.ts";
 * console.assert(isValidUid("m1") && !isValidUid("a b"));
 * ```
 */
export function isValidUid(uid: unknown): uid is string {
  return typeof uid === "string" && UID_PATTERN.test(uid);
}

/**
 * Throws the one error for a bad caller-given uid.
 *
 * @throws {TypeError} When `uid` is not 1 to 70 characters from `!` to `~`.
 *
 * @example
 * ```ts
 * import { checkUid } from "./uid.ts";
 * console.assert(checkUid("m1") === "m1");
 * ```
 */
export function checkUid(uid: unknown): string {
  if (!isValidUid(uid)) {
    throw new TypeError(
      'Message uid must be 1 to 70 characters from "!" to "~"',
    );
  }
  return uid;
}
