/**
 * The shape of one setting of the `pop3d` program.
 *
 * @module
 */

import { DEFAULTS } from "../server/options.ts";
import type { Pop3dOptions } from "../server/options.ts";

/** How a setting's text is read. */
export type SettingKind =
  | "string"
  | "path"
  | "port"
  | "int"
  | "duration"
  | "enum"
  | "list"
  | "expire"
  | "boolean";

/** A value once parsed. */
export type SettingValue = string | number | boolean | readonly string[];

/** One setting: its flag (`--key`) and config key (`key`) are the same name. */
export interface Setting {
  /** Flag without `--`, and config file key. */
  readonly key: string;
  /** One-letter flag (`-s`), if any. */
  readonly short?: string;
  /** How the text is parsed. */
  readonly kind: SettingKind;
  /** Allowed values of an `enum`. */
  readonly choices?: readonly string[];
  /** Bounds of an `int`. */
  readonly min?: number;
  /** Bounds of an `int`. */
  readonly max?: number;
  /** Whether an `int` also takes `auto` (the program decides). */
  readonly auto?: boolean;
  /** The `Pop3d` option it sets (validated by the library too). */
  readonly option?: keyof Pop3dOptions;
  /** The default, when there is one. */
  readonly default?: SettingValue;
  /** Placeholder in `--help`. */
  readonly arg: string;
  /** Help text. */
  readonly help: string;
  /** Section in `--help`. */
  readonly group: string;
  /** Whether SIGHUP applies a new value (others need a restart). */
  readonly reload?: boolean;
}

/**
 * The library's default of a `Pop3d` option, when it is a number or text.
 *
 * @example
 * ```ts
 * import { libraryDefault } from "./setting.ts";
 * console.assert(libraryDefault("port") === 110);
 * ```
 */
export function libraryDefault(
  option: keyof Pop3dOptions,
): SettingValue | undefined {
  const value = (DEFAULTS as Record<string, unknown>)[option];
  return typeof value === "number" || typeof value === "string"
    ? value
    : undefined;
}
