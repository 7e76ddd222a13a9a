import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ALICE_MESSAGES, stored, withFixture } from "../_helpers/fixture.ts";

const td = new TextDecoder();
const SIZES = ALICE_MESSAGES.map((m) => m.length);
const TOTAL = SIZES.reduce((a, b) => a + b, 0);

describe("Pop3Session commands", () => {
  it("Pop3Session greets with an RFC 1939 timestamp and no version", async () => {
    await withFixture({}, async (fx) => {
      const a = await fx.connect();
      const b = await fx.connect();
      assert.match(a.greetingLine, /^\+OK .*<[^<>@\s]+@[^<>@\s]+>$/);
      assert.doesNotMatch(a.greetingLine, /x-pop3d|\d+\.\d+\.\d+/);
      const ts = (line: string) => line.match(/<[^>]+>/)![0];
      assert.notEqual(ts(a.greetingLine), ts(b.greetingLine));
      a.close();
      b.close();
    });
  });

  it("Pop3Session answers CAPA in both states", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      const before = await c.multi("CAPA");
      assert.match(before.status, /^\+OK/);
      for (
        const cap of [
          "TOP",
          "UIDL",
          "USER",
          "RESP-CODES",
          "AUTH-RESP-CODE",
          "PIPELINING",
        ]
      ) assert.ok(before.lines.includes(cap), `${cap} in ${before.lines}`);
      assert.ok(before.lines.some((l) => /^IMPLEMENTATION \S/.test(l)));
      await c.login("alice", "secret");
      const after = await c.multi("capa");
      assert.match(after.status, /^\+OK/);
      for (const cap of ["TOP", "UIDL", "RESP-CODES", "PIPELINING"]) {
        assert.ok(after.lines.includes(cap), `${cap} after login`);
      }
      c.close();
    });
  });

  it("Pop3Session STAT, LIST and LIST n give the storage's octet counts", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      assert.equal(await c.cmd("USER alice"), "+OK");
      assert.match(
        await c.cmd("PASS secret"),
        new RegExp(`^\\+OK .*3 messages \\(${TOTAL} octets\\)`),
      );
      assert.equal(await c.cmd("STAT"), `+OK 3 ${TOTAL}`);
      const list = await c.multi("LIST");
      assert.match(list.status, /^\+OK/);
      assert.deepEqual(list.lines, SIZES.map((s, i) => `${i + 1} ${s}`));
      assert.equal(await c.cmd("LIST 2"), `+OK 2 ${SIZES[1]}`);
      assert.equal(await c.cmd("NOOP"), "+OK");
      c.close();
    });
  });

  it("Pop3Session RETR sends each message byte-exact with its size", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      for (let n = 1; n <= 3; n++) {
        const r = await c.multi(`RETR ${n}`);
        assert.equal(r.status, `+OK ${SIZES[n - 1]} octets`);
        assert.deepEqual(r.body, stored(fx, n));
      }
      c.close();
    });
  });

  it("Pop3Session dot-stuffs lines that start with a dot on the wire", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      assert.match(await c.cmd("RETR 2"), /^\+OK/);
      const { raw } = await c.body();
      assert.equal(
        td.decode(raw),
        "From: b@example.test\r\nSubject: two\r\n\r\n..dot line\r\n...two dots\r\nend\r\n.\r\n",
      );
      c.close();
    });
  });

  it("Pop3Session TOP sends headers, the blank line and k body lines", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      const t2 = await c.multi("TOP 3 2");
      assert.match(t2.status, /^\+OK/);
      assert.equal(
        td.decode(t2.body),
        "From: c@example.test\r\nSubject: three\r\n\r\nline 1\r\nline 2\r\n",
      );
      const t0 = await c.multi("top 3 0");
      assert.equal(
        td.decode(t0.body),
        "From: c@example.test\r\nSubject: three\r\n\r\n",
      );
      const all = await c.multi("TOP 3 99");
      assert.deepEqual(all.body, stored(fx, 3));
      const dotted = await c.multi("TOP 2 1");
      assert.deepEqual(dotted.lines.slice(-1), [".dot line"]);
      c.close();
    });
  });

  it("Pop3Session UIDL lists the storage's unique ids", async () => {
    await withFixture({}, async (fx) => {
      const uids = fx.storage.inner.messages("alice").map((m) => m.uid);
      const c = await fx.alice();
      const all = await c.multi("UIDL");
      assert.match(all.status, /^\+OK/);
      assert.deepEqual(all.lines, uids.map((u, i) => `${i + 1} ${u}`));
      assert.equal(await c.cmd("UIDL 3"), `+OK 3 ${uids[2]}`);
      c.close();
    });
  });

  it("Pop3Session takes commands in any case", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      assert.equal(await c.cmd("user alice"), "+OK");
      assert.match(await c.cmd("pAsS secret"), /^\+OK/);
      assert.equal(await c.cmd("sTaT"), `+OK 3 ${TOTAL}`);
      assert.match((await c.multi("retr 1")).status, /^\+OK/);
      assert.match(await c.cmd("Quit"), /^\+OK/);
      await c.closed();
    });
  });

  it("Pop3Session answers pipelined commands in order", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      await c.write(
        "USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL 1\r\nRETR 1\r\n" +
          "TOP 3 1\r\nDELE 1\r\nSTAT\r\nBOGUS\r\nRSET\r\nNOOP\r\nQUIT\r\n",
      );
      assert.equal(await c.line(), "+OK");
      assert.match(await c.line(), /^\+OK/);
      assert.equal(await c.line(), `+OK 3 ${TOTAL}`);
      assert.equal((await c.readMulti()).lines.length, 3);
      assert.match(await c.line(), /^\+OK 1 \S+$/);
      assert.deepEqual((await c.readMulti()).body, stored(fx, 1));
      assert.equal((await c.readMulti()).lines.at(-1), "line 1");
      assert.match(await c.line(), /^\+OK/);
      assert.equal(await c.line(), `+OK 2 ${TOTAL - SIZES[0]}`);
      assert.match(await c.line(), /^-ERR/);
      assert.match(await c.line(), /^\+OK/);
      assert.equal(await c.line(), "+OK");
      assert.match(await c.line(), /^\+OK/);
      assert.equal(await c.closed(), "");
      assert.deepEqual(
        fx.storage.calls.filter((x) => x.startsWith("dele")),
        [],
      );
    });
  });

  it("Pop3Session answers hundreds of pipelined commands in one write", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      const n = 500;
      await c.write(
        Array.from({ length: n }, (_, i) => `LIST ${1 + i % 3}\r\n`).join(""),
      );
      for (let i = 0; i < n; i++) {
        assert.equal(await c.line(), `+OK ${1 + i % 3} ${SIZES[i % 3]}`);
      }
      c.close();
    });
  });
});
