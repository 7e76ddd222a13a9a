/**
 * Formats single-line replies.
 *
 * @module
 */

import type { ResponseCode } from "../errors.ts";

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
  return text ? `+OK ${text}\r\n` : "+OK\r\n";
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
  return code ? `-ERR [${code}] ${text}\r\n` : `-ERR ${text}\r\n`;
}
