/**
 * The program's advice when its Maildirs are on a network file system.
 *
 * @module
 */

import type { Config } from "./config.ts";
import type { Host } from "./host.ts";

/**
 * File systems whose calls can wait on a server or another process, by
 * `statfs` magic number (Linux's `f_type`): where one synchronous call may
 * take milliseconds or hang.
 */
export const NETWORK_FILE_SYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x6969, "NFS"],
  [0x517b, "SMB"],
  [0xff534d42, "CIFS"],
  [0xfe534d42, "SMB2"],
  [0x65735546, "FUSE"],
  [0x00c36400, "Ceph"],
  [0x5346414f, "AFS"],
  [0x01021997, "9P"],
  [0x0bd00bd0, "Lustre"],
  [0x47504653, "GPFS"],
  [0x7461636f, "OCFS2"],
  [0x01161970, "GFS2"],
]);

/**
 * What the program logs at start (a `hint` line) when the Maildir root is on
 * one of the {@linkcode NETWORK_FILE_SYSTEMS} and `sync-metadata` is left
 * on: every synchronous call there stops every session of the thread for
 * as long as it waits (a FUSE file system may well be fast: the hint says
 * "if calls there are slow") (`bench/slow_fs.ts`, 2 ms per call: 4–5 sessions/s against
 * 61–86 with `sync-metadata = false`).
 *
 * @param config The program's settings.
 * @param host The runtime.
 * @returns The hint, or `undefined` when there is nothing to say.
 *
 * @example
 * ```ts ignore
 * const hint = await networkFsHint(config, nodeHost());
 * if (hint) log.line("hint", { setting: "sync-metadata", hint });
 * ```
 */
export async function networkFsHint(
  config: Config,
  host: Host,
): Promise<string | undefined> {
  const root = config.maildir;
  if (typeof root !== "string" || config["sync-metadata"] === false) {
    return undefined;
  }
  const type = await host.fileSystemType?.(root);
  const name = type === undefined ? undefined : NETWORK_FILE_SYSTEMS.get(type);
  if (name === undefined) return undefined;
  return `the Maildir root is on ${name}, where a synchronous file call ` +
    "stops every session for as long as it waits: if calls there are slow, " +
    "set sync-metadata = false (on Node and Bun also UV_THREADPOOL_SIZE=16)";
}
