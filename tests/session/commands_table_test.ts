import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { COMMAND_NAMES, parseCommand } from "../../src/protocol/command.ts";
import { COMMANDS, transcriptLine } from "../../src/session/commands.ts";
import { withFixture } from "../_helpers/fixture.ts";

const te = new TextEncoder();
const line = (text: string) => transcriptLine(parseCommand(te.encode(text)));

describe("COMMANDS", () => {
  it("COMMANDS has exactly one row per command name, each allowed somewhere", () => {
    assert.deepEqual(
      Object.keys(COMMANDS).sort(),
      [...COMMAND_NAMES].sort(),
    );
    for (const [name, spec] of Object.entries(COMMANDS)) {
      assert.ok(spec.states.length > 0, `${name} has no state`);
      assert.equal(typeof spec.handler, "function");
    }
  });

  it("transcriptLine redacts what the rows say carries a secret", () => {
    assert.equal(line("PASS my secret"), "PASS <redacted>");
    assert.equal(
      line("APOP alice c4c9334bac560ecc979e58001b3e22fb"),
      "APOP alice <redacted>",
    );
    assert.equal(
      line("AUTH PLAIN AGFsaWNlAHNlY3JldA=="),
      "AUTH PLAIN <redacted>",
    );
    assert.equal(line("AUTH PLAIN"), "AUTH PLAIN");
    assert.equal(line("user alice"), "USER alice");
    assert.equal(line("XYZZY secret"), "<unknown command>");
  });

  it("Pop3Session gates every command by the states of its row", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      const sample: Record<string, string> = {
        RETR: "RETR 1",
        DELE: "DELE 1",
        TOP: "TOP 1 1",
        APOP: "APOP alice c4c9334bac560ecc979e58001b3e22fb",
      };
      for (const [name, spec] of Object.entries(COMMANDS)) {
        if (spec.states.includes("auth")) continue;
        assert.equal(
          await c.cmd(sample[name] ?? name),
          `-ERR ${name} is not valid in this state`,
        );
      }
      await c.login("alice", "secret");
      for (const [name, spec] of Object.entries(COMMANDS)) {
        if (spec.states.includes("trans")) continue;
        assert.equal(
          await c.cmd(sample[name] ?? name),
          `-ERR ${name} is not valid in this state`,
        );
      }
      c.close();
    });
  });

  it("Pop3Session checks the argument counts of each row", async () => {
    await withFixture({ maxBadCommands: 100 }, async (fx) => {
      const c = await fx.alice();
      for (const [name, spec] of Object.entries(COMMANDS)) {
        if (spec.args === "rest" || !spec.states.includes("trans")) continue;
        const [, max] = spec.args;
        const args = Array.from({ length: max + 1 }, () => "1").join(" ");
        assert.equal(
          await c.cmd(`${name} ${args}`),
          `-ERR Too many arguments for ${name}`,
        );
      }
      c.close();
    });
  });
});
