import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  MemoryAuth,
  MemoryStorage,
  Pop3d,
  type Pop3dEvent,
  type TranscriptEntry,
} from "../../mod.ts";
import { pop3Connect } from "../_helpers/net_client.ts";

const PASSWORD = "s3cr3t pass";
const B64_PLAIN = btoa(`\0alice\0${PASSWORD}`);

async function withServer(
  extra: Record<string, unknown>,
  fn: (server: Pop3d<string>, port: number) => Promise<void>,
): Promise<void> {
  const auth = new MemoryAuth().addUser("alice", PASSWORD);
  const storage = new MemoryStorage();
  storage.deliver("alice", "Subject: a\r\n\r\nbody one\r\n");
  storage.deliver("alice", "Subject: b\r\n\r\nbody two\r\n");
  const server = new Pop3d<string>({
    port: 0,
    hostname: "127.0.0.1",
    auth,
    storage,
    authFailureDelay: 0,
    authPenalty: false,
    ...extra,
  });
  await server.up();
  try {
    await fn(server, server.cget("port") as number);
  } finally {
    await server.destroy("kill");
  }
}

/** Logs in with a wrong password, USER/PASS, retrieves, deletes, quits; then AUTH PLAIN. */
async function exercise(port: number): Promise<void> {
  const c = await pop3Connect(port);
  await c.cmd("USER alice");
  assert.match(await c.cmd("PASS wrong " + PASSWORD), /^-ERR \[AUTH\]/);
  await c.cmd("USER alice");
  assert.match(await c.cmd(`PASS ${PASSWORD}`), /^\+OK/);
  assert.match(await c.cmd("RETR 1"), /^\+OK/);
  await c.body();
  assert.match(await c.cmd("DELE 2"), /^\+OK/);
  assert.match(await c.cmd("QUIT"), /^\+OK/);
  await c.closed();
  const d = await pop3Connect(port);
  assert.match(await d.cmd(`AUTH PLAIN ${B64_PLAIN}`), /^\+OK/);
  assert.match(await d.cmd("QUIT"), /^\+OK/);
  await d.closed();
  const e = await pop3Connect(port);
  assert.equal(await e.cmd("AUTH PLAIN"), "+ ");
  assert.match(await e.cmd(B64_PLAIN), /^\+OK/);
  assert.match(await e.cmd("QUIT"), /^\+OK/);
  await e.closed();
}

function leaks(text: string): boolean {
  return text.includes(PASSWORD) || text.includes("s3cr3t") ||
    text.includes(B64_PLAIN);
}

describe("Pop3d monitoring", () => {
  it("emits open, login, command, logout and close events without passwords", async () => {
    const events: Pop3dEvent[] = [];
    await withServer(
      { onEvent: (e: Pop3dEvent) => events.push(e) },
      async (server, port) => {
        await exercise(port);
        while (server.conn.list().length > 0) {
          await new Promise((r) => setTimeout(r, 5));
        }
      },
    );
    const types = events.map((e) => e.type);
    assert.equal(types.filter((t) => t === "open").length, 3);
    assert.equal(types.filter((t) => t === "close").length, 3);
    assert.equal(types.filter((t) => t === "login").length, 3);
    assert.equal(types.filter((t) => t === "login-failed").length, 1);
    const failed = events.find((e) => e.type === "login-failed");
    assert.deepEqual(
      failed &&
        { user: failed.user, method: failed.method, reason: failed.reason },
      { user: "alice", method: "USER", reason: "credentials" },
    );
    const logins = events.filter((e) => e.type === "login").map((e) =>
      e.method
    );
    assert.deepEqual(logins, ["USER", "SASL PLAIN", "SASL PLAIN"]);
    const verbs = events.filter((e) => e.type === "command").map((e) => e.verb);
    assert.ok(
      ["USER", "PASS", "RETR", "DELE", "QUIT", "AUTH"].every((v) =>
        verbs.includes(v)
      ),
    );
    const logout = events.find((e) => e.type === "logout");
    assert.equal(logout?.type === "logout" && logout.deleted, 1);
    const close = events.find((e) => e.type === "close");
    assert.ok(
      close?.type === "close" && close.reason === "quit" && close.bytesOut > 0,
    );
    assert.equal(leaks(JSON.stringify(events)), false);
  });

  it("counts connections, logins, messages and bytes in stats()", async () => {
    await withServer({}, async (server, port) => {
      await exercise(port);
      while (server.conn.list().length > 0) {
        await new Promise((r) => setTimeout(r, 5));
      }
      const s = server.stats();
      assert.equal(s.connectionsTotal, 3);
      assert.equal(s.connections, 0);
      assert.equal(s.sessions, 0);
      assert.equal(s.loginsOk, 3);
      assert.equal(s.loginsFailed, 1);
      assert.equal(s.messagesSent, 1);
      assert.equal(s.messagesDeleted, 1);
      assert.ok(s.bytesIn > 50 && s.bytesOut > 100);
    });
  });

  it("logs to a console-like logger without passwords", async () => {
    const lines: string[] = [];
    const log = (...data: unknown[]) => lines.push(data.map(String).join(" "));
    const logger = { info: log, warn: log, error: log, debug: log };
    await withServer({ logger }, async (server, port) => {
      await exercise(port);
      while (server.conn.list().length > 0) {
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    assert.ok(lines.some((l) => l.includes("login alice (USER)")));
    assert.ok(lines.some((l) => l.includes("login failed")));
    assert.ok(lines.some((l) => l.includes("closed (quit)")));
    assert.equal(leaks(lines.join("\n")), false);
  });

  it("writes a transcript with credentials redacted", async () => {
    const entries: TranscriptEntry[] = [];
    await withServer(
      { transcript: (e: TranscriptEntry) => entries.push(e) },
      async (server, port) => {
        await exercise(port);
        while (server.conn.list().length > 0) {
          await new Promise((r) => setTimeout(r, 5));
        }
      },
    );
    const client = entries.filter((e) => e.from === "C").map((e) => e.line);
    assert.ok(client.includes("USER alice"));
    assert.ok(client.includes("PASS <redacted>"));
    assert.ok(client.includes("AUTH PLAIN <redacted>"));
    assert.ok(client.includes("AUTH PLAIN"));
    assert.ok(client.includes("<redacted>"));
    assert.ok(client.includes("RETR 1"));
    const server = entries.filter((e) => e.from === "S").map((e) => e.line);
    assert.ok(server.some((l) => l.startsWith("+OK 24 octets")));
    assert.ok(
      !server.includes("body one"),
      "message bodies stay out of the transcript",
    );
    assert.equal(leaks(JSON.stringify(entries)), false);
  });
});
