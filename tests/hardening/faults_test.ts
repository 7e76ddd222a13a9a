import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Pop3dStorage } from "../../src/storage/types.ts";
import {
  countingStorage,
  delay,
  fixture,
  type LineClient,
  PASSWORD,
  startSession,
  within,
} from "../_helpers/hardening_pair.ts";

async function login(client: LineClient): Promise<void> {
  assert.match(await client.line() ?? "", /^\+OK /);
  assert.equal(await client.cmd("USER alice"), "+OK");
  assert.match(await client.cmd("PASS " + PASSWORD) ?? "", /^\+OK /);
}

/** A fixture whose storage has some methods replaced, still counted. */
function faulty(patch: Partial<Pop3dStorage<string>>) {
  const f = fixture();
  const m = f.memory;
  const counted = countingStorage<string>({
    lock: (x) => m.lock(x),
    unlock: (x) => m.unlock(x),
    stat: (x) => m.stat(x),
    size: (x, id) => m.size(x, id),
    get: (x, id) => m.get(x, id),
    dele: (x, ids) => m.dele(x, ids),
    ...patch,
  });
  const errors: unknown[] = [];
  const { client, done } = startSession({
    auth: f.auth,
    storage: counted.storage,
    callbackTimeout: 200,
    onError: (e) => errors.push(e),
  });
  return { ...f, ...counted, client, done, errors };
}

const encoder = new TextEncoder();

