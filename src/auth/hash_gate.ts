/**
 * A bound on the password hashing that runs at once. A PASS costs the
 * server a slow hash (on purpose); without a bound, a flood of PASS from
 * clients that never logged in pins every core. Hashes beyond the bound wait
 * in line, oldest first.
 *
 * @module
 */

/**
 * A counting semaphore for expensive password checks.
 *
 * @example
 * ```ts
 * import { HashGate } from "./hash_gate.ts";
 * const gate = new HashGate(2);
 * const results = await Promise.all(
 *   [1, 2, 3].map((n) => gate.run(async () => n * 2)),
 * );
 * console.assert(results.join() === "2,4,6");
 * ```
 */
export class HashGate {
  readonly #max: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  /**
   * @param max Hashes that may run at once.
   * @throws {RangeError} When `max` is not an integer from 1 to 1024.
   */
  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1 || max > 1024) {
      throw new RangeError(
        `Option "maxConcurrentHashes" must be an integer from 1 to 1024, got ${max}`,
      );
    }
    this.#max = max;
  }

  /** Hashes running now. */
  get running(): number {
    return this.#running;
  }

  /** Hashes waiting for a turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` once fewer than `max` others run. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#max) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next in line.
      if (next) next();
      else this.#running--;
    }
  }
}

/** Hashes that run at once by default, shared by the whole program. */
export const DEFAULT_MAX_CONCURRENT_HASHES = 2;

/** The gate shared by every password check that has no gate of its own. */
export const SHARED_HASH_GATE: HashGate = new HashGate(
  DEFAULT_MAX_CONCURRENT_HASHES,
);

/**
 * The gate for an auth backend's `maxConcurrentHashes` option: the shared
 * one when it is not given.
 *
 * @example
 * ```ts
 * import { hashGate, SHARED_HASH_GATE } from "./hash_gate.ts";
 * console.assert(hashGate(undefined) === SHARED_HASH_GATE);
 * ```
 */
export function hashGate(max: number | undefined): HashGate {
  return max === undefined ? SHARED_HASH_GATE : new HashGate(max);
}
