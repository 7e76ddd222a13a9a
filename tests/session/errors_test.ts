import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ALICE_MESSAGES, withFixture } from "../_helpers/fixture.ts";
import type { Pop3Client } from "../_helpers/pop3_client.ts";

const TOTAL = ALICE_MESSAGES.reduce((a, m) => a + m.length, 0);

/** Sends a bad line; expects one -ERR line and a session that still answers. */
async function rejects(c: Pop3Client, line: string, alive: string) {
  const reply = await c.cmd(line);
  assert.match(reply, /^-ERR /, `${JSON.stringify(line)} -> ${reply}`);
  assert.doesNotMatch(reply, /[\r\n]/);
  assert.match(await c.cmd(alive), /^\+OK/, `usable after ${line}`);
}

describe("Pop3Session bad input", () => {
  it("Pop3Session rejects bad input in AUTHORIZATION and stays usable", async () => {
    await withFixture({ maxBadCommands: 1000 }, async (fx) => {
      const c = await fx.connect();
      const alive = "CAPA"; // multi-line: read it whole below
      for (
        const line of [
          "BOGUS",
          "",
          "   ",
          "STAT",
          "LIST",
          "RETR 1",
          "DELE 1",
          "NOOP",
          "RSET",
          "TOP 1 1",
          "UIDL",
          "USER",
          "PASS secret", // no USER before it
          "APOP alice",
          "APOP alice nothex",
          "CAPA extra",
          "QUIT now",
          "NO\0OP",
          "USER a\x01b",
          "X".repeat(300),
          "USER " + "a".repeat(300),
        ]
      ) {
        const reply = await c.cmd(line);
        assert.match(reply, /^-ERR /, `${JSON.stringify(line)} -> ${reply}`);
        const capa = await c.multi(alive);
        assert.match(capa.status, /^\+OK/, `usable after ${line}`);
      }
      await c.login("alice", "secret");
      assert.equal(await c.cmd("STAT"), `+OK 3 ${TOTAL}`);
      c.close();
    });
  });

  it("Pop3Session rejects bad arguments in TRANSACTION and stays usable", async () => {
    await withFixture({ maxBadCommands: 1000 }, async (fx) => {
      const c = await fx.alice();
      for (
        const line of [
          "RETR 0",
          "RETR 4",
          "RETR x",
          "RETR -1",
          "RETR 1.0",
          "RETR",
          "RETR 1 2",
          "RETR 99999999999999999999",
          "TOP 1 -1",
          "TOP 1",
          "TOP",
          "TOP 1 x",
          "TOP 0 1",
          "TOP 1 2 3",
          "DELE 1.5",
          "DELE",
          "DELE 0",
          "DELE 1 2",
          "LIST 0",
          "LIST 4",
          "LIST a",
          "LIST 1 2",
          "UIDL 0",
          "UIDL 9",
          "UIDL 1 2",
          "STAT 1",
          "NOOP x",
          "RSET x",
          "USER alice",
          "PASS secret",
          "APOP alice 0123456789abcdef0123456789abcdef",
          "XTND XMIT",
          "",
          "NO\0OP",
          "L".repeat(1000),
        ]
      ) await rejects(c, line, "NOOP");
      assert.equal(await c.cmd("STAT"), `+OK 3 ${TOTAL}`);
      assert.deepEqual(
        fx.storage.calls.filter((x) => x.startsWith("dele")),
        [],
      );
      assert.match(await c.cmd("QUIT"), /^\+OK/);
      // Nothing was marked deleted by the bad DELEs.
      assert.deepEqual(
        fx.storage.calls.filter((x) => x.startsWith("dele")),
        [],
      );
    });
  });

  it("Pop3Session answers an over-long line once and frames the next command", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.alice();
      await c.write("NOOP " + "x".repeat(100_000) + "\r\nSTAT\r\n");
      assert.match(await c.line(), /^-ERR /);
      assert.equal(await c.line(), `+OK 3 ${TOTAL}`);
      c.close();
    });
  });

  it("Pop3Session accepts a 255-octet line and rejects 256", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      const user = (n: number) => "USER " + "u".repeat(n - 7); // + CRLF
      assert.equal(await c.cmd(user(255)), "+OK");
      assert.match(await c.cmd(user(256)), /^-ERR /);
      c.close();
    });
  });

  it("Pop3Session accepts bare LF line ends", async () => {
    await withFixture({}, async (fx) => {
      const c = await fx.connect();
      await c.write("USER alice\nPASS secret\nSTAT\n");
      assert.equal(await c.line(), "+OK");
      assert.match(await c.line(), /^\+OK/);
      assert.equal(await c.line(), `+OK 3 ${TOTAL}`);
      c.close();
    });
  });

  it("Pop3Session closes after too many bad commands, releasing the lock", async () => {
    await withFixture({ maxBadCommands: 3 }, async (fx) => {
      const c = await fx.alice();
      await c.write("A\r\nB\r\nC\r\nNOOP\r\n");
      assert.match(await c.line(), /^-ERR/);
      assert.match(await c.line(), /^-ERR/);
      assert.match(await c.line(), /^-ERR/);
      const rest = await c.closed();
      assert.match(rest, /^-ERR .*\r\n$/);
      assert.equal(fx.storage.count("unlock"), 1);
      assert.equal(fx.storage.count("dele"), 0);
    });
  });

  it("Pop3Session survives random garbage without crashing or wedging", async () => {
    await withFixture({ maxBadCommands: 1_000_000 }, async (fx) => {
      const c = await fx.alice();
      let seed = 7;
      const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
      const bytes = new Uint8Array(20_000);
      for (let i = 0; i < bytes.length; i++) {
        bytes[i] = rand() < 0.05 ? 10 : Math.floor(rand() * 256);
      }
      await c.write(bytes);
      await c.write("\r\nNOOP\r\n");
      // Skip the replies to the garbage; the NOOP must still be answered.
      for (let i = 0; i < 5000; i++) {
        const line = await c.line();
        if (line === "+OK") break;
        assert.match(line, /^(-ERR|\+OK)/);
      }
      assert.equal(await c.cmd("STAT").then((s) => s.split(" ")[0]), "+OK");
      c.close();
    });
  });
});
