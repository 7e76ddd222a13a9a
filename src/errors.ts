/**
 * Errors that turn into `-ERR` replies.
 *
 * @module
 */

/** RFC 2449/3206 response codes the server uses. */
export type ResponseCode =
  | "IN-USE"
  | "LOGIN-DELAY"
  | "AUTH"
  | "SYS/TEMP"
  | "SYS/PERM";

/**
 * A protocol error: the session answers `-ERR [code] message` and goes on.
 * Throw it from a storage or auth callback to choose the client's reply;
 * any other error becomes `-ERR [SYS/TEMP]` and is reported to `onError`.
 *
 * @example Refusing with a response code
 * ```ts
 * import { Pop3Error } from "@x/pop3d";
 * const error = new Pop3Error("Mailbox is being migrated", "SYS/TEMP");
 * console.assert(error.code === "SYS/TEMP");
 * ```
 */
export class Pop3Error extends Error {
  /** The response code sent in brackets, if any. */
  readonly code: ResponseCode | undefined;

  /**
   * Creates a protocol error.
   *
   * @param message Text sent to the client after `-ERR`.
   * @param code Optional response code.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, code?: ResponseCode, options?: ErrorOptions) {
    super(message, options);
    this.name = "Pop3Error";
    this.code = code;
  }
}

/**
 * A malformed command: answered `-ERR message` and counted as a bad command.
 *
 * @example
 * ```ts
 * import { Pop3SyntaxError } from "@x/pop3d";
 * console.assert(new Pop3SyntaxError("Bad number").name === "Pop3SyntaxError");
 * ```
 */
export class Pop3SyntaxError extends Error {
  /**
   * Creates a syntax error.
   *
   * @param message Text sent to the client after `-ERR`.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "Pop3SyntaxError";
  }
}
