/**
 * The structured events a session reports (to the server's `onEvent`
 * option, through its observer).
 *
 * @module
 */

/** How a session logged in. */
export type LoginMethod = "USER" | "APOP" | `SASL ${string}`;

/**
 * Why a connection closed. `"evicted"`: it had not logged in and made room
 * for a new connection at `maxConnections` or `maxConnectionsPerAddress`.
 */
export type CloseReason =
  | "quit"
  | "client"
  | "timeout"
  | "limit"
  | "evicted"
  | "killed"
  | "error";

/**
 * One event. Every event of a session carries its id and the client's
 * address (`remote`). Events never carry passwords or the arguments of PASS,
 * APOP and AUTH.
 *
 * @example Logging events
 * ```ts
 * import { Pop3d, type Pop3dEvent } from "@x/pop3d";
 * const server = new Pop3d({
 *   port: 0,
 *   onEvent: (e: Pop3dEvent) => {
 *     if (e.type === "login") console.log(e.user, "logged in");
 *   },
 * });
 * ```
 */
export type Pop3dEvent =
  | { type: "open"; id: number; remote: string; encrypted: boolean }
  | {
    type: "close";
    id: number;
    remote: string;
    reason: CloseReason;
    bytesIn: number;
    bytesOut: number;
    durationMs: number;
  }
  | {
    type: "login";
    id: number;
    remote: string;
    user: string;
    method: LoginMethod;
  }
  | {
    type: "logout";
    id: number;
    remote: string;
    user: string;
    deleted: number;
  }
  | {
    type: "login-failed";
    id: number;
    remote: string;
    user: string;
    method: LoginMethod;
    reason: "credentials" | "in-use" | "error";
  }
  | {
    type: "command";
    id: number;
    remote: string;
    verb: string;
    ok: boolean;
    durationMs: number;
  }
  | {
    /** A client's STLS handshake failed: the client's doing, not a server fault. */
    type: "tls-failed";
    id: number;
    remote: string;
  }
  | { type: "error"; id: number | undefined; error: unknown };
