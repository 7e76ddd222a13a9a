import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parsePasswdFile, PasswdFileAuth } from "../../maildir.ts";
import { probeDeriveBits } from "../_helpers/derive_probe.ts";

// From `doveadm pw -s SHA512-CRYPT -p secret` and `doveadm pw -s PBKDF2 -p secret`.
const SHA512 =
  "{SHA512-CRYPT}$6$y7iG4i0SnXO7vM1k$x/VMV7KM3fwl/ECrjr8JREm/mFNGdCoYhEh1Wa9oTCAve.SSu02AJZUZdzfG.3x2P104jGNECIKfK4KtvdG2g/";
const PBKDF2 =
  "{PBKDF2}$1$4fPrGsc.pLxWWNX0$5000$d8ba11b7f4b9604732545aa949e85cff2ad0df56";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pop3d-passwd-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function setup(
  text: string,
  options: { checkIntervalMs?: number; maxConcurrentHashes?: number } = {},
) {
  const path = join(dir, `passwd-${crypto.randomUUID()}`);
  await writeFile(path, text);
  const warnings: [string, number][] = [];
  const auth = new PasswdFileAuth({
    path,
    mailRoot: join(dir, "mail"),
    checkIntervalMs: options.checkIntervalMs ?? 0,
    maxConcurrentHashes: options.maxConcurrentHashes,
    onWarning: (message, line) => warnings.push([message, line]),
  });
  return { path, auth, warnings };
}

