import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Pop3d } from "../../src/server/pop3d.ts";
import type { Pop3dOptions } from "../../src/server/options.ts";
import type { Pop3dStorage } from "../../src/storage/types.ts";
import { defaultSocket } from "../../src/transport/default_socket.ts";
import {
  countingStorage,
  delay,
  fixture,
  PASSWORD,
  within,
} from "../_helpers/hardening_pair.ts";
import { NetClient, refused } from "../_helpers/hardening_net_client.ts";

/** Whether this runtime's default TCP adapter exists yet (Deno now; Bun and Node later). */
async function adapterWorks(): Promise<boolean> {
  try {
    const listener = await defaultSocket({ hostname: "127.0.0.1", port: 0 });
    await listener.close();
    return true;
  } catch {
    return false;
  }
}
const skip = !(await adapterWorks())
  ? "the default socket adapter of this runtime is not written yet"
  : false;

async function start(options: Pop3dOptions<string> = {}) {
  const f = fixture();
  const errors: unknown[] = [];
  const server = new Pop3d<string>({
    hostname: "127.0.0.1",
    port: 0,
    auth: f.auth,
    storage: f.storage,
    authFailureDelay: 0,
    authPenalty: false,
    onError: (e) => errors.push(e),
    ...options,
  });
  await server.up();
  const port = server.cget("port") as number;
  return { ...f, server, port, errors };
}

/** Two messages of `size` octets each, made of 1 KiB lines, produced lazily. */
function hugeMessage(size: number): Pop3dStorage<string> {
  const line = new TextEncoder().encode("h".repeat(1022) + "\r\n");
  return {
    lock: () => true,
    unlock: () => {},
    stat: () => 2,
    size: (_m, id) => id === undefined ? 2 * size : size,
    get: () => {
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent >= size) return c.close();
          c.enqueue(line);
          sent += line.length;
        },
      }, { highWaterMark: 0 });
    },
    dele: () => {},
  };
}

