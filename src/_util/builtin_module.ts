/**
 * Synchronous access to a Node built-in module where the host has one
 * (Deno 2, Bun and Node 20.16+ have `process.getBuiltinModule`), without a
 * top-level `node:` import, so that shared code loads on every host.
 *
 * @module
 */

/**
 * Returns the built-in module `id` (such as `"node:tls"`), or `undefined`
 * when the host has no such module or no `getBuiltinModule`.
 *
 * @example
 * ```ts
 * import { builtinModule } from "./builtin_module.ts";
 * const os = builtinModule<{ EOL: string }>("node:os");
 * console.assert(os === undefined || typeof os.EOL === "string");
 * ```
 */
export function builtinModule<T>(id: string): T | undefined {
  const host = globalThis as {
    process?: { getBuiltinModule?(id: string): unknown };
  };
  return host.process?.getBuiltinModule?.(id) as T | undefined;
}

/**
 * Like {@linkcode builtinModule}, but throws when the module is missing.
 *
 * @throws {Error} Naming `what` needs the module, when the host lacks it.
 *
 * @example
 * ```ts ignore
 * const tls = requireBuiltinModule<typeof import("node:tls")>("node:tls", "TLS");
 * ```
 */
export function requireBuiltinModule<T>(id: string, what: string): T {
  const module = builtinModule<T>(id);
  if (module === undefined) {
    throw new Error(`${what} needs ${id}, which this runtime lacks`);
  }
  return module;
}
