/**
 * The per-session seam between a session and its storage: a maildrop opened
 * once at login (lock + snapshot), then read, deleted from and closed.
 *
 * The seed's by-mbox callbacks ({@linkcode Pop3dStorage}) stay public; they
 * are adapted to this handle in one place. Built-in backends implement
 * {@linkcode MaildropStore} directly and keep no table of open sessions: the
 * handle is the session's state.
 *
 * @module
 */

import type { MessageSource } from "./types.ts";

/**
 * A locked maildrop as one session holds it. Message numbers are `1..count`
 * as of the snapshot taken when it was opened, and never change while it is
 * open (mail delivered meanwhile appears in the next session).
 *
 * Methods may answer directly or with a Promise; the session applies its own
 * deadline to each call. The session guarantees that `close` is called
 * exactly once and only after every `delete` it started has settled, even
 * when the client was told the delete took too long.
 *
 * @example A read-only maildrop over an array
 * ```ts
 * import type { MaildropHandle } from "@x/pop3d";
 *
 * const mail = ["Subject: a\r\n\r\nA\r\n"];
 * const handle: MaildropHandle = {
 *   count: mail.length,
 *   octets: mail.reduce((n, m) => n + m.length, 0),
 *   size: (n) => mail[n - 1].length,
 *   uid: (n) => `msg-${n}`,
 *   get: (n) => mail[n - 1],
 *   delete: () => [],
 *   close: () => {},
 * };
 * ```
 */
export interface MaildropHandle {
  /** Messages in the snapshot. */
  readonly count: number;
  /** Octets (CRLF line ends) of all messages in the snapshot. */
  readonly octets: number;
  /** Size of message `n` in octets, counting line ends as CRLF. */
  size(n: number): number | Promise<number>;
  /** Unique id of message `n`: 1 to 70 characters from `!` to `~`. */
  uid(n: number): string | Promise<string>;
  /**
   * Optional: `true` when {@linkcode MaildropHandle.uid} answers at once and
   * the same every time, so that the session need not keep each answer (a
   * string per message for the whole session). Otherwise each id is asked
   * once and kept.
   */
  readonly uidsStable?: boolean;
  /** The bytes of message `n`. */
  get(n: number): MessageSource | Promise<MessageSource>;
  /**
   * Deletes messages (the UPDATE state): `ids` ascending, without
   * duplicates. Resolves with the ids actually removed, so that a failure
   * midway reports exactly what is gone; throws only when nothing is known
   * to have been removed.
   */
  delete(
    ids: readonly number[],
  ): readonly number[] | Promise<readonly number[]>;
  /** Releases the lock. */
  close(): void | Promise<void>;
}

/**
 * What a session knows when it opens a maildrop.
 *
 * @example
 * ```ts
 * import type { OpenMaildropContext } from "@x/pop3d";
 * const context: OpenMaildropContext = {
 *   user: "alice",
 *   signal: new AbortController().signal,
 * };
 * ```
 */
export interface OpenMaildropContext {
  /** The user who logged in. */
  readonly user: string;
  /** Aborts when the session is killed while the open is pending. */
  readonly signal: AbortSignal;
}

/**
 * A storage that opens per-session maildrop handles. `M` is the storage
 * reference that {@linkcode Pop3dAuth.lookup} returns.
 *
 * @example
 * ```ts
 * import type { MaildropStore } from "@x/pop3d";
 *
 * const store: MaildropStore<string> = {
 *   openMaildrop: () => ({
 *     count: 0,
 *     octets: 0,
 *     size: () => 0,
 *     uid: () => "x",
 *     get: () => "",
 *     delete: () => [],
 *     close: () => {},
 *   }),
 * };
 * ```
 */
export interface MaildropStore<M = unknown> {
  /**
   * Locks the maildrop and takes its snapshot. `null` means another session
   * holds it (the client gets `-ERR [IN-USE]`).
   */
  openMaildrop(
    mbox: M,
    context: OpenMaildropContext,
  ): MaildropHandle | null | Promise<MaildropHandle | null>;
}
