import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Pop3d } from "../../src/server/pop3d.ts";
import { DEFAULTS } from "../../src/server/options.ts";
import { memoryListener } from "../../src/transport/memory.ts";
import {
  ALICE_MESSAGES,
  eventually,
  withFixture,
} from "../_helpers/fixture.ts";
import { Pop3Client, sleep, within } from "../_helpers/pop3_client.ts";
import { createHash } from "node:crypto";

const TOTAL = ALICE_MESSAGES.reduce((a, m) => a + m.length, 0);

describe("Pop3d options", () => {
  it("Pop3d has the seed's defaults", () => {
    const server = new Pop3d();
    assert.equal(server.cget("port"), 110);
    assert.equal(server.cget("hostname"), "0.0.0.0");
    assert.equal(server.cget("auth"), null);
    assert.equal(server.cget("storage"), null);
    assert.equal(server.cget("-port"), 110);
    assert.ok((server.cget("idleTimeout") as number) >= 600_000);
    assert.equal(server.state, "down");
  });

  it("Pop3d rejects unknown options with a TypeError", () => {
    assert.throws(
      () => new Pop3d({ bogus: 1 } as never),
      { name: "TypeError", message: /bogus/ },
    );
    const server = new Pop3d();
    assert.throws(() => server.cget("bogus"), TypeError);
    assert.throws(() => server.configure("bogus"), TypeError);
    assert.throws(() => server.configure({ bogus: 1 } as never), TypeError);
    assert.throws(() => server.configure("bogus", 1), TypeError);
    assert.throws(() => new Pop3d(null as never), TypeError);
    assert.throws(() => new Pop3d("port" as never), TypeError);
  });

  it("Pop3d rejects bad values with TypeError or RangeError", () => {
    const cases: [Record<string, unknown>, typeof Error][] = [
      [{ port: -1 }, RangeError],
      [{ port: 65536 }, RangeError],
      [{ port: 1.5 }, TypeError],
      [{ port: "110" }, TypeError],
      [{ port: NaN }, TypeError],
      [{ hostname: 1 }, TypeError],
      [{ hostname: "" }, RangeError],
      [{ hostname: "a b" }, RangeError],
      [{ auth: {} }, TypeError],
      [{ auth: { exists() {} } }, TypeError],
      [{ auth: "alice" }, TypeError],
      [{ storage: { lock() {} } }, TypeError],
      [{ socket: 42 }, TypeError],
      [{ idleTimeout: 0 }, RangeError],
      [{ idleTimeout: -5 }, RangeError],
      [{ loginTimeout: "1" }, TypeError],
      [{ maxLineLength: 100 }, RangeError],
      [{ maxConnections: 0 }, RangeError],
      [{ authFailureDelay: -1 }, RangeError],
      [{ addressPrefixV6: 0 }, RangeError],
      [{ addressPrefixV6: 129 }, RangeError],
      [{ addressPrefixV6: "64" }, TypeError],
      [{ authPenalty: true }, TypeError],
      [{ authPenalty: -1 }, RangeError],
      [{ authPenalty: 60_001 }, RangeError],
      [{ authPenaltyMax: -1 }, RangeError],
      [{ authPenaltyWindow: 0 }, RangeError],
      [{ authPenaltyTrusted: "10.0.0.0/8" }, TypeError],
      [{ authPenaltyTrusted: [8] }, TypeError],
      [{ authPenaltyTrusted: ["10.0.0.0/33"] }, RangeError],
      [{ greeting: "a\r\nb" }, RangeError],
      [{ serverName: "a b" }, RangeError],
      [{ onError: "log" }, TypeError],
    ];
    for (const [options, type] of cases) {
      assert.throws(
        () => new Pop3d(options as never),
        type,
        JSON.stringify(options),
      );
      assert.throws(
        () => new Pop3d().configure(options as never),
        type,
        `configure ${JSON.stringify(options)}`,
      );
    }
  });

  it("Pop3d configure applies all values or none", () => {
    const server = new Pop3d({ idleTimeout: 700_000 });
    assert.throws(
      () => server.configure({ idleTimeout: 800_000, port: -1 }),
      RangeError,
    );
    assert.equal(server.cget("idleTimeout"), 700_000);
  });

  it("Pop3d configure reads and writes like the seed", () => {
    const server = new Pop3d({ port: 0 });
    const all = server.configure();
    assert.deepEqual(
      Object.keys(all).sort(),
      [...Object.keys(DEFAULTS), "state"].sort(),
    );
    assert.equal(all.port, 0);
    assert.equal(all.state, "down");
    assert.equal(server.configure("port"), 0);
    assert.equal(server.configure("-port"), server.cget("port"));
    assert.equal(
      server.configure({ port: 1110, idleTimeout: 900_000 }),
      server,
    );
    assert.equal(server.cget("port"), 1110);
    assert.equal(server.cget("idleTimeout"), 900_000);
    assert.equal(server.configure("port", 1111), server);
    assert.equal(server.cget("port"), 1111);
    server.configure("-port", 1112);
    assert.equal(server.cget("port"), 1112);
    assert.equal(server.cget("state"), "down");
  });

  it("Pop3d state is read-only", () => {
    const server = new Pop3d();
    assert.throws(() => server.configure({ state: "up" } as never), TypeError);
    assert.throws(() => server.configure("state", "up"), TypeError);
    assert.throws(() => {
      (server as unknown as { state: string }).state = "up";
    }, TypeError);
    assert.equal(server.state, "down");
  });
});

