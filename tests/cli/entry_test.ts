/**
 * The ways an administrator installs the program: `deno install` as
 * `pop3d`, `deno compile` (needs the denort binary, downloaded on first use:
 * skipped when that fails offline) and `bun build --compile`.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  ALICE_MAIL,
  CLI,
  makeSite,
  Program,
  type Site,
} from "../_helpers/cli_program.ts";
import { available, run } from "../_helpers/tls.ts";
import { freePort } from "../_helpers/free_port.ts";

const WORKER_MAIN = join(dirname(CLI), "src", "cli", "worker_main.ts");

const haveDeno = await available("deno", ["--version"]);
const haveBun = await available("bun", ["--version"]);

/** Serves the site with `command`, fetches a message with curl, stops with SIGTERM. */
async function smoke(site: Site, command: [string, string[]]): Promise<void> {
  const program = new Program(site.args, command);
  try {
    const { pop3 } = await program.ready();
    const curl = await run("curl", [
      "-s",
      `pop3://alice:alice-pw@127.0.0.1:${pop3}/1`,
    ]);
    assert.equal(new TextDecoder().decode(curl.stdout), ALICE_MAIL[0]);
    program.signal("SIGTERM");
    assert.equal(await program.exited, 0);
  } finally {
    await program.stop();
  }
}

describe("pop3d installed", () => {
  let site: Site;
  let dir: string;
  before(async () => {
    site = await makeSite();
    dir = await mkdtemp(join(tmpdir(), "pop3d-install-"));
  });
  after(async () => {
    await site?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("deno install -n pop3d gives a pop3d command that serves", {
    skip: haveDeno ? false : "deno is not installed",
  }, async () => {
    const install = await run(
      "deno",
      [
        "install",
        "-g",
        "-A",
        "--no-lock",
        "--root",
        dir,
        "-n",
        "pop3d",
        CLI,
      ],
      "",
      120_000,
    );
    assert.equal(install.code, 0, install.stderr);
    const bin = join(dir, "bin", "pop3d");
    const help = await run(bin, ["--help"]);
    assert.equal(help.code, 0);
    assert.match(new TextDecoder().decode(help.stdout), /--tls-port PORT/);
    await smoke(site, [bin, []]);
  });

  it("deno compile gives a single binary that serves", {
    skip: haveDeno ? false : "deno is not installed",
  }, async (t) => {
    const out = join(dir, "pop3d-compiled");
    const compile = await run(
      "deno",
      [
        "compile",
        "-A",
        "--no-lock",
        "-o",
        out,
        CLI,
      ],
      "",
      180_000,
    );
    if (compile.code !== 0) {
      // deno compile downloads denort on first use; offline it cannot.
      assert.match(
        compile.stderr,
        /denort|dl\.deno\.land|error sending request/,
      );
      return t.skip("deno compile cannot fetch denort here (offline)");
    }
    await smoke(site, [out, []]);
  });

  it("bun build --compile gives a single binary that serves", {
    skip: haveBun ? false : "bun is not installed",
  }, async () => {
    const out = join(dir, "pop3d-bun");
    const build = await run(
      "bun",
      [
        "build",
        "--compile",
        CLI,
        "--outfile",
        out,
      ],
      "",
      180_000,
    );
    assert.equal(build.code, 0, build.stderr);
    await smoke(site, [out, []]);
  });

  it("bun build --compile with the worker module serves with --workers 2", {
    skip: haveBun ? false : "bun is not installed",
  }, async () => {
    const out = join(dir, "pop3d-bun-workers");
    const build = await run(
      "bun",
      ["build", "--compile", CLI, WORKER_MAIN, "--outfile", out],
      "",
      180_000,
    );
    assert.equal(build.code, 0, build.stderr);
    const port = await freePort();
    const args = site.args.map((a) => a === "0" ? String(port) : a);
    await smoke({ ...site, args: [...args, "--workers", "2"] }, [out, []]);
  });
});
