/**
 * Checks shared by the option validation of the servers: each throws a
 * `TypeError` or `RangeError` that names the option.
 *
 * @module
 */

/** The longest delay a timer takes (2^31 - 1 ms). */
export const MAX_TIMER = 2_147_483_647;

/**
 * Checks that option `name` is an integer from `min` to `max`.
 *
 * @throws {TypeError} For a value that is no integer.
 * @throws {RangeError} For an integer out of range.
 *
 * @example
 * ```ts
 * import { integer } from "./check_option.ts";
 * integer("port", 110, 0, 65535);
 * ```
 */
export function integer(
  name: string,
  value: unknown,
  min: number,
  max: number,
): void {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(
      `Option "${name}" must be an integer, got ${typeof value}`,
    );
  }
  if (value < min || value > max) {
    throw new RangeError(
      `Option "${name}" must be between ${min} and ${max}, got ${value}`,
    );
  }
}

/**
 * Checks that option `name` is a string, matching `pattern` if given.
 *
 * @throws {TypeError} For a value that is no string.
 * @throws {RangeError} For a string that does not match.
 *
 * @example
 * ```ts
 * import { text } from "./check_option.ts";
 * text("greeting", "hello", /^[^\r\n]*$/);
 * ```
 */
export function text(name: string, value: unknown, pattern?: RegExp): void {
  if (typeof value !== "string") {
    throw new TypeError(
      `Option "${name}" must be a string, got ${typeof value}`,
    );
  }
  if (pattern && !pattern.test(value)) {
    throw new RangeError(
      `Option "${name}" has an invalid value: "${value.slice(0, 40)}"`,
    );
  }
}

/**
 * Checks that option `name` is absent (`null`/`undefined`) or an object with
 * the `required` methods.
 *
 * @throws {TypeError} For a value that is no object or lacks a method.
 *
 * @example
 * ```ts
 * import { methods } from "./check_option.ts";
 * methods("logger", console, ["info", "warn", "error"]);
 * ```
 */
export function methods(
  name: string,
  value: unknown,
  required: string[],
): void {
  if (value === null || value === undefined) return;
  if (typeof value !== "object" && typeof value !== "function") {
    throw new TypeError(
      `Option "${name}" must be an object, got ${typeof value}`,
    );
  }
  for (const m of required) {
    if (typeof (value as Record<string, unknown>)[m] !== "function") {
      throw new TypeError(`Option "${name}" must have a "${m}" method`);
    }
  }
}

/**
 * Checks that option `name` is absent (`null`/`undefined`) or a function.
 *
 * @throws {TypeError} For any other value.
 *
 * @example
 * ```ts
 * import { optionalFunction } from "./check_option.ts";
 * optionalFunction("onError", null);
 * ```
 */
export function optionalFunction(name: string, value: unknown): void {
  if (value !== null && value !== undefined && typeof value !== "function") {
    throw new TypeError(
      `Option "${name}" must be a function, got ${typeof value}`,
    );
  }
}
