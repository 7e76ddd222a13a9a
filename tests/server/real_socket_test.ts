/**
 * Pop3d with the host runtime's default socket on 127.0.0.1, port 0.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { pop3Connect, tcpConnect } from "../_helpers/net_client.ts";
import { Pop3Client, sleep, within } from "../_helpers/pop3_client.ts";
import { eventually } from "../_helpers/fixture.ts";
import { freePort } from "../_helpers/free_port.ts";

function makeServer(options: Record<string, unknown> = {}) {
  const storage = new MemoryStorage();
  storage.deliver("alice", "Subject: one\r\n\r\nHello\r\n");
  storage.deliver("alice", "Subject: two\r\n\r\n.World\r\n");
  const server = new Pop3d<string>({
    port: 0,
    hostname: "127.0.0.1",
    auth: new MemoryAuth().addUser("alice", "secret"),
    storage,
    authFailureDelay: 0,
    authPenalty: false,
    ...options,
  });
  return { server, storage };
}

function refused(port: number): Promise<boolean> {
  return tcpConnect(port).then((side) => {
    side.close();
    return false;
  }, () => true);
}

describe("Pop3d on a real socket", () => {
  it("Pop3d binds port 0 and serves a session over TCP", async () => {
    const { server } = makeServer();
    await server.up();
    try {
      const port = server.cget("port") as number;
      assert.ok(port > 0 && port < 65536);
      const c = await pop3Connect(port);
      assert.match(c.greetingLine, /^\+OK .*<[^>]+@[^>]+>$/);
      await c.login("alice", "secret");
      assert.equal(await c.cmd("STAT"), "+OK 2 47");
      const r = await c.multi("RETR 2");
      assert.equal(
        new TextDecoder().decode(r.body),
        "Subject: two\r\n\r\n.World\r\n",
      );
      const [id] = server.conn.list();
      const s = server.conn.state(id);
      assert.equal(s.remoteAddress, "127.0.0.1");
      assert.ok(s.remotePort > 0);
      assert.equal(s.encrypted, false);
      assert.match(await c.cmd("QUIT"), /^\+OK/);
      await c.closed();
    } finally {
      await server.destroy();
    }
  });

  it("Pop3d down() refuses new connections and keeps open sessions", async () => {
    const { server } = makeServer();
    await server.up();
    try {
      const port = server.cget("port") as number;
      const c = await pop3Connect(port);
      await c.login("alice", "secret");
      await server.down();
      assert.equal(await refused(port), true);
      assert.equal(await c.cmd("STAT"), "+OK 2 47");
      assert.match(await c.cmd("QUIT"), /^\+OK/);
      await server.up();
      const again = await pop3Connect(server.cget("port") as number);
      again.close();
    } finally {
      await server.destroy();
    }
  });

  it("Pop3d moves to a new port only after down() and up()", async () => {
    const { server } = makeServer();
    await server.up();
    try {
      const first = server.cget("port") as number;
      const next = await freePort();
      server.configure({ port: next });
      assert.equal(server.cget("port"), first);
      (await pop3Connect(first)).close();
      await server.down();
      await server.up();
      assert.equal(server.cget("port"), next);
      (await pop3Connect(next)).close();
      assert.equal(await refused(first), true);
    } finally {
      await server.destroy();
    }
  });

  it("Pop3d up() rejects when the port is taken", async () => {
    const { server: a } = makeServer();
    await a.up();
    const { server: b } = makeServer({ port: a.cget("port") });
    try {
      await assert.rejects(b.up());
      assert.equal(b.state, "down");
    } finally {
      await a.destroy();
      await b.destroy();
    }
  });

  it("Pop3d with reusePort shares its port with another server, and the kernel spreads connections over both", async () => {
    const { server: a } = makeServer({ reusePort: true });
    await a.up();
    const port = a.cget("port") as number;
    const { server: b } = makeServer({ port, reusePort: true });
    try {
      await b.up();
      assert.equal(b.cget("port"), port);
      for (let i = 0; i < 40; i++) {
        const c = await pop3Connect(port);
        assert.match(await c.cmd("QUIT"), /^\+OK/);
        c.close();
      }
      await eventually(
        () => a.stats().connectionsTotal + b.stats().connectionsTotal === 40,
        "40 connections counted",
      );
      // Each got some (all 40 on one side: a chance of 2^-39).
      assert.ok(a.stats().connectionsTotal > 0, "a served none");
      assert.ok(b.stats().connectionsTotal > 0, "b served none");
      assert.throws(() => makeServer({ reusePort: "yes" }), TypeError);
    } finally {
      await a.destroy();
      await b.destroy();
    }
  });

  it("Pop3d destroy('kill') closes TCP clients and unlocks", async () => {
    const { server, storage } = makeServer();
    await server.up();
    const c = await pop3Connect(server.cget("port") as number);
    await c.login("alice", "secret");
    await c.cmd("DELE 1");
    assert.equal(storage.isLocked("alice"), true);
    await within(server.destroy("kill"), 3000, "destroy");
    await c.closed();
    assert.equal(storage.isLocked("alice"), false);
    assert.equal(storage.stat("alice"), 2);
  });

  it("Pop3d destroy('defer') waits for a TCP session's QUIT", async () => {
    const { server, storage } = makeServer();
    await server.up();
    const port = server.cget("port") as number;
    const c = await pop3Connect(port);
    await c.login("alice", "secret");
    let done = false;
    const deferred = server.destroy("defer").then(() => done = true);
    await sleep(50);
    assert.equal(done, false);
    assert.equal(await refused(port), true);
    await c.cmd("DELE 2");
    assert.match(await c.cmd("QUIT"), /^\+OK/);
    await within(deferred, 3000, "destroy defer");
    assert.equal(storage.stat("alice"), 1);
  });

  it("Pop3d ends a TCP session whose client vanishes", async () => {
    const { server, storage } = makeServer();
    await server.up();
    try {
      const c = await pop3Connect(server.cget("port") as number);
      await c.login("alice", "secret");
      await c.cmd("DELE 1");
      c.close();
      await eventually(() => server.conn.list().length === 0, "session end");
      assert.equal(storage.isLocked("alice"), false);
      assert.equal(storage.stat("alice"), 2);
    } finally {
      await server.destroy();
    }
  });

  it("Pop3d refuses TCP connections beyond maxConnections once all are logged in", async () => {
    const { server } = makeServer({ maxConnections: 1 });
    await server.up();
    try {
      const port = server.cget("port") as number;
      const a = await pop3Connect(port);
      await a.login("alice", "secret");
      const b = new Pop3Client(await tcpConnect(port));
      assert.match(await b.line(), /^-ERR \[SYS\/TEMP\]/);
      await b.closed();
      a.close();
    } finally {
      await server.destroy();
    }
  });
});
