import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { eventually, type Fixture, withFixture } from "../_helpers/fixture.ts";
import { Pop3Client } from "../_helpers/pop3_client.ts";
import { prng, randomSplit } from "../_helpers/random.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import type { Pop3dStorage } from "../../src/storage/types.ts";
import { memoryListener } from "../../src/transport/memory.ts";

const te = new TextEncoder();
const td = new TextDecoder();

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++].slice());
      else controller.close();
    },
  }, { highWaterMark: 0 });
}

const TRICKY =
  "Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nbare\nLF\n.x\r\nend";
// As stored and sized: CRLF everywhere, no final line end.
const TRICKY_CRLF = TRICKY.replace(/\r?\n/g, "\r\n");

function deliverTricky(fx: Fixture): void {
  fx.storage.inner.clear("alice");
  fx.storage.inner.deliver("alice", TRICKY);
}

describe("Pop3Session message sources", () => {
  it("Pop3Session streams a ReadableStream source with dot lines split across chunks", async () => {
    await withFixture({}, async (fx) => {
      deliverTricky(fx);
      const bytes = te.encode(TRICKY); // bare LFs as the storage returns them
      const c = await fx.alice();
      for (let seed = 1; seed <= 30; seed++) {
        fx.storage.source = () =>
          streamOf(randomSplit(prng(seed), bytes, seed % 5 + 1));
        const r = await c.multi("RETR 1");
        assert.equal(r.status, `+OK ${TRICKY_CRLF.length} octets`);
        assert.equal(td.decode(r.body), TRICKY_CRLF + "\r\n");
      }
      c.close();
    });
  });

  it("Pop3Session sends the exact stuffed wire form for a tricky message", async () => {
    await withFixture({}, async (fx) => {
      deliverTricky(fx);
      fx.storage.source = () =>
        streamOf([...te.encode(TRICKY)].map((b) => Uint8Array.of(b)));
      const c = await fx.alice();
      await c.cmd("RETR 1");
      const { raw } = await c.body();
      assert.equal(
        td.decode(raw),
        "Subject: dots\r\n\r\n..\r\n...\r\n..leading\r\nbare\r\nLF\r\n..x\r\nend\r\n.\r\n",
      );
      c.close();
    });
  });

  it("Pop3Session streams a Blob source", async () => {
    await withFixture({}, async (fx) => {
      const big = ("x".repeat(70) + "\r\n.dot\r\n").repeat(5000);
      fx.storage.inner.clear("alice");
      fx.storage.inner.deliver("alice", big);
      fx.storage.source = () => new Blob([te.encode(big)]);
      const c = await fx.alice();
      const r = await c.multi("RETR 1");
      assert.equal(r.status, `+OK ${big.length} octets`);
      assert.equal(td.decode(r.body), big);
      const t = await c.multi("TOP 1 0");
      assert.match(t.status, /^\+OK/);
      c.close();
    });
  });

  it("Pop3Session TOP works on streamed sources split anywhere", async () => {
    await withFixture({}, async (fx) => {
      const msg = "A: 1\r\nB: 2\r\n\r\n.one\r\ntwo\r\nthree\r\n";
      fx.storage.inner.clear("alice");
      fx.storage.inner.deliver("alice", msg);
      const c = await fx.alice();
      for (let seed = 1; seed <= 20; seed++) {
        fx.storage.source = () =>
          streamOf(randomSplit(prng(seed), te.encode(msg), 4));
        const r = await c.multi("TOP 1 2");
        assert.equal(td.decode(r.body), "A: 1\r\nB: 2\r\n\r\n.one\r\ntwo\r\n");
      }
      c.close();
    });
  });

  it("Pop3Session arms the callback deadline of a streamed RETR once, not per chunk", async () => {
    await withFixture({}, async (fx) => {
      const line = te.encode("x".repeat(62) + "\r\n"); // 64 octets
      const count = 200;
      fx.storage.inner.clear("alice");
      fx.storage.inner.deliver("alice", new Uint8Array(line.length * count));
      fx.storage.source = () => streamOf(Array(count).fill(line));
      const c = await fx.alice();
      const realSetTimeout = globalThis.setTimeout;
      let armed = 0;
      globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
        armed++;
        return realSetTimeout(...args);
      }) as typeof setTimeout;
      let r;
      try {
        r = await c.multi("RETR 1");
      } finally {
        globalThis.setTimeout = realSetTimeout;
      }
      assert.equal(r.status, `+OK ${line.length * count} octets`);
      assert.equal(r.body.length, line.length * count);
      // One per chunk was 200 and more; the idle and write clocks add a few.
      assert.ok(armed < 20, `${armed} timers for ${count} chunks`);
      c.close();
    });
  });

  it("Pop3Session closes a RETR whose stream stalls after many chunks, without the terminator", async () => {
    await withFixture({ callbackTimeout: 150 }, async (fx) => {
      const line = te.encode("x".repeat(62) + "\r\n");
      fx.storage.inner.clear("alice");
      fx.storage.inner.deliver("alice", new Uint8Array(line.length * 1000));
      let pulled = 0;
      fx.storage.source = () =>
        new ReadableStream({
          pull(controller) {
            // 100 chunks, then nothing more, ever.
            if (pulled++ < 100) controller.enqueue(line.slice());
          },
        }, { highWaterMark: 0 });
      const c = await fx.alice();
      await c.send("RETR 1");
      assert.equal(await c.line(), "+OK 64000 octets");
      const rest = await c.closed();
      assert.equal(rest.length, 6400);
      assert.equal(pulled, 101);
      assert.match(String(fx.errors[0]), /did not settle within 150 ms/);
      assert.equal(fx.storage.count("unlock"), 1);
    });
  });

  it("Pop3Session pulls a stream source as the client reads, not all at once", async () => {
    await withFixture({}, async (fx) => {
      const chunk = te.encode(("y".repeat(1022) + "\r\n").repeat(16)); // 16 KiB
      const count = 256; // 4 MiB
      fx.storage.inner.clear("alice");
      fx.storage.inner.deliver("alice", new Uint8Array(chunk.length * count));
      let pulled = 0;
      fx.storage.source = () =>
        new ReadableStream({
          pull(controller) {
            if (pulled++ < count) controller.enqueue(chunk.slice());
            else controller.close();
          },
        }, { highWaterMark: 0 });
      // A raw client that stops reading after the first bytes.
      const client = fx.listener.connect();
      const reader = client.readable.getReader();
      const writer = client.writable.getWriter();
      await reader.read(); // greeting
      await writer.write(te.encode("USER alice\r\nPASS secret\r\nRETR 1\r\n"));
      let seen = 0;
      while (seen < 100_000) {
        const { value, done } = await reader.read();
        if (done) throw new Error("closed early");
        seen += value.length;
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(pulled < 40, `pulled ${pulled} of ${count} chunks`);
      client.close();
      await eventually(() => fx.server.conn.list().length === 0, "session end");
      assert.equal(fx.storage.count("unlock"), 1);
    });
  });

  it("Pop3Session closes without the terminator when the bytes disagree with size", async () => {
    await withFixture({}, async (fx) => {
      fx.storage.source = () =>
        te.encode("Subject: longer than it said\r\n\r\n");
      const c = await fx.alice();
      await c.send("RETR 1");
      assert.match(await c.line(), /^\+OK/);
      const rest = await c.closed();
      assert.ok(!rest.endsWith("\r\n.\r\n"), JSON.stringify(rest));
      await eventually(() => fx.server.conn.list().length === 0, "session end");
      assert.equal(fx.storage.count("unlock"), 1);
      assert.equal(fx.storage.count("dele"), 0);
      assert.equal(fx.errors.length, 1);
    });
  });

  it("Pop3Session closes without the terminator when a source is shorter than its size", async () => {
    await withFixture({}, async (fx) => {
      fx.storage.source = () => streamOf([te.encode("Subject: short\r\n")]);
      const c = await fx.alice();
      await c.send("RETR 1");
      assert.match(await c.line(), /^\+OK/);
      const rest = await c.closed();
      assert.ok(!rest.endsWith("\r\n.\r\n"), JSON.stringify(rest));
    });
  });

  it("Pop3Session answers earlier pipelined commands before closing on a bad size", async () => {
    await withFixture({}, async (fx) => {
      fx.storage.source = () => te.encode("too long ".repeat(50));
      const c = await fx.alice();
      await c.write("NOOP\r\nRETR 1\r\n");
      assert.equal(await c.line(), "+OK");
      await c.closed();
    });
  });

  it("Pop3Session closes without the terminator when a stream errors midway", async () => {
    await withFixture({}, async (fx) => {
      let sent = false;
      fx.storage.source = () =>
        new ReadableStream({
          pull(controller) {
            if (!sent) {
              sent = true;
              controller.enqueue(te.encode("From: a@example.test\r\n"));
            } else controller.error(new Error("disk gone"));
          },
        });
      const c = await fx.alice();
      await c.send("RETR 1");
      assert.match(await c.line(), /^\+OK/);
      const rest = await c.closed();
      assert.ok(!rest.endsWith("\r\n.\r\n"));
      assert.match(String(fx.errors[0]), /disk gone/);
      assert.equal(fx.storage.count("unlock"), 1);
    });
  });
});

