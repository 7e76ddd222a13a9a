/**
 * Reading the text of one setting of the `pop3d` program (a flag or a
 * config file value) into its value, with errors that name the setting.
 *
 * @module
 */

import { validateOption } from "../server/options.ts";
import type { Setting, SettingValue } from "./setting.ts";

/** An error in the configuration, naming the setting; the program exits 2. */
export class ConfigError extends Error {
  /**
   * @param message What is wrong, naming the setting.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

const BOOLEANS: Record<string, boolean> = {
  true: true,
  yes: true,
  on: true,
  "1": true,
  false: false,
  no: false,
  off: false,
  "0": false,
};

const DURATION = /^(\d+)\s*(ms|s|m|h)?$/;
const UNIT: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

function integer(setting: Setting, text: string): number {
  if (!/^-?\d+$/.test(text)) {
    throw new ConfigError(
      `--${setting.key} must be an integer, got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

/**
 * Parses and checks the text of one setting, and for a library option runs
 * the library's own validation too.
 *
 * @throws {ConfigError} Naming the setting, when the value is invalid.
 *
 * @example
 * ```ts
 * import { findSetting } from "./settings.ts";
 * import { parseSetting } from "./parse_setting.ts";
 * console.assert(parseSetting(findSetting("idle-timeout")!, "10m") === 600_000);
 * ```
 */
export function parseSetting(setting: Setting, text: string): SettingValue {
  const name = `--${setting.key}`;
  let value: SettingValue;
  switch (setting.kind) {
    case "string":
    case "path":
      if (setting.kind === "path" && text === "") {
        throw new ConfigError(`${name} must not be empty`);
      }
      value = text;
      break;
    case "list":
      if (text === "") throw new ConfigError(`${name} must not be empty`);
      value = [text];
      break;
    case "enum": {
      const choice = setting.choices!.find((c) =>
        c.toLowerCase() === text.toLowerCase()
      );
      if (choice === undefined) {
        throw new ConfigError(
          `${name} must be one of ${setting.choices!.join(", ")}, got ${
            JSON.stringify(text)
          }`,
        );
      }
      value = choice;
      break;
    }
    case "port":
      value = integer(setting, text);
      if (value < 0 || value > 65535) {
        throw new ConfigError(
          `${name} must be a port from 0 to 65535, got ${value}`,
        );
      }
      break;
    case "int":
      if (setting.auto && text.trim().toLowerCase() === "auto") {
        value = "auto";
        break;
      }
      value = integer(setting, text);
      if (
        (setting.min !== undefined && value < setting.min) ||
        (setting.max !== undefined && value > setting.max)
      ) {
        throw new ConfigError(
          `${name} must be from ${setting.min} to ${setting.max}, got ${value}`,
        );
      }
      break;
    case "boolean": {
      const flag = BOOLEANS[text.trim().toLowerCase()];
      if (flag === undefined) {
        throw new ConfigError(
          `${name} must be true or false (or yes/no, on/off, 1/0), got ${
            JSON.stringify(text)
          }`,
        );
      }
      value = flag;
      break;
    }
    case "expire":
      value = text.toUpperCase() === "NEVER" ? "NEVER" : integer(setting, text);
      break;
    case "duration": {
      const match = DURATION.exec(text.trim());
      if (!match) {
        throw new ConfigError(
          `${name} must be a duration like 500ms, 30s, 10m or 1h, got ${
            JSON.stringify(text)
          }`,
        );
      }
      value = Number(match[1]) * UNIT[match[2] ?? "ms"];
      if (!Number.isSafeInteger(value) || value < (setting.min ?? 0)) {
        throw new ConfigError(
          `${name} must be a duration of at least ${setting.min ?? 0} ms`,
        );
      }
      break;
    }
  }
  if (setting.option) {
    try {
      validateOption(setting.option, value);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new ConfigError(
        `${name}: ${why.replace(`Option "${setting.option}"`, "the value")}`,
      );
    }
  }
  return value;
}
