import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULTS } from "../../src/server/options.ts";
import {
  parseArgs,
  parseConfigFile,
  resolveConfig,
} from "../../src/cli/config.ts";
import { helpText } from "../../src/cli/help.ts";
import {
  ConfigError,
  findSetting,
  parseSetting,
  SETTINGS,
} from "../../src/cli/settings.ts";

describe("SETTINGS", () => {
  it("has a row for every limit and timeout of the library, with its default", () => {
    for (const [option, value] of Object.entries(DEFAULTS)) {
      if (typeof value !== "number" || option === "port") continue;
      const row = SETTINGS.find((s) => s.option === option);
      assert.ok(row, `no setting for the library option "${option}"`);
      assert.equal(row.default, value, option);
      assert.ok(helpText().includes(`--${row.key} `), option);
    }
  });

  it("parseSetting reads durations and names the setting in errors", () => {
    const idle = findSetting("idle-timeout")!;
    assert.equal(parseSetting(idle, "10m"), 600_000);
    assert.equal(parseSetting(idle, "90s"), 90_000);
    assert.equal(parseSetting(idle, "1500"), 1500);
    assert.throws(
      () => parseSetting(idle, "ten"),
      (e: unknown) =>
        e instanceof ConfigError && /--idle-timeout/.test(e.message),
    );
    // The library's own bounds apply too, under the flag's name.
    assert.throws(
      () => parseSetting(findSetting("max-line-length")!, "10"),
      /--max-line-length: the value must be between 255 and/,
    );
    assert.equal(parseSetting(findSetting("expire")!, "never"), "NEVER");
    assert.equal(parseSetting(findSetting("scheme")!, "pbkdf2"), "PBKDF2");
  });

  it("parseSetting reads --workers as a number or auto, and names it in errors", () => {
    const workers = findSetting("workers")!;
    assert.equal(parseSetting(workers, "4"), 4);
    assert.equal(parseSetting(workers, "AUTO"), "auto");
    assert.throws(
      () => parseSetting(workers, "many"),
      (e: unknown) => e instanceof ConfigError && /--workers/.test(e.message),
    );
    // Only a setting that says so takes auto.
    assert.throws(
      () => parseSetting(findSetting("max-connections")!, "auto"),
      ConfigError,
    );
  });

  it("parseSetting reads a boolean setting and names it in errors", () => {
    const sync = findSetting("sync-metadata")!;
    for (const text of ["true", "yes", "on", "1", "TRUE"]) {
      assert.equal(parseSetting(sync, text), true, text);
    }
    for (const text of ["false", "no", "off", "0", "No"]) {
      assert.equal(parseSetting(sync, text), false, text);
    }
    assert.throws(
      () => parseSetting(sync, "maybe"),
      (e: unknown) =>
        e instanceof ConfigError &&
        /--sync-metadata must be true or false/.test(e.message),
    );
    // On by default; a flag or the config file turns it off.
    assert.equal(resolveConfig(new Map(), new Map())["sync-metadata"], true);
    assert.equal(
      resolveConfig(
        parseConfigFile("sync-metadata = off\n", "x.conf"),
        new Map(),
      )["sync-metadata"],
      false,
    );
    assert.equal(
      parseArgs(["--sync-metadata=no"]).flags.get("sync-metadata"),
      false,
    );
    // The Outlook workarounds are library options, validated as booleans.
    assert.equal(parseSetting(findSetting("outlook-no-nuls")!, "yes"), true);
    assert.equal(parseSetting(findSetting("oe-ns-eoh")!, "off"), false);
  });
});

describe("parseArgs", () => {
  it("reads --key value, --key=value, short flags, repeated lists and words", () => {
    const inv = parseArgs([
      "user",
      "--hostname",
      "127.0.0.1",
      "--hostname=::1",
      "-s",
      "PBKDF2",
      "add",
      "--port=0",
      "carol",
    ]);
    assert.deepEqual(inv.words, ["user", "add", "carol"]);
    assert.deepEqual(inv.flags.get("hostname"), ["127.0.0.1", "::1"]);
    assert.equal(inv.flags.get("scheme"), "PBKDF2");
    assert.equal(inv.flags.get("port"), 0);
  });

  it("rejects unknown flags and missing values, naming them", () => {
    assert.throws(() => parseArgs(["--prot", "1"]), /Unknown option "--prot"/);
    assert.throws(() => parseArgs(["--port"]), /--port needs a value/);
    assert.throws(() => parseArgs(["-x", "1"]), /Unknown option "-x"/);
  });
});

describe("parseConfigFile", () => {
  it("reads key = value lines, comments, quotes and repeated list keys; flags win", () => {
    const file = parseConfigFile(
      '# POP3\n\nport = 1110\nhostname = 127.0.0.1\nhostname = ::1\ngreeting = "Hello there"\n',
      "pop3d.conf",
    );
    const config = resolveConfig(file, parseArgs(["--port", "2110"]).flags);
    assert.equal(config.port, 2110);
    assert.deepEqual(config.hostname, ["127.0.0.1", "::1"]);
    assert.equal(config.greeting, "Hello there");
    assert.equal(config["idle-timeout"], DEFAULTS.idleTimeout);
  });

  it("names the file, line and key of a mistake", () => {
    assert.throws(
      () => parseConfigFile("port = 1\nidle = 5\n", "a.conf"),
      /a\.conf:2: unknown setting "idle"/,
    );
    assert.throws(
      () => parseConfigFile("port = 1\nport = 2\n", "a.conf"),
      /a\.conf:2: port is set twice/,
    );
    assert.throws(
      () => parseConfigFile("port 110\n", "a.conf"),
      /a\.conf:1: expected "key = value"/,
    );
    assert.throws(
      () => parseConfigFile("max-connections = lots\n", "a.conf"),
      /a\.conf:1: --max-connections must be an integer/,
    );
  });
});
