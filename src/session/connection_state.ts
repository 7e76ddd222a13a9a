/**
 * What {@linkcode Pop3d.conn.state} tells about one connection.
 *
 * @module
 */

import type { LoginMethod } from "./events.ts";
import type { SessionState } from "./state.ts";

/**
 * A snapshot of one connection. It never holds a password.
 *
 * @example
 * ```ts ignore
 * for (const id of server.conn.list()) {
 *   const s = server.conn.state(id);
 *   console.log(id, s.remoteAddress, s.state, s.user);
 * }
 * ```
 */
export interface ConnectionState {
  /** The connection id, as `conn.list()` gives it. */
  id: number;
  /** The client's address. */
  remoteAddress: string;
  /** The client's port. */
  remotePort: number;
  /** `"auth"` before login, `"trans"` after, `"update"` while deleting after QUIT. */
  state: SessionState;
  /** The logged-in user, or the name given to USER, or `null`. */
  user: string | null;
  /** How the session logged in, or `null` before login. */
  method: LoginMethod | null;
  /** Whether the connection is encrypted (TLS). */
  encrypted: boolean;
  /** Messages in the maildrop at login (0 before login). */
  messageCount: number;
  /** Octets in the maildrop at login (0 before login). */
  totalSize: number;
  /** Message numbers marked deleted, ascending. */
  deleted: number[];
  /** Octets received from the client. */
  bytesIn: number;
  /** Octets sent to the client. */
  bytesOut: number;
  /** When the connection was accepted (milliseconds since the epoch). */
  startTime: number;
}
