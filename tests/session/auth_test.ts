import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { eventually, withFixture } from "../_helpers/fixture.ts";
import { Pop3Client } from "../_helpers/pop3_client.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { memoryListener } from "../../src/transport/memory.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import type { Pop3dAuth } from "../../src/auth/types.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";

function apopDigest(greeting: string, password: string): string {
  const stamp = greeting.match(/<[^>]+>/)![0];
  return createHash("md5").update(stamp + password).digest("hex");
}

describe("Pop3Session login", () => {
  it("Pop3Session accepts a password with spaces", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      assert.equal(await c.cmd("USER bob"), "+OK");
      assert.match(await c.cmd("PASS pass word"), /^\+OK/);
      assert.equal(await c.cmd("STAT"), "+OK 0 0");
      c.close();
    });
  });

  it("Pop3Session answers a wrong password or unknown user with [AUTH] and allows a retry", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      assert.equal(await c.cmd("USER alice"), "+OK");
      assert.match(await c.cmd("PASS wrong"), /^-ERR \[AUTH\] /);
      assert.match(await c.cmd("STAT"), /^-ERR/);
      assert.equal(await c.cmd("USER nobody"), "+OK");
      assert.match(await c.cmd("PASS secret"), /^-ERR \[AUTH\] /);
      assert.equal(await c.cmd("USER alice"), "+OK");
      assert.match(await c.cmd("PASS secret "), /^-ERR \[AUTH\] /);
      assert.equal(fx.storage.count("lock"), 0);
      await c.login("alice", "secret");
      assert.match(await c.cmd("STAT"), /^\+OK 3 /);
      c.close();
    });
  });

  it("Pop3Session logs in with APOP using the greeting's timestamp", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      const digest = apopDigest(c.greetingLine, "secret");
      assert.match(await c.cmd(`APOP alice ${digest}`), /^\+OK/);
      assert.match(await c.cmd("STAT"), /^\+OK 3 /);
      c.close();
      const d = await fx.connect();
      const upper = apopDigest(d.greetingLine, "pass word").toUpperCase();
      assert.match(await d.cmd(`apop bob ${upper}`), /^\+OK/);
      d.close();
    });
  });

  it("Pop3Session rejects an APOP digest for a wrong password, user or timestamp", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      const other = await fx.connect();
      const bad = [
        `APOP alice ${apopDigest(c.greetingLine, "wrong")}`,
        `APOP nobody ${apopDigest(c.greetingLine, "secret")}`,
        // A digest made for another connection's greeting.
        `APOP alice ${apopDigest(other.greetingLine, "secret")}`,
      ];
      for (const line of bad) {
        assert.match(await c.cmd(line), /^-ERR \[AUTH\] /, line);
      }
      assert.equal(fx.storage.count("lock"), 0);
      c.close();
      other.close();
    });
  });

  it("Pop3Session answers [IN-USE] when lock returns false and stays in AUTHORIZATION", async () => {
    await withFixture({}, async (fx) => {
      fx.storage.lockResult = false;
      const c = await fx.connect();
      assert.equal(await c.cmd("USER alice"), "+OK");
      assert.match(await c.cmd("PASS secret"), /^-ERR \[IN-USE\] /);
      const [id] = fx.server.conn.list();
      assert.equal(fx.server.conn.state(id).state, "auth");
      assert.match(await c.cmd("STAT"), /^-ERR/);
      fx.storage.lockResult = undefined;
      await c.login("alice", "secret");
      assert.equal(fx.server.conn.state(id).state, "trans");
      assert.match(await c.cmd("QUIT"), /^\+OK/);
      await c.closed();
      assert.equal(fx.storage.count("lock"), 2);
      assert.equal(fx.storage.count("unlock"), 1);
    });
  });

  it("Pop3Session refuses a second session on a locked maildrop with [IN-USE]", async () => {
    await withFixture({}, async (fx) => {
      const first = await fx.alice();
      const second = await fx.connect();
      assert.equal(await second.cmd("USER alice"), "+OK");
      assert.match(await second.cmd("PASS secret"), /^-ERR \[IN-USE\] /);
      assert.match(await first.cmd("QUIT"), /^\+OK/);
      await first.closed();
      assert.equal(await second.cmd("USER alice"), "+OK");
      assert.match(await second.cmd("PASS secret"), /^\+OK/);
      second.close();
    });
  });

  it("Pop3Session answers [SYS/TEMP] when auth throws, reports it, and goes on", async () => {
    const errors: unknown[] = [];
    let fail = true;
    const auth: Pop3dAuth<string> = {
      exists: (name) => {
        if (fail) throw new Error("database secret detail");
        return name === "alice";
      },
      lookup: () => Promise.resolve(["secret", "alice"] as const),
    };
    const listener = memoryListener();
    const storage = new MemoryStorage();
    const server = new Pop3d({
      auth,
      storage,
      socket: () => listener,
      authFailureDelay: 0,
      authPenalty: false,
      onError: (e) => errors.push(e),
    });
    await server.up();
    try {
      const c = new Pop3Client(listener.connect());
      await c.greeting();
      assert.equal(await c.cmd("USER alice"), "+OK");
      const reply = await c.cmd("PASS secret");
      assert.match(reply, /^-ERR \[SYS\/TEMP\] /);
      assert.doesNotMatch(reply, /database|secret detail/);
      assert.equal(errors.length, 1);
      assert.match(String(errors[0]), /database secret detail/);
      fail = false;
      assert.match(await c.cmd("PASS secret"), /^\+OK/);
      c.close();
    } finally {
      await server.destroy();
    }
  });

  it("Pop3Session rejects every login without auth", async () => {
    const listener = memoryListener();
    const server = new Pop3d({
      socket: () => listener,
      authFailureDelay: 0,
      authPenalty: false,
    });
    await server.up();
    try {
      const c = new Pop3Client(listener.connect());
      await c.greeting();
      assert.equal(await c.cmd("USER alice"), "+OK");
      assert.match(await c.cmd("PASS secret"), /^-ERR \[AUTH\] /);
      const digest = apopDigest(c.greetingLine, "secret");
      assert.match(await c.cmd(`APOP alice ${digest}`), /^-ERR \[AUTH\] /);
      assert.match(await c.cmd("STAT"), /^-ERR/);
      c.close();
    } finally {
      await server.destroy();
    }
  });

  it("Pop3Session serves an empty maildrop without storage", async () => {
    const listener = memoryListener();
    const server = new Pop3d({
      socket: () => listener,
      auth: new MemoryAuth().addUser("alice", "secret"),
    });
    await server.up();
    try {
      const c = new Pop3Client(listener.connect());
      await c.greeting();
      assert.match(await c.login("alice", "secret"), /0 messages/);
      assert.equal(await c.cmd("STAT"), "+OK 0 0");
      assert.deepEqual((await c.multi("LIST")).lines, []);
      assert.deepEqual((await c.multi("UIDL")).lines, []);
      assert.match(await c.cmd("RETR 1"), /^-ERR/);
      assert.match(await c.cmd("TOP 1 0"), /^-ERR/);
      assert.match(await c.cmd("DELE 1"), /^-ERR/);
      assert.match(await c.cmd("RSET"), /^\+OK/);
      assert.match(await c.cmd("QUIT"), /^\+OK/);
      await c.closed();
    } finally {
      await server.destroy();
    }
  });

  it("Pop3Session waits authFailureDelay before answering a failed login", async () => {
    await withFixture({ authFailureDelay: 300 }, async (fx) => {
      const c = await fx.connect();
      await c.cmd("USER alice");
      const start = Date.now();
      assert.match(await c.cmd("PASS wrong"), /^-ERR \[AUTH\]/);
      assert.ok(Date.now() - start >= 290, `${Date.now() - start} ms`);
      const ok = Date.now();
      await c.login("alice", "secret");
      assert.ok(Date.now() - ok < 250, "success is not delayed");
      c.close();
    });
  });

  it("Pop3Session closes after maxAuthFailures failed logins", async () => {
    await withFixture({ maxAuthFailures: 2 }, async (fx) => {
      const c = await fx.connect();
      await c.cmd("USER alice");
      assert.match(await c.cmd("PASS a"), /^-ERR \[AUTH\]/);
      await c.cmd("USER alice");
      assert.match(await c.cmd("PASS b"), /^-ERR \[AUTH\]/);
      assert.match(await c.closed(), /^-ERR/);
      await eventually(() => fx.server.conn.list().length === 0, "session end");
    });
  });
});
