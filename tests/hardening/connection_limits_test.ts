import { describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { Pop3d } from "../../src/server/pop3d.ts";
import type { Pop3dOptions } from "../../src/server/options.ts";
import type { Pop3dEvent } from "../../src/server/events.ts";
import { fixture, PASSWORD } from "../_helpers/hardening_pair.ts";
import { NetClient } from "../_helpers/hardening_net_client.ts";

async function start(options: Pop3dOptions<string> = {}) {
  const f = fixture();
  const events: Pop3dEvent[] = [];
  const server = new Pop3d<string>({
    hostname: "127.0.0.1",
    port: 0,
    auth: f.auth,
    storage: f.storage,
    authFailureDelay: 0,
    onEvent: (e) => {
      if (e.type !== "command") events.push(e);
    },
    ...options,
  });
  await server.up();
  return { server, port: server.cget("port") as number, events };
}

/** A TCP connection that never sends a byte; `closed` resolves when the server drops it. */
function silent(
  port: number,
): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      socket.off("error", reject);
      resolve({ socket, closed });
    });
    socket.on("data", () => {});
    const closed = new Promise<void>((done) =>
      socket.on("close", () => done())
    );
    socket.once("error", reject);
  });
}

/** Sends USER alice / PASS wrong on a fresh connection; returns the ms PASS took. */
async function failOnce(port: number): Promise<number> {
  const c = await NetClient.connect(port);
  try {
    assert.match(await c.line() ?? "", /^\+OK /);
    assert.equal(await c.cmd("USER alice"), "+OK");
    const t0 = Date.now();
    assert.equal(
      await c.cmd("PASS wrong"),
      "-ERR [AUTH] Authentication failed",
    );
    return Date.now() - t0;
  } finally {
    c.destroy();
  }
}

describe("Pop3d connection caps over real sockets", () => {
  it("Pop3d evicts the oldest unauthenticated connection when 300 half-open connections come from one address", async () => {
    const t = await start({ authPenalty: false });
    const idle: { socket: net.Socket; closed: Promise<void> }[] = [];
    try {
      const alice = await NetClient.connect(t.port);
      await alice.login("alice", PASSWORD);
      let most = 0;
      for (let i = 0; i < 300; i++) {
        idle.push(await silent(t.port));
        most = Math.max(most, t.server.conn.list().length);
      }
      // A real client from the same address still gets in and logs in.
      const bob = await NetClient.connect(t.port);
      await bob.login("bob", "bob-pw");
      assert.match(await bob.cmd("STAT") ?? "", /^\+OK 3 /);
      // The logged-in session was never evicted.
      assert.match(await alice.cmd("STAT") ?? "", /^\+OK 3 /);
      assert.ok(most <= 100, `at most 100 counted, saw ${most}`);
      assert.ok(t.server.conn.list().length <= 100);
      // 100 counted: alice, bob and the 98 youngest silent ones; 202 were dropped.
      await Promise.all(idle.slice(0, 202).map((c) => c.closed));
      const stats = t.server.stats();
      assert.equal(stats.connectionsEvicted, 202);
      assert.equal(stats.connectionsRefused, 0);
      const reasons = t.events.filter((e) => e.type === "close").map((e) =>
        e.type === "close" ? e.reason : ""
      );
      assert.equal(reasons.filter((r) => r === "evicted").length, 202);
      assert.equal(await alice.cmd("QUIT"), "+OK Bye");
      assert.equal(await bob.cmd("QUIT"), "+OK Bye");
    } finally {
      for (const c of idle) c.socket.destroy();
      await t.server.destroy("kill");
    }
  });

  it("Pop3d evicts a silent connection at maxConnections so that a new client gets its greeting", async () => {
    const t = await start({ maxConnections: 5, authPenalty: false });
    const idle: { socket: net.Socket; closed: Promise<void> }[] = [];
    try {
      for (let i = 0; i < 5; i++) idle.push(await silent(t.port));
      const c = await NetClient.connect(t.port);
      assert.match(await c.line() ?? "", /^\+OK /);
      await idle[0].closed;
      assert.equal(t.server.conn.list().length, 5);
      c.destroy();
    } finally {
      for (const c of idle) c.socket.destroy();
      await t.server.destroy("kill");
    }
  });
});

