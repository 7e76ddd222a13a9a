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
 * The armed deadlines of every session in this process, in a binary
 * min-heap by due time, behind one `setTimeout` for the earliest: a session
 * holds no timer object or callback of its own (a `Timeout` and its closure
 * cost ~200 bytes per idle connection).
 */
const heap: Deadlines[] = [];
let timer: ReturnType<typeof setTimeout> | undefined;
/** When `timer` fires; Infinity when it is not set. */
let timerAt = Infinity;

function swap(i: number, j: number): void {
  const a = heap[i];
  const b = heap[j];
  heap[i] = b;
  heap[j] = a;
  b.slot = i;
  a.slot = j;
}

function siftUp(i: number): void {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent].armedFor <= heap[i].armedFor) return;
    swap(i, parent);
    i = parent;
  }
}

function siftDown(i: number): void {
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) return;
    const right = left + 1;
    const child = right < heap.length &&
        heap[right].armedFor < heap[left].armedFor
      ? right
      : left;
    if (heap[i].armedFor <= heap[child].armedFor) return;
    swap(i, child);
    i = child;
  }
}

/** Puts `d` in the heap, or moves it to its new due time. */
function schedule(d: Deadlines): void {
  if (d.slot === -1) {
    d.slot = heap.length;
    heap.push(d);
    siftUp(d.slot);
  } else {
    siftUp(d.slot);
    siftDown(d.slot);
  }
  setTimer();
}

/** Takes `d` out of the heap. */
function unschedule(d: Deadlines): void {
  const i = d.slot;
  if (i === -1) return;
  const last = heap.length - 1;
  if (i !== last) swap(i, last);
  heap.pop();
  d.slot = -1;
  if (i !== last) {
    siftUp(i);
    siftDown(i);
  }
  setTimer();
}

/** Sets the one timer for the earliest deadline (none for an empty heap). */
function setTimer(): void {
  const due = heap.length === 0 ? Infinity : heap[0].armedFor;
  if (due === timerAt) return;
  clearTimeout(timer);
  timer = undefined;
  timerAt = due;
  if (due === Infinity) return;
  const wait = Math.min(Math.max(due - Date.now(), 1), MAX_TIMER);
  timer = setTimeout(fire, wait);
}

/** Runs every deadline that is due. */
function fire(): void {
  timer = undefined;
  timerAt = Infinity;
  const now = Date.now();
  while (heap.length > 0 && heap[0].armedFor <= now) {
    const d = heap[0];
    unschedule(d);
    d.fire();
  }
  setTimer();
}

/**
 * The three deadlines of one session. Armed for the earliest deadline that
 * applies; when that time comes, the deadlines are computed again, so
 * progress that moved a deadline later costs no re-arming. All sessions
 * share one timer (see `heap` above).
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
  #over = false;
  /** When this is due in the shared heap; Infinity when not in it. */
  armedFor = Infinity;
  /** Index in the shared heap; -1 when not in it. */
  slot = -1;

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

  /** Arms sooner if a deadline that now applies is earlier. */
  update(): void {
    if (this.#over) return;
    const due = this.#due();
    if (due < this.armedFor) this.#arm(due);
  }

  /** Stops for good (at the end of the session). */
  stop(): void {
    this.#over = true;
    this.armedFor = Infinity;
    unschedule(this);
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
    this.armedFor = due;
    if (due === Infinity) unschedule(this);
    else schedule(this);
  }

  /** The shared timer's call when this came due (it is out of the heap). */
  fire(): void {
    this.armedFor = Infinity;
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
