import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { withFixture } from "../_helpers/fixture.ts";
import { Poplib, socketSkipReason } from "../_helpers/poplib.ts";

describe("Pop3Session RFC 6856 UTF8 and LANG", () => {
  it("Pop3Session lists UTF8 and LANG in CAPA before and after login", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      const before = await c.multi("CAPA");
      assert.ok(before.lines.includes("UTF8"), `${before.lines}`);
      assert.ok(before.lines.includes("LANG"), `${before.lines}`);
      await c.login("alice", "secret");
      const after = await c.multi("CAPA");
      assert.ok(after.lines.includes("UTF8"));
      assert.ok(after.lines.includes("LANG"));
      c.close();
    });
  });

  it("Pop3Session accepts UTF8 in AUTHORIZATION and a login after it", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      assert.equal(await c.cmd("UTF8"), "+OK UTF8 enabled");
      await c.login("alice", "secret");
      assert.match(await c.cmd("STAT"), /^\+OK 3 /);
      c.close();
    });
  });

  it("Pop3Session answers UTF8 after login with +OK, as classic Outlook needs", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      assert.match(await c.cmd("UTF8"), /^\+OK/);
      assert.match(await c.cmd("STAT"), /^\+OK 3 /);
      assert.equal(await c.cmd("QUIT"), "+OK Bye");
    });
  });

  it("Pop3Session refuses UTF8 with an argument as a syntax error", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      assert.match(await c.cmd("UTF8 please"), /^-ERR Too many arguments/);
      c.close();
    });
  });

  it("Pop3Session LANG without argument lists the languages, en among them", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      const listing = await c.multi("LANG");
      assert.match(listing.status, /^\+OK/);
      assert.ok(listing.lines.some((l) => /^en /.test(l)), `${listing.lines}`);
      c.close();
    });
  });

  it("Pop3Session LANG switches to en, to * and in TRANSACTION, and refuses an unknown language", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      assert.equal(await c.cmd("LANG en"), "+OK en English");
      assert.equal(await c.cmd("LANG EN"), "+OK en English");
      assert.equal(await c.cmd("LANG *"), "+OK en English");
      assert.match(await c.cmd("LANG tlh"), /^-ERR /);
      assert.match(await c.cmd("LANG en US"), /^-ERR Too many arguments/);
      await c.login("alice", "secret");
      assert.equal(await c.cmd("LANG en"), "+OK en English");
      assert.match(await c.cmd("STAT"), /^\+OK 3 /);
      c.close();
    });
  });
});

const skip = await socketSkipReason() ||
  (spawnSync("python3", ["--version"]).status === 0
    ? false
    : "python3 is not installed");

describe("Pop3d RFC 6856 with python3 poplib", { skip }, () => {
  it("poplib sees UTF8 and LANG in capa() and its utf8() succeeds before login", async () => {
    const auth = new MemoryAuth().addUser("alice", "secret");
    const storage = new MemoryStorage();
    storage.deliver("alice", "Subject: hi\r\n\r\nbody\r\n");
    const server = new Pop3d({
      hostname: "127.0.0.1",
      port: 0,
      auth,
      storage,
      authFailureDelay: 0,
    });
    await server.up();
    const py = new Poplib();
    try {
      const out = await py.run(server.cget("port") as number, [
        ["connect"],
        ["capa"],
        ["utf8"],
        ["user", "alice"],
        ["pass_", "secret"],
        ["stat"],
        ["quit"],
      ]);
      const capa = (out[1] as { ok: Record<string, string[]> }).ok;
      assert.ok("UTF8" in capa && "LANG" in capa, JSON.stringify(capa));
      assert.deepEqual(out[2], { ok: "+OK UTF8 enabled", ms: out[2].ms });
      assert.deepEqual((out[5] as { ok: unknown }).ok, [1, 21]);
    } finally {
      await py.close();
      await server.destroy();
    }
  });
});
