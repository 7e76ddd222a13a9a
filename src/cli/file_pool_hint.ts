/**
 * The program's advice on the thread pool behind asynchronous file calls.
 *
 * @module
 */

import type { Config } from "./config.ts";
import type { Host } from "./host.ts";

/**
 * What the program logs at start (a `hint` line) when its Maildirs and
 * passwd-file are read with asynchronous calls (`sync-metadata = false`, for
 * a network file system) on a runtime whose pool of file threads has a
 * fixed size that `UV_THREADPOOL_SIZE` sets (Node: 4 threads by default;
 * Bun) and the variable is not set. There the pool, not the file server,
 * bounds how many calls wait at once: `bench/slow_fs.ts` measured Node at 32
 * sessions/s with the default pool and 76 with 16 threads, Bun at 13 and 86,
 * with 2 ms per file call. Deno's pool grows as needed; a program with
 * synchronous calls or PostgreSQL does not use it for mail.
 *
 * @param config The program's settings.
 * @param host The runtime.
 * @returns The hint, or `undefined` when there is nothing to say.
 *
 * @example
 * ```ts ignore
 * const hint = filePoolHint(config, nodeHost());
 * if (hint) log.line("hint", { setting: "sync-metadata", hint });
 * ```
 */
export function filePoolHint(config: Config, host: Host): string | undefined {
  if (config["sync-metadata"] !== false || config.maildir === undefined) {
    return undefined;
  }
  if (host.fixedFilePool?.() !== true) return undefined;
  if ((host.env("UV_THREADPOOL_SIZE") ?? "") !== "") return undefined;
  return "with sync-metadata false every Maildir file call waits for a " +
    "thread of the runtime's file pool, which has few unless " +
    "UV_THREADPOOL_SIZE is set: on a network file system start the " +
    "program with UV_THREADPOOL_SIZE=16 in its environment";
}
