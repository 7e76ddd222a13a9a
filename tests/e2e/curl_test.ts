/**
 * End to end on a real socket: curl's POP3 client lists, retrieves and
 * runs custom commands. Needs curl on the PATH.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { run } from "../_helpers/net_client.ts";

const td = new TextDecoder();

const MESSAGES = [
  "From: a@example.test\r\nSubject: one\r\n\r\nHello\r\n",
  "Subject: dots\r\n\r\n.\r\n..\r\n.lead\r\nbare\nLF\r\n",
  "Subject: big\r\n\r\n" + ("." + "q".repeat(78) + "\r\n").repeat(4000),
];

async function withServer(
  fn: (port: number, storage: MemoryStorage) => Promise<void>,
) {
  const storage = new MemoryStorage();
  for (const m of MESSAGES) storage.deliver("alice", m);
  const server = new Pop3d({
    port: 0,
    hostname: "127.0.0.1",
    auth: new MemoryAuth().addUser("alice", "pw"),
    storage,
    authFailureDelay: 0,
    authPenalty: false,
  });
  await server.up();
  try {
    await fn(server.cget("port") as number, storage);
  } finally {
    await server.destroy();
  }
}

function curl(...args: string[]) {
  return run("curl", ["-sS", "--max-time", "20", ...args]);
}

describe("curl end to end", () => {
  it("curl retrieves each message byte-exact", async () => {
    await withServer(async (port, storage) => {
      const stored = storage.messages("alice");
      for (let n = 1; n <= stored.length; n++) {
        const r = await curl(`pop3://alice:pw@127.0.0.1:${port}/${n}`);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.stdout, stored[n - 1].bytes, `message ${n}`);
      }
      assert.equal(storage.isLocked("alice"), false);
    });
  });

  it("curl picks SASL CRAM-MD5 from CAPA by default", async () => {
    await withServer(async (port, storage) => {
      const r = await curl("-v", `pop3://alice:pw@127.0.0.1:${port}/1`);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /< SASL [A-Z0-9 -]*CRAM-MD5/);
      assert.match(r.stderr, /> AUTH CRAM-MD5\r?\n/);
      assert.match(r.stderr, /< \+OK alice has 3 messages/);
      assert.deepEqual(r.stdout, storage.messages("alice")[0].bytes);
    });
  });

  it("curl logs in with APOP from the greeting's timestamp", async () => {
    await withServer(async (port, storage) => {
      const r = await curl(
        "-v",
        "--login-options",
        "AUTH=+APOP",
        `pop3://alice:pw@127.0.0.1:${port}/1`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /> APOP alice [0-9a-f]{32}\r?\n/);
      assert.match(r.stderr, /< \+OK alice has 3 messages/);
      assert.deepEqual(r.stdout, storage.messages("alice")[0].bytes);
    });
  });

  it("curl lists messages with and without -l", async () => {
    await withServer(async (port, storage) => {
      const sizes = storage.messages("alice").map((m) => m.bytes.length);
      const all = await curl(`pop3://alice:pw@127.0.0.1:${port}/`);
      assert.equal(all.code, 0, all.stderr);
      assert.equal(
        td.decode(all.stdout),
        sizes.map((s, i) => `${i + 1} ${s}\r\n`).join(""),
      );
      const one = await curl("-v", "-l", `pop3://alice:pw@127.0.0.1:${port}/2`);
      assert.equal(one.code, 0, one.stderr);
      // curl sends LIST 2 and prints nothing for a single-line answer.
      assert.match(one.stderr, /> LIST 2\r?\n/);
      assert.match(one.stderr, new RegExp(`< \\+OK 2 ${sizes[1]}\\r?\\n`));
      assert.equal(one.stdout.length, 0);
      const listOnly = await curl("-l", `pop3://alice:pw@127.0.0.1:${port}/`);
      assert.equal(listOnly.code, 0, listOnly.stderr);
      assert.equal(td.decode(listOnly.stdout), td.decode(all.stdout));
    });
  });

  it("curl runs UIDL, TOP and DELE as custom commands", async () => {
    await withServer(async (port, storage) => {
      const uids = storage.messages("alice").map((m) => m.uid);
      const url = `pop3://alice:pw@127.0.0.1:${port}/`;
      const uidl = await curl("-X", "UIDL", url);
      assert.equal(uidl.code, 0, uidl.stderr);
      assert.equal(
        td.decode(uidl.stdout),
        uids.map((u, i) => `${i + 1} ${u}\r\n`).join(""),
      );
      const top = await curl("-X", "TOP 2 2", url);
      assert.equal(top.code, 0, top.stderr);
      assert.equal(td.decode(top.stdout), "Subject: dots\r\n\r\n.\r\n..\r\n");
      const dele = await curl("-X", "DELE 1", "-I", url);
      assert.equal(dele.code, 0, dele.stderr);
      assert.deepEqual(
        storage.messages("alice").map((m) => m.uid),
        uids.slice(1),
      );
    });
  });

  it("curl fails cleanly on a wrong password and a missing message", async () => {
    await withServer(async (port) => {
      const bad = await curl(`pop3://alice:nope@127.0.0.1:${port}/1`);
      assert.notEqual(bad.code, 0);
      const missing = await curl(`pop3://alice:pw@127.0.0.1:${port}/9`);
      assert.notEqual(missing.code, 0);
    });
  });
});
