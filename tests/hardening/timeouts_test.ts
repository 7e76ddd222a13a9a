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

async function login(client: LineClient, user = "alice", pw = PASSWORD) {
  assert.match(await client.line() ?? "", /^\+OK /);
  assert.equal(await client.cmd(`USER ${user}`), "+OK");
  const reply = await client.cmd(`PASS ${pw}`);
  assert.match(reply ?? "", /^\+OK /);
}

const never = () => new Promise<never>(() => {});

/** A storage with one message of `size` octets, produced as a stream. */
function bigStorage(size: number): Pop3dStorage<string> {
  const line = new TextEncoder().encode("x".repeat(1022) + "\r\n");
  return {
    lock: () => true,
    unlock: () => {},
    stat: () => 1,
    size: () => size,
    get: () => {
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= size) return controller.close();
          controller.enqueue(line);
          sent += line.length;
        },
      }, { highWaterMark: 0 });
    },
    dele: () => {},
  };
}

describe("Pop3Session timeouts", () => {
  it("Pop3Session disconnects a client that sends nothing before loginTimeout", async () => {
    const { client, done } = startSession({ loginTimeout: 150 });
    const t0 = Date.now();
    assert.match(await client.line() ?? "", /^\+OK /);
    // RFC 1939 §3: autologout closes without a response.
    assert.equal(await client.line(), null);
    const took = Date.now() - t0;
    assert.ok(took >= 140 && took < 1000, `took ${took} ms`);
    await done;
  });

  it("Pop3Session disconnects an idle logged-in client, releases the lock and deletes nothing", async () => {
    const f = fixture();
    const { client, done } = startSession({
      auth: f.auth,
      storage: f.storage,
      loginTimeout: 60_000,
      idleTimeout: 200,
    });
    await login(client);
    assert.match(await client.cmd("DELE 1") ?? "", /^\+OK/);
    // Activity keeps the session alive past idleTimeout.
    for (let i = 0; i < 5; i++) {
      await delay(80);
      assert.equal(await client.cmd("NOOP"), "+OK");
    }
    const t0 = Date.now();
    // RFC 1939 §3: autologout closes without a response.
    assert.equal(await client.line(), null);
    const took = Date.now() - t0;
    assert.ok(took >= 150 && took < 1000, `took ${took} ms`);
    await done;
    assert.equal(f.locked(), 0);
    assert.equal(f.calls.unlock, 1);
    assert.equal(f.calls.dele ?? 0, 0);
    assert.equal(f.memory.stat("alice"), 3);
  });

  it("Pop3Session starts the idle clock after a reply, so a RETR longer than idleTimeout is not cut off", async () => {
    const f = fixture();
    const line = new TextEncoder().encode("s".repeat(1022) + "\r\n");
    const storage = {
      ...f.storage,
      size: (m: string, id?: number) =>
        id === 1 ? 12 * 1024 : f.storage.size(m, id),
      get: (m: string, id: number) => {
        if (id !== 1) return f.storage.get(m, id);
        let n = 0;
        return new ReadableStream<Uint8Array>({
          async pull(c) {
            await delay(40); // a slow disk: 12 chunks take about 500 ms
            if (n++ === 12) c.close();
            else c.enqueue(line);
          },
        }, { highWaterMark: 0 });
      },
    };
    const { client, done } = startSession({
      auth: f.auth,
      storage,
      idleTimeout: 250,
    });
    await login(client);
    assert.match(await client.cmd("RETR 1") ?? "", /^\+OK 12288 octets$/);
    assert.equal((await client.block()).length, 12);
    // Before the fix the idle clock ran from the RETR line, so the session
    // was cut at its next timer tick, most likely within this wait.
    await delay(230);
    assert.equal(await client.cmd("NOOP"), "+OK");
    assert.equal(await client.cmd("QUIT"), "+OK Bye");
    await done;
  });

  it("Pop3Session does not let a client trickling bytes without LF reset the idle clock", async () => {
    const f = fixture();
    const { client, done } = startSession({
      auth: f.auth,
      storage: f.storage,
      idleTimeout: 200,
    });
    await login(client);
    const t0 = Date.now();
    for (let i = 0; i < 8 && !client.eof; i++) {
      await client.send("N");
      await delay(60);
    }
    assert.equal(await client.line(), null);
    await within(1000, done, "session end");
    const took = Date.now() - t0;
    assert.ok(took < 450, `disconnected after ${took} ms`);
    assert.equal(f.locked(), 0);
  });

  it("Pop3Session answers -ERR [SYS/TEMP] when a storage callback never settles, and goes on", async () => {
    const f = fixture();
    const storage = {
      ...f.storage,
      size: (m: string, id?: number) =>
        id === 2 ? never() : f.storage.size(m, id),
    };
    const errors: unknown[] = [];
    const { client, done } = startSession({
      auth: f.auth,
      storage,
      callbackTimeout: 100,
      onError: (e) => errors.push(e),
    });
    await login(client);
    const t0 = Date.now();
    assert.match(await client.cmd("LIST 2") ?? "", /^-ERR \[SYS\/TEMP\] /);
    assert.ok(Date.now() - t0 >= 90);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /storage\.size/);
    assert.equal(await client.cmd("NOOP"), "+OK");
    assert.match(await client.cmd("LIST 1") ?? "", /^\+OK 1 \d+$/);
    assert.equal(await client.cmd("QUIT"), "+OK Bye");
    await done;
    assert.equal(f.locked(), 0);
  });

  it("Pop3Session answers -ERR [SYS/TEMP] when an auth callback never settles, and goes on", async () => {
    const f = fixture();
    let hang = true;
    const auth = {
      exists: (name: string) => hang ? never() : f.auth.exists(name),
      lookup: (name: string) => f.auth.lookup(name),
    };
    const { client, done } = startSession({
      auth,
      storage: f.storage,
      callbackTimeout: 100,
    });
    assert.match(await client.line() ?? "", /^\+OK /);
    assert.equal(await client.cmd("USER alice"), "+OK");
    assert.match(
      await client.cmd("PASS " + PASSWORD) ?? "",
      /^-ERR \[SYS\/TEMP\] /,
    );
    hang = false;
    assert.equal(await client.cmd("USER alice"), "+OK");
    assert.match(
      await client.cmd("PASS " + PASSWORD) ?? "",
      /^\+OK alice has 3/,
    );
    assert.equal(await client.cmd("QUIT"), "+OK Bye");
    await done;
    assert.equal(f.locked(), 0);
  });

  it("Pop3Session unlocks a lock that settles true after callbackTimeout", async () => {
    const f = fixture();
    const { storage, calls, locked } = countingStorage({
      ...f.memory,
      lock: (m: string) =>
        new Promise<boolean>((r) => setTimeout(() => r(f.memory.lock(m)), 200)),
      unlock: (m: string) => f.memory.unlock(m),
      stat: (m: string) => f.memory.stat(m),
      size: (m: string, id?: number) => f.memory.size(m, id),
      get: (m: string, id: number) => f.memory.get(m, id),
      dele: (m: string, ids: readonly number[]) => f.memory.dele(m, ids),
    });
    const { client, done } = startSession({
      auth: f.auth,
      storage,
      callbackTimeout: 50,
    });
    assert.match(await client.line() ?? "", /^\+OK /);
    assert.equal(await client.cmd("USER alice"), "+OK");
    assert.match(
      await client.cmd("PASS " + PASSWORD) ?? "",
      /^-ERR \[SYS\/TEMP\] /,
    );
    assert.match(await client.cmd("STAT") ?? "", /^-ERR /); // not logged in
    await delay(250);
    assert.equal(calls.lock, 1);
    assert.equal(calls.unlock, 1);
    assert.equal(locked(), 0);
    assert.equal(f.memory.isLocked("alice"), false);
    assert.equal(await client.cmd("QUIT"), "+OK Bye");
    await done;
    assert.equal(calls.unlock, 1);
  });

  it("Pop3Session closes a RETR whose message stream stalls, without the terminator, and unlocks", async () => {
    const f = fixture();
    const storage = {
      ...f.storage,
      size: () => 100_000,
      get: () =>
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode("Subject: stall\r\n\r\n"));
          },
          // Never enqueues more and never closes.
        }),
    };
    const { client, done } = startSession({
      auth: f.auth,
      storage: { ...f.storage, ...storage },
      callbackTimeout: 150,
    });
    await login(client);
    await client.send("RETR 1\r\n");
    await within(2000, done, "session end after a stalled stream");
    const rest = await client.rest();
    assert.doesNotMatch(rest, /\r\n\.\r\n/);
    assert.equal(f.locked(), 0);
    assert.equal(f.calls.unlock, 1);
  });

  it("Pop3Session closes the connection when the client stops reading for writeTimeout, and unlocks", async () => {
    const f = fixture();
    const { storage, calls, locked } = countingStorage(
      bigStorage(8 * 1024 * 1024),
    );
    const auth = f.auth;
    const { client, done } = startSession({
      auth,
      storage,
      idleTimeout: 60_000,
      writeTimeout: 200,
    });
    await login(client);
    // Let the session go back to waiting for a command (its timer then
    // points at the idle deadline), then stall during a big RETR.
    await delay(350);
    await client.send("RETR 1\r\n");
    client.pause();
    const t0 = Date.now();
    await within(3000, done, "session end after a write stall");
    const took = Date.now() - t0;
    assert.ok(took >= 150, `closed after ${took} ms`);
    assert.ok(client.bytes < 8 * 1024 * 1024, "whole message was buffered");
    assert.equal(locked(), 0);
    assert.equal(calls.unlock, 1);
    assert.equal(calls.dele ?? 0, 0);
  });
});