describe("Pop3Session UIDL without storage.uidl", () => {
  function plainStorage(inner: MemoryStorage): Pop3dStorage<string> {
    return {
      lock: (m) => inner.lock(m),
      unlock: (m) => inner.unlock(m),
      stat: (m) => inner.stat(m),
      size: (m, id) => inner.size(m, id),
      get: (m, id) => inner.get(m, id),
      dele: (m, ids) => inner.dele(m, ids),
    };
  }

  it("Pop3Session derives stable, distinct UIDs from the message bytes", async () => {
    const inner = new MemoryStorage();
    const messages = ["Subject: a\r\n\r\nA\r\n", "Subject: b\r\n\r\nB\r\n"];
    for (const m of messages) inner.deliver("alice", m);
    inner.deliver("alice", messages[0]); // same bytes as message 1
    const listener = memoryListener();
    const server = new Pop3d({
      socket: () => listener,
      auth: new MemoryAuth().addUser("alice", "secret"),
      storage: plainStorage(inner),
    });
    await server.up();
    try {
      const session = async () => {
        const c = new Pop3Client(listener.connect());
        await c.greeting();
        await c.login("alice", "secret");
        const all = await c.multi("UIDL");
        const one = await c.cmd("UIDL 2");
        await c.cmd("QUIT");
        await c.closed();
        return { all: all.lines, one };
      };
      const first = await session();
      const second = await session();
      assert.deepEqual(first, second);
      const uids = first.all.map((l) => l.split(" ")[1]);
      for (const u of uids) assert.match(u, /^[!-~]{1,70}$/);
      assert.notEqual(uids[0], uids[1]);
      assert.equal(first.one, `+OK 2 ${uids[1]}`);
      // As documented: an MD5 digest of the message bytes.
      assert.equal(
        uids[1],
        createHash("md5").update(messages[1]).digest("hex"),
      );
    } finally {
      await server.destroy();
    }
  });
});
