/**
 * Calls an auth or storage callback, sync or async, with a deadline.
 *
 * @module
 */

/** Runs a callback with the session's deadline and error policy. */
export type Caller = <T>(what: string, fn: () => T | Promise<T>) => Promise<T>;

/** A callback did not settle within `callbackTimeout`. */
export class CallbackTimeoutError extends Error {
  /** @param what The callback's name, such as `storage.get`. */
  constructor(what: string, ms: number) {
    super(`Callback "${what}" did not settle within ${ms} ms`);
    this.name = "CallbackTimeoutError";
  }
}

/**
 * Runs `fn`; a returned Promise must settle within `ms` milliseconds.
 * A synchronous throw becomes a rejection. When the deadline passes,
 * `late` (if given) receives the value the callback settles with later.
 * When `signal` aborts first (the session was killed), the Promise rejects
 * at once and `late` likewise receives a later value.
 *
 * @example
 * ```ts
 * import { callWithTimeout } from "./call.ts";
 * console.assert(await callWithTimeout("x", 100, () => 42) === 42);
 * ```
 */
export function callWithTimeout<T>(
  what: string,
  ms: number,
  fn: () => T | Promise<T>,
  late?: (value: T) => void,
  signal?: AbortSignal,
): Promise<T> {
  let result: T | Promise<T>;
  try {
    result = fn();
  } catch (error) {
    return Promise.reject(error);
  }
  if (!(result instanceof Promise)) {
    if (
      result !== null && typeof result === "object" &&
      typeof (result as { then?: unknown }).then === "function"
    ) {
      result = Promise.resolve(result);
    } else {
      return Promise.resolve(result);
    }
  }
  const promise = result;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      return true;
    };
    const onAbort = () => finish() && reject(signal!.reason);
    const timer = setTimeout(
      () => finish() && reject(new CallbackTimeoutError(what, ms)),
      ms,
    );
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => finish() ? resolve(value) : late?.(value),
      (error) => finish() && reject(error),
    );
  });
}

/**
 * Like {@linkcode callWithTimeout}, but a callback that returns a plain value
 * gives it back as it is, and one that throws synchronously throws: no
 * Promise and no microtask for synchronous storage, which matters for
 * commands that call it once per message (LIST, UIDL). A returned Promise
 * (or thenable) is awaited under the deadline as usual.
 *
 * @example
 * ```ts
 * import { callNow } from "./call.ts";
 * console.assert(callNow("x", 100, () => 42) === 42);
 * console.assert(callNow("x", 100, async () => 42) instanceof Promise);
 * ```
 */
export function callNow<T>(
  what: string,
  ms: number,
  fn: () => T | Promise<T>,
  signal?: AbortSignal,
): T | Promise<T> {
  const result = fn();
  if (
    result === null || typeof result !== "object" ||
    typeof (result as { then?: unknown }).then !== "function"
  ) {
    return result as T;
  }
  return callWithTimeout(what, ms, () => result, undefined, signal);
}

/**
 * The session's policy for callbacks: `callbackTimeout` for every call, and
 * a session that ends at once stops waiting, except for `dele` and
 * `unlock`, which must finish before the lock is given up.
 *
 * @example
 * ```ts
 * import { sessionCallers } from "./call.ts";
 * const { call } = sessionCallers(100, new AbortController().signal);
 * console.assert(await call("x", () => 42) === 42);
 * ```
 */
export function sessionCallers(ms: number, signal: AbortSignal): {
  call: <T>(
    what: string,
    fn: () => T | Promise<T>,
    late?: (value: T) => void,
  ) => Promise<T>;
  callNow: <T>(what: string, fn: () => T | Promise<T>) => T | Promise<T>;
} {
  return {
    call: (what, fn, late) =>
      callWithTimeout(what, ms, fn, late, signalFor(what, signal)),
    callNow: (what, fn) => callNow(what, ms, fn, signalFor(what, signal)),
  };
}

/**
 * The signal a callback named `what` stops waiting on: the session's, except
 * for `dele` and `unlock`, which must finish before the lock is given up.
 *
 * @example
 * ```ts
 * import { signalFor } from "./call.ts";
 * const signal = new AbortController().signal;
 * console.assert(signalFor("storage.get", signal) === signal);
 * console.assert(signalFor("storage.unlock", signal) === undefined);
 * ```
 */
export function signalFor(
  what: string,
  signal: AbortSignal,
): AbortSignal | undefined {
  return what === "storage.dele" || what === "storage.unlock"
    ? undefined
    : signal;
}
