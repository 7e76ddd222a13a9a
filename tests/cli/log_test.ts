import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatLine, Log } from "../../src/cli/log.ts";

describe("Log", () => {
  it("writes a failed login in the documented text and JSON forms, the user name last", () => {
    for (
      const [format, expected] of [
        [
          "text",
          /^\d{4}-\d\d-\d\dT[\d:.]+Z login-failed id=7 remote=192\.0\.2\.1 method=USER reason=credentials user="bob"$/,
        ],
        [
          "json",
          /^\{"time":"[^"]+","event":"login-failed","id":7,"remote":"192\.0\.2\.1","method":"USER","reason":"credentials","user":"bob"\}$/,
        ],
      ] as const
    ) {
      const lines: string[] = [];
      new Log((l) => lines.push(l), format).event({
        type: "login-failed",
        id: 7,
        remote: "192.0.2.1",
        user: "bob",
        method: "USER",
        reason: "credentials",
      });
      assert.match(lines[0], expected);
    }
  });

  it("keeps a hostile user name inside its quotes on one line", () => {
    const line = formatLine("text", new Date(0), "login-failed", {
      id: 1,
      remote: "::1",
      user: 'x"\n1970-01-01T00:00:00.000Z login-failed id=2 remote=10.0.0.1 ',
    });
    assert.equal(line.split("\n").length, 1);
    assert.match(line, / remote=::1 user="x\\"\\n1970/);
  });

  it("gives errors the address of their session and logs commands only at debug", () => {
    const lines: string[] = [];
    const log = new Log((l) => lines.push(l), "json");
    log.event({ type: "open", id: 3, remote: "::1", encrypted: false });
    log.event({
      type: "command",
      id: 3,
      remote: "::1",
      verb: "STAT",
      ok: true,
      durationMs: 1,
    });
    log.event({ type: "error", id: 3, error: new Error("disk full") });
    assert.equal(lines.length, 2);
    const error = JSON.parse(lines[1]);
    assert.equal(error.remote, "::1");
    assert.equal(error.error, "Error: disk full");
    log.debug = true;
    log.event({
      type: "command",
      id: 3,
      remote: "::1",
      verb: "STAT",
      ok: true,
      durationMs: 1,
    });
    assert.equal(JSON.parse(lines[2]).verb, "STAT");
  });
});
