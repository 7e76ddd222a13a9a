/**
 * `--postgres`: the driver is loaded on demand, with a clear message naming
 * the setting when it cannot be; and the real path (user add, serve, user
 * del) against PostgreSQL when a server and a driver are at hand.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Program, runProgram } from "../_helpers/cli_program.ts";
import { run } from "../_helpers/tls.ts";

const isDeno = "Deno" in globalThis;
const isBun = "Bun" in globalThis;
const PG_URL = process.env.POP3D_PG_URL;

describe("pop3d --postgres", () => {
  it("names --postgres and --postgres-driver when the driver cannot be loaded, and never prints the URL's password", async () => {
    const result = await runProgram([
      "check-config",
      "--postgres",
      "postgres://pop3d:hunter2@127.0.0.1:1/mail",
      "--postgres-driver",
      "./no-such-driver.js",
    ]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /Cannot load a PostgreSQL driver for --postgres: tried "\.\/no-such-driver\.js"/,
    );
    assert.match(result.stderr, /--postgres-driver/);
    assert.ok(!result.stderr.includes("hunter2"));
  });

  it("tries pg and postgres from node_modules and says how to install one", {
    skip: isDeno
      ? "Deno fetches npm:pg from the registry"
      : isBun
      ? "Bun installs pg on import when no node_modules has it"
      : false,
  }, async () => {
    const result = await runProgram([
      "check-config",
      "--postgres",
      "postgres://pop3d@127.0.0.1:1/mail",
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /tried "pg" .*"postgres"/);
    assert.match(result.stderr, /npm install pg/);
  });

  describe("with a PostgreSQL server and a driver", {
    skip: PG_URL ? false : "POP3D_PG_URL is not set (scripts/pg_start.sh)",
  }, () => {
    let driverArgs: string[] = [];
    let dir = "";
    let skipReason: string | false = false;
    before(async () => {
      if (isDeno) return; // npm:pg, loaded by default
      dir = await mkdtemp(join(tmpdir(), "pop3d-pg-driver-"));
      const install = await run(
        "npm",
        [
          "install",
          "--prefix",
          dir,
          "--no-audit",
          "--no-fund",
          "--silent",
          "pg",
        ],
        "",
        120_000,
      ).catch((error) => ({ code: 1, stderr: String(error) }));
      const ok = install.code === 0 &&
        await stat(join(dir, "node_modules", "pg")).then(
          () => true,
          () => false,
        );
      if (!ok) skipReason = `npm install pg failed: ${install.stderr}`;
      driverArgs = ["--postgres-driver", join(dir, "node_modules", "pg")];
    });
    after(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("user add puts a user in PostgreSQL, the server lets it in, user del removes it", async (t) => {
      if (skipReason) return t.skip(skipReason);
      const user = `dave${process.pid}`;
      const args = ["--postgres", PG_URL!, ...driverArgs];
      const add = await runProgram(
        ["user", "add", user, ...args],
        "dave-pw\n",
        120_000,
      );
      if (isDeno && /Cannot load a PostgreSQL driver/.test(add.stderr)) {
        return t.skip("npm:pg cannot be fetched here");
      }
      assert.equal(add.code, 0, add.stderr);
      const program = new Program([
        ...args,
        "--hostname",
        "127.0.0.1",
        "--port",
        "0",
        "--log-format",
        "json",
        "--auth-failure-delay",
        "0",
      ]);
      try {
        const { pop3 } = await program.ready();
        const curl = await run("curl", [
          "-s",
          "-u",
          `${user}:dave-pw`,
          `pop3://127.0.0.1:${pop3}/`,
        ]);
        assert.equal(curl.code, 0, curl.stderr);
        const login = await program.waitFor((r) => r.event === "login");
        assert.equal(login.user, user);
        assert.match(
          String(program.records.find((r) => r.event === "ready")?.backend),
          /^PostgreSQL/,
        );
      } finally {
        await program.stop();
      }
      // check-config prints the settings, the URL without its password.
      const withPassword = PG_URL!.replace("://pop3d@", "://pop3d:hunter2@");
      const check = await runProgram(
        [
          "check-config",
          "--postgres",
          withPassword,
          ...driverArgs,
        ],
        "",
        60_000,
      );
      if (withPassword !== PG_URL) {
        assert.equal(check.code, 0, check.stderr);
        assert.match(check.out, /^postgres = postgres:\/\/pop3d:\*\*\*@/m);
        assert.ok(!(check.out + check.stderr).includes("hunter2"));
      }
      const del = await runProgram(["user", "del", user, ...args]);
      assert.equal(del.code, 0, del.stderr);
      const again = await runProgram(["user", "del", user, ...args]);
      assert.equal(again.code, 1);
    });

    it("names --postgres when the database cannot be reached", async (t) => {
      if (skipReason) return t.skip(skipReason);
      const result = await runProgram(
        [
          "check-config",
          "--postgres",
          "postgres://pop3d:hunter2@127.0.0.1:1/mail",
          ...driverArgs,
        ],
        "",
        60_000,
      );
      if (isDeno && /Cannot load a PostgreSQL driver/.test(result.stderr)) {
        return t.skip("npm:pg cannot be fetched here");
      }
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /Cannot connect to the database of --postgres/,
      );
      assert.ok(!result.stderr.includes("hunter2"));
    });
  });
});