describe("Pop3d lifecycle", () => {
  it("Pop3d reports the real port after up() with port 0", async () => {
    let asked = -1;
    const server = new Pop3d({
      port: 0,
      socket: (o) => {
        asked = o.port;
        return memoryListener({ port: o.port });
      },
    });
    await server.up();
    try {
      assert.equal(asked, 0);
      assert.ok((server.cget("port") as number) > 0);
      assert.equal(server.configure().port, server.cget("port"));
      assert.equal(server.state, "up");
      assert.equal(server.configure().state, "up");
    } finally {
      await server.destroy();
    }
    assert.equal(server.state, "destroyed");
  });

  it("Pop3d applies a port change only after down() and up()", async () => {
    const ports: number[] = [];
    const server = new Pop3d({
      port: 0,
      socket: (o) => {
        const l = memoryListener({ port: o.port });
        ports.push(l.addr.port);
        return l;
      },
    });
    try {
      await server.up();
      const bound = server.cget("port");
      server.configure({ port: 2110 });
      assert.equal(server.cget("port"), bound);
      assert.equal(server.configure("port"), bound);
      assert.equal(server.configure().port, bound);
      await server.down();
      assert.equal(server.cget("port"), 2110);
      await server.up();
      assert.equal(server.cget("port"), 2110);
      assert.deepEqual(ports, [bound, 2110]);
    } finally {
      await server.destroy();
    }
  });

  it("Pop3d up() twice listens once", async () => {
    let calls = 0;
    const server = new Pop3d({
      socket: () => {
        calls++;
        return memoryListener();
      },
    });
    try {
      await Promise.all([server.up(), server.up()]);
      await server.up();
      assert.equal(calls, 1);
    } finally {
      await server.destroy();
    }
  });

  it("Pop3d up() rejects when the socket factory fails, and can retry", async () => {
    let fail = true;
    const server = new Pop3d({
      socket: () => {
        if (fail) throw new Error("address in use");
        return memoryListener();
      },
    });
    await assert.rejects(server.up(), /address in use/);
    assert.equal(server.state, "down");
    fail = false;
    await server.up();
    assert.equal(server.state, "up");
    await server.destroy();
  });

  it("Pop3d down() stops listening while open sessions go on", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      const listener = fx.listener;
      await fx.server.down();
      assert.equal(fx.server.state, "down");
      assert.equal(listener.closed, true);
      assert.throws(() => listener.connect());
      assert.equal(await c.cmd("STAT"), `+OK 3 ${TOTAL}`);
      await c.cmd("DELE 1");
      assert.match(await c.cmd("QUIT"), /^\+OK/);
      await c.closed();
      assert.equal(fx.storage.inner.stat("alice"), 2);
      await fx.server.up();
      const again = await fx.connect();
      assert.match(again.greetingLine, /^\+OK/);
      again.close();
    });
  });

  it("Pop3d destroy('kill') closes every session at once", async () => {
    await withFixture({}, async (fx) => {
      const a = await fx.alice();
      const b = await fx.connect();
      await within(fx.server.destroy("kill"), 2000, "destroy kill");
      assert.equal(fx.server.state, "destroyed");
      await a.closed();
      await b.closed();
      assert.deepEqual(fx.server.conn.list(), []);
      assert.equal(fx.storage.count("unlock"), 1);
      await assert.rejects(fx.server.up());
    });
  });

  it("Pop3d destroy() defaults to kill", async () => {
    await withFixture({}, async (fx) => {
      const a = await fx.alice();
      await within(fx.server.destroy(), 2000, "destroy");
      await a.closed();
    });
  });

  it("Pop3d destroy('defer') resolves only when the last session ends", async () => {
    await withFixture({}, async (fx) => {
      const a = await fx.alice();
      const b = await fx.connect();
      let resolved = false;
      const listener = fx.listener;
      const deferred = fx.server.destroy("defer").then(() => resolved = true);
      await sleep(60);
      assert.equal(resolved, false, "resolved while sessions were open");
      assert.throws(() => listener.connect(), "no new connections");
      // The open sessions keep working.
      assert.equal(await a.cmd("STAT"), `+OK 3 ${TOTAL}`);
      await a.cmd("DELE 1");
      assert.match(await a.cmd("QUIT"), /^\+OK/);
      await a.closed();
      await sleep(30);
      assert.equal(resolved, false, "resolved with one session open");
      assert.match(await b.cmd("QUIT"), /^\+OK/);
      await within(deferred, 2000, "destroy defer");
      assert.equal(resolved, true);
      assert.equal(fx.server.state, "destroyed");
      assert.deepEqual(fx.storage.calls.filter((x) => x.startsWith("dele")), [
        "dele alice 1",
      ]);
    });
  });

  it("Pop3d destroy('defer') resolves at once without sessions", async () => {
    const server = new Pop3d({ socket: () => memoryListener() });
    await server.up();
    await within(server.destroy("defer"), 1000, "destroy defer");
    assert.equal(server.state, "destroyed");
  });

  it("Pop3d destroy('kill') after destroy('defer') ends the waiting sessions", async () => {
    await withFixture({}, async (fx) => {
      const a = await fx.alice();
      const deferred = fx.server.destroy("defer");
      await sleep(20);
      await within(fx.server.destroy("kill"), 2000, "kill");
      await within(deferred, 2000, "defer");
      await a.closed();
      assert.equal(fx.storage.count("unlock"), 1);
    });
  });

  it("Pop3d destroy rejects an unknown mode", async () => {
    const server = new Pop3d();
    await assert.rejects(server.destroy("later" as never), TypeError);
    await server.destroy();
  });
});

