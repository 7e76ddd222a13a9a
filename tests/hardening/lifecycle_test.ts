import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import {
  countingStorage,
  delay,
  LineClient,
  MemoryListener,
  trackTimers,
  within,
} from "../_helpers/hardening_pair.ts";

const USERS = 40;

async function loadedServer(options: { callbackTimeout?: number } = {}) {
  const auth = new MemoryAuth();
  const memory = new MemoryStorage();
  const big = "Subject: big\r\n\r\n" + "b".repeat(1000) + "\r\n";
  for (let i = 0; i < USERS; i++) {
    auth.addUser(`u${i}`, `pw${i}`);
    memory.deliver(`u${i}`, `Subject: ${i}\r\n\r\nsmall ${i}\r\n`);
    for (let j = 0; j < 200; j++) memory.deliver(`u${i}`, big);
  }
  const counted = countingStorage(memory);
  const listener = new MemoryListener();
  const errors: unknown[] = [];
  const server = new Pop3d({
    auth,
    storage: counted.storage,
    socket: () => listener,
    authFailureDelay: 0,
    authPenalty: false,
    plaintextAuth: "always",
    onError: (e) => errors.push(e),
    ...options,
  });
  await server.up();
  return { server, listener, memory, errors, ...counted };
}

async function logIn(c: LineClient, i: number): Promise<void> {
  assert.match(await c.line() ?? "", /^\+OK /);
  assert.equal(await c.cmd(`USER u${i}`), "+OK");
  assert.match(await c.cmd(`PASS pw${i}`) ?? "", /^\+OK /);
}

