/**
 * The bun adapter (not written yet).
 *
 * @module
 */

import type { Listener, ListenOptions } from "./types.ts";

/**
 * Listens on TCP on bun.
 *
 * @example
 * ```ts ignore
 * const listener = await listenBun({ hostname: "127.0.0.1", port: 0 });
 * ```
 */
export function listenBun(_options: ListenOptions): Listener {
  throw new Error("The bun adapter is not available yet");
}
