// Lmtpd end to end on loopback: python3's smtplib.LMTP and swaks deliver,
// the library's Pop3d serves the mail back to python3's poplib byte for
// byte, from MemoryStorage, Maildir and PostgreSQL.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { Lmtpd, type LmtpdEvent } from "../../src/lmtp/lmtpd.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { MaildirDeliver } from "../../src/maildir/maildir_deliver.ts";
import { MaildirStorage } from "../../src/maildir/maildir_storage.ts";
import { createSchema } from "../../src/postgres/schema.ts";
import { PostgresAuth } from "../../src/postgres/postgres_auth.ts";
import { PostgresStorage } from "../../src/postgres/postgres_storage.ts";
import { NetClient } from "../_helpers/line_client.ts";
import { PgWirePool } from "../_helpers/pg_wire.ts";
import { type TestDatabase, testDatabase } from "../_helpers/pg_server.ts";
import { b64, python, runProgram, unb64 } from "./_python.ts";

// Dot-started lines, 8-bit and NUL bytes, a CR before CRLF, no bare LF
// (SMTP forbids it; the library sends bare LF as CRLF).
const MESSAGE = Uint8Array.from(
  [
    ..."From: sender@example.org\r\nSubject: t",
    "\u00e9",
    ..."st\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n",
    ..."cr before crlf\r\r\nbytes ",
    "\u0000",
    "\u0001",
    "\u00ff",
    ..."\r\nlast line\r\n",
  ].map((c) => c.charCodeAt(0)),
);

async function fetchAll(
  port: number,
  user: string,
): Promise<{ messages: Uint8Array[]; sizes: number[] }> {
  const out = await python({ op: "fetch", port, user, password: "pw" });
  return {
    messages: (out.messages as string[]).map(unb64),
    sizes: out.sizes as number[],
  };
}

function auth(): MemoryAuth {
  return new MemoryAuth().addUser("alice", "pw").addUser("bob", "pw");
}

