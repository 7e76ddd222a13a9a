/**
 * The node adapter (not written yet).
 *
 * @module
 */

import type { Listener, ListenOptions } from "./types.ts";

/**
 * Listens on TCP on node.
 *
 * @example
 * ```ts ignore
 * const listener = await listenNode({ hostname: "127.0.0.1", port: 0 });
 * ```
 */
export function listenNode(_options: ListenOptions): Listener {
  throw new Error("The node adapter is not available yet");
}
