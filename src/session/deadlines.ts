/**
 * The three deadlines of a session on one timer: the login deadline (total
 * time from connect to a successful login, whatever the traffic), the idle
 * deadline (silence while a command is awaited) and the write deadline (no
 * byte accepted by the connection while a reply is being written, closing
 * included).
 *
 * @module
 */

import type { SessionConfig } from "./config.ts";

import { MAX_TIMER } from "../_util/check_option.ts";

/** What the deadlines read of the reply writer. */
export interface WriteProgress {
  /** While a write runs: when the connection last accepted bytes; else 0. */
  readonly stalledSince: number;
}

/**
 * One timer for the three deadlines. The timer is armed for the earliest
 * deadline that applies; when it fires, the deadlines are computed again, so
 * progress that moved a deadline later costs no re-arming.
 *
 * @example
 * ```ts ignore
 * const deadlines = new Deadlines(config, writer, () => session.end("timeout", "now"));
 * deadlines.start();
 * ```
 */
export class Deadlines {
  readonly #config: SessionConfig<unknown>;
  readonly #writer: WriteProgress;
  readonly #onExpire: () => void;
  #loginBy = Infinity;
  #waiting = false;
  #lastActivity = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Infinity;
  #over = false;

  /**
   * @param config The timeouts.
   * @param writer The reply writer's progress clock.
   * @param onExpire Called once, when a deadline passes.
   */
  constructor(
    config: SessionConfig<unknown>,
    writer: WriteProgress,
    onExpire: () => void,
  ) {
    this.#config = config;
    this.#writer = writer;
    this.#onExpire = onExpire;
  }

  /** Starts the login deadline (at connect). */
  start(): void {
    const now = Date.now();
    this.#loginBy = now + this.#config.loginTimeout;
    this.#lastActivity = now;
    this.update();
  }

  /** Ends the login deadline (after a successful login). */
  loggedIn(): void {
    this.#loginBy = Infinity;
  }

  /** Restarts the idle clock (a command came in, or its reply went out). */
  activity(): void {
    this.#lastActivity = Date.now();
  }

  /** Marks whether the session is waiting for the client's next line. */
  waiting(on: boolean): void {
    this.#waiting = on;
    if (on) this.update();
  }

  /** Arms the timer sooner if a deadline that now applies is earlier. */
  update(): void {
    if (this.#over) return;
    const due = this.#due();
    if (due < this.#armedFor) this.#arm(due);
  }

  /** Stops the timer for good (at the end of the session). */
  stop(): void {
    this.#over = true;
    clearTimeout(this.#timer);
    this.#armedFor = Infinity;
  }

  #due(): number {
    let due = this.#loginBy;
    const stalled = this.#writer.stalledSince;
    if (stalled !== 0) due = Math.min(due, stalled + this.#config.writeTimeout);
    if (this.#waiting) {
      due = Math.min(due, this.#lastActivity + this.#config.idleTimeout);
    }
    return due;
  }

  #arm(due: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = due;
    if (due === Infinity) return;
    const wait = Math.min(Math.max(due - Date.now(), 1), MAX_TIMER);
    this.#timer = setTimeout(() => this.#fire(), wait);
  }

  #fire(): void {
    this.#armedFor = Infinity;
    if (this.#over) return;
    const due = this.#due();
    if (Date.now() >= due) {
      this.stop();
      this.#onExpire();
      return;
    }
    this.#arm(due);
  }
}