describe("Lmtpd with python3 smtplib.LMTP and poplib", () => {
  it("Lmtpd delivers into MemoryStorage and Pop3d serves it byte for byte", async () => {
    const users = auth();
    const storage = new MemoryStorage();
    const events: LmtpdEvent[] = [];
    const lmtp = new Lmtpd({
      port: 0,
      auth: users,
      storage,
      onEvent: (e) => events.push(e),
    });
    const pop3 = new Pop3d({
      port: 0,
      hostname: "127.0.0.1",
      auth: users,
      storage,
      authFailureDelay: 0,
    });
    await Promise.all([lmtp.up(), pop3.up()]);
    try {
      const sent = await python({
        op: "sendmail",
        port: lmtp.port,
        from: "sender@example.org",
        to: ["alice@example.org", "nobody@example.org"],
        message: b64(MESSAGE),
      });
      assert.deepEqual(sent.refused, {
        "nobody@example.org": [550, "5.1.1 User unknown"],
      });
      const tx = await python({
        op: "transaction",
        port: lmtp.port,
        from: "sender@example.org",
        to: ["alice@example.org", "ghost@example.org", "bob@example.org"],
        message: b64(MESSAGE),
      });
      assert.deepEqual(tx.esmtp, [
        "8bitmime",
        "enhancedstatuscodes",
        "pipelining",
        "size",
      ]);
      assert.deepEqual(tx.rcpt, [
        [250, "2.1.5 Recipient OK"],
        [550, "5.1.1 User unknown"],
        [250, "2.1.5 Recipient OK"],
      ]);
      assert.deepEqual(tx.data, [
        [250, "2.0.0 <alice@example.org> Delivered"],
        [250, "2.0.0 <bob@example.org> Delivered"],
      ]);
      assert.equal(tx.quit, 221);
      const alice = await fetchAll(pop3.cget("port") as number, "alice");
      assert.equal(alice.messages.length, 2);
      for (const m of alice.messages) assert.deepEqual(m, MESSAGE);
      assert.deepEqual(alice.sizes, [MESSAGE.length, MESSAGE.length]);
      const bob = await fetchAll(pop3.cget("port") as number, "bob");
      assert.deepEqual(bob.messages, [MESSAGE]);
      assert.equal(lmtp.stats().delivered, 3);
      assert.equal(lmtp.stats().recipientsRejected, 2);
      const delivery = events.find((e) => e.type === "delivery");
      assert.ok(delivery && delivery.type === "delivery");
      assert.equal(delivery.remote, "127.0.0.1");
      assert.equal(delivery.size, MESSAGE.length);
    } finally {
      await Promise.all([lmtp.destroy(), pop3.destroy()]);
    }
  });

  describe("Maildir", () => {
    let root: string;
    before(async () => {
      root = await mkdtemp(`${tmpdir()}/lmtpd-maildir-`);
    });
    after(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it("Lmtpd delivers into Maildir (tmp/ then new/, S= and W=) and MaildirStorage serves it byte for byte", async () => {
      const users = auth();
      const lmtp = new Lmtpd({
        port: 0,
        auth: users,
        storage: new MaildirDeliver({ root }),
      });
      const pop3 = new Pop3d({
        port: 0,
        hostname: "127.0.0.1",
        auth: users,
        storage: new MaildirStorage({ root }),
        authFailureDelay: 0,
      });
      await Promise.all([lmtp.up(), pop3.up()]);
      try {
        const tx = await python({
          op: "transaction",
          port: lmtp.port,
          from: "",
          to: ["alice@example.org", "bob@example.org"],
          message: b64(MESSAGE),
        });
        assert.deepEqual(tx.data, [
          [250, "2.0.0 <alice@example.org> Delivered"],
          [250, "2.0.0 <bob@example.org> Delivered"],
        ]);
        const names = await readdir(`${root}/alice/new`);
        assert.equal(names.length, 1);
        assert.deepEqual(await readdir(`${root}/alice/tmp`), []);
        const stored = await readFile(`${root}/alice/new/${names[0]}`);
        // LF line ends on disk, as Maildir readers expect; CR CR LF keeps one CR.
        assert.equal(stored.includes("\r\n"), true); // only the \r\r\n line
        assert.equal(
          names[0],
          names[0].replace(/,S=\d+,W=\d+$/, "") +
            `,S=${stored.length},W=${MESSAGE.length}`,
        );
        assert.match(names[0], /^\d+\.M\d{6}P\d+Q\d+R[0-9a-z]+\.[^,/:]+,S=/);
        const port = pop3.cget("port") as number;
        const alice = await fetchAll(port, "alice");
        assert.deepEqual(alice.messages, [MESSAGE]);
        assert.deepEqual(alice.sizes, [MESSAGE.length]);
        assert.deepEqual((await fetchAll(port, "bob")).messages, [MESSAGE]);
      } finally {
        await Promise.all([lmtp.destroy(), pop3.destroy()]);
      }
    });
  });

  it("Lmtpd answers 451 4.3.0 for the recipient whose storage fails and keeps the others' mail", async () => {
    const memory = new MemoryStorage();
    const errors: unknown[] = [];
    const storage = {
      deliver(mbox: string, message: Uint8Array) {
        if (mbox === "bob") throw new Error("disk full");
        memory.deliver(mbox, message);
      },
    };
    const lmtp = new Lmtpd({
      port: 0,
      auth: auth(),
      storage,
      onError: (e) => errors.push(e),
    });
    await lmtp.up();
    try {
      const tx = await python({
        op: "transaction",
        port: lmtp.port,
        from: "s@x",
        to: ["alice@x", "bob@x"],
        message: b64(MESSAGE),
      });
      assert.deepEqual(tx.data, [
        [250, "2.0.0 <alice@x> Delivered"],
        [451, "4.3.0 <bob@x> Temporary failure, try again"],
      ]);
      assert.deepEqual(memory.messages("alice").map((m) => m.bytes), [MESSAGE]);
      assert.equal(memory.stat("bob"), 0);
      assert.match(String(errors[0]), /disk full/);
      assert.equal(lmtp.stats().deliveryFailures, 1);
    } finally {
      await lmtp.destroy();
    }
  });

  it("Lmtpd takes mail from swaks --protocol LMTP", async (t) => {
    if ((await runProgram("swaks", ["--version"]).catch(() => null)) === null) {
      t.skip("swaks is not installed");
      return;
    }
    const storage = new MemoryStorage();
    const lmtp = new Lmtpd({ port: 0, auth: auth(), storage });
    await lmtp.up();
    try {
      const { code, out } = await runProgram("swaks", [
        "--protocol",
        "LMTP",
        "--server",
        "127.0.0.1",
        "--port",
        String(lmtp.port),
        "--from",
        "sender@example.org",
        "--to",
        "alice@example.org,bob@example.org",
        "--header",
        "Subject: swaks test",
        "--body",
        ".dotted line",
      ]);
      assert.equal(code, 0, out);
      assert.match(out, /<- {2}250 2\.0\.0 <alice@example\.org> Delivered/);
      assert.match(out, /<- {2}250 2\.0\.0 <bob@example\.org> Delivered/);
      for (const user of ["alice", "bob"]) {
        const [m] = storage.messages(user);
        const text = new TextDecoder().decode(m.bytes);
        assert.match(text, /Subject: swaks test\r\n/);
        assert.match(text, /\r\n\.dotted line\r\n/);
      }
    } finally {
      await lmtp.destroy();
    }
  });
});

describe("Lmtpd limits and state", () => {
  it("Lmtpd refuses connections over maxConnections with 421 4.3.2", async () => {
    const lmtp = new Lmtpd({ port: 0, auth: auth(), maxConnections: 1 });
    await lmtp.up();
    const first = await NetClient.open(lmtp.port);
    try {
      assert.match((await first.line())!, /^220 /);
      const second = await NetClient.open(lmtp.port);
      assert.equal(
        await second.line(),
        "421 4.3.2 Too many connections, try again later",
      );
      assert.equal(await second.line(), null);
      assert.equal(lmtp.stats().connectionsRefused, 1);
    } finally {
      first.close();
      await lmtp.destroy();
    }
  });

  it("Lmtpd closes an idle connection with 421 4.4.2", async () => {
    const closes: LmtpdEvent[] = [];
    const lmtp = new Lmtpd({
      port: 0,
      idleTimeout: 200,
      onEvent: (e) => e.type === "close" && closes.push(e),
    });
    await lmtp.up();
    try {
      const c = await NetClient.open(lmtp.port);
      assert.match((await c.line())!, /^220 localhost LMTP ready$/);
      assert.match((await c.line())!, /^421 4\.4\.2 .*Idle timeout/);
      assert.equal(await c.line(), null);
      await lmtp.destroy("defer");
      assert.equal(closes[0].type === "close" && closes[0].reason, "timeout");
    } finally {
      await lmtp.destroy();
    }
  });

  it("Lmtpd.conn.state reports the envelope and the client's address", async () => {
    const lmtp = new Lmtpd({
      port: 0,
      auth: auth(),
      storage: new MemoryStorage(),
    });
    await lmtp.up();
    const c = await NetClient.open(lmtp.port);
    try {
      await c.line();
      c.write("LHLO me\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\n");
      for (let i = 0; i < 7; i++) await c.line();
      const [id] = lmtp.conn.list();
      const state = lmtp.conn.state(id);
      assert.equal(state.remoteAddress, "127.0.0.1");
      assert.equal(state.state, "rcpt");
      assert.equal(state.from, "s@x");
      assert.equal(state.recipients, 1);
      assert.throws(() => lmtp.conn.state(999), RangeError);
    } finally {
      c.close();
      await lmtp.destroy();
    }
  });

  it("Lmtpd answers a pipelined transaction over a socket in order", async () => {
    const storage = new MemoryStorage();
    const lmtp = new Lmtpd({ port: 0, auth: auth(), storage });
    await lmtp.up();
    const c = await NetClient.open(lmtp.port);
    try {
      assert.match((await c.line())!, /^220 /);
      c.write(
        "LHLO me\r\nMAIL FROM:<s@x> SIZE=30\r\nRCPT TO:<alice@x>\r\n" +
          "RCPT TO:<zed@x>\r\nRCPT TO:<bob@x>\r\nDATA\r\n",
      );
      const replies: string[] = [];
      for (let i = 0; i < 10; i++) replies.push((await c.line())!);
      assert.deepEqual(replies.slice(5), [
        "250 2.1.0 Sender OK",
        "250 2.1.5 Recipient OK",
        "550 5.1.1 User unknown",
        "250 2.1.5 Recipient OK",
        "354 Start mail input; end with <CRLF>.<CRLF>",
      ]);
      c.write("Subject: p\r\n\r\n..x\r\n.\r\nQUIT\r\n");
      assert.equal(await c.line(), "250 2.0.0 <alice@x> Delivered");
      assert.equal(await c.line(), "250 2.0.0 <bob@x> Delivered");
      assert.equal(await c.line(), "221 2.0.0 Bye");
      assert.equal(
        new TextDecoder().decode(storage.messages("bob")[0].bytes),
        "Subject: p\r\n\r\n.x\r\n",
      );
    } finally {
      c.close();
      await lmtp.destroy();
    }
  });

  it("Lmtpd answers 451 4.3.0 when a delivery outlasts callbackTimeout", async () => {
    const lmtp = new Lmtpd({
      port: 0,
      auth: auth(),
      callbackTimeout: 100,
      storage: { deliver: () => new Promise(() => {}) },
    });
    await lmtp.up();
    const c = await NetClient.open(lmtp.port);
    try {
      await c.line();
      c.write("LHLO me\r\nMAIL FROM:<>\r\nRCPT TO:<alice@x>\r\nDATA\r\n");
      for (let i = 0; i < 8; i++) await c.line();
      c.write("x\r\n.\r\n");
      assert.equal(
        await c.line(),
        "451 4.3.0 <alice@x> Temporary failure, try again",
      );
    } finally {
      c.close();
      await lmtp.destroy();
    }
  });

  it("Lmtpd.destroy('kill') in the middle of DATA delivers nothing", async () => {
    const storage = new MemoryStorage();
    const lmtp = new Lmtpd({ port: 0, auth: auth(), storage });
    await lmtp.up();
    const c = await NetClient.open(lmtp.port);
    try {
      await c.line();
      c.write("LHLO me\r\nMAIL FROM:<>\r\nRCPT TO:<alice@x>\r\nDATA\r\n");
      for (let i = 0; i < 8; i++) await c.line();
      c.write("Subject: half\r\n\r\nno end");
      while (
        lmtp.conn.list().length === 0 ||
        !lmtp.conn.state(lmtp.conn.list()[0]).inData
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await lmtp.destroy("kill");
      assert.equal(await c.line(), null);
      assert.equal(storage.stat("alice"), 0);
    } finally {
      c.close();
    }
  });

  it("Lmtpd rejects unknown and bad options", () => {
    assert.throws(() => new Lmtpd({ nope: 1 } as never), TypeError);
    assert.throws(() => new Lmtpd({ maxLineLength: 100 }), RangeError);
    assert.throws(() => new Lmtpd({ storage: {} as never }), /deliver/);
  });
});

const found = await testDatabase();
const skip = "skip" in found ? found.skip : false;

describe("Lmtpd into PostgreSQL", { skip }, () => {
  let db: PgWirePool;
  before(async () => {
    db = new PgWirePool((found as TestDatabase).url, { max: 4 });
    await createSchema(db);
  });
  after(async () => {
    await db?.end();
    await (found as TestDatabase).stop?.();
  });

  it("Lmtpd delivers into PostgresStorage and Pop3d serves it byte for byte", async () => {
    const users = new PostgresAuth(db);
    await users.addUser("alice", "pw");
    await users.addUser("bob", "pw");
    const storage = new PostgresStorage(db, { leaseMs: 2000 });
    const lmtp = new Lmtpd({ port: 0, auth: users, storage });
    const pop3 = new Pop3d({
      port: 0,
      hostname: "127.0.0.1",
      auth: users,
      storage,
      authFailureDelay: 0,
    });
    await Promise.all([lmtp.up(), pop3.up()]);
    try {
      const tx = await python({
        op: "transaction",
        port: lmtp.port,
        from: "s@x",
        to: ["alice@x", "carol@x", "bob@x"],
        message: b64(MESSAGE),
      });
      assert.deepEqual(tx.rcpt, [
        [250, "2.1.5 Recipient OK"],
        [550, "5.1.1 User unknown"],
        [250, "2.1.5 Recipient OK"],
      ]);
      assert.equal((tx.data as unknown[]).length, 2);
      const port = pop3.cget("port") as number;
      assert.deepEqual((await fetchAll(port, "alice")).messages, [MESSAGE]);
      assert.deepEqual((await fetchAll(port, "bob")).messages, [MESSAGE]);
    } finally {
      await Promise.all([lmtp.destroy(), pop3.destroy()]);
      await storage.close();
    }
  });
});