describe("Pop3d.destroy under load", () => {
  it('Pop3d destroy("kill") ends every session at once: no locks, timers or deletions left', async () => {
    const timers = trackTimers();
    try {
      const t = await loadedServer();
      const clients: LineClient[] = [];
      for (let i = 0; i < USERS; i++) {
        const c = new LineClient(t.listener.connect(`10.0.0.${i % 7}`));
        clients.push(c);
        await logIn(c, i);
        assert.match(await c.cmd("DELE 1") ?? "", /^\+OK/);
        if (i % 3 === 0) {
          // A client that stalls mid-RETR of a 200 KB listing.
          c.pause();
          await c.send("RETR 2\r\nLIST\r\nRETR 3\r\n");
        } else if (i % 3 === 1) {
          await c.send("LIST\r\n"); // pipelined, unread
        }
      }
      // Plus clients that are still in the AUTHORIZATION state.
      for (let i = 0; i < 10; i++) {
        const c = new LineClient(t.listener.connect("10.0.1.1"));
        clients.push(c);
        assert.match(await c.line() ?? "", /^\+OK /);
        await c.send("USER nobody\r\n");
      }
      await delay(20);
      assert.equal(t.server.conn.list().length, USERS + 10);
      assert.ok(t.locked() === USERS);
      // The tracker sees the sessions' timers: the one shared deadline
      // timer at least, plus the stalled RETRs' write and callback clocks.
      assert.ok(timers.live().length >= 1, "timers are tracked");
      const t0 = Date.now();
      await within(1000, t.server.destroy("kill"), 'destroy("kill")');
      const took = Date.now() - t0;
      for (const c of clients) c.resume();
      await Promise.all(
        clients.map((c) => within(1000, c.closed, "client EOF")),
      );
      assert.equal(t.server.state, "destroyed");
      assert.deepEqual(t.server.conn.list(), []);
      assert.equal(t.locked(), 0);
      assert.equal(t.calls.unlock, USERS);
      assert.equal(t.calls.dele ?? 0, 0);
      for (let i = 0; i < USERS; i++) assert.equal(t.memory.stat(`u${i}`), 201);
      assert.deepEqual(t.errors, []);
      await delay(30);
      assert.deepEqual(timers.live(), []);
      assert.ok(took < 500, `destroy took ${took} ms`);
    } finally {
      timers.restore();
    }
  });

  it('Pop3d destroy("defer") resolves only when the last session ends, and every QUIT commits', async () => {
    const timers = trackTimers();
    try {
      const t = await loadedServer();
      const clients: LineClient[] = [];
      for (let i = 0; i < USERS; i++) {
        const c = new LineClient(t.listener.connect());
        clients.push(c);
        await logIn(c, i);
        assert.match(await c.cmd("DELE 1") ?? "", /^\+OK/);
      }
      let resolved = false;
      const deferred = t.server.destroy("defer").then(() => resolved = true);
      await delay(50);
      assert.equal(resolved, false);
      assert.equal(t.server.conn.list().length, USERS);
      for (let i = 0; i < USERS; i++) {
        const c = clients[i];
        // Sessions keep working while the server drains.
        assert.match(await c.cmd("RETR 2") ?? "", /^\+OK \d+ octets$/);
        assert.equal((await c.block()).length, 3);
        assert.equal(await c.cmd("QUIT"), "+OK Bye");
        await c.closed;
        await delay(1);
        assert.equal(resolved, i === USERS - 1 ? resolved : false);
      }
      await within(1000, deferred, 'destroy("defer")');
      assert.equal(resolved, true);
      assert.equal(t.locked(), 0);
      assert.equal(t.calls.dele, USERS);
      for (let i = 0; i < USERS; i++) assert.equal(t.memory.stat(`u${i}`), 200);
      await delay(30);
      assert.deepEqual(timers.live(), []);
    } finally {
      timers.restore();
    }
  });

  it('Pop3d destroy("kill") after destroy("defer") ends the remaining sessions', async () => {
    const t = await loadedServer();
    const c = new LineClient(t.listener.connect());
    await logIn(c, 0);
    const deferred = t.server.destroy("defer");
    await delay(10);
    assert.equal(t.server.conn.list().length, 1);
    const killed = t.server.destroy("kill");
    await within(1000, Promise.all([deferred, killed]), "destroy");
    await c.closed;
    assert.equal(t.locked(), 0);
    assert.equal(t.memory.stat("u0"), 201);
  });

  it('Pop3d destroy("kill") does not wait for a hung storage callback, and leaves no lock or timer', async () => {
    const timers = trackTimers();
    try {
      const t = await loadedServer({ callbackTimeout: 10_000 });
      const c = new LineClient(t.listener.connect());
      await logIn(c, 0);
      t.storage.size = () => new Promise(() => {}); // hangs for good
      await c.send("LIST 1\r\n");
      await delay(20);
      const t0 = Date.now();
      await within(2000, t.server.destroy("kill"), 'destroy("kill")');
      const took = Date.now() - t0;
      assert.ok(took < 300, `destroy took ${took} ms`);
      assert.equal(t.locked(), 0);
      assert.equal(t.calls.unlock, 1);
      assert.deepEqual(t.errors, []);
      await c.closed;
      await delay(30);
      assert.deepEqual(timers.live(), []);
    } finally {
      timers.restore();
    }
  });

  it('Pop3d destroy("kill") does not wait for a pending lock, and unlocks it when it settles', async () => {
    const t = await loadedServer({ callbackTimeout: 10_000 });
    let settle: (ok: boolean) => void = () => {};
    const inner = t.storage.lock;
    t.storage.lock = (m) => {
      return new Promise<boolean>((resolve) => {
        settle = (ok) => resolve(ok ? inner(m) : false);
      });
    };
    const c = new LineClient(t.listener.connect());
    assert.match(await c.line() ?? "", /^\+OK /);
    assert.equal(await c.cmd("USER u0"), "+OK");
    await c.send("PASS pw0\r\n");
    await delay(20);
    const t0 = Date.now();
    await within(2000, t.server.destroy("kill"), 'destroy("kill")');
    assert.ok(Date.now() - t0 < 300, "destroy waited for the lock");
    settle(true);
    await delay(20);
    assert.equal(t.memory.isLocked("u0"), false);
    assert.equal(t.locked(), 0);
    assert.deepEqual(t.errors, []);
  });

  it('Pop3d destroy("kill") does not wait out authFailureDelay', async () => {
    const timers = trackTimers();
    try {
      const t = await loadedServer();
      t.server.configure({ authFailureDelay: 30_000 });
      const c = new LineClient(t.listener.connect());
      assert.match(await c.line() ?? "", /^\+OK /);
      assert.equal(await c.cmd("USER u0"), "+OK");
      await c.send("PASS wrong\r\n");
      await delay(20);
      const t0 = Date.now();
      await within(2000, t.server.destroy("kill"), 'destroy("kill")');
      assert.ok(Date.now() - t0 < 300, "destroy waited for the delay");
      await c.closed;
      await delay(30);
      assert.deepEqual(timers.live(), []);
    } finally {
      timers.restore();
    }
  });
});
