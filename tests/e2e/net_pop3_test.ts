/**
 * End to end on a real socket with Perl's Net::POP3 (libnet), a second
 * third-party client. Needs perl on the PATH.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { run } from "../_helpers/net_client.ts";

const SCRIPT = fileURLToPath(new URL("./net_pop3_client.pl", import.meta.url));
const td = new TextDecoder();

function hex(text: string): string {
  return Array.from(
    new TextEncoder().encode(text),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

describe("Net::POP3 end to end", () => {
  it("Net::POP3 logs in, lists, downloads and deletes", async () => {
    const storage = new MemoryStorage();
    const messages = [
      "From: a@example.test\r\nSubject: one\r\n\r\nbody one\r\nmore\r\n",
      "Subject: dots\r\n\r\n.\r\n.hidden\r\n..two\r\n",
      "Subject: bare\n\nlf only\n",
    ];
    for (const m of messages) storage.deliver("alice", m, {});
    const stored = storage.messages("alice");
    const server = new Pop3d({
      port: 0,
      hostname: "127.0.0.1",
      auth: new MemoryAuth().addUser("alice", "open sesame"),
      storage,
      authFailureDelay: 0,
      authPenalty: false,
    });
    await server.up();
    try {
      const r = await run("perl", [
        SCRIPT,
        String(server.cget("port")),
        "alice",
        "open sesame",
        "1",
        "3",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(td.decode(r.stdout));
      assert.equal(out.count, 3);
      assert.deepEqual(out.stat, [
        3,
        stored.reduce((a, m) => a + m.bytes.length, 0),
      ]);
      assert.deepEqual(out.list, {
        1: stored[0].bytes.length,
        2: stored[1].bytes.length,
        3: stored[2].bytes.length,
      });
      assert.deepEqual(out.uidl, {
        1: stored[0].uid,
        2: stored[1].uid,
        3: stored[2].uid,
      });
      for (const cap of ["TOP", "UIDL", "PIPELINING"]) {
        assert.ok(out.capa.includes(cap), cap);
      }
      // Net::Cmd turns CRLF into "\n" and undoes the dot-stuffing.
      stored.forEach((m, i) => {
        const want = td.decode(m.bytes).replace(/\r\n/g, "\n");
        assert.equal(out.messages[i], hex(want), `message ${i + 1}`);
      });
      assert.equal(
        out.top,
        "From: a@example.test\nSubject: one\n\nbody one\n",
      );
      assert.equal(out.quit, 1);
      assert.deepEqual(
        storage.messages("alice").map((m) => m.uid),
        [stored[1].uid],
      );
      assert.equal(storage.isLocked("alice"), false);
    } finally {
      await server.destroy();
    }
  });
});
