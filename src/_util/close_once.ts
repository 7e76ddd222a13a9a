/**
 * A close that runs once and tolerates a resource closed already.
 *
 * @module
 */

/**
 * Wraps `close` so that it runs at most once, and so that what it throws
 * (typically "already closed": another path, such as a stream's own close,
 * may have closed the resource first) is ignored.
 *
 * @param close Closes the resource.
 * @returns A function that is safe to call any number of times.
 *
 * @example
 * ```ts
 * import { closeOnce } from "./close_once.ts";
 * let calls = 0;
 * const close = closeOnce(() => {
 *   calls++;
 *   throw new Error("already closed");
 * });
 * close();
 * close();
 * console.assert(calls === 1);
 * ```
 */
export function closeOnce(close: () => void): () => void {
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    try {
      close();
    } catch {
      // Closed already by another path.
    }
  };
}
