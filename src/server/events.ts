/**
 * The event types of {@linkcode Pop3d}. They live with the session, which
 * produces them (`src/session/events.ts`); this module re-exports them for
 * the server's side.
 *
 * @module
 */

export type {
  CloseReason,
  LoginMethod,
  Pop3dEvent,
} from "../session/events.ts";
