import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually, withFixture } from "../_helpers/fixture.ts";
import { sleep, within } from "../_helpers/pop3_client.ts";
import {
  hardeningPair,
  LineClient,
  newSession,
  sessionOptions,
} from "../_helpers/hardening_pair.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import type { ResolvedOptions } from "../../src/server/options.ts";
import type { Pop3dEvent } from "../../src/session/events.ts";
import type { MaildropStore } from "../../src/storage/maildrop_handle.ts";
import type { Pop3dStorage } from "../../src/storage/types.ts";

const te = new TextEncoder();

describe("Pop3Session robustness", () => {
  for (const uidsStable of [undefined, true]) {
    it(
      `Pop3Session ${
        uidsStable
          ? "asks a handle with uidsStable again instead of keeping each id"
          : "asks a handle for each id once and keeps it"
      }`,
      async () => {
        let asked = 0;
        const body = te.encode("Subject: x\r\n\r\nbody\r\n");
        const store: MaildropStore<string> = {
          openMaildrop: () => ({
            count: 2,
            octets: 2 * body.length,
            uidsStable,
            size: () => body.length,
            uid: (n) => {
              asked++;
              return `uid-${n}`;
            },
            get: () => body,
            delete: (ids) => ids,
            close: () => {},
          }),
        };
        const [c, s] = hardeningPair();
        const done = newSession(
          1,
          s,
          sessionOptions<string>({
            auth: new MemoryAuth().addUser("alice", "pw"),
            storage: store as unknown as Pop3dStorage<string>,
          }),
        ).run();
        const client = new LineClient(c);
        await client.line();
        await client.cmd("USER alice");
        await client.cmd("PASS pw");
        for (let round = 0; round < 3; round++) {
          assert.match(await client.cmd("UIDL") ?? "", /^\+OK/);
          assert.deepEqual(await client.block(), ["1 uid-1", "2 uid-2"]);
        }
        await client.cmd("QUIT");
        await done;
        assert.equal(asked, uidsStable ? 6 : 2);
      },
    );
  }

  it("Pop3Session aborts a session's signal with one Error per close reason, not one per session", async () => {
    // A new Error per session (its stack trace) was a tenth of the
    // JavaScript a short session runs on Node.
    const signals: AbortSignal[] = [];
    const store: MaildropStore<string> = {
      openMaildrop: (_mbox, { signal }) => {
        signals.push(signal);
        return {
          count: 0,
          octets: 0,
          size: () => 0,
          uid: (n) => `uid-${n}`,
          get: () => new Uint8Array(0),
          delete: (ids) => ids,
          close: () => {},
        };
      },
    };
    const options = sessionOptions<string>({
      auth: new MemoryAuth().addUser("alice", "pw"),
      storage: store as unknown as Pop3dStorage<string>,
    });
    for (const [id, last] of [[1, "QUIT"], [2, "QUIT"], [3, ""]] as const) {
      const [c, s] = hardeningPair();
      const done = newSession(id, s, options).run();
      const client = new LineClient(c);
      await client.line();
      await client.cmd("USER alice");
      await client.cmd("PASS pw");
      if (last) await client.cmd(last);
      else c.close();
      await done;
    }
    assert.equal(signals.length, 3);
    assert.ok(signals.every((signal) => signal.aborted));
    const [quit, again, gone] = signals.map((signal) => signal.reason);
    assert.ok(quit instanceof Error);
    assert.equal(quit.message, "Session ended: quit");
    assert.equal(again, quit, "the same reason, the same Error");
    assert.equal((gone as Error).message, "Session ended: client");
    assert.ok(Object.isFrozen(quit), "shared, so nobody can change it");
  });

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

  it("Pop3Session tells the client and the logout event exactly what a partial delete removed", async () => {
    const { events, done, client, removed } = await storeSession(
      (ids) => ids.slice(0, 1),
    );
    assert.match(await client.cmd("DELE 1") ?? "", /^\+OK/);
    assert.match(await client.cmd("DELE 3") ?? "", /^\+OK/);
    assert.equal(
      await client.cmd("QUIT"),
      "-ERR [SYS/TEMP] 1 of 2 deleted messages were not removed",
    );
    await done;
    assert.deepEqual(removed, [[1, 3]]);
    const logout = events.find((e) => e.type === "logout");
    assert.equal(logout?.type === "logout" && logout.deleted, 1);
  });

  it("Pop3Session reports in the logout event a delete that finished after callbackTimeout", async () => {
    const { events, done, client } = await storeSession(
      (ids) => sleep(150).then(() => ids),
      { callbackTimeout: 100 },
    );
    assert.match(await client.cmd("DELE 2") ?? "", /^\+OK/);
    assert.match(await client.cmd("QUIT") ?? "", /^-ERR \[SYS\/TEMP\] /);
    await done;
    const logout = events.find((e) => e.type === "logout");
    assert.equal(logout?.type === "logout" && logout.deleted, 1);
  });
});

/** A session over a MaildropStore of three messages whose delete is `remove`. */
async function storeSession(
  remove: (
    ids: readonly number[],
  ) => readonly number[] | Promise<readonly number[]>,
  overrides: Partial<ResolvedOptions<string>> = {},
) {
  const removed: number[][] = [];
  const body = te.encode("Subject: x\r\n\r\nbody\r\n");
  const store: MaildropStore<string> = {
    openMaildrop: () => ({
      count: 3,
      octets: 3 * body.length,
      size: () => body.length,
      uid: (n) => `uid-${n}`,
      get: () => body,
      delete: (ids) => {
        removed.push([...ids]);
        return remove(ids);
      },
      close: () => {},
    }),
  };
  const events: Pop3dEvent[] = [];
  const [c, s] = hardeningPair();
  const session = newSession(
    1,
    s,
    sessionOptions<string>({
      auth: new MemoryAuth().addUser("alice", "pw"),
      storage: store as unknown as Pop3dStorage<string>,
      onEvent: (e) => events.push(e),
      ...overrides,
    }),
  );
  const done = session.run();
  const client = new LineClient(c);
  await client.line();
  await client.cmd("USER alice");
  assert.match(await client.cmd("PASS pw") ?? "", /^\+OK alice has 3/);
  return { events, done, client, removed };
}
