import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { PasswdFileAuth } from "../../maildir.ts";

const SCRIPT = fileURLToPath(
  new URL("../../examples/adduser.ts", import.meta.url),
);

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pop3d-adduser-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs examples/adduser.ts on this runtime with `input` on stdin. */
function adduser(args: string[], input: string): Promise<number | null> {
  const argv = "Deno" in globalThis
    ? ["run", "-A", SCRIPT, ...args]
    : [SCRIPT, ...args];
  const child = spawn(process.execPath, argv, {
    stdio: ["pipe", "ignore", "ignore"],
  });
  child.stdin?.end(input);
  return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}

describe("examples/adduser.ts", () => {
  it("adds users with hashed passwords and updates them in place", async () => {
    const file = join(dir, "passwd");
    await writeFile(file, "# comment\nkeep:{PLAIN}k:1:2::/h::quota=1G\n");
    assert.equal(await adduser([file, "alice"], "first secret\n"), 0);
    assert.equal(
      await adduser(["--scheme", "SSHA256", file, "bob"], "bobpw\n"),
      0,
    );
    assert.equal(await adduser([file, "keep"], "changed\n"), 0);
    const text = await readFile(file, "utf8");
    assert.match(text, /^alice:\{SHA512-CRYPT\}\$6\$/m);
    assert.match(text, /^bob:\{SSHA256\}/m);
    assert.match(text, /^keep:\{SHA512-CRYPT\}\$6\$[^:]+:1:2::\/h::quota=1G$/m);
    assert.ok(!text.includes("first secret"));

    const auth = new PasswdFileAuth({ path: file, mailRoot: dir });
    assert.equal(await auth.authenticate("alice", "first secret"), true);
    assert.equal(await auth.authenticate("bob", "bobpw"), true);
    assert.equal(await auth.authenticate("keep", "changed"), true);
    assert.equal(await auth.authenticate("keep", "k"), false);
  });

  it("refuses an empty password and a bad scheme", async () => {
    const file = join(dir, "passwd2");
    assert.equal(await adduser([file, "alice"], "\n"), 2);
    assert.equal(await adduser(["--scheme", "MD5", file, "alice"], "x\n"), 2);
  });
});