describe("Pop3d connections", () => {
  it("Pop3d conn.list and conn.state describe each connection", async () => {
    await withFixture({ plaintextAuth: "always" }, async (fx) => {
      const before = Date.now();
      const c = await fx.connect({ hostname: "192.0.2.9", port: 4321 });
      const [id] = fx.server.conn.list();
      assert.equal(typeof id, "number");
      let s = fx.server.conn.state(id);
      assert.equal(s.id, id);
      assert.equal(s.remoteAddress, "192.0.2.9");
      assert.equal(s.remotePort, 4321);
      assert.equal(s.state, "auth");
      assert.equal(s.user, null);
      assert.equal(s.method, null);
      assert.equal(s.messageCount, 0);
      assert.deepEqual(s.deleted, []);
      assert.ok(s.startTime >= before - 5 && s.startTime <= Date.now());
      assert.ok(s.bytesOut > 0);
      await c.login("alice", "secret");
      await c.cmd("DELE 3");
      await c.cmd("DELE 1");
      s = fx.server.conn.state(id);
      assert.equal(s.state, "trans");
      assert.equal(s.user, "alice");
      assert.equal(s.method, "USER");
      assert.equal(s.messageCount, 3);
      assert.equal(s.totalSize, TOTAL);
      assert.deepEqual(s.deleted, [1, 3]);
      assert.equal(
        s.bytesIn,
        "USER alice\r\nPASS secret\r\nDELE 3\r\nDELE 1\r\n".length,
      );
      assert.ok(s.bytesOut > 20);
      assert.deepEqual(fx.server.conn.state(String(id)), s);
      assert.doesNotMatch(JSON.stringify(s), /secret/);
      c.close();
      await eventually(() => fx.server.conn.list().length === 0, "session end");
      assert.throws(() => fx.server.conn.state(id), RangeError);
    });
  });

  it("Pop3d conn.state shows APOP logins and never a password", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      const stamp = c.greetingLine.match(/<[^>]+>/)![0];
      const digest = createHash("md5").update(stamp + "pass word").digest(
        "hex",
      );
      assert.match(await c.cmd(`APOP bob ${digest}`), /^\+OK/);
      const [id] = fx.server.conn.list();
      const s = fx.server.conn.state(id);
      assert.equal(s.method, "APOP");
      assert.equal(s.user, "bob");
      assert.doesNotMatch(JSON.stringify(s), /pass word|pass|word/);
      c.close();
    });
  });

  it("Pop3d conn.state throws RangeError for an unknown id", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      const [id] = fx.server.conn.list();
      assert.equal(fx.server.conn.state(id).id, id);
      for (const bad of [0, id + 1, -1, "nope", "1.5", NaN]) {
        assert.throws(
          () => fx.server.conn.state(bad as number),
          { name: "RangeError", message: /connection/i },
        );
      }
      c.close();
    });
  });

  it("Pop3d lists several connections with distinct ids", async () => {
    await withFixture({}, async (fx) => {
      const clients = await Promise.all([
        fx.connect(),
        fx.connect(),
        fx.connect(),
      ]);
      const ids = fx.server.conn.list();
      assert.equal(ids.length, 3);
      assert.equal(new Set(ids).size, 3);
      clients[1].close();
      await eventually(() => fx.server.conn.list().length === 2, "one gone");
      for (const c of clients) c.close();
    });
  });

  it("Pop3d refuses connections over maxConnections with [SYS/TEMP] when every one has logged in", async () => {
    await withFixture({ maxConnections: 2 }, async (fx) => {
      const a = await fx.alice();
      const b = await fx.connect();
      await b.login("bob", "pass word");
      const refused = new Pop3Client(fx.listener.connect());
      assert.match(await refused.line(), /^-ERR \[SYS\/TEMP\] /);
      await refused.closed();
      assert.equal(fx.server.conn.list().length, 2);
      a.close();
      await eventually(() => fx.server.conn.list().length === 1, "a gone");
      const c = await fx.connect();
      assert.match(c.greetingLine, /^\+OK/);
      b.close();
      c.close();
    });
  });

  it("Pop3d evicts the oldest connection that has not logged in at maxConnections", async () => {
    const closes: string[] = [];
    await withFixture({
      maxConnections: 3,
      onEvent: (e) => {
        if (e.type === "close") closes.push(`${e.id} ${e.reason}`);
      },
    }, async (fx) => {
      const logged = await fx.alice();
      const [idLogged] = fx.server.conn.list();
      const old = await fx.connect();
      const young = await fx.connect();
      const [, idOld, idYoung] = fx.server.conn.list();
      const fresh = await fx.connect();
      assert.match(fresh.greetingLine, /^\+OK/);
      await within(old.ended, 2000, "the oldest unauthenticated one to close");
      const ids = fx.server.conn.list();
      assert.equal(ids.length, 3);
      assert.ok(ids.includes(idLogged) && ids.includes(idYoung));
      assert.ok(!ids.includes(idOld));
      await eventually(() => closes.length === 1, "the close event");
      assert.deepEqual(closes, [`${idOld} evicted`]);
      assert.equal(fx.server.stats().connectionsEvicted, 1);
      assert.equal(fx.server.stats().connectionsRefused, 0);
      assert.match(await logged.cmd("STAT"), /^\+OK 3 /);
      assert.match(await young.cmd("CAPA"), /^\+OK/);
      logged.close();
      young.close();
      fresh.close();
    });
  });

  it("Pop3d evicts within one address first at maxConnectionsPerAddress", async () => {
    await withFixture({ maxConnectionsPerAddress: 2 }, async (fx) => {
      const other = await fx.connect({ hostname: "192.0.2.7", port: 1 });
      const a1 = await fx.connect({ hostname: "192.0.2.1", port: 2 });
      const a2 = await fx.connect({ hostname: "192.0.2.1", port: 3 });
      const a3 = await fx.connect({ hostname: "192.0.2.1", port: 4 });
      assert.match(a3.greetingLine, /^\+OK/);
      await within(a1.ended, 2000, "a1 evicted");
      assert.match(await other.cmd("CAPA"), /^\+OK/);
      assert.match(await a2.cmd("CAPA"), /^\+OK/);
      assert.equal(fx.server.conn.list().length, 3);
      for (const c of [other, a2, a3]) c.close();
    });
  });

  it("Pop3d counts IPv6 clients of one prefix together at maxConnectionsPerAddress", async () => {
    await withFixture({ maxConnectionsPerAddress: 2 }, async (fx) => {
      const a1 = await fx.connect({ hostname: "2001:db8:0:1::a", port: 1 });
      const a2 = await fx.connect({ hostname: "2001:db8:0:1::b", port: 2 });
      const b1 = await fx.connect({ hostname: "2001:db8:0:2::a", port: 3 });
      const a3 = await fx.connect({
        hostname: "2001:db8:0:1:ffff::c",
        port: 4,
      });
      await within(a1.ended, 2000, "a1 evicted by a3 of the same /64");
      assert.equal(fx.server.stats().connectionsEvicted, 1);
      assert.match(await a2.cmd("CAPA"), /^\+OK/);
      assert.match(await b1.cmd("CAPA"), /^\+OK/);
      // With a /32, other /64s of 2001:db8::/32 share the key too.
      fx.server.configure({ addressPrefixV6: 32 });
      const c1 = await fx.connect({ hostname: "2001:db8:ffff::1", port: 5 });
      const c2 = await fx.connect({ hostname: "2001:db8:eeee::1", port: 6 });
      const c3 = await fx.connect({ hostname: "2001:db8:dddd::1", port: 7 });
      await within(c1.ended, 2000, "c1 evicted by c3 of the same /32");
      for (const c of [a2, b1, a3, c2, c3]) c.close();
    });
  });

  it("Pop3d refuses connections over maxConnectionsPerAddress when every one from there has logged in", async () => {
    await withFixture({
      maxConnectionsPerAddress: 1,
      plaintextAuth: "always",
    }, async (fx) => {
      const here = { hostname: "192.0.2.1", port: 1 };
      const a = await fx.connect(here);
      await a.login("alice", "secret");
      const refused = new Pop3Client(
        fx.listener.connect({ hostname: "192.0.2.1", port: 2 }),
      );
      assert.match(await refused.line(), /^-ERR /);
      await refused.closed();
      const other = await fx.connect({ hostname: "192.0.2.2", port: 3 });
      assert.match(other.greetingLine, /^\+OK/);
      a.close();
      await eventually(() => fx.server.conn.list().length === 1, "a gone");
      const again = await fx.connect({ hostname: "192.0.2.1", port: 4 });
      assert.match(again.greetingLine, /^\+OK/);
      other.close();
      again.close();
    });
  });

  it("Pop3d applies a new option to connections accepted after configure()", async () => {
    await withFixture({}, async (fx) => {
      fx.server.configure({ greeting: "Hello there" });
      const c = await fx.connect();
      assert.match(c.greetingLine, /^\+OK Hello there <[^>]+>$/);
      c.close();
    });
  });

  it("Pop3d sends events without passwords", async () => {
    const events: unknown[] = [];
    await withFixture({ onEvent: (e) => events.push(e) }, async (fx) => {
      const c = await fx.connect();
      await c.cmd("USER bob");
      await c.cmd("PASS pass word");
      await c.cmd("QUIT");
      await c.closed();
      await eventually(
        () => events.some((e) => (e as { type: string }).type === "close"),
        "close event",
      );
    });
    const types = events.map((e) => (e as { type: string }).type);
    assert.ok(types.includes("open") && types.includes("login"));
    assert.doesNotMatch(JSON.stringify(events), /pass word/);
  });
});
