/**
 * Loads the messages of a Maildir (as written by the Dovecot peer's
 * `genmail.py`) in UID order, with CRLF line ends, so that every benchmarked
 * server sends the very bytes Dovecot sends. Runs under Deno, Bun and Node.
 *
 * @module
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

/**
 * Reads `maildir/cur` in the order of `maildir/dovecot-uidlist` (or by name
 * when there is no uidlist) and returns each message with CRLF line ends.
 *
 * @param maildir A Maildir directory (the one that holds `cur/`).
 * @returns The messages, message 1 first.
 * @example Loading Dovecot's generated mail
 * ```ts
 * const messages = loadMaildir("/tmp/dv/mail/alice/Maildir");
 * console.log(messages.length);
 * ```
 */
export function loadMaildir(maildir: string): Uint8Array[] {
  const cur = join(maildir, "cur");
  const files = readdirSync(cur);
  let order: string[];
  try {
    const uidlist = readFileSync(join(maildir, "dovecot-uidlist"), "utf8");
    const bases = uidlist.split("\n").slice(1).filter((l) => l.includes(" :"))
      .map((l) => l.slice(l.indexOf(" :") + 2));
    order = bases.map((base) => {
      const file = files.find((f) => f === base || f.startsWith(base + ":"));
      if (file === undefined) {
        throw new Error(`Cannot find message "${base}" in "${cur}"`);
      }
      return file;
    });
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw error;
    order = [...files].sort();
  }
  return order.map((f) => toCrlf(new Uint8Array(readFileSync(join(cur, f)))));
}

/**
 * Turns bare LF line ends into CRLF (CRLF stays as it is).
 *
 * @param data Message bytes.
 * @returns A new array with CRLF line ends.
 * @example
 * ```ts
 * toCrlf(new TextEncoder().encode("a\nb\r\n")); // "a\r\nb\r\n"
 * ```
 */
export function toCrlf(data: Uint8Array): Uint8Array {
  let bare = 0;
  for (let i = data.indexOf(LF); i !== -1; i = data.indexOf(LF, i + 1)) {
    if (i === 0 || data[i - 1] !== CR) bare++;
  }
  const out = new Uint8Array(data.length + bare);
  let o = 0;
  let from = 0;
  for (let i = data.indexOf(LF); i !== -1; i = data.indexOf(LF, i + 1)) {
    if (i === 0 || data[i - 1] !== CR) {
      out.set(data.subarray(from, i), o);
      o += i - from;
      out[o++] = CR;
      from = i;
    }
  }
  out.set(data.subarray(from), o);
  return out;
}

/**
 * Builds a complete multi-line POP3 reply: `status` CRLF, the dot-stuffed
 * CRLF message and the terminating `.` CRLF. Used by the trivial server to
 * pre-build its canned replies once at start-up.
 *
 * @param status The status line without CRLF, e.g. `+OK 10420 octets`.
 * @param message The message with CRLF line ends.
 * @returns The reply bytes.
 * @example
 * ```ts
 * multiLineReply("+OK", new TextEncoder().encode(".x\r\n")); // "+OK\r\n..x\r\n.\r\n"
 * ```
 */
export function multiLineReply(
  status: string,
  message: Uint8Array,
): Uint8Array {
  const head = new TextEncoder().encode(status + "\r\n");
  let dots = message[0] === DOT ? 1 : 0;
  for (
    let i = message.indexOf(DOT, 1);
    i !== -1;
    i = message.indexOf(DOT, i + 1)
  ) {
    if (message[i - 1] === LF) dots++;
  }
  const endsInCrlf = message.length >= 2 &&
    message[message.length - 2] === CR && message[message.length - 1] === LF;
  const tail = endsInCrlf || message.length === 0 ? 3 : 5;
  const out = new Uint8Array(head.length + message.length + dots + tail);
  out.set(head, 0);
  let o = head.length;
  let from = 0;
  for (
    let i = message.indexOf(DOT);
    i !== -1;
    i = message.indexOf(DOT, i + 1)
  ) {
    if (i === 0 || message[i - 1] === LF) {
      out.set(message.subarray(from, i), o);
      o += i - from;
      out[o++] = DOT;
      from = i;
    }
  }
  out.set(message.subarray(from), o);
  o += message.length - from;
  if (tail === 5) {
    out[o++] = CR;
    out[o++] = LF;
  }
  out[o++] = DOT;
  out[o++] = CR;
  out[o++] = LF;
  return out;
}
