import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually, withFixture } from "../_helpers/fixture.ts";
import { sleep, within } from "../_helpers/pop3_client.ts";

const te = new TextEncoder();

describe("Pop3Session robustness", () => {
  it("Pop3Session keeps its message numbers when mail arrives during the session", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      const stat = await c.cmd("STAT");
      fx.storage.inner.deliver("alice", "Subject: new\r\n\r\nlate\r\n");
      assert.equal(await c.cmd("STAT"), stat);
      assert.equal((await c.multi("LIST")).lines.length, 3);
      assert.match(await c.cmd("RETR 4"), /^-ERR/);
      await c.cmd("DELE 3");
      await c.cmd("QUIT");
      await c.closed();
      const left = fx.storage.inner.messages("alice");
      assert.equal(left.length, 3);
      assert.match(new TextDecoder().decode(left[2].bytes), /late/);
      const d = await fx.alice();
      assert.match(await d.cmd("STAT"), /^\+OK 3 /);
      d.close();
    });
  });

  it("Pop3Session shows the UPDATE state while dele runs, and unlocks only after dele settled", async () => {
    await withFixture({ callbackTimeout: 200 }, async (fx) => {
      const c = await fx.alice();
      await c.cmd("DELE 1");
      const dele = fx.storage.dele.bind(fx.storage);
      let deleting = false;
      fx.storage.dele = (mbox: string, ids: readonly number[]) => {
        deleting = true;
        return sleep(700).then(() => dele(mbox, ids));
      };
      await c.send("QUIT");
      const [id] = fx.server.conn.list();
      await eventually(() => deleting, "dele call");
      assert.equal(fx.server.conn.state(id).state, "update");
      assert.match(await c.line(), /^-ERR \[SYS\/TEMP\]/);
      await c.closed();
      // dele is still removing messages: another session must not get in.
      assert.equal(fx.storage.count("unlock"), 0);
      await eventually(() => fx.storage.count("dele") === 1, "dele done");
      await eventually(() => fx.storage.count("unlock") === 1, "unlock");
    });
  });

  it("Pop3Session unlocks a lock that succeeds after callbackTimeout", async () => {
    await withFixture({ callbackTimeout: 50 }, async (fx) => {
      const lock = fx.storage.lock.bind(fx.storage);
      fx.storage.lock = (mbox: string) =>
        sleep(150).then(() => lock(mbox) as boolean);
      const c = await fx.connect();
      await c.cmd("USER alice");
      assert.match(await c.cmd("PASS secret"), /^-ERR \[SYS\/TEMP\]/);
      await eventually(() => fx.storage.count("unlock") === 1, "late unlock");
      assert.equal(fx.storage.inner.isLocked("alice"), false);
      c.close();
    });
  });

  it("Pop3Session drops a client that stops reading, after writeTimeout", async () => {
    await withFixture({ writeTimeout: 100 }, async (fx) => {
      fx.storage.source = () => new Uint8Array(4_000_000).fill(0x61);
      fx.storage.inner.clear("alice");
      fx.storage.inner.deliver("alice", new Uint8Array(4_000_000).fill(0x61));
      const client = fx.listener.connect();
      const reader = client.readable.getReader();
      const writer = client.writable.getWriter();
      await reader.read();
      await writer.write(te.encode("USER alice\r\nPASS secret\r\nRETR 1\r\n"));
      await reader.read();
      // Stop reading. The session must give up and release the lock.
      await eventually(
        () => fx.server.conn.list().length === 0,
        "session end",
        3000,
      );
      assert.equal(fx.storage.count("unlock"), 1);
      client.close();
    });
  });

  it("Pop3Session destroy('kill') does not wait for a hung storage callback", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      fx.storage.faults.get = "hang";
      await c.send("RETR 1");
      await eventually(() => fx.storage.count("get") === 1, "get call");
      const start = Date.now();
      await within(fx.server.destroy("kill"), 3000, "destroy kill");
      assert.ok(Date.now() - start < 3000);
      await c.closed();
    });
  });

  it("Pop3Session unlocks a lock that succeeds after the session was killed", async () => {
    await withFixture({}, async (fx) => {
      const lock = fx.storage.lock.bind(fx.storage);
      let asked = false;
      fx.storage.lock = (mbox: string) => {
        asked = true;
        return sleep(200).then(() => lock(mbox) as boolean);
      };
      const c = await fx.connect();
      await c.cmd("USER alice");
      await c.send("PASS secret");
      await eventually(() => asked, "lock call");
      await within(fx.server.destroy("kill"), 150, "destroy kill");
      await c.closed();
      assert.equal(fx.storage.count("unlock"), 0);
      await eventually(() => fx.storage.count("unlock") === 1, "late unlock");
      assert.equal(fx.storage.inner.isLocked("alice"), false);
      await sleep(50);
      assert.equal(fx.storage.count("stat"), 0, "no work after the kill");
    });
  });

  it("Pop3Session killed during a slow dele keeps the lock until dele settles, then unlocks once", async () => {
    await withFixture({ callbackTimeout: 300 }, async (fx) => {
      const c = await fx.alice();
      await c.cmd("DELE 1");
      const dele = fx.storage.dele.bind(fx.storage);
      let deleting = false;
      fx.storage.dele = (mbox: string, ids: readonly number[]) => {
        deleting = true;
        return sleep(1500).then(() => dele(mbox, ids));
      };
      await c.send("QUIT");
      await eventually(() => deleting, "dele call");
      const destroyed = fx.server.destroy("kill");
      await c.closed();
      // dele may still be changing the maildrop: unlocking now would let
      // another session in while it does.
      await within(destroyed, 1000, "destroy kill after callbackTimeout");
      assert.equal(fx.storage.count("unlock"), 0);
      await eventually(() => fx.storage.count("dele") === 1, "dele done");
      await eventually(() => fx.storage.count("unlock") === 1, "unlock");
    });
  });

  it("Pop3Session never unlocks while a hung dele may still run", async () => {
    await withFixture({ callbackTimeout: 200 }, async (fx) => {
      const c = await fx.alice();
      await c.cmd("DELE 1");
      fx.storage.faults.dele = "hang";
      await c.send("QUIT");
      assert.match(await c.line(), /^-ERR \[SYS\/TEMP\]/);
      await c.closed();
      await within(fx.server.destroy("kill"), 1000, "destroy kill");
      await sleep(300);
      assert.equal(fx.storage.count("unlock"), 0);
    });
  });
});