describe("PasswdFileAuth", () => {
  it("PasswdFileAuth PASS timing oracle: an unknown user costs the same hash as a known one", async () => {
    const { auth } = await setup(
      `alice:${PBKDF2}\nbob:${PBKDF2.replace("4fPrGsc", "9xQrGsc")}\n`,
    );
    await auth.exists("alice"); // load the file outside the probe
    const probe = probeDeriveBits();
    try {
      assert.equal(await auth.authenticate("alice", "wrong"), false);
      const known = [...probe.iterations];
      assert.equal(await auth.authenticate("mallory", "wrong"), false);
      assert.equal(await auth.authenticate("mallory", "secret"), false);
      const unknown = probe.iterations.slice(known.length);
      assert.deepEqual(known, [5000]);
      assert.deepEqual(unknown, [5000, 5000]);
    } finally {
      probe.restore();
    }
  });

  it("PasswdFileAuth PASS flood: at most maxConcurrentHashes hashes run at once, the rest wait", async () => {
    const { auth } = await setup(`alice:${PBKDF2}\n`, {
      maxConcurrentHashes: 2,
    });
    await auth.exists("alice");
    const probe = probeDeriveBits();
    try {
      const results = await Promise.all(
        Array.from(
          { length: 12 },
          (_, i) =>
            auth.authenticate(
              i % 2 ? "alice" : `nobody${i}`,
              i === 1 ? "secret" : "x",
            ),
        ),
      );
      assert.equal(probe.iterations.length, 12);
      assert.ok(probe.peak <= 2, `peak ${probe.peak}`);
      assert.deepEqual(
        results.map((r, i) => r ? i : -1).filter((i) => i >= 0),
        [1],
      );
    } finally {
      probe.restore();
    }
    assert.throws(
      () =>
        new PasswdFileAuth({
          path: "p",
          mailRoot: "m",
          maxConcurrentHashes: 0,
        }),
      RangeError,
    );
  });

  it("authenticates hashed and plain users from a Dovecot passwd-file", async () => {
    const { auth, warnings } = await setup(
      [
        "# users",
        `alice:${SHA512}:1000:1000::/home/alice::`,
        `bob:${PBKDF2}`,
        "carol:{PLAIN}pw:with:colons",
        "dave:{PLAIN}open sesame::::::",
        "",
      ].join("\n"),
    );
    assert.equal(await auth.authenticate("alice", "secret"), true);
    assert.equal(await auth.authenticate("alice", "wrong"), false);
    assert.equal(await auth.authenticate("bob", "secret"), true);
    assert.equal(await auth.authenticate("bob", "secreT"), false);
    // Dovecot splits on ":", so a plain password stops at the first colon.
    assert.equal(await auth.authenticate("carol", "pw"), true);
    assert.equal(await auth.authenticate("dave", "open sesame"), true);
    assert.equal(await auth.authenticate("nobody", "secret"), false);
    assert.deepEqual(warnings, []);
  });

  it("answers exists and lookup: plaintext for PLAIN, an unmatchable placeholder otherwise", async () => {
    const { auth } = await setup(`alice:${SHA512}\nbob:{PLAIN}pw\n`);
    assert.equal(await auth.exists("alice"), true);
    assert.equal(await auth.exists("bob"), true);
    assert.equal(await auth.exists("eve"), false);
    assert.deepEqual(await auth.lookup("bob"), ["pw", "bob"]);
    const [first, mailbox] = await auth.lookup("alice");
    const [second] = await auth.lookup("alice");
    assert.equal(mailbox, "alice");
    assert.notEqual(first, second);
    assert.ok(!first.includes("$6$") && first.length > 32);
    await assert.rejects(auth.lookup("eve"), RangeError);
    assert.equal((await auth.entry("alice"))?.scheme, "SHA512-CRYPT");
  });

  it("reports bad lines with their numbers, never their passwords, and skips them", async () => {
    const { auth, warnings } = await setup(
      [
        "alice:{PLAIN}one",
        "no-colon-here",
        ":{PLAIN}nouser",
        "frank:{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
        "alice:{PLAIN}two",
        "gina:",
        "../etc:{PLAIN}x",
        "hank:{PLAIN}hankpw::::::mail=maildir:/etc/hank",
        "ivan:{PLAIN}ivanpw::::../../outside::mail=maildir:~/Maildir",
        "judy:{PLAIN}judypw::::::mail=mbox:~/mail",
        "kim:{PLAIN}kimpw",
      ].join("\r\n"),
    );
    assert.equal(await auth.exists("kim"), true);
    assert.deepEqual(warnings.map(([, line]) => line), [
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
    ]);
    for (const [message] of warnings) {
      assert.match(message, /^Skipping passwd-file line \d+: /);
      for (
        const secret of ["one", "two", "nouser", "hankpw", "ivanpw", "aGFzaA"]
      ) {
        assert.ok(!message.includes(secret), message);
      }
    }
    assert.match(warnings[2][0], /unsupported password scheme "ARGON2ID"/);
    assert.match(warnings[3][0], /appears on line 1/);
    assert.deepEqual(await auth.lookup("alice"), ["one", "alice"]);
    for (const user of ["frank", "gina", "../etc", "hank", "ivan", "judy"]) {
      assert.equal(await auth.exists(user), false, user);
    }
  });

  it("takes the Maildir from mail= (with ~ and %n/%d) but keeps it inside the root", async () => {
    const root = join(dir, "mail");
    const { auth, warnings } = await setup(
      [
        `alice:{PLAIN}a::::${root}/alice-home::mail=maildir:~/Maildir:LAYOUT=fs`,
        `bob@example.org:{PLAIN}b::::::userdb_mail=maildir:${root}/%d/%n`,
        "carol:{PLAIN}c::::/home/carol::",
        "dan:{PLAIN}d::::::mail=maildir:%u/../dan2",
      ].join("\n"),
    );
    assert.deepEqual(warnings, []);
    assert.equal((await auth.lookup("alice"))[1], "alice-home/Maildir");
    assert.equal((await auth.lookup("bob@example.org"))[1], "example.org/bob");
    // A home outside the root does not matter without mail=.
    assert.equal((await auth.lookup("carol"))[1], "carol");
    assert.equal((await auth.lookup("dan"))[1], "dan2");
  });

  for (const syncMetadata of [true, false]) {
    it(`re-reads the file when it changes, and keeps the old users if it vanishes (syncMetadata: ${syncMetadata})`, async () => {
      const errors: unknown[] = [];
      const path = join(dir, `passwd-reload-${syncMetadata}`);
      await writeFile(path, "alice:{PLAIN}old\n");
      const auth = new PasswdFileAuth({
        path,
        mailRoot: join(dir, "mail"),
        checkIntervalMs: 0,
        syncMetadata,
        onError: (error) => errors.push(error),
      });
      assert.equal(await auth.authenticate("alice", "old"), true);
      await writeFile(path, "alice:{PLAIN}new\nbob:{PLAIN}b\n");
      assert.equal(await auth.authenticate("alice", "old"), false);
      assert.equal(await auth.authenticate("alice", "new"), true);
      assert.equal(await auth.exists("bob"), true);
      // Same size, different content: the mtime gives the change away.
      await writeFile(path, "alice:{PLAIN}NEW\nbob:{PLAIN}b\n");
      const future = new Date(Date.now() + 5000);
      await utimes(path, future, future);
      assert.equal(await auth.authenticate("alice", "NEW"), true);
      await rm(path);
      assert.equal(await auth.authenticate("alice", "NEW"), true);
      assert.equal(errors.length, 1);
    });
  }

  it("checks the file at most every checkIntervalMs", async () => {
    const { path, auth } = await setup("alice:{PLAIN}old\n", {
      checkIntervalMs: 60_000,
    });
    assert.equal(await auth.authenticate("alice", "old"), true);
    await writeFile(path, "alice:{PLAIN}new-longer\n");
    assert.equal(await auth.authenticate("alice", "old"), true);
    await auth.reload();
    assert.equal(await auth.authenticate("alice", "new-longer"), true);
  });

  it("rejects a missing file on first use, and bad options at construction", async () => {
    const auth = new PasswdFileAuth({
      path: join(dir, "does-not-exist"),
      mailRoot: dir,
    });
    await assert.rejects(auth.exists("alice"), /missing/);
    assert.throws(
      () => new PasswdFileAuth({ path: "", mailRoot: dir }),
      TypeError,
    );
    assert.throws(
      () =>
        new PasswdFileAuth({ path: "x", mailRoot: dir, checkIntervalMs: -1 }),
      RangeError,
    );
    assert.throws(
      () =>
        new PasswdFileAuth({
          path: "x",
          mailRoot: dir,
          syncMetadata: "no" as unknown as boolean,
        }),
      { name: "TypeError", message: /syncMetadata must be a boolean/ },
    );
  });
});

describe("parsePasswdFile", () => {
  it("parses all eight fields and the extra key=value fields", () => {
    const users = parsePasswdFile(
      "u:{PLAIN}p:1000:100:Gecos Name:/home/u:/bin/sh:quota=1G nologin mail=maildir:/m/u\n",
      "/m",
      () => assert.fail("no warning expected"),
    );
    const entry = users.get("u");
    assert.equal(entry?.home, "/home/u");
    assert.equal(entry?.mailbox, "u");
    assert.equal(entry?.extra.get("quota"), "1G");
    assert.equal(entry?.extra.get("nologin"), "");
    assert.equal(entry?.line, 1);
  });
});
