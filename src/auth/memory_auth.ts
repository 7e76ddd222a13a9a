/**
 * An in-memory user database.
 *
 * @module
 */

import type { Pop3dAuth } from "./types.ts";

/**
 * Users and passwords kept in memory, for tests, examples and small setups.
 * The storage reference of a user is its maildrop name (by default the user
 * name), which {@linkcode MemoryStorage} understands.
 *
 * @example
 * ```ts
 * import { MemoryAuth } from "@x/pop3d";
 * const auth = new MemoryAuth();
 * auth.addUser("alice", "secret");
 * console.assert(auth.exists("alice"));
 * console.assert(auth.lookup("alice")[1] === "alice");
 * ```
 */
export class MemoryAuth implements Pop3dAuth<string> {
  #users = new Map<string, { password: string; mbox: string }>();

  /**
   * Adds or replaces a user.
   *
   * @param name User name (no CR, LF or NUL).
   * @param password Password.
   * @param mbox Maildrop name; defaults to the user name.
   * @throws {TypeError} When a value is not a string or holds CR, LF or NUL.
   */
  addUser(name: string, password: string, mbox: string = name): this {
    for (
      const [what, value] of [["name", name], ["password", password], [
        "mbox",
        mbox,
      ]]
    ) {
      if (typeof value !== "string") {
        throw new TypeError(`User ${what} must be a string`);
      }
      if (/[\r\n\0]/.test(value)) {
        throw new TypeError(`User ${what} must not contain CR, LF or NUL`);
      }
    }
    if (name === "") throw new TypeError("User name must not be empty");
    this.#users.set(name, { password, mbox });
    return this;
  }

  /** Removes a user; returns whether it existed. */
  removeUser(name: string): boolean {
    return this.#users.delete(name);
  }

  /** Names of all users. */
  users(): string[] {
    return [...this.#users.keys()];
  }

  /** Tells whether the user exists. */
  exists(name: string): boolean {
    return this.#users.has(name);
  }

  /**
   * Returns `[password, mbox]`.
   *
   * @throws {RangeError} For an unknown user.
   */
  lookup(name: string): readonly [string, string] {
    const user = this.#users.get(name);
    if (!user) throw new RangeError(`Unknown user: "${name}"`);
    return [user.password, user.mbox];
  }
}
