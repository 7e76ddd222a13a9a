// End to end with a real client: python3's poplib against Pop3d on the host
// runtime's adapter (Deno, Bun or Node, whichever runs this file).
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryAuth, MemoryStorage, Pop3d } from "../../mod.ts";
import { python, runtimeName, waitUntil } from "../_helpers/runtime.ts";

const CLIENT = `
import base64, json, poplib, sys
port = int(sys.argv[1])
out = {}
a = poplib.POP3("127.0.0.1", port, timeout=20)
out["greeting"] = a.getwelcome().decode()
a.user("alice")
a.pass_("secret")
out["stat"] = list(a.stat())
out["list"] = [l.decode() for l in a.list()[1]]
out["uidl"] = [l.decode() for l in a.uidl()[1]]
out["messages"] = []
for i in range(1, out["stat"][0] + 1):
    resp, lines, octets = a.retr(i)
    body = b"".join(l + b"\\r\\n" for l in lines)
    out["messages"].append([octets, base64.b64encode(body).decode()])
b = poplib.POP3("127.0.0.1", port, timeout=20)
b.user("alice")
try:
    b.pass_("secret")
    out["second"] = "+OK"
except poplib.error_proto as e:
    out["second"] = e.args[0].decode()
b.quit()
a.dele(1)
a.dele(3)
out["stat_after_dele"] = list(a.stat())
a.rset()
out["stat_after_rset"] = list(a.stat())
a.dele(1)
a.dele(3)
print("BEFORE_QUIT", flush=True)
sys.stdin.readline()
out["quit"] = a.quit().decode()
c = poplib.POP3("127.0.0.1", port, timeout=20)
c.user("alice")
c.pass_("secret")
out["stat_next"] = list(c.stat())
c.dele(1)
c.sock.close()
print("RESULT " + json.dumps(out), flush=True)
`;

function fixture() {
  const big = Array.from(
    { length: 800 },
    (_, i) => `${i % 7 === 0 ? "." : ""}line ${i} ${"=".repeat(1200)}\r\n`,
  ).join("");
  const messages = [
    "Subject: plain\r\n\r\nHello\r\n",
    "Subject: dots\r\n\r\n.\r\n..two\r\n.leading\r\nend.\r\n",
    "Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße, 日本\r\n",
    `Subject: big\r\n\r\n${big}`,
  ].map((m) => new TextEncoder().encode(m));
  const auth = new MemoryAuth().addUser("alice", "secret");
  const storage = new MemoryStorage();
  for (const m of messages) storage.deliver("alice", m);
  return { auth, storage, messages };
}

test(`Pop3d on ${runtimeName()} serves python3 poplib: download, lock, delete`, async () => {
  const { auth, storage, messages } = fixture();
  const server = new Pop3d({ hostname: "127.0.0.1", port: 0, auth, storage });
  await server.up();
  const client = python(CLIENT, [String(server.cget("port"))]);
  try {
    await client.waitFor("BEFORE_QUIT");
    // DELE marks only: nothing is gone before QUIT, and the lock is held.
    assert.equal(storage.stat("alice"), 4);
    assert.equal(storage.isLocked("alice"), true);
    client.send("go");
    const result = await client.done;
    assert.equal(result.code, 0, result.stderr);
    const line = result.stdout.split("\n").find((l) => l.startsWith("RESULT "));
    assert.ok(line, result.stdout);
    const out = JSON.parse(line.slice(7));

    assert.match(out.greeting, /^\+OK .*<[^>]+@[^>]+>$/);
    const total = messages.reduce((n, m) => n + m.length, 0);
    assert.deepEqual(out.stat, [4, total]);
    assert.deepEqual(out.list, messages.map((m, i) => `${i + 1} ${m.length}`));
    assert.equal(out.uidl.length, 4);
    out.messages.forEach(([, b64]: [number, string], i: number) => {
      const got = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      assert.deepEqual(got, messages[i], `message ${i + 1} differs`);
    });
    assert.match(out.second, /^-ERR \[IN-USE\]/);
    assert.deepEqual(out.stat_after_dele, [
      2,
      messages[1].length + messages[3].length,
    ]);
    assert.deepEqual(out.stat_after_rset, [4, total]);
    assert.match(out.quit, /^\+OK/);
    // The QUIT deleted messages 1 and 3; the next session saw the rest.
    assert.deepEqual(out.stat_next, [
      2,
      messages[1].length + messages[3].length,
    ]);
    // That session dropped without QUIT: its DELE 1 must not apply.
    assert.ok(await waitUntil(() => server.conn.list().length === 0));
    assert.deepEqual(
      storage.messages("alice").map((m) => m.bytes),
      [messages[1], messages[3]],
    );
    assert.equal(storage.isLocked("alice"), false);
  } finally {
    client.kill();
    await server.destroy();
  }
});
