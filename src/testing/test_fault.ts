/**
 * Faults for {@linkcode TestBackend}: what a test can ask for, checked
 * once when it is injected.
 *
 * @module
 */

import { Pop3Error, type ResponseCode } from "../errors.ts";

/** The auth and storage callbacks a {@linkcode TestBackend} answers. */
export type BackendMethod =
  | "exists"
  | "lookup"
  | "lock"
  | "unlock"
  | "stat"
  | "size"
  | "get"
  | "uidl"
  | "dele";

const METHODS: readonly BackendMethod[] = [
  "exists",
  "lookup",
  "lock",
  "unlock",
  "stat",
  "size",
  "get",
  "uidl",
  "dele",
];
const MESSAGE_METHODS: ReadonlySet<BackendMethod> = new Set([
  "size",
  "get",
  "uidl",
  "dele",
]);
const CODES: ReadonlySet<string> = new Set<ResponseCode>([
  "IN-USE",
  "LOGIN-DELAY",
  "AUTH",
  "SYS/TEMP",
  "SYS/PERM",
]);
const MAX_DELAY = 2_147_483_647;

/**
 * A fault for {@linkcode TestBackend.inject}: which calls it hits and what
 * it does to them. Give `on` and at least one effect (`delay`, `error`,
 * `refuse` or `dropAfter`). A fault never changes stored messages.
 */
export interface FaultOptions {
  /** The callback or callbacks to hit. */
  on: BackendMethod | readonly BackendMethod[];
  /**
   * Only calls for this user: the user name for `exists` and `lookup`, the
   * user's maildrop for the storage callbacks. Default: every user.
   */
  user?: string;
  /** Only calls about the message with this unique id (`size` of one message, `get`, `uidl`, `dele`). */
  uid?: string;
  /** Only calls about this message number (as the session numbers it). */
  msgId?: number;
  /**
   * How many matching calls the fault hits before it goes inactive.
   *
   * @default {Infinity}
   */
  times?: number;
  /** Milliseconds to wait before answering (or failing). */
  delay?: number;
  /**
   * Fail the call: a response code throws `Pop3Error(message, code)`, which
   * the client sees as `-ERR [CODE] message`; an `Error` is thrown as it is
   * (the server reports it to `onError` and answers `-ERR [SYS/TEMP]`).
   */
  error?: ResponseCode | Error;
  /** Text of the `-ERR` reply when `error` is a response code. */
  message?: string;
  /** `lock` only: answer `false`, so the client gets `-ERR [IN-USE]`. */
  refuse?: boolean;
  /**
   * `get` only: the message stream fails after this many octets, and the
   * server closes the connection without the terminating `.` line.
   */
  dropAfter?: number;
}

/** A fault added by {@linkcode TestBackend.inject}. */
export interface InjectedFault {
  /** How many calls it has hit. */
  readonly hits: number;
  /** `false` once removed, or once `times` calls were hit. */
  readonly active: boolean;
  /** Stops it from hitting further calls; calls already delayed go on. */
  remove(): void;
}

/** A checked fault, as {@linkcode TestBackend} keeps it. */
export interface FaultEntry {
  readonly on: ReadonlySet<BackendMethod>;
  readonly user: string | undefined;
  readonly uid: string | undefined;
  readonly msgId: number | undefined;
  readonly delay: number;
  readonly error: ResponseCode | Error | undefined;
  readonly message: string | undefined;
  readonly refuse: boolean;
  readonly dropAfter: number | undefined;
  left: number;
  hits: number;
  removed: boolean;
}

/** What the faults that match one call do to it together. */
export interface Effect {
  delay: number;
  error?: FaultEntry;
  refuse: boolean;
  dropAfter: number | undefined;
}

function nonNegativeInteger(name: string, value: unknown, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`Fault "${name}" must be an integer`);
  }
  if (value < 0 || value > max) {
    throw new RangeError(`Fault "${name}" must be between 0 and ${max}`);
  }
  return value;
}

/** Checks a fault and turns it into the entry that matching uses. */
export function checkFault(options: FaultOptions): FaultEntry {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Fault must be an object");
  }
  const list = typeof options.on === "string" ? [options.on] : options.on;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError('Fault "on" must name one or more callbacks');
  }
  for (const m of list) {
    if (!METHODS.includes(m)) {
      throw new TypeError(`Fault "on" has an unknown callback: "${m}"`);
    }
  }
  const on = new Set<BackendMethod>(list);
  const { user, uid, msgId, error, message, dropAfter } = options;
  const refuse = options.refuse ?? false;
  if (user !== undefined && typeof user !== "string") {
    throw new TypeError('Fault "user" must be a string');
  }
  if (uid !== undefined && typeof uid !== "string") {
    throw new TypeError('Fault "uid" must be a string');
  }
  if (msgId !== undefined) nonNegativeInteger("msgId", msgId, 2 ** 31);
  if (
    (uid !== undefined || msgId !== undefined) &&
    [...on].some((m) => !MESSAGE_METHODS.has(m))
  ) {
    throw new TypeError(
      'Fault "uid" and "msgId" apply only to "size", "get", "uidl" and "dele"',
    );
  }
  const times = options.times ?? Infinity;
  if (times !== Infinity) nonNegativeInteger("times", times, 2 ** 31);
  const delay = nonNegativeInteger("delay", options.delay ?? 0, MAX_DELAY);
  if (error !== undefined && !(error instanceof Error) && !CODES.has(error)) {
    throw new TypeError(
      `Fault "error" must be a response code or an Error, got ${
        JSON.stringify(error)
      }`,
    );
  }
  if (message !== undefined && typeof message !== "string") {
    throw new TypeError('Fault "message" must be a string');
  }
  if (message !== undefined && /[\r\n\0]/.test(message)) {
    throw new TypeError('Fault "message" must not contain CR, LF or NUL');
  }
  if (typeof refuse !== "boolean") {
    throw new TypeError('Fault "refuse" must be a boolean');
  }
  if (refuse && (on.size !== 1 || !on.has("lock"))) {
    throw new TypeError('Fault "refuse" applies only to "lock"');
  }
  if (dropAfter !== undefined) {
    nonNegativeInteger("dropAfter", dropAfter, Number.MAX_SAFE_INTEGER);
    if (on.size !== 1 || !on.has("get")) {
      throw new TypeError('Fault "dropAfter" applies only to "get"');
    }
  }
  const effects = (error !== undefined ? 1 : 0) + (refuse ? 1 : 0) +
    (dropAfter !== undefined ? 1 : 0);
  if (effects > 1) {
    throw new TypeError(
      'Fault can have only one of "error", "refuse" and "dropAfter"',
    );
  }
  if (effects === 0 && delay === 0) {
    throw new TypeError(
      'Fault needs an effect: "delay", "error", "refuse" or "dropAfter"',
    );
  }
  return {
    on,
    user,
    uid,
    msgId,
    delay,
    error,
    message,
    refuse,
    dropAfter,
    left: times,
    hits: 0,
    removed: false,
  };
}

