/**
 * A per-address penalty on failed logins, like Dovecot's `auth_penalty`:
 * `maxAuthFailures` counts per connection, so without this an attacker
 * simply opens a new connection every few guesses.
 *
 * @module
 */

import { addressKey, type Cidr, inNetworks, parseCidr } from "./address_key.ts";

/** Settings of {@linkcode AuthPenalty}. */
export interface AuthPenaltySettings {
  /** Milliseconds of penalty after the first recent failure; doubles with each further one. 0 disables. */
  initial: number;
  /** The most milliseconds of penalty. */
  max: number;
  /** Milliseconds after the last failure from an address when its failures are forgotten. */
  window: number;
  /** CIDR blocks whose clients get no penalty. */
  trusted: readonly string[];
  /** Bits of an IPv6 address that name one client. */
  prefixV6: number;
  /** Addresses remembered at most; the least recently failed are forgotten first. */
  maxAddresses?: number;
  /** The clock, in milliseconds (for tests). */
  now?: () => number;
}

interface Failures {
  failures: number;
  last: number;
}

/** Doublings after which the penalty is at its cap for any sane setting. */
const MAX_DOUBLINGS = 30;

/**
 * Counts recent failed logins per address (IPv6 by prefix) and turns them
 * into a delay: none without failures, `initial` after one, doubling with
 * each further one up to `max`. Failures are forgotten `window`
 * milliseconds after the last one, and at once when a login from that
 * address succeeds. Trusted networks are never penalised.
 *
 * @example Three failures from one address
 * ```ts
 * import { AuthPenalty } from "./auth_penalty.ts";
 * const p = new AuthPenalty({
 *   initial: 1000, max: 15000, window: 3_600_000, trusted: [], prefixV6: 64,
 * });
 * p.failed("192.0.2.1");
 * p.failed("192.0.2.1");
 * p.failed("192.0.2.1");
 * console.assert(p.delayFor("192.0.2.1") === 4000);
 * p.succeeded("192.0.2.1");
 * console.assert(p.delayFor("192.0.2.1") === 0);
 * ```
 */
export class AuthPenalty {
  #settings!: Required<AuthPenaltySettings>;
  #trusted: Cidr[] = [];
  /** By key, least recently failed first. */
  #records = new Map<string, Failures>();

  /**
   * @param settings The penalty's settings.
   * @throws {RangeError} When a trusted network does not parse.
   */
  constructor(settings: AuthPenaltySettings) {
    this.configure(settings);
  }

  /**
   * Replaces the settings; the failures counted so far are kept.
   *
   * @param settings The new settings.
   * @throws {RangeError} When a trusted network does not parse.
   */
  configure(settings: AuthPenaltySettings): void {
    this.#trusted = settings.trusted.map(parseCidr);
    this.#settings = {
      maxAddresses: 10_000,
      now: Date.now,
      ...settings,
    };
  }

  /** Addresses (IPv6 prefixes) with a penalty now. */
  get size(): number {
    this.#prune();
    return this.#records.size;
  }

  /**
   * Counts a failed login from `address`.
   *
   * @param address The client's address.
   */
  failed(address: string): void {
    const s = this.#settings;
    if (s.initial === 0 || inNetworks(address, this.#trusted)) return;
    const key = addressKey(address, s.prefixV6);
    const now = s.now();
    const old = this.#live(key, now);
    this.#records.delete(key);
    this.#records.set(key, {
      failures: Math.min((old?.failures ?? 0) + 1, MAX_DOUBLINGS),
      last: now,
    });
    this.#prune();
    while (this.#records.size > s.maxAddresses) {
      this.#records.delete(this.#records.keys().next().value!);
    }
  }

  /**
   * Forgets the failures from `address` after a successful login.
   *
   * @param address The client's address.
   */
  succeeded(address: string): void {
    if (this.#records.size === 0) return;
    this.#records.delete(addressKey(address, this.#settings.prefixV6));
  }

  /**
   * The penalty in milliseconds that a failed login from `address` waits now.
   *
   * @param address The client's address.
   * @returns 0 without recent failures, else `initial · 2^(failures-1)`, at most `max`.
   */
  delayFor(address: string): number {
    const s = this.#settings;
    if (s.initial === 0 || this.#records.size === 0) return 0;
    const record = this.#live(addressKey(address, s.prefixV6), s.now());
    if (!record || inNetworks(address, this.#trusted)) return 0;
    return Math.min(s.max, s.initial * 2 ** (record.failures - 1));
  }

  #live(key: string, now: number): Failures | undefined {
    const record = this.#records.get(key);
    if (record && now - record.last >= this.#settings.window) {
      this.#records.delete(key);
      return undefined;
    }
    return record;
  }

  /** Drops expired records; the oldest come first, so stop at the first live one. */
  #prune(): void {
    const now = this.#settings.now();
    for (const [key, record] of this.#records) {
      if (now - record.last < this.#settings.window) return;
      this.#records.delete(key);
    }
  }
}
