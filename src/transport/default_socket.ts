/**
 * Picks the host runtime's TCP listener.
 *
 * @module
 */

import type { Listener, ListenOptions } from "./types.ts";

/**
 * The default {@linkcode SocketFactory}: listens with `Deno.listen` on Deno,
 * `Bun.listen` on Bun and `node:net` on Node (and on Deno with
 * `reusePort`, unless `--unstable-net` lets `Deno.listen` share the port).
 * The adapter is imported lazily,
 * so loading the module touches no runtime API.
 *
 * @example
 * ```ts ignore
 * import { defaultSocket } from "@x/pop3d";
 * const listener = await defaultSocket({ hostname: "127.0.0.1", port: 0 });
 * console.log(listener.addr.port);
 * await listener.close();
 * ```
 */
export async function defaultSocket(options: ListenOptions): Promise<Listener> {
  const host = globalThis as {
    Deno?: { listen?: unknown; listenDatagram?: unknown };
    Bun?: { listen?: unknown };
  };
  // Deno.listen shares a port only with --unstable-net (without it, asking
  // ends the process); that flag also brings Deno.listenDatagram. node:net
  // shares a port on any Deno, at some cost per connection.
  const denoSharesPorts = typeof host.Deno?.listenDatagram === "function";
  if (
    typeof host.Deno?.listen === "function" &&
    (!options.reusePort || denoSharesPorts)
  ) {
    const { listenDeno } = await import("./deno.ts");
    return listenDeno(options);
  }
  if (typeof host.Bun?.listen === "function") {
    const { listenBun } = await import("./bun.ts");
    return listenBun(options);
  }
  const { listenNode } = await import("./node.ts");
  return listenNode(options);
}