/** One auth or storage call, as faults match it. */
export interface FaultCall {
  readonly method: BackendMethod;
  /** The user name (`exists`, `lookup`) or the maildrop. */
  readonly name: string;
  readonly msgIds: readonly number[];
}

/** What matching needs to know about users and messages. */
export interface FaultLookup {
  /** The maildrop of a user. */
  mboxOf(user: string): string;
  /** The unique id of message `n` of a maildrop, if it exists. */
  uidOf(mbox: string, n: number): string | undefined;
}

/**
 * Counts a hit on every fault that matches the call and returns what they
 * do together (delays add up; the oldest error, refusal or drop applies),
 * or `undefined` when none matches.
 */
export function hitFaults(
  faults: readonly FaultEntry[],
  call: FaultCall,
  lookup: FaultLookup,
): Effect | undefined {
  let effect: Effect | undefined;
  for (const f of faults) {
    if (!matches(f, call, lookup)) continue;
    effect ??= { delay: 0, refuse: false, dropAfter: undefined };
    f.left--;
    f.hits++;
    effect.delay += f.delay;
    if (effect.error || effect.refuse || effect.dropAfter !== undefined) {
      continue;
    }
    if (f.error !== undefined) effect.error = f;
    else if (f.refuse) effect.refuse = true;
    else if (f.dropAfter !== undefined) effect.dropAfter = f.dropAfter;
  }
  return effect;
}

function matches(f: FaultEntry, call: FaultCall, lookup: FaultLookup): boolean {
  const { method, name, msgIds } = call;
  if (f.removed || f.left <= 0 || !f.on.has(method)) return false;
  if (f.user !== undefined) {
    const target = method === "exists" || method === "lookup"
      ? f.user
      : lookup.mboxOf(f.user);
    if (target !== name) return false;
  }
  if (f.msgId !== undefined && !msgIds.includes(f.msgId)) return false;
  if (f.uid !== undefined) {
    if (!msgIds.some((id) => lookup.uidOf(name, id) === f.uid)) return false;
  }
  return true;
}

/**
 * The faults of one {@linkcode TestBackend}: added, matched against each
 * call, applied (delay, error, refusal, drop) and cleared.
 */
export class FaultBox {
  #faults: FaultEntry[] = [];
  readonly #sleepers = new Set<() => void>();
  readonly #lookup: FaultLookup;

  constructor(lookup: FaultLookup) {
    this.#lookup = lookup;
  }

  /** Checks and adds a fault. */
  add(options: FaultOptions): InjectedFault {
    const entry = checkFault(options);
    this.#faults.push(entry);
    return {
      get hits() {
        return entry.hits;
      },
      get active() {
        return !entry.removed && entry.left > 0;
      },
      remove: () => {
        entry.removed = true;
        this.#faults = this.#faults.filter((f) => f !== entry);
      },
    };
  }

  /** Removes every fault and ends every pending delay now. */
  clear(): void {
    for (const f of this.#faults) f.removed = true;
    this.#faults = [];
    for (const wake of [...this.#sleepers]) wake();
  }

  /**
   * Answers a call through the faults that match it: `record` learns
   * whether one did; `answer` gives the real result (with a `dropAfter`),
   * `refused` the result of a refusal.
   */
  intercept<T>(
    call: FaultCall,
    record: (faulted: boolean) => void,
    answer: (dropAfter: number | undefined) => T,
    refused?: () => T,
  ): T | Promise<T> {
    const effect = hitFaults(this.#faults, call, this.#lookup);
    record(effect !== undefined);
    if (effect === undefined) return answer(undefined);
    const act = (): T => {
      const source = effect.error;
      if (source) {
        const error = source.error!;
        if (error instanceof Error) throw error;
        throw new Pop3Error(
          source.message ?? `Injected fault in "${call.method}"`,
          error,
        );
      }
      if (effect.refuse && refused) return refused();
      return answer(effect.dropAfter);
    };
    if (effect.delay === 0) return act();
    return this.#sleep(effect.delay).then(act);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }
}
