/**
 * Command line and config file of the `pop3d` program, both read through
 * the settings table.
 *
 * The config file has one `key = value` per line, the keys being the flag
 * names without `--`; `#` starts a comment line; a value may be put in
 * double quotes; a list setting (`hostname`) may be repeated. Flags given on
 * the command line override the file.
 *
 * @module
 */

import {
  ConfigError,
  findSetting,
  parseSetting,
  SETTINGS,
  type SettingValue,
} from "./settings.ts";

/** The settings in effect: every key of the table, `undefined` when unset. */
export type Config = Readonly<Record<string, SettingValue | undefined>>;

/** A parsed command line. */
export interface Invocation {
  /** The words that are not flags: `["user", "add", "alice"]`. */
  words: string[];
  /** The settings given as flags. */
  flags: Map<string, SettingValue>;
  /** `--config FILE`. */
  configFile?: string;
  /** `--help` or `-h`. */
  help: boolean;
}

function add(
  values: Map<string, SettingValue>,
  key: string,
  value: SettingValue,
): void {
  const previous = values.get(key);
  values.set(
    key,
    Array.isArray(previous) && Array.isArray(value)
      ? [...previous, ...value]
      : value,
  );
}

/**
 * Parses the command line: `--key value`, `--key=value`, `-s value`,
 * `--config FILE`, `--help`; other words are the subcommand and its
 * arguments. A repeated list flag adds to the list; another repeated flag
 * keeps its last value.
 *
 * @throws {ConfigError} For an unknown flag or a bad value.
 *
 * @example
 * ```ts
 * import { parseArgs } from "./config.ts";
 * const inv = parseArgs(["--port", "1110", "--hostname=::1", "check-config"]);
 * console.assert(inv.flags.get("port") === 1110);
 * console.assert(inv.words[0] === "check-config");
 * ```
 */
export function parseArgs(argv: readonly string[]): Invocation {
  const result: Invocation = { words: [], flags: new Map(), help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      result.words.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "--help" || arg === "-h") {
      result.help = true;
      continue;
    }
    if (!arg.startsWith("-") || arg === "-") {
      result.words.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const body = arg.slice(long ? 2 : 1);
    const eq = long ? body.indexOf("=") : -1;
    const name = eq === -1 ? body : body.slice(0, eq);
    let text: string | undefined = eq === -1 ? undefined : body.slice(eq + 1);
    const setting = name === "config"
      ? undefined
      : long || name.length === 1
      ? findSetting(name)
      : undefined;
    if (
      name !== "config" &&
      (setting === undefined || (!long && setting.short !== name))
    ) {
      throw new ConfigError(
        `Unknown option ${JSON.stringify(arg)}; see --help`,
      );
    }
    if (text === undefined) {
      if (i + 1 >= argv.length) {
        throw new ConfigError(`${long ? "--" : "-"}${name} needs a value`);
      }
      text = argv[++i];
    }
    if (setting === undefined) result.configFile = text;
    else add(result.flags, setting.key, parseSetting(setting, text));
  }
  return result;
}

/**
 * Parses a config file (`key = value` lines).
 *
 * @param text The file's text.
 * @param source The file name, for messages.
 * @throws {ConfigError} Naming the file, line and key, for an unknown key,
 * a bad value or a setting given twice.
 *
 * @example
 * ```ts
 * import { parseConfigFile } from "./config.ts";
 * const values = parseConfigFile("# POP3\nport = 1110\nhostname = ::1\n", "x.conf");
 * console.assert(values.get("port") === 1110);
 * ```
 */
export function parseConfigFile(
  text: string,
  source: string,
): Map<string, SettingValue> {
  const values = new Map<string, SettingValue>();
  const lines = text.split(/\r?\n/);
  for (let n = 1; n <= lines.length; n++) {
    const line = lines[n - 1].trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `${source}:${n}`;
    const eq = line.indexOf("=");
    if (eq === -1) {
      throw new ConfigError(`${where}: expected "key = value"`);
    }
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    const setting = findSetting(key);
    if (setting === undefined || setting.key !== key) {
      throw new ConfigError(`${where}: unknown setting ${JSON.stringify(key)}`);
    }
    if (setting.kind !== "list" && values.has(key)) {
      throw new ConfigError(`${where}: ${key} is set twice`);
    }
    try {
      add(values, key, parseSetting(setting, value));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new ConfigError(`${where}: ${error.message}`);
    }
  }
  return values;
}

/**
 * The settings in effect: defaults, then the file, then the flags (a list
 * flag replaces the file's list).
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * const config = resolveConfig(new Map([["port", 1110]]), new Map([["port", 2110]]));
 * console.assert(config.port === 2110 && config["log-format"] === "text");
 * ```
 */
export function resolveConfig(
  file: ReadonlyMap<string, SettingValue>,
  flags: ReadonlyMap<string, SettingValue>,
): Config {
  const config: Record<string, SettingValue | undefined> = {};
  for (const s of SETTINGS) {
    config[s.key] = flags.get(s.key) ?? file.get(s.key) ?? s.default;
  }
  return config;
}

/**
 * Checks the settings that go together, for serving.
 *
 * @throws {ConfigError} Naming the settings.
 *
 * @example
 * ```ts
 * import { checkServeConfig, resolveConfig } from "./config.ts";
 * let message = "";
 * try {
 *   checkServeConfig(resolveConfig(new Map([["maildir", "/var/mail"]]), new Map()));
 * } catch (error) {
 *   message = (error as Error).message;
 * }
 * console.assert(message.includes("--passwd"));
 * ```
 */
export function checkServeConfig(config: Config): void {
  const has = (key: string) => config[key] !== undefined;
  if (has("postgres") && (has("maildir") || has("passwd"))) {
    throw new ConfigError(
      "--postgres cannot go with --maildir or --passwd: choose one backend",
    );
  }
  if (has("maildir") !== has("passwd")) {
    throw new ConfigError("--maildir ROOT and --passwd FILE go together");
  }
  if (!has("postgres") && !has("maildir")) {
    throw new ConfigError(
      "No users and mail: give --maildir ROOT --passwd FILE, or --postgres URL",
    );
  }
  if (has("tls-cert") !== has("tls-key")) {
    throw new ConfigError("--tls-cert FILE and --tls-key FILE go together");
  }
  if (has("tls-groups") && !has("tls-cert")) {
    throw new ConfigError("--tls-groups needs --tls-cert and --tls-key");
  }
  if (has("tls-port") && !has("tls-cert")) {
    throw new ConfigError("--tls-port needs --tls-cert and --tls-key");
  }
  if (config["plaintext-auth"] === "tls" && !has("tls-cert")) {
    throw new ConfigError(
      "--plaintext-auth tls needs --tls-cert and --tls-key, or no one could log in",
    );
  }
}
