/**
 * The storage callback interface of {@linkcode Pop3d}: the seed's `dele`,
 * `lock`, `unlock`, `size`, `stat` and `get`, plus the optional `uidl`.
 *
 * @module
 */

/**
 * The bytes of one message, as a storage callback may return them.
 *
 * A string is encoded as UTF-8. A `ReadableStream` or `Blob` is streamed to
 * the client chunk by chunk and never buffered whole. Bare LF line ends are
 * sent as CRLF; the storage's {@linkcode Pop3dStorage.size} must count them
 * as CRLF (two octets).
 */
export type MessageSource =
  | string
  | Uint8Array
  | ReadableStream<Uint8Array>
  | Blob;

/**
 * Serves the maildrops. `M` is the storage reference that
 * {@linkcode Pop3dAuth.lookup} returns; the server passes it back unchanged.
 *
 * Every method may return its value directly or as a Promise. Message
 * numbers are the 1-based numbers the client sees; a session uses the
 * numbers `1..stat(mbox)` that it saw at login, so a storage must keep those
 * stable while it holds the lock (new mail may be appended).
 *
 * @example Implementing a tiny read-only storage
 * ```ts
 * import type { Pop3dStorage } from "@x/pop3d";
 *
 * const messages = ["Subject: one\r\n\r\nHello\r\n"];
 * const storage: Pop3dStorage<string> = {
 *   lock: () => true,
 *   unlock: () => {},
 *   stat: () => messages.length,
 *   size: (_mbox, id) =>
 *     id === undefined
 *       ? messages.reduce((n, m) => n + m.length, 0)
 *       : messages[id - 1].length,
 *   get: (_mbox, id) => messages[id - 1],
 *   dele: () => {},
 * };
 * ```
 */
export interface Pop3dStorage<M = unknown> {
  /**
   * Locks the maildrop for one session. Called once after a successful
   * login; `false` answers the client `-ERR [IN-USE]`.
   */
  lock(mbox: M): boolean | Promise<boolean>;
  /** Releases the lock. Called exactly once for every successful `lock`. */
  unlock(mbox: M): void | Promise<void>;
  /** Returns the number of messages in the maildrop. */
  stat(mbox: M): number | Promise<number>;
  /**
   * Returns the size in octets (CRLF line ends) of message `msgId`, or of
   * the whole maildrop when `msgId` is omitted.
   */
  size(mbox: M, msgId?: number): number | Promise<number>;
  /** Returns the bytes of message `msgId`. */
  get(mbox: M, msgId: number): MessageSource | Promise<MessageSource>;
  /**
   * Deletes messages. Called once in the UPDATE state, after the client's
   * QUIT, with every message marked deleted, ascending, without duplicates.
   */
  dele(mbox: M, msgIds: readonly number[]): void | Promise<void>;
  /**
   * Optional: the unique id of a message (1 to 70 characters from `!` to
   * `~`). Without it, the server derives UIDL from an MD5 digest of the
   * message bytes.
   */
  uidl?(mbox: M, msgId: number): string | Promise<string>;
}
