// "Keep on server" (Dovecot's pop3_deleted_flag): MaildirStorage with
// deletedFlag, served by Pop3d on 127.0.0.1 over a real Maildir.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MaildirStorage } from "../../maildir.ts";
import {
  isKeyword,
  parseDovecotKeywords,
} from "../../src/maildir/dovecot_keywords.ts";
import { pop3Connect } from "../_helpers/net_client.ts";

const MESSAGES: Record<string, string> = {
  "1700000001.M1P1.host,S=23:2,": "Subject: one\r\n\r\nHello\r\n",
  "1700000002.M1P1.host,S=23:2,": "Subject: two\r\n\r\nWorld\r\n",
  "1700000003.M1P1.host,S=25:2,": "Subject: three\r\n\r\nAgain\r\n",
};

async function maildir(keywords?: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "pop3d-keep-"));
  for (const sub of ["cur", "new", "tmp"]) {
    await mkdir(join(root, "alice", sub), { recursive: true });
  }
  for (const [name, text] of Object.entries(MESSAGES)) {
    await writeFile(join(root, "alice", "cur", name), text);
  }
  if (keywords !== undefined) {
    await writeFile(join(root, "alice", "dovecot-keywords"), keywords);
  }
  return root;
}

async function serve<T>(
  root: string,
  deletedFlag: boolean | string,
  fn: (port: number) => Promise<T>,
): Promise<T> {
  const server = new Pop3d<string>({
    port: 0,
    hostname: "127.0.0.1",
    auth: new MemoryAuth().addUser("alice", "secret"),
    storage: new MaildirStorage({ root, deletedFlag, markSeen: false }),
    authFailureDelay: 0,
    authPenalty: false,
  });
  await server.up();
  try {
    return await fn(Number(server.cget("port")));
  } finally {
    await server.destroy("kill");
  }
}

/** Logs in, runs `commands`, QUITs; returns the LIST and UIDL lines. */
async function session(port: number, commands: string[] = []) {
  const c = await pop3Connect(port);
  await c.cmd("USER alice");
  assert.match(await c.cmd("PASS secret"), /^\+OK/);
  const list = (await c.multi("LIST")).lines;
  const uidl = (await c.multi("UIDL")).lines;
  for (const command of commands) assert.match(await c.cmd(command), /^\+OK/);
  assert.match(await c.cmd("QUIT"), /^\+OK/);
  c.close();
  return { list, uidl };
}

describe("MaildirStorage deletedFlag", () => {
  it("MaildirStorage with deletedFlag keeps a DELEted file with $POP3Deleted's letter and hides it from later sessions", async () => {
    const root = await maildir();
    try {
      await serve(root, true, async (port) => {
        const first = await session(port, ["DELE 2"]);
        assert.equal(first.list.length, 3);
        const second = await session(port);
        assert.deepEqual(second.list, ["1 23", "2 25"]);
        assert.deepEqual(second.uidl, [
          "1 1700000001.M1P1.host",
          "2 1700000003.M1P1.host",
        ]);
      });
      const cur = (await readdir(join(root, "alice", "cur"))).sort();
      assert.deepEqual(cur, [
        "1700000001.M1P1.host,S=23:2,",
        "1700000002.M1P1.host,S=23:2,a",
        "1700000003.M1P1.host,S=25:2,",
      ]);
      const keywords = await readFile(
        join(root, "alice", "dovecot-keywords"),
        "utf8",
      );
      assert.equal(keywords, "0 $POP3Deleted\n");
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("MaildirStorage with deletedFlag uses the keyword's letter from an existing dovecot-keywords and keeps its other lines", async () => {
    // Letter b is taken by $POP3Deleted already; c is $Junk on message 3.
    const root = await maildir("0 $Label1\n1 $POP3Deleted\n2 $Junk\n");
    try {
      await rm(join(root, "alice", "cur", "1700000003.M1P1.host,S=25:2,"));
      await writeFile(
        join(root, "alice", "cur", "1700000003.M1P1.host,S=25:2,c"),
        MESSAGES["1700000003.M1P1.host,S=25:2,"],
      );
      await serve(root, "$POP3Deleted", async (port) => {
        await session(port, ["DELE 1"]);
        const second = await session(port);
        assert.deepEqual(second.list, ["1 23", "2 25"]);
      });
      const cur = (await readdir(join(root, "alice", "cur"))).sort();
      assert.deepEqual(cur, [
        "1700000001.M1P1.host,S=23:2,b",
        "1700000002.M1P1.host,S=23:2,",
        "1700000003.M1P1.host,S=25:2,c",
      ]);
      assert.equal(
        await readFile(join(root, "alice", "dovecot-keywords"), "utf8"),
        "0 $Label1\n1 $POP3Deleted\n2 $Junk\n",
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("MaildirStorage with a custom keyword adds it at the lowest free index", async () => {
    const root = await maildir("0 $Label1\n2 $Junk\n");
    try {
      await serve(root, "Hidden", async (port) => {
        await session(port, ["DELE 3"]);
        assert.deepEqual((await session(port)).list, ["1 23", "2 23"]);
      });
      assert.ok(
        (await readdir(join(root, "alice", "cur"))).includes(
          "1700000003.M1P1.host,S=25:2,b",
        ),
      );
      assert.equal(
        await readFile(join(root, "alice", "dovecot-keywords"), "utf8"),
        "0 $Label1\n1 Hidden\n2 $Junk\n",
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("MaildirStorage without deletedFlag unlinks on DELE and lists a keyword-flagged file (the default)", async () => {
    const root = await maildir("0 $POP3Deleted\n");
    try {
      await rm(join(root, "alice", "cur", "1700000003.M1P1.host,S=25:2,"));
      await writeFile(
        join(root, "alice", "cur", "1700000003.M1P1.host,S=25:2,a"),
        MESSAGES["1700000003.M1P1.host,S=25:2,"],
      );
      await serve(root, false, async (port) => {
        assert.equal((await session(port, ["DELE 1"])).list.length, 3);
        assert.deepEqual((await session(port)).list, ["1 23", "2 25"]);
      });
      assert.equal((await readdir(join(root, "alice", "cur"))).length, 2);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("MaildirStorage rejects a deletedFlag that is not a boolean or an IMAP keyword", () => {
    assert.throws(
      () => new MaildirStorage({ root: "/tmp", deletedFlag: 1 as never }),
      (e: unknown) => e instanceof TypeError && /deletedFlag/.test(e.message),
    );
    for (const bad of ["", "a b", "x(y", "50%"]) {
      assert.throws(
        () => new MaildirStorage({ root: "/tmp", deletedFlag: bad }),
        (e: unknown) =>
          e instanceof RangeError && /deletedFlag/.test(e.message),
        bad,
      );
    }
  });
});

describe("parseDovecotKeywords", () => {
  it("parseDovecotKeywords maps indexes 0..25 and skips lines that do not fit", () => {
    const map = parseDovecotKeywords("0 $A\r\nbad\n26 $Z\n3 $D\n3 $Again\n");
    assert.deepEqual([...map], [[0, "$A"], [3, "$D"]]);
    assert.ok(isKeyword("$POP3Deleted"));
    assert.equal(isKeyword("a]"), false);
  });
});