describe("Pop3Session with storage callbacks that return garbage", () => {
  for (
    const [what, bad] of [
      ["a negative size", -5],
      ["a string size", "12"],
      ["a fractional size", 1.5],
      ["NaN", NaN],
      ["undefined", undefined],
    ] as const
  ) {
    it(`Pop3Session answers -ERR [SYS/TEMP] to LIST and RETR when size returns ${what}`, async () => {
      const t = faulty({
        size: (m, id) =>
          id === 2 ? bad as unknown as number : t.memory.size(m, id),
      });
      await login(t.client);
      assert.equal(
        await t.client.cmd("LIST 2"),
        "-ERR [SYS/TEMP] Internal server error",
      );
      assert.equal(
        await t.client.cmd("RETR 2"),
        "-ERR [SYS/TEMP] Internal server error",
      );
      assert.ok(t.errors.length >= 1);
      assert.ok(t.errors.every((e) => e instanceof TypeError));
      assert.equal(await t.client.cmd("NOOP"), "+OK");
      assert.equal(await t.client.cmd("QUIT"), "+OK Bye");
      await t.done;
      assert.equal(t.calls.unlock, 1);
      assert.equal(t.locked(), 0);
    });
  }

  it("Pop3Session refuses the login and unlocks when stat returns a negative count", async () => {
    const t = faulty({ stat: () => -1 });
    assert.match(await t.client.line() ?? "", /^\+OK /);
    assert.equal(await t.client.cmd("USER alice"), "+OK");
    assert.equal(
      await t.client.cmd("PASS " + PASSWORD),
      "-ERR [SYS/TEMP] Internal server error",
    );
    assert.match(await t.client.cmd("STAT") ?? "", /^-ERR /);
    assert.equal(t.calls.lock, 1);
    assert.equal(t.calls.unlock, 1);
    assert.equal(await t.client.cmd("QUIT"), "+OK Bye");
    await t.done;
    assert.equal(t.calls.unlock, 1);
  });

  it("Pop3Session answers -ERR [SYS/TEMP] when get throws or returns a non-message", async () => {
    const t = faulty({
      get: (m, id) => {
        if (id === 1) throw new Error("disk on fire");
        if (id === 2) return 42 as unknown as string;
        return t.memory.get(m, id);
      },
    });
    await login(t.client);
    assert.equal(
      await t.client.cmd("RETR 1"),
      "-ERR [SYS/TEMP] Internal server error",
    );
    assert.equal(
      await t.client.cmd("TOP 2 0"),
      "-ERR [SYS/TEMP] Internal server error",
    );
    assert.match(await t.client.cmd("RETR 3") ?? "", /^\+OK \d+ octets$/);
    assert.match((await t.client.block()).join("\n"), /Body 3/);
    assert.equal(await t.client.cmd("QUIT"), "+OK Bye");
    await t.done;
    assert.equal(t.errors.length, 2);
  });

  for (
    const [what, size] of [["smaller", 10], ["larger", 10_000]] as const
  ) {
    it(`Pop3Session closes without the terminator when size is ${what} than the bytes`, async () => {
      const t = faulty({
        size: (m, id) => id === 1 ? size : t.memory.size(m, id),
      });
      await login(t.client);
      assert.match(await t.client.cmd("DELE 2") ?? "", /^\+OK/);
      await t.client.send("RETR 1\r\n");
      await within(1000, t.done, "session end");
      const rest = await t.client.rest();
      assert.doesNotMatch(rest, /\r\n\.\r\n/);
      assert.equal(t.calls.unlock, 1);
      assert.equal(t.calls.dele ?? 0, 0);
      assert.equal(t.memory.stat("alice"), 3);
      assert.ok(t.errors.some((e) => e instanceof RangeError));
    });
  }

  it("Pop3Session closes without the terminator when the message stream errors half way", async () => {
    const chunk = encoder.encode("y".repeat(1022) + "\r\n");
    const t = faulty({
      size: (m, id) => id === 1 ? 1024 * 1024 : t.memory.size(m, id),
      get: (m, id) => {
        if (id !== 1) return t.memory.get(m, id);
        let n = 0;
        return new ReadableStream<Uint8Array>({
          pull(c) {
            if (++n > 200) c.error(new Error("read failed at 200 KiB"));
            else c.enqueue(chunk);
          },
        });
      },
    });
    await login(t.client);
    await t.client.send("RETR 1\r\n");
    await within(1000, t.done, "session end");
    const rest = await t.client.rest();
    assert.match(rest, /^\+OK 1048576 octets\r\n/);
    assert.ok(rest.length > 64 * 1024, "part of the message was sent");
    assert.doesNotMatch(rest, /\r\n\.\r\n/);
    assert.equal(t.calls.unlock, 1);
    assert.match(String(t.errors[0]), /read failed/);
  });

  it("Pop3Session closes without the terminator when the stream yields a non-byte chunk", async () => {
    const t = faulty({
      get: (m, id) =>
        id === 1
          ? new ReadableStream({
            start(c) {
              c.enqueue("text, not bytes" as unknown as Uint8Array);
              c.close();
            },
          })
          : t.memory.get(m, id),
    });
    await login(t.client);
    await t.client.send("RETR 1\r\n");
    await within(1000, t.done, "session end");
    assert.doesNotMatch(await t.client.rest(), /\r\n\.\r\n/);
    assert.equal(t.calls.unlock, 1);
  });

  it("Pop3Session answers -ERR [SYS/TEMP] to UIDL when the stream to digest stalls", async () => {
    const t = faulty({
      get: (m, id) => id === 1 ? new ReadableStream() : t.memory.get(m, id),
    });
    await login(t.client);
    assert.match(await t.client.cmd("UIDL 1") ?? "", /^-ERR \[SYS\/TEMP\] /);
    assert.match(await t.client.cmd("UIDL 2") ?? "", /^\+OK 2 [0-9a-f]{32}$/);
    assert.equal(await t.client.cmd("QUIT"), "+OK Bye");
    await t.done;
  });

  it("Pop3Session reports a failing dele at QUIT, unlocks once and says so", async () => {
    const t = faulty({
      dele: () => {
        throw new Error("read-only file system");
      },
    });
    await login(t.client);
    assert.match(await t.client.cmd("DELE 1") ?? "", /^\+OK/);
    assert.equal(
      await t.client.cmd("QUIT"),
      "-ERR [SYS/TEMP] Some deleted messages were not removed",
    );
    assert.equal(await t.client.line(), null);
    await t.done;
    assert.equal(t.calls.unlock, 1);
    assert.equal(t.memory.stat("alice"), 3);
  });

  it("Pop3Session goes on when onError and onEvent throw", async () => {
    const f = fixture();
    const { client, done } = startSession({
      auth: f.auth,
      storage: { ...f.storage, size: () => -1 },
      onError: () => {
        throw new Error("bad hook");
      },
      onEvent: () => {
        throw new Error("bad hook");
      },
    });
    assert.match(await client.line() ?? "", /^\+OK /);
    assert.equal(await client.cmd("USER alice"), "+OK");
    assert.match(await client.cmd("PASS " + PASSWORD) ?? "", /^-ERR \[SYS/);
    assert.equal(await client.cmd("QUIT"), "+OK Bye");
    await done;
  });
});

describe("Pop3Session when the client drops", () => {
  it("Pop3Session ends cleanly when the client drops before reading the greeting", async () => {
    const t = faulty({});
    t.client.drop();
    await within(1000, t.done, "session end");
    assert.equal(t.calls.lock ?? 0, 0);
    assert.equal(t.errors.length, 0);
  });

  it("Pop3Session ends cleanly when the client drops in the middle of AUTH", async () => {
    const t = faulty({});
    assert.match(await t.client.line() ?? "", /^\+OK /);
    assert.match(await t.client.cmd("AUTH PLAIN") ?? "", /^\+ ?$/);
    t.client.drop();
    await within(1000, t.done, "session end");
    // Dropped before the server could write its challenge.
    const u = faulty({});
    assert.match(await u.client.line() ?? "", /^\+OK /);
    await u.client.send("CAPA\r\nAUTH PLAIN\r\n");
    u.client.drop();
    await within(1000, u.done, "session end");
    assert.deepEqual(u.errors, []);
    await within(1000, t.done, "session end");
    assert.equal(t.calls.lock ?? 0, 0);
    assert.deepEqual(t.errors, []);
  });

  it("Pop3Session ends cleanly when the client drops after USER", async () => {
    const t = faulty({});
    assert.match(await t.client.line() ?? "", /^\+OK /);
    assert.equal(await t.client.cmd("USER alice"), "+OK");
    t.client.drop();
    await within(1000, t.done, "session end");
    assert.equal(t.calls.lock ?? 0, 0);
  });

  it("Pop3Session deletes nothing and unlocks once when the client drops after DELE", async () => {
    const t = faulty({});
    await login(t.client);
    assert.match(await t.client.cmd("DELE 1") ?? "", /^\+OK/);
    await t.client.send("DELE 2\r\nQU");
    await delay(10);
    t.client.drop();
    await within(1000, t.done, "session end");
    assert.equal(t.calls.dele ?? 0, 0);
    assert.equal(t.calls.unlock, 1);
    assert.equal(t.memory.stat("alice"), 3);
  });

  it("Pop3Session deletes nothing and unlocks once when the client drops mid-RETR", async () => {
    const t = faulty({
      size: (m, id) => id === 1 ? 4 * 1024 * 1024 : t.memory.size(m, id),
      get: (m, id) => {
        if (id !== 1) return t.memory.get(m, id);
        const line = encoder.encode("z".repeat(1022) + "\r\n");
        let n = 0;
        return new ReadableStream<Uint8Array>({
          pull(c) {
            if (n++ === 4096) c.close();
            else c.enqueue(line);
          },
        }, { highWaterMark: 0 });
      },
    });
    await login(t.client);
    assert.match(await t.client.cmd("DELE 2") ?? "", /^\+OK/);
    t.client.whenReceived(200_000, () => t.client.drop());
    await t.client.send("RETR 1\r\n");
    await within(1000, t.done, "session end");
    assert.equal(t.calls.dele ?? 0, 0);
    assert.equal(t.calls.unlock, 1);
    assert.equal(t.memory.stat("alice"), 3);
    assert.ok(t.client.bytes < 1024 * 1024, "dropped mid-RETR");
    assert.deepEqual(t.errors, []);
  });

  it("Pop3Session commits once QUIT was read even if the client drops before the reply", async () => {
    const t = faulty({});
    await login(t.client);
    await t.client.send("DELE 1\r\nQUIT\r\n");
    t.client.drop();
    await within(1000, t.done, "session end");
    assert.equal(t.calls.dele, 1);
    assert.equal(t.calls.unlock, 1);
    assert.equal(t.memory.stat("alice"), 2);
  });

  it("Pop3Session unlocks once when the client drops while lock is pending", async () => {
    const t = faulty({
      lock: (m) =>
        new Promise((r) => setTimeout(() => r(t.memory.lock(m)), 100)),
    });
    assert.match(await t.client.line() ?? "", /^\+OK /);
    assert.equal(await t.client.cmd("USER alice"), "+OK");
    await t.client.send("PASS " + PASSWORD + "\r\n");
    await delay(20);
    t.client.drop();
    await within(1000, t.done, "session end");
    assert.equal(t.calls.lock, 1);
    assert.equal(t.calls.unlock, 1);
    assert.equal(t.memory.isLocked("alice"), false);
  });

  it("Pop3Session unlocks once when the client drops while dele is pending after QUIT", async () => {
    const t = faulty({
      dele: (m, ids) =>
        new Promise((r) => setTimeout(() => r(t.memory.dele(m, ids)), 100)),
    });
    await login(t.client);
    await t.client.send("DELE 1\r\nQUIT\r\n");
    await delay(20);
    t.client.drop();
    await within(1000, t.done, "session end");
    assert.equal(t.calls.dele, 1);
    assert.equal(t.calls.unlock, 1);
    assert.equal(t.memory.stat("alice"), 2);
  });
});