describe("Pop3d auth penalty over real sockets", () => {
  it("Pop3d slows password guessing spread over new connections from one address", async () => {
    const t = await start({ authPenalty: 150, authPenaltyMax: 5000 });
    try {
      const delays: number[] = [];
      for (let i = 0; i < 3; i++) delays.push(await failOnce(t.port));
      // 150, 300, 600 ms: each at least its penalty (no upper bounds).
      assert.ok(delays[0] >= 140, `first ${delays[0]} ms`);
      assert.ok(delays[1] >= 290, `second ${delays[1]} ms`);
      assert.ok(delays[2] >= 590, `third ${delays[2]} ms`);
      const probe = await NetClient.connect(t.port);
      assert.match(await probe.line() ?? "", /^\+OK /);
      const [id] = t.server.conn.list();
      assert.equal(t.server.conn.state(id).authPenaltyMs, 600);
      assert.equal(t.server.stats().authPenalties, 1);
      assert.equal(t.server.stats().loginsFailed, 3);
      probe.destroy();
    } finally {
      await t.server.destroy("kill");
    }
  });

  it("Pop3d forgets the auth penalty of an address after a successful login from it", async () => {
    const t = await start({ authPenalty: 100, authPenaltyMax: 5000 });
    try {
      await failOnce(t.port);
      await failOnce(t.port);
      const c = await NetClient.connect(t.port);
      await c.login("alice", PASSWORD);
      const [id] = t.server.conn.list();
      assert.equal(t.server.conn.state(id).authPenaltyMs, 0);
      assert.equal(t.server.stats().authPenalties, 0);
      assert.equal(await c.cmd("QUIT"), "+OK Bye");
      assert.ok(await failOnce(t.port) >= 90);
      const probe = await NetClient.connect(t.port);
      assert.match(await probe.line() ?? "", /^\+OK /);
      const [next] = t.server.conn.list();
      assert.equal(t.server.conn.state(next).authPenaltyMs, 100);
      probe.destroy();
    } finally {
      await t.server.destroy("kill");
    }
  });

  it("Pop3d gives no auth penalty to a trusted network", async () => {
    const t = await start({
      authPenalty: 2000,
      authPenaltyTrusted: ["127.0.0.0/8", "::1/128"],
    });
    try {
      const t0 = Date.now();
      for (let i = 0; i < 3; i++) await failOnce(t.port);
      // Untrusted, these three would take 2 + 4 + 8 s.
      const took = Date.now() - t0;
      assert.ok(took < 2000, `three failures took ${took} ms`);
      const probe = await NetClient.connect(t.port);
      assert.match(await probe.line() ?? "", /^\+OK /);
      const [id] = t.server.conn.list();
      assert.equal(t.server.conn.state(id).authPenaltyMs, 0);
      assert.equal(t.server.stats().authPenalties, 0);
      probe.destroy();
    } finally {
      await t.server.destroy("kill");
    }
  });

  it("Pop3d answers a failed login after the larger of authFailureDelay and the penalty", async () => {
    const t = await start({ authFailureDelay: 400, authPenalty: 50 });
    try {
      assert.ok(await failOnce(t.port) >= 390);
      const probe = await NetClient.connect(t.port);
      assert.match(await probe.line() ?? "", /^\+OK /);
      const [id] = t.server.conn.list();
      assert.equal(t.server.conn.state(id).authPenaltyMs, 50);
      probe.destroy();
    } finally {
      await t.server.destroy("kill");
    }
  });
});
