/**
 * contrib/fail2ban/pop3d.conf against the log of a real run of the
 * program, checked with the real `fail2ban-regex`.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeSite, Program, type Site } from "../_helpers/cli_program.ts";
import { converse } from "../_helpers/runtime.ts";
import { available, run } from "../_helpers/tls.ts";

const FILTER = fileURLToPath(
  new URL("../../contrib/fail2ban/pop3d.conf", import.meta.url),
);

const haveFail2ban = await available("fail2ban-regex", ["--version"]);

/** Failed and successful logins over real connections; returns the failures sent. */
async function logins(port: number): Promise<number> {
  const plain = (user: string, pw: string) =>
    `AUTH PLAIN ${btoa(`\0${user}\0${pw}`)}`;
  const sessions: string[][] = [
    ["USER alice", "PASS wrong", "USER alice", "PASS alice-pw", "QUIT"],
    ["USER nobody", "PASS guess", "QUIT"],
    [plain("bob", "wrong"), plain("bob", "bob-pw"), "QUIT"],
    // A user name that carries an address must not get that address banned.
    ["USER x remote=10.9.9.9 method=USER", "PASS y", "QUIT"],
    [plain("y remote=10.9.9.9", "z"), "QUIT"],
  ];
  let failures = 0;
  for (const commands of sessions) {
    const replies = await converse(port, commands);
    failures += replies.filter((r, i) =>
      /^-ERR/.test(r) && /^(PASS|AUTH|APOP)/.test(commands[i - 1] ?? "")
    ).length;
  }
  return failures;
}

describe("contrib/fail2ban/pop3d.conf", {
  skip: haveFail2ban ? false : "fail2ban-regex is not installed",
}, () => {
  let site: Site;
  before(async () => {
    site = await makeSite();
  });
  after(async () => {
    await site?.remove();
  });

  for (const format of ["text", "json"]) {
    it(`matches exactly the failed logins of a real ${format} log, never a successful one`, async () => {
      const program = new Program([
        ...site.args,
        "--log-format",
        format,
        "--max-auth-failures",
        "50",
      ]);
      let failures: number;
      try {
        const { pop3 } = await program.ready();
        failures = await logins(pop3);
        program.signal("SIGTERM");
        assert.equal(await program.exited, 0);
      } finally {
        await program.stop();
      }
      assert.equal(failures, 5, "failed logins sent");
      const log = join(site.dir, `pop3d-${format}.log`);
      await writeFile(log, program.lines.join("\n") + "\n");
      const logged = program.lines.filter((l) => /login-failed/.test(l));
      assert.equal(logged.length, failures);
      const successes = program.lines.filter((l) =>
        /(^\S+ login |"event":"login")/.test(l)
      );
      assert.equal(successes.length, 2);

      const result = await run("fail2ban-regex", [
        "--print-all-matched",
        log,
        FILTER,
      ]);
      assert.equal(result.code, 0, result.stderr);
      const report = new TextDecoder().decode(result.stdout);
      const lines = /Lines: (\d+) lines, 0 ignored, (\d+) matched, (\d+) missed/
        .exec(report);
      assert.ok(lines, report);
      assert.equal(Number(lines[2]), failures, report);
      const ips = await run("fail2ban-regex", ["-o", "ip", log, FILTER]);
      const banned = new TextDecoder().decode(ips.stdout).trim().split("\n");
      assert.equal(banned.length, failures);
      assert.deepEqual([...new Set(banned)], ["127.0.0.1"]);
      const start = report.indexOf("Matched line(s)");
      assert.ok(start > 0, report);
      const end = report.indexOf("Missed line(s)", start);
      const matched = report.slice(start, end === -1 ? undefined : end);
      for (const success of successes) {
        assert.ok(!matched.includes(success), `matched a success: ${success}`);
      }
    });
  }
});
