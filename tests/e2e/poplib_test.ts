/**
 * End to end on a real socket: Python's poplib downloads and deletes mail.
 * Needs python3 on the PATH.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { run } from "../_helpers/net_client.ts";

const SCRIPT = fileURLToPath(new URL("./poplib_client.py", import.meta.url));
const te = new TextEncoder();

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Messages that stress the encoder: dot lines, bare LF, a 1 MB body. */
function messages(): (string | Uint8Array)[] {
  const big = Array.from(
    { length: 14_000 },
    (_, i) => (i % 50 === 0 ? "." : "") + `line ${i} ` + "z".repeat(60),
  ).join("\r\n") + "\r\n";
  return [
    "From: a@example.test\r\nSubject: plain\r\n\r\nHello\r\n",
    "Subject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\nend\r\n",
    "Subject: bare LF\n\nfirst\nsecond\n.third\n",
    te.encode("Subject: bytes\r\n\r\n\u00e9t\u00e9 \u2603\r\n"),
    "Subject: big\r\n\r\n" + big,
    "Subject: no final newline\r\n\r\nlast line",
  ];
}

async function server(storage: MemoryStorage) {
  const auth = new MemoryAuth().addUser("alice", "s3cret pass");
  const s = new Pop3d({
    port: 0,
    hostname: "127.0.0.1",
    auth,
    storage,
    authFailureDelay: 0,
    authPenalty: false,
  });
  await s.up();
  return s;
}

async function poplib(
  port: number,
  mode: string,
  input = "",
  password = "s3cret pass",
) {
  const r = await run("python3", [
    SCRIPT,
    String(port),
    "alice",
    password,
    mode,
  ], {
    input,
  });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

describe("poplib end to end", () => {
  it("poplib downloads every message byte-exact", async () => {
    const storage = new MemoryStorage();
    for (const m of messages()) storage.deliver("alice", m);
    const stored = storage.messages("alice");
    const s = await server(storage);
    try {
      const out = await poplib(s.cget("port") as number, "fetch");
      const total = stored.reduce((a, m) => a + m.bytes.length, 0);
      assert.deepEqual(out.stat, [stored.length, total]);
      assert.ok(total > 1_000_000);
      assert.deepEqual(
        out.list,
        stored.map((m, i) => `${i + 1} ${m.bytes.length}`),
      );
      assert.deepEqual(out.uidl, stored.map((m, i) => `${i + 1} ${m.uid}`));
      for (const cap of ["TOP", "UIDL", "PIPELINING", "RESP-CODES"]) {
        assert.ok(out.capa.includes(cap), cap);
      }
      assert.equal(out.messages.length, stored.length);
      stored.forEach((m, i) => {
        const got = out.messages[i];
        assert.match(got.resp, new RegExp(`^\\+OK ${m.bytes.length} `));
        // A message without a final line end gets one on the wire.
        let want = m.bytes;
        if (want.at(-1) !== 10) want = new Uint8Array([...want, 13, 10]);
        assert.equal(got.hex, hex(want), `message ${i + 1}`);
      });
      assert.deepEqual(out.top, [
        "From: a@example.test",
        "Subject: plain",
        "",
      ]);
      assert.match(out.quit, /^\+OK/);
      assert.equal(storage.stat("alice"), stored.length, "nothing deleted");
    } finally {
      await s.destroy();
    }
  });

  it("poplib DELE then QUIT removes the messages from storage", async () => {
    const storage = new MemoryStorage();
    for (const m of messages()) storage.deliver("alice", m);
    const before = storage.messages("alice");
    const s = await server(storage);
    try {
      const out = await poplib(s.cget("port") as number, "delete", "2 5 1");
      assert.equal(out.dele.length, 3);
      assert.match(out.quit, /^\+OK/);
      assert.deepEqual(
        storage.messages("alice").map((m) => m.uid),
        [before[2].uid, before[3].uid, before[5].uid],
      );
      assert.equal(storage.isLocked("alice"), false);
      const again = await poplib(s.cget("port") as number, "fetch");
      assert.equal(again.stat[0], 3);
    } finally {
      await s.destroy();
    }
  });

  it("poplib logs in with APOP", async () => {
    const storage = new MemoryStorage();
    storage.deliver("alice", "Subject: x\r\n\r\ny\r\n");
    const s = await server(storage);
    try {
      const out = await poplib(s.cget("port") as number, "apop");
      assert.match(out.welcome, /<[^>]+@[^>]+>/);
      assert.match(out.login, /^\+OK/);
      assert.deepEqual(out.stat, [1, 17]);
      const r = await run("python3", [
        SCRIPT,
        String(s.cget("port")),
        "alice",
        "wrong",
        "apop",
      ]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /-ERR \[AUTH\]/);
    } finally {
      await s.destroy();
    }
  });
});
