/**
 * The error a {@linkcode TestBackend} raises for an injected fault that is
 * not a POP3 reply.
 *
 * @module
 */

/**
 * Raised by a {@linkcode TestBackend} for an injected fault that has no POP3
 * reply of its own: a message stream cut off by `dropAfter`. The server
 * reports it to `onError` (so a test can tell injected faults from real
 * bugs) and closes the connection.
 *
 * @example Telling injected faults from real errors in `onError`
 * ```ts
 * import { InjectedFaultError } from "@x/pop3d/testing";
 *
 * const unexpected: unknown[] = [];
 * const onError = (error: unknown) => {
 *   if (!(error instanceof InjectedFaultError)) unexpected.push(error);
 * };
 * onError(new InjectedFaultError("Dropped after 10 octets"));
 * console.assert(unexpected.length === 0);
 * ```
 */
export class InjectedFaultError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was injected.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InjectedFaultError";
  }
}
