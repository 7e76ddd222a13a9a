/**
 * Which connections the server admits when it is full: like Dovecot, the
 * oldest connection that has not logged in makes room for a new one, so
 * that half-open or silent connections cannot lock real clients out.
 *
 * @module
 */

/** The caps {@linkcode Admission} enforces. */
export interface AdmissionLimits {
  /** Open connections in total. */
  maxConnections: number;
  /** Open connections per address key (see `addressKey`). */
  maxConnectionsPerAddress: number;
}

/**
 * What {@linkcode Admission.admit} decided: admit the new connection after
 * ending the ones in `evict` (oldest first), or refuse it because every
 * connection counted against `cap` has logged in.
 */
export type AdmissionDecision =
  | { admit: true; evict: number[] }
  | { admit: false; cap: "total" | "address" };

interface Entry {
  key: string;
  loggedIn: boolean;
}

/**
 * The registry of counted connections, oldest first, and the eviction
 * rule: a logged-in connection is never evicted; a connection that has not
 * logged in (still in AUTHORIZATION, or in its TLS handshake) is, oldest
 * first, when a new one would exceed a cap. The caller ends the evicted
 * connections; they stop counting at once.
 *
 * @example Half-open connections make room for a real client
 * ```ts
 * import { Admission } from "./admission.ts";
 * const limits = { maxConnections: 2, maxConnectionsPerAddress: 2 };
 * const a = new Admission();
 * a.admit(1, "192.0.2.1", limits);
 * a.admit(2, "192.0.2.1", limits);
 * a.loggedIn(2);
 * const d = a.admit(3, "192.0.2.1", limits);
 * console.assert(d.admit && d.evict[0] === 1);
 * ```
 */
export class Admission {
  #entries = new Map<number, Entry>();
  #perKey = new Map<string, number>();

  /** Connections counted now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Connections counted now under one address key.
   *
   * @param key An address key.
   * @returns The count.
   */
  count(key: string): number {
    return this.#perKey.get(key) ?? 0;
  }

  /**
   * Decides on a new connection `id` from `key`. When admitted, it is
   * counted from now on and the evicted ones are no longer counted.
   *
   * @param id The new connection's id.
   * @param key Its address key.
   * @param limits The caps in force.
   * @returns The decision.
   */
  admit(id: number, key: string, limits: AdmissionLimits): AdmissionDecision {
    const evict: number[] = [];
    const chosen = new Set<number>();
    const pick = (sameKey: boolean): boolean => {
      for (const [other, entry] of this.#entries) {
        if (entry.loggedIn || chosen.has(other)) continue;
        if (sameKey && entry.key !== key) continue;
        chosen.add(other);
        evict.push(other);
        return true;
      }
      return false;
    };
    let fromKey = this.count(key);
    while (fromKey >= limits.maxConnectionsPerAddress) {
      if (!pick(true)) return { admit: false, cap: "address" };
      fromKey--;
    }
    while (this.#entries.size - evict.length >= limits.maxConnections) {
      if (!pick(false)) return { admit: false, cap: "total" };
    }
    for (const other of evict) this.remove(other);
    this.#entries.set(id, { key, loggedIn: false });
    this.#perKey.set(key, this.count(key) + 1);
    return { admit: true, evict };
  }

  /**
   * Marks a connection as logged in: it is never evicted from now on.
   *
   * @param id The connection id.
   */
  loggedIn(id: number): void {
    const entry = this.#entries.get(id);
    if (entry) entry.loggedIn = true;
  }

  /**
   * Stops counting a connection (it ended or was evicted). Unknown ids are
   * ignored.
   *
   * @param id The connection id.
   */
  remove(id: number): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    const left = this.count(entry.key) - 1;
    if (left <= 0) this.#perKey.delete(entry.key);
    else this.#perKey.set(entry.key, left);
  }
}
