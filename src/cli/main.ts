/**
 * The `pop3d` program: reads the command line and runs a subcommand.
 * Exit codes: 0 done, 1 a runtime failure (port in use, database down),
 * 2 bad configuration (the message names the setting).
 *
 * @module
 */

import {
  type Config,
  type Invocation,
  parseArgs,
  parseConfigFile,
  resolveConfig,
} from "./config.ts";
import { checkServeConfig } from "./config.ts";
import { helpText } from "./help.ts";
import type { Host } from "./host.ts";
import { PostgresDriverError } from "./postgres_driver.ts";
import { readTls, serve } from "./serve.ts";
import { ConfigError, type SettingValue } from "./settings.ts";
import { pw, user } from "./users.ts";
import { openBackend } from "./backend.ts";
import { Log } from "./log.ts";
import { supervise } from "./supervisor.ts";
import type { WorkerRole } from "./worker_role.ts";

function loader(
  host: Host,
  invocation: Invocation,
): () => Promise<Config> {
  return async () => {
    let file = new Map<string, SettingValue>();
    if (invocation.configFile !== undefined) {
      let text: string;
      try {
        text = await host.readText(invocation.configFile);
      } catch (error) {
        throw new ConfigError(
          `--config ${invocation.configFile}: cannot read: ${
            (error as Error).message
          }`,
        );
      }
      file = parseConfigFile(text, invocation.configFile);
    }
    return resolveConfig(file, invocation.flags);
  };
}

function redact(key: string, value: SettingValue): string {
  const text = Array.isArray(value) ? value.join(", ") : String(value);
  // A URL may carry a password: print it without.
  return key === "postgres"
    ? text.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@")
    : text;
}

async function checkConfig(host: Host, config: Config): Promise<number> {
  checkServeConfig(config);
  await readTls(config, host);
  const log = new Log((line) => host.err(`${line}\n`), "text");
  const backend = await openBackend(config, host, log);
  await backend.close();
  for (const [key, value] of Object.entries(config)) {
    if (value !== undefined) host.out(`${key} = ${redact(key, value)}\n`);
  }
  host.err("Configuration OK\n");
  return 0;
}

/**
 * Runs the program with `host.args`; resolves with the exit code.
 *
 * @param host The runtime.
 * @param role Given in a worker thread of `--workers`: it serves as one.
 *
 * @example
 * ```ts ignore
 * import { nodeHost } from "./host.ts";
 * const host = nodeHost();
 * host.exit(await main(host));
 * ```
 */
export async function main(host: Host, role?: WorkerRole): Promise<number> {
  try {
    const invocation = parseArgs(host.args);
    if (invocation.help) {
      host.out(helpText());
      return 0;
    }
    const load = loader(host, invocation);
    const [command = "serve", ...rest] = invocation.words;
    switch (command) {
      case "serve": {
        if (rest.length) break;
        if (role) return await serve(host, load, role);
        const first = await load();
        const workers = first.workers === "auto"
          ? host.cpus?.() ?? 1
          : first.workers as number;
        if (workers > 1) return await supervise(host, load, first, workers);
        let given: Config | undefined = first;
        return await serve(host, () => {
          const config = given;
          given = undefined;
          return config ? Promise.resolve(config) : load();
        });
      }
      case "check-config":
        if (rest.length) break;
        return await checkConfig(host, await load());
      case "pw":
        if (rest.length) break;
        return await pw(host, await load());
      case "user":
        if (rest.length !== 2) {
          throw new ConfigError("Usage: pop3d user add|del NAME (see --help)");
        }
        return await user(host, await load(), rest[0], rest[1]);
    }
    throw new ConfigError(
      `Unknown command ${
        JSON.stringify(invocation.words.join(" "))
      }; see --help`,
    );
  } catch (error) {
    if (error instanceof ConfigError) {
      host.err(`pop3d: ${error.message}\n`);
      return 2;
    }
    if (error instanceof PostgresDriverError) {
      host.err(`pop3d: ${error.message}\n`);
      return 1;
    }
    host.err(
      `pop3d: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    return 1;
  }
}
