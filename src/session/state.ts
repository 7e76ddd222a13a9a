/**
 * The session states and which commands each allows (RFC 1939 §3).
 *
 * @module
 */

import type { CommandName } from "../protocol/command.ts";

/** A session's state: AUTHORIZATION, TRANSACTION or UPDATE. */
export type SessionState = "auth" | "trans" | "update";

/** The commands allowed in each state. */
export const ALLOWED: Readonly<Record<SessionState, ReadonlySet<CommandName>>> =
  {
    auth: new Set<CommandName>([
      "USER",
      "PASS",
      "APOP",
      "AUTH",
      "STLS",
      "CAPA",
      "QUIT",
    ]),
    trans: new Set<CommandName>([
      "STAT",
      "LIST",
      "RETR",
      "DELE",
      "NOOP",
      "RSET",
      "TOP",
      "UIDL",
      "QUIT",
      "CAPA",
    ]),
    update: new Set<CommandName>(),
  };
