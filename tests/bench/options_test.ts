import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { optionKey, parseArgs } from "../../bench/_options.ts";
import { parseOptions } from "../../bench/large_maildrop.ts";

describe("bench options", () => {
  it("optionKey turns --kebab-case into camelCase and refuses a bare word", () => {
    assert.equal(optionKey("--base-port"), "basePort");
    assert.equal(optionKey("--quick"), "quick");
    assert.equal(optionKey("base-port"), undefined);
  });

  it("parseArgs runs switches and options in order", () => {
    const seen: string[] = [];
    parseArgs(["--quick", "--base-port", "7", "--no-x"], {
      flags: {
        quick: () => seen.push("quick"),
        noX: () => seen.push("noX"),
      },
      values: { basePort: (value, arg) => seen.push(`${arg}=${value}`) },
      missing: (arg) => new TypeError(`missing ${arg}`),
      unknown: (arg) => new TypeError(`unknown ${arg}`),
    });
    assert.deepEqual(seen, ["quick", "--base-port=7", "noX"]);
  });

  it("parseArgs says a value is missing before it says an option is unknown", () => {
    const table = {
      values: { rounds() {} },
      missing: (arg: string) => new TypeError(`missing ${arg}`),
      unknown: (arg: string) => new RangeError(`unknown ${arg}`),
    };
    assert.throws(() => parseArgs(["--rounds"], table), /missing --rounds/);
    assert.throws(() => parseArgs(["--colour"], table), /missing --colour/);
    assert.throws(() => parseArgs(["--colour", "red"], table), RangeError);
    assert.throws(() => parseArgs(["rounds", "2"], table), /unknown rounds/);
    assert.throws(() => parseArgs(["--toString", "2"], table), RangeError);
  });

  it("large_maildrop parseOptions keeps its options and messages", () => {
    const quick = parseOptions(["--quick", "--no-dovecot", "--logins", "5"]);
    assert.deepEqual(quick.sizes, [10_000, 20_000]);
    assert.equal(quick.logins, 5);
    assert.equal(quick.sessions, 4);
    assert.equal(quick.dovecot, false);
    // --quick applies where it stands.
    assert.deepEqual(parseOptions(["--sizes", "5", "--quick"]).sizes, [
      10_000,
      20_000,
    ]);
    assert.equal(parseOptions(["--base-port", "9000"]).basePort, 9000);
    const refused: [string[], string, string][] = [
      [["--logins"], "TypeError", 'Option "--logins" needs a value'],
      [["--colour", "red"], "TypeError", 'Unknown option "--colour"'],
      [
        ["--sizes", "0"],
        "RangeError",
        'Option "--sizes" takes positive integers',
      ],
      [
        ["--logins", "1"],
        "RangeError",
        'Option "--logins" needs an integer ≥ 2',
      ],
      [
        ["--sessions", "0"],
        "RangeError",
        'Option "--sessions" needs a positive integer',
      ],
      [
        ["--runtimes", "deno,x"],
        "TypeError",
        'Option "--runtimes" takes deno, bun, node',
      ],
    ];
    for (const [argv, name, message] of refused) {
      assert.throws(() => parseOptions(argv), { name, message });
    }
  });
});
