import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ALICE_MESSAGES,
  eventually,
  withFixture,
} from "../_helpers/fixture.ts";
import { sleep, within } from "../_helpers/pop3_client.ts";

const SIZES = ALICE_MESSAGES.map((m) => m.length);
const TOTAL = SIZES.reduce((a, b) => a + b, 0);

describe("Pop3Session deletion and locks", () => {
  it("Pop3Session hides deleted messages everywhere until RSET", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      assert.match(await c.cmd("DELE 2"), /^\+OK/);
      assert.equal(await c.cmd("STAT"), `+OK 2 ${SIZES[0] + SIZES[2]}`);
      assert.deepEqual((await c.multi("LIST")).lines, [
        `1 ${SIZES[0]}`,
        `3 ${SIZES[2]}`,
      ]);
      const uidl = (await c.multi("UIDL")).lines;
      assert.deepEqual(uidl.map((l) => l.split(" ")[0]), ["1", "3"]);
      for (const cmd of ["LIST 2", "UIDL 2", "RETR 2", "TOP 2 0", "DELE 2"]) {
        assert.match(await c.cmd(cmd), /^-ERR /, cmd);
      }
      const [id] = fx.server.conn.list();
      assert.deepEqual(fx.server.conn.state(id).deleted, [2]);
      assert.match(await c.cmd("RSET"), /^\+OK/);
      assert.equal(await c.cmd("STAT"), `+OK 3 ${TOTAL}`);
      assert.equal(await c.cmd("LIST 2"), `+OK 2 ${SIZES[1]}`);
      assert.match((await c.multi("RETR 2")).status, /^\+OK/);
      assert.deepEqual(fx.server.conn.state(id).deleted, []);
      c.close();
    });
  });

  it("Pop3Session calls dele once, ascending, only after QUIT", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      assert.match(await c.cmd("DELE 3"), /^\+OK/);
      assert.match(await c.cmd("DELE 1"), /^\+OK/);
      assert.equal(fx.storage.count("dele"), 0);
      assert.match(await c.cmd("QUIT"), /^\+OK/);
      await c.closed();
      assert.deepEqual(
        fx.storage.calls.filter((x) => /^(dele|unlock)/.test(x)),
        ["dele alice 1,3", "unlock alice"],
      );
      const left = fx.storage.inner.messages("alice");
      assert.equal(left.length, 1);
      assert.equal(new TextDecoder().decode(left[0].bytes), ALICE_MESSAGES[1]);
    });
  });

  it("Pop3Session deletes only what is marked after RSET", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      await c.cmd("DELE 1");
      await c.cmd("DELE 2");
      await c.cmd("RSET");
      await c.cmd("DELE 3");
      await c.cmd("QUIT");
      await c.closed();
      assert.deepEqual(
        fx.storage.calls.filter((x) => x.startsWith("dele")),
        ["dele alice 3"],
      );
    });
  });

  it("Pop3Session QUIT without deletions does not call dele and unlocks once", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      assert.match(await c.cmd("QUIT"), /^\+OK/);
      await c.closed();
      assert.equal(fx.storage.count("dele"), 0);
      assert.equal(fx.storage.count("lock"), 1);
      assert.equal(fx.storage.count("unlock"), 1);
      assert.equal(fx.storage.inner.isLocked("alice"), false);
    });
  });

  it("Pop3Session QUIT in AUTHORIZATION touches no storage", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      await c.cmd("USER alice");
      assert.match(await c.cmd("QUIT"), /^\+OK/);
      assert.equal(await c.closed(), "");
      assert.deepEqual(fx.storage.calls, []);
    });
  });

  it("Pop3Session deletes nothing and unlocks once when the client drops", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      await c.cmd("DELE 1");
      c.close();
      await eventually(() => fx.server.conn.list().length === 0, "session end");
      assert.equal(fx.storage.count("unlock"), 1);
      assert.equal(fx.storage.count("dele"), 0);
      assert.equal(fx.storage.inner.stat("alice"), 3);
    });
  });

  it("Pop3Session deletes nothing when the client half-closes after DELE", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      await c.cmd("DELE 1");
      await c.closeWrite();
      await c.closed();
      await eventually(() => fx.server.conn.list().length === 0, "session end");
      assert.equal(fx.storage.count("unlock"), 1);
      assert.equal(fx.storage.count("dele"), 0);
    });
  });

  it("Pop3Session logs out an idle session: unlock once, no deletion", async () => {
    await withFixture({ idleTimeout: 50, loginTimeout: 50 }, async (fx) => {
      const c = await fx.alice();
      await c.cmd("DELE 1");
      const start = Date.now();
      const rest = await c.closed(2000);
      assert.ok(Date.now() - start >= 40, "not before the timeout");
      assert.match(rest, /^(-ERR [^\r\n]*\r\n)?$/);
      await eventually(() => fx.server.conn.list().length === 0, "session end");
      assert.equal(fx.storage.count("unlock"), 1);
      assert.equal(fx.storage.count("dele"), 0);
    });
  });

  it("Pop3Session activity keeps an idle timer from firing", async () => {
    await withFixture({ idleTimeout: 300, loginTimeout: 300 }, async (fx) => {
      const c = await fx.alice();
      for (let i = 0; i < 6; i++) { // 600 ms in all: twice the timeout
        await sleep(100);
        assert.equal(await c.cmd("NOOP"), "+OK");
      }
      assert.equal(c.eof, false);
      await c.closed(2000);
    });
  });

  it("Pop3Session closes a connection that never logs in after loginTimeout", async () => {
    await withFixture({ loginTimeout: 50 }, async (fx) => {
      const c = await fx.connect();
      await c.closed(2000);
      await eventually(() => fx.server.conn.list().length === 0, "session end");
      assert.deepEqual(fx.storage.calls, []);
    });
  });

  it("Pop3Session ends on destroy('kill'): unlock once, no deletion", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      await c.cmd("DELE 1");
      await within(fx.server.destroy("kill"), 2000, "destroy");
      await c.closed();
      assert.equal(fx.storage.count("unlock"), 1);
      assert.equal(fx.storage.count("dele"), 0);
      assert.equal(fx.storage.inner.stat("alice"), 3);
    });
  });

  it("Pop3Session answers [SYS/TEMP] when dele fails and still unlocks", async () => {
    await withFixture({}, async (fx) => {
      fx.storage.faults.dele = "throw";
      const c = await fx.alice();
      await c.cmd("DELE 2");
      const reply = await c.cmd("QUIT");
      assert.match(reply, /^-ERR \[SYS\/TEMP\] /);
      assert.doesNotMatch(reply, /Injected/);
      await c.closed();
      assert.equal(fx.storage.count("dele"), 1);
      assert.equal(fx.storage.count("unlock"), 1);
      assert.equal(fx.storage.inner.isLocked("alice"), false);
      assert.match(String(fx.errors[0]), /Injected dele failure/);
    });
  });

  it("Pop3Session answers [SYS/TEMP] when dele rejects asynchronously and still unlocks", async () => {
    await withFixture({}, async (fx) => {
      fx.storage.async = true;
      fx.storage.faults.dele = "reject";
      const c = await fx.alice();
      await c.cmd("DELE 1");
      assert.match(await c.cmd("QUIT"), /^-ERR \[SYS\/TEMP\] /);
      await c.closed();
      assert.equal(fx.storage.count("unlock"), 1);
    });
  });

  it("Pop3Session turns storage failures into [SYS/TEMP] and goes on", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      for (
        const [method, fault, cmd] of [
          ["get", "throw", "RETR 1"],
          ["get", "reject", "TOP 1 0"],
          ["size", "throw", "LIST 2"],
          ["size", "reject", "DELE 3"],
          ["uidl", "throw", "UIDL 1"],
          ["uidl", "reject", "UIDL"],
        ] as const
      ) {
        fx.storage.faults[method] = fault;
        const reply = await c.cmd(cmd);
        assert.match(reply, /^-ERR \[SYS\/TEMP\] /, `${cmd}: ${reply}`);
        assert.doesNotMatch(reply, /Injected/);
        delete fx.storage.faults[method];
        assert.equal(await c.cmd("NOOP"), "+OK");
      }
      assert.equal(fx.errors.length, 6);
      assert.equal(await c.cmd("STAT"), `+OK 3 ${TOTAL}`);
      assert.deepEqual((await c.multi("LIST")).lines.length, 3);
      c.close();
    });
  });

  it("Pop3Session answers [SYS/TEMP] when a callback hangs past callbackTimeout", async () => {
    await withFixture({ callbackTimeout: 50 }, async (fx) => {
      const c = await fx.alice();
      fx.storage.faults.get = "hang";
      assert.match(await c.cmd("RETR 1"), /^-ERR \[SYS\/TEMP\] /);
      delete fx.storage.faults.get;
      assert.match((await c.multi("RETR 1")).status, /^\+OK/);
      c.close();
    });
  });

  it("Pop3Session unlocks when stat fails after a successful lock", async () => {
    await withFixture({}, async (fx) => {
      fx.storage.faults.stat = "throw";
      const c = await fx.connect();
      await c.cmd("USER alice");
      assert.match(await c.cmd("PASS secret"), /^-ERR \[SYS\/TEMP\] /);
      assert.equal(fx.storage.count("lock"), 1);
      assert.equal(fx.storage.count("unlock"), 1);
      delete fx.storage.faults.stat;
      await c.login("alice", "secret");
      assert.match(await c.cmd("QUIT"), /^\+OK/);
      await c.closed();
      assert.equal(fx.storage.count("lock"), 2);
      assert.equal(fx.storage.count("unlock"), 2);
    });
  });

  it("Pop3Session answers [SYS/TEMP] when lock throws, without unlocking", async () => {
    await withFixture({}, async (fx) => {
      fx.storage.faults.lock = "reject";
      const c = await fx.connect();
      await c.cmd("USER alice");
      assert.match(await c.cmd("PASS secret"), /^-ERR \[SYS\/TEMP\] /);
      c.close();
      await eventually(() => fx.server.conn.list().length === 0, "session end");
      assert.equal(fx.storage.count("unlock"), 0);
    });
  });

  it("Pop3Session works with async storage callbacks", async () => {
    await withFixture({}, async (fx) => {
      fx.storage.async = true;
      const c = await fx.alice();
      assert.equal(await c.cmd("STAT"), `+OK 3 ${TOTAL}`);
      assert.match((await c.multi("RETR 2")).status, /^\+OK/);
      await c.cmd("DELE 2");
      await c.cmd("QUIT");
      await c.closed();
      assert.deepEqual(
        fx.storage.calls.filter((x) => /^(dele|unlock)/.test(x)),
        ["dele alice 2", "unlock alice"],
      );
    });
  });
});
