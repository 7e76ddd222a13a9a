/**
 * The `pop3d` program's command line as a process: --help, bad
 * configuration (exit 2, naming the setting, before binding), a busy port
 * (exit 1), check-config, and the user and pw subcommands.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { verifyPassword } from "../../src/auth/password_scheme.ts";
import { SETTINGS } from "../../src/cli/settings.ts";
import {
  makeSite,
  Program,
  runProgram,
  type Site,
} from "../_helpers/cli_program.ts";
import { available, run } from "../_helpers/tls.ts";

describe("pop3d program: command line", () => {
  let site: Site;
  before(async () => {
    site = await makeSite();
  });
  after(async () => {
    await site?.remove();
  });

  it("--help lists every setting and exits 0", async () => {
    const result = await runProgram(["--help"]);
    assert.equal(result.code, 0);
    for (const s of SETTINGS) {
      assert.ok(result.out.includes(`--${s.key} `), s.key);
    }
    assert.match(result.out, /user add NAME/);
  });

  it("a bad value exits 2 with a message naming the setting, before binding anything", async () => {
    for (
      const [flags, pattern] of [
        [["--idle-timeout", "banana"], /--idle-timeout must be a duration/],
        [
          ["--max-connections", "0"],
          /--max-connections: the value must be between 1 and/,
        ],
        [["--idle-timeout", "0"], /--idle-timeout: the value must be between/],
        [["--log-format", "xml"], /--log-format must be one of text, json/],
        [
          ["--sync-metadata", "maybe"],
          /--sync-metadata must be true or false/,
        ],
        [["--port", "70000"], /--port must be a port/],
        [["--bogus", "1"], /Unknown option "--bogus"/],
        [["--tls-port", "0"], /--tls-port needs --tls-cert/],
      ] as [string[], RegExp][]
    ) {
      const result = await runProgram([...site.args, ...flags]);
      assert.equal(result.code, 2, `${flags.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
      assert.doesNotMatch(result.stderr, /"event":"listening"/);
    }
  });

  it("a bad config file, Maildir, passwd-file or key exits 2 naming it, before binding anything", async () => {
    const conf = join(site.dir, "bad.conf");
    await writeFile(conf, "# a typo on line 2\nidle-timout = 10m\n");
    const wrongKey = join(site.dir, "other-key.pem");
    await run("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-out",
      wrongKey,
    ]);
    for (
      const [flags, pattern] of [
        [["--config", conf], /bad\.conf:2: unknown setting "idle-timout"/],
        [
          ["--config", join(site.dir, "missing.conf")],
          /--config .*cannot read/,
        ],
        [
          ["--maildir", join(site.dir, "nowhere")],
          /--maildir .*not a directory/,
        ],
        [["--passwd", join(site.dir, "nopasswd")], /--passwd .*nopasswd/],
        [[
          "--tls-cert",
          site.cert.certFile,
          "--tls-key",
          wrongKey,
        ], /--tls-key .*does not belong to the certificate/],
        [[
          "--tls-cert",
          site.cert.keyFile,
          "--tls-key",
          site.cert.keyFile,
        ], /--tls-cert .*not a PEM certificate/],
      ] as [string[], RegExp][]
    ) {
      const result = await runProgram([...site.args, ...flags]);
      assert.equal(result.code, 2, `${flags.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
      assert.doesNotMatch(result.stderr, /"event":"listening"/);
    }
  });

  it("a port in use exits 1 with a clear message naming --port", async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const args = site.args.map((a, i) =>
        site.args[i - 1] === "--port" ? String(port) : a
      );
      const result = await runProgram(args);
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(
          `Cannot listen on 127\\.0\\.0\\.1:${port} \\(--port\\): the address is already in use`,
        ),
      );
      const metrics = await runProgram([
        ...site.args,
        "--metrics-port",
        String(port),
      ]);
      assert.equal(metrics.code, 1, metrics.stderr);
      assert.match(
        metrics.stderr,
        new RegExp(
          `Cannot listen on 127\\.0\\.0\\.1:${port} \\(--metrics-port\\): the address is already in use`,
        ),
      );
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it("the config file gives settings and flags override it", async () => {
    const conf = join(site.dir, "pop3d.conf");
    await writeFile(
      conf,
      [
        "# pop3d.conf",
        `maildir = ${site.maildir}`,
        `passwd = "${site.passwd}"`,
        "hostname = 127.0.0.1",
        "hostname = ::1",
        "port = 1110",
        "idle-timeout = 15m",
        "",
      ].join("\n"),
    );
    const result = await runProgram([
      "check-config",
      "--config",
      conf,
      "--port",
      "2110",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.out, /^port = 2110$/m);
    assert.match(result.out, /^hostname = 127\.0\.0\.1, ::1$/m);
    assert.match(result.out, /^idle-timeout = 900000$/m);
    assert.match(result.stderr, /Configuration OK/);
  });

  it("user add writes SHA512-CRYPT to the passwd-file, the server lets the user in, user del removes it", async () => {
    const passwd = join(site.dir, "users");
    const add = await runProgram(
      ["user", "add", "carol", "--passwd", passwd],
      "carol's secret\n",
    );
    assert.equal(add.code, 0, add.stderr);
    const line = (await readFile(passwd, "utf8")).trim();
    assert.match(line, /^carol:\{SHA512-CRYPT\}\$6\$[^:]+::::::$/);
    assert.ok(await verifyPassword("carol's secret", line.split(":")[1]));
    assert.ok(!add.stderr.includes("secret"));

    const program = new Program([
      ...site.args.map((a) => a === site.passwd ? passwd : a),
    ]);
    try {
      const { pop3 } = await program.ready();
      const curl = await run("curl", [
        "-s",
        "-u",
        "carol:carol's secret",
        `pop3://127.0.0.1:${pop3}/`,
      ]);
      assert.equal(curl.code, 0);
    } finally {
      await program.stop();
    }
    assert.ok(!program.lines.join("\n").includes("secret"));

    const del = await runProgram(["user", "del", "carol", "--passwd", passwd]);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(await readFile(passwd, "utf8"), "");
    const again = await runProgram([
      "user",
      "del",
      "carol",
      "--passwd",
      passwd,
    ]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /No user "carol"/);
  });

  it("pw hashes a password from stdin like doveadm pw, and doveadm verifies it", async () => {
    const sha = await runProgram(["pw"], "pw-1\n");
    assert.equal(sha.code, 0, sha.stderr);
    assert.match(sha.out, /^\{SHA512-CRYPT\}\$6\$/);
    const pbkdf2 = await runProgram(
      ["pw", "-s", "pbkdf2", "-r", "2000"],
      "pw-2\n",
    );
    assert.match(pbkdf2.out, /^\{PBKDF2\}\$1\$[^$]+\$2000\$/);
    assert.ok(await verifyPassword("pw-2", pbkdf2.out.trim()));
    const bad = await runProgram(["pw", "-s", "MD5"], "x\n");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--scheme must be one of/);
    const empty = await runProgram(["pw"], "\n");
    assert.equal(empty.code, 2);
    if (await available("doveadm", ["pw", "-p", "x"])) {
      for (
        const [hash, password] of [[sha.out, "pw-1"], [pbkdf2.out, "pw-2"]]
      ) {
        const check = await run("doveadm", [
          "pw",
          "-t",
          hash.trim(),
          "-p",
          password,
        ]);
        assert.equal(check.code, 0, check.stderr);
      }
    }
  });
});
