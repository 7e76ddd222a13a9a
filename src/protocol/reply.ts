/**
 * Formats single-line replies: the one place a reply's text is made safe
 * for the wire.
 *
 * @module
 */

import type { ResponseCode } from "../errors.ts";

/** Longest reply text in characters; RFC 2449 caps a reply line at 512 octets. */
export const MAX_REPLY_TEXT = 400;

const UNSAFE = /[\r\n\0]/;
const UNSAFE_RUNS = /[\r\n\0]+/g;

/**
 * Makes `text` one safe line: every run of CR, LF and NUL becomes one space
 * (so a callback's message can never forge a second reply) and the text is
 * cut to {@linkcode MAX_REPLY_TEXT} characters.
 *
 * @example
 * ```ts
 * import { replyText } from "./reply.ts";
 * console.assert(replyText("broken\r\n+OK injected") === "broken +OK injected");
 * ```
 */
export function replyText(text: string): string {
  const line = UNSAFE.test(text) ? text.replace(UNSAFE_RUNS, " ") : text;
  return line.length > MAX_REPLY_TEXT ? line.slice(0, MAX_REPLY_TEXT) : line;
}

/**
 * Formats `+OK text` with its CRLF.
 *
 * @example
 * ```ts
 * import { ok } from "./reply.ts";
 * console.assert(ok("bye") === "+OK bye\r\n");
 * ```
 */
export function ok(text?: string): string {
  return text ? `+OK ${replyText(text)}\r\n` : "+OK\r\n";
}

/**
 * Formats `-ERR [CODE] text` with its CRLF.
 *
 * @example
 * ```ts
 * import { err } from "./reply.ts";
 * console.assert(err("Locked", "IN-USE") === "-ERR [IN-USE] Locked\r\n");
 * ```
 */
export function err(text: string, code?: ResponseCode): string {
  const safe = replyText(text);
  return code ? `-ERR [${code}] ${safe}\r\n` : `-ERR ${safe}\r\n`;
}