describe("Pop3d on 127.0.0.1 with node:net clients", { skip }, () => {
  it("Pop3d refuses connections over maxConnections once all are logged in", async () => {
    const t = await start({ maxConnections: 2 });
    try {
      const clients = await Promise.all(
        [0, 1].map(() => NetClient.connect(t.port)),
      );
      await clients[0].login("alice", PASSWORD);
      await clients[1].login("bob", "bob-pw");
      const extra = await NetClient.connect(t.port);
      assert.equal(
        await extra.line(),
        "-ERR [SYS/TEMP] Too many connections, try again later",
      );
      assert.equal(await extra.line(), null);
      assert.equal(await clients[0].cmd("QUIT"), "+OK Bye");
      await clients[0].closed;
      await delay(20);
      const again = await NetClient.connect(t.port);
      assert.match(await again.line() ?? "", /^\+OK /);
      for (const c of [...clients, again]) c.destroy();
    } finally {
      await t.server.destroy("kill");
    }
  });

  it("Pop3d refuses connections over maxConnectionsPerAddress once all from there are logged in", async () => {
    const t = await start({ maxConnectionsPerAddress: 2 });
    try {
      const a = await NetClient.connect(t.port);
      const b = await NetClient.connect(t.port);
      await a.login("alice", PASSWORD);
      await b.login("bob", "bob-pw");
      const c = await NetClient.connect(t.port);
      assert.equal(
        await c.line(),
        "-ERR [SYS/TEMP] Too many connections from your address",
      );
      assert.equal(await c.line(), null);
      a.destroy();
      b.destroy();
    } finally {
      await t.server.destroy("kill");
    }
  });

  it("Pop3d lets another client log in while one waits out authFailureDelay", async () => {
    const t = await start({ authFailureDelay: 500 });
    try {
      const a = await NetClient.connect(t.port);
      const b = await NetClient.connect(t.port);
      assert.match(await a.line() ?? "", /^\+OK /);
      assert.equal(await a.cmd("USER alice"), "+OK");
      const t0 = Date.now();
      const failed = a.cmd("PASS wrong").then((line) => ({
        line,
        ms: Date.now() - t0,
      }));
      await delay(30);
      await b.login("bob", "bob-pw");
      assert.match(await b.cmd("RETR 1") ?? "", /^\+OK/);
      await b.block();
      assert.equal(await b.cmd("QUIT"), "+OK Bye");
      const bMs = Date.now() - t0;
      const aFailed = await failed;
      assert.equal(aFailed.line, "-ERR [AUTH] Authentication failed");
      assert.ok(aFailed.ms >= 480, `failure after ${aFailed.ms} ms`);
      assert.ok(bMs < 400, `other login took ${bMs} ms`);
      a.destroy();
    } finally {
      await t.server.destroy("kill");
    }
  });

  it("Pop3d keeps memory bounded when a client sends 100 MB without LF", async () => {
    const t = await start();
    try {
      const c = await NetClient.connect(t.port);
      assert.match(await c.line() ?? "", /^\+OK /);
      const chunk = new Uint8Array(1024 * 1024).fill(0x42);
      // Earlier tests in this process may have left a large heap, and Bun
      // paces its collector by the heap's size: start from a collected one.
      (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun?.gc(true);
      const before = process.memoryUsage().rss;
      let peak = before;
      for (let i = 0; i < 100; i++) {
        await c.send(chunk);
        if (i % 10 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      }
      assert.equal(await c.cmd(""), "-ERR Command line too long");
      peak = Math.max(peak, process.memoryUsage().rss);
      assert.equal(await c.cmd("QUIT"), "+OK Bye");
      assert.ok(
        peak - before < 64 * 1024 * 1024,
        `RSS grew by ${((peak - before) / 1048576).toFixed(1)} MB`,
      );
    } finally {
      await t.server.destroy("kill");
    }
  });

  it("Pop3d closes a client that stops reading after writeTimeout and unlocks", async () => {
    const counted = countingStorage(hugeMessage(256 * 1024 * 1024));
    const t = await start({
      storage: counted.storage,
      writeTimeout: 300,
      idleTimeout: 60_000,
    });
    try {
      const c = await NetClient.connect(t.port);
      await c.login("alice", PASSWORD);
      await delay(400); // the session timer now points at the idle deadline
      c.socket.pause();
      await c.send("RETR 1\r\n");
      const t0 = Date.now();
      while (t.server.conn.list().length > 0) {
        assert.ok(Date.now() - t0 < 5000, "session still open after 5 s");
        await delay(20);
      }
      assert.equal(counted.locked(), 0);
      assert.equal(counted.calls.unlock, 1);
      c.destroy();
    } finally {
      await t.server.destroy("kill");
    }
  });

  it("Pop3d deletes nothing and unlocks once when a client drops mid-RETR", async () => {
    const inner = hugeMessage(32 * 1024 * 1024);
    const counted = countingStorage(inner);
    const t = await start({ storage: counted.storage });
    try {
      const c = await NetClient.connect(t.port);
      await c.login("alice", PASSWORD);
      assert.match(await c.cmd("DELE 2") ?? "", /^\+OK/);
      await c.send("RETR 1\r\n");
      while (c.bytes < 1024 * 1024) await delay(1);
      c.destroy();
      const t0 = Date.now();
      while (t.server.conn.list().length > 0) {
        assert.ok(Date.now() - t0 < 3000, "session still open");
        await delay(10);
      }
      assert.equal(counted.calls.dele ?? 0, 0);
      assert.equal(counted.calls.unlock, 1);
      assert.deepEqual(t.errors, []);
    } finally {
      await t.server.destroy("kill");
    }
  });

  it('Pop3d destroy("defer") refuses new connections and resolves after the last QUIT', async () => {
    const t = await start();
    const a = await NetClient.connect(t.port);
    const b = await NetClient.connect(t.port);
    await a.login("alice", PASSWORD);
    await b.login("bob", "bob-pw");
    let resolved = false;
    const deferred = t.server.destroy("defer").then(() => resolved = true);
    await delay(50);
    assert.equal(await refused(t.port), true);
    assert.match(await a.cmd("DELE 1") ?? "", /^\+OK/);
    assert.equal(await a.cmd("QUIT"), "+OK Bye");
    await delay(50);
    assert.equal(resolved, false);
    assert.match(await b.cmd("STAT") ?? "", /^\+OK 3 /);
    assert.equal(await b.cmd("QUIT"), "+OK Bye");
    await within(1000, deferred, 'destroy("defer")');
    assert.equal(t.memory.stat("alice"), 2);
    assert.equal(t.locked(), 0);
  });

  it('Pop3d destroy("kill") closes 50 busy connections at once and leaves no lock', async () => {
    const t = await start();
    for (let i = 0; i < 50; i++) {
      t.auth.addUser(`k${i}`, "pw");
      for (let j = 0; j < 3; j++) {
        t.memory.deliver(`k${i}`, "x".repeat(200_000));
      }
    }
    const clients = await Promise.all(
      Array.from({ length: 50 }, () => NetClient.connect(t.port)),
    );
    await Promise.all(clients.map((c, i) => c.login(`k${i}`, "pw")));
    for (const [i, c] of clients.entries()) {
      if (i % 2 === 0) c.socket.pause();
      await c.send("DELE 1\r\nRETR 2\r\nRETR 3\r\n");
    }
    await delay(50);
    const t0 = Date.now();
    await within(2000, t.server.destroy("kill"), 'destroy("kill")');
    const took = Date.now() - t0;
    for (const c of clients) c.socket.resume();
    await within(2000, Promise.all(clients.map((c) => c.closed)), "closes");
    assert.ok(took < 1000, `destroy took ${took} ms`);
    assert.equal(t.locked(), 0);
    assert.equal(t.calls.dele ?? 0, 0);
    assert.equal(await refused(t.port), true);
  });
});
