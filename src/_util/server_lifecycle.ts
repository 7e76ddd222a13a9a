/**
 * The listener lifecycle that {@linkcode Pop3d} and {@linkcode Lmtpd} share:
 * `up`, `down` and `destroy("kill" | "defer")`, the accept loop, and the
 * set of running sessions that `destroy` waits for.
 *
 * @module
 */

import type { Conn, Listener } from "../transport/types.ts";

/** Where a server stands. */
export type LifecycleState = "down" | "up" | "destroyed";

/** What differs between the servers. */
export interface LifecycleHooks {
  /** Opens the listener with the options in force now. */
  listen(): Listener | Promise<Listener>;
  /** Takes one accepted connection (the state may no longer be `"up"`). */
  accept(conn: Conn): void;
  /** Reports a failure to close the listener or of its accept loop. */
  error(error: unknown): void;
  /** A tracked session's run settled; it has left `sessions`. */
  ended?(id: number): void;
}

/**
 * One server's listener, its open sessions by id, and the running sessions
 * (a session may stop being open, evicted, before it stops running).
 *
 * @example
 * ```ts ignore
 * const life = new ServerLifecycle({ listen, accept, error });
 * await life.up();
 * life.sessions.set(id, session);
 * life.track(id, session.run());
 * await life.destroy("defer");
 * ```
 */
export class ServerLifecycle<S extends { kill(): void }> {
  /** The open sessions by id; `destroy("kill")` kills each. */
  readonly sessions: Map<number, S> = new Map();
  #hooks: LifecycleHooks;
  #state: LifecycleState = "down";
  #listener: Listener | undefined;
  #acceptLoop: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;
  // Tracked runs not settled yet, and who waits for none to be left. A
  // count and one reaction per run, not a set of `finally` promises: an
  // idle session holds less (two `finally` chains were ~0.5 KiB each).
  #running = 0;
  #drained: (() => void) | undefined;

  /** @param hooks How to listen, accept and report. */
  constructor(hooks: LifecycleHooks) {
    this.#hooks = hooks;
  }

  /** `"down"`, `"up"` or `"destroyed"`. */
  get state(): LifecycleState {
    return this.#state;
  }

  /** The bound listener while up. */
  get listener(): Listener | undefined {
    return this.#listener;
  }

  /**
   * Starts listening; resolves once the socket is bound. Calling it while
   * up or starting does nothing more.
   *
   * @throws {Error} After `destroy()`, or when the socket cannot be bound.
   */
  async up(): Promise<void> {
    if (this.#state === "destroyed") {
      throw new Error("Cannot start a destroyed server");
    }
    if (this.#starting) return this.#starting;
    if (this.#listener) return;
    this.#starting = (async () => {
      const listener = await this.#hooks.listen();
      this.#listener = listener;
      this.#state = "up";
      this.#acceptLoop = this.#accept(listener);
    })();
    try {
      await this.#starting;
    } finally {
      this.#starting = undefined;
    }
  }

  /** Stops listening; open sessions go on. */
  async down(): Promise<void> {
    if (this.#starting) await this.#starting.catch(() => {});
    const listener = this.#listener;
    if (!listener) return;
    this.#listener = undefined;
    if (this.#state === "up") this.#state = "down";
    try {
      await listener.close();
    } catch (error) {
      this.#hooks.error(error);
    }
    await this.#acceptLoop;
    this.#acceptLoop = undefined;
  }

  /**
   * Stops listening and ends the server: `"kill"` closes every session now,
   * `"defer"` resolves when the last session ended.
   *
   * @throws {TypeError} For another mode (as a rejection).
   */
  destroy(mode: "kill" | "defer"): Promise<void> {
    if (mode !== "kill" && mode !== "defer") {
      return Promise.reject(
        new TypeError(`Invalid destroy mode: "${String(mode)}"`),
      );
    }
    if (mode === "kill") {
      for (const session of this.sessions.values()) session.kill();
    }
    if (this.#destroying) return this.#destroying;
    this.#destroying = (async () => {
      await this.down();
      this.#state = "destroyed";
      if (this.#running > 0) {
        await new Promise<void>((resolve) => this.#drained = resolve);
      }
    })();
    return this.#destroying;
  }

  /**
   * The open session with this id (a string is read as a number).
   *
   * @throws {RangeError} When no open session has that id.
   */
  session(id: number | string): S {
    const session = this.sessions.get(typeof id === "string" ? Number(id) : id);
    if (!session) throw new RangeError(`Unknown connection: ${String(id)}`);
    return session;
  }

  /**
   * Counts session `id` as running until `run` settles, then removes it
   * from `sessions` and calls the hooks' `ended`.
   */
  track(id: number, run: Promise<void>): void {
    this.#running++;
    const end = () => this.#end(id);
    run.then(end, end);
  }

  #end(id: number): void {
    this.sessions.delete(id);
    try {
      this.#hooks.ended?.(id);
    } finally {
      if (--this.#running === 0) {
        const drained = this.#drained;
        this.#drained = undefined;
        drained?.();
      }
    }
  }

  async #accept(listener: Listener): Promise<void> {
    try {
      for await (const conn of listener) this.#hooks.accept(conn);
    } catch (error) {
      if (this.#listener === listener) this.#hooks.error(error);
    }
  }
}
