// PostgresStorage and PostgresAuth against a real PostgreSQL server, in one
// process. Multi-process cluster behaviour is in cluster_test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PgWirePool } from "../_helpers/pg_wire.ts";
import { byMbox } from "../_helpers/by_mbox.ts";
import { probeDeriveBits } from "../_helpers/derive_probe.ts";
import { DEFAULT_PBKDF2_ITERATIONS } from "../../src/postgres/password_hash.ts";
import { type TestDatabase, testDatabase } from "../_helpers/pg_server.ts";
import { createSchema } from "../../postgres.ts";
import {
  LeaseLostError,
  PostgresAuth,
  PostgresStorage,
} from "../../postgres.ts";
import { Pop3Error } from "../../src/errors.ts";
import type {
  PgClient,
  PgMailbox,
  PgQueryable,
} from "../../src/postgres/types.ts";

const found = await testDatabase();
const skip = "skip" in found ? found.skip : false;
const encoder = new TextEncoder();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A client that records the statements run through it (transactions too). */
function counting(db: PgClient): PgClient & { statements: string[] } {
  const statements: string[] = [];
  const on = (q: PgQueryable): PgQueryable => ({
    query: (sql, params) => {
      statements.push(sql.replace(/\s+/g, " ").trim());
      return q.query(sql, params);
    },
  });
  return {
    statements,
    ...on(db),
    transaction: (fn) => db.transaction((tx) => fn(on(tx))),
  };
}

async function readAll(source: unknown): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  const parts: Uint8Array[] = [];
  for await (const part of source as ReadableStream<Uint8Array>) {
    parts.push(part);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe("PostgreSQL backend", { skip }, () => {
  after(() => (found as TestDatabase).stop());

  describe("PostgresStorage", () => {
    let db: PgWirePool;
    let n = 0;
    const storages: PostgresStorage[] = [];
    /** A storage driven through by-mbox calls, plus its own methods. */
    function storage(
      options: ConstructorParameters<typeof PostgresStorage>[1] = {},
      client: PgClient = db,
    ) {
      const s = new PostgresStorage(client, options);
      storages.push(s);
      return Object.assign(byMbox(s, (m: PgMailbox) => m.id), {
        deliver: s.deliver.bind(s),
        mailbox: s.mailbox.bind(s),
        close: s.close.bind(s),
        owner: s.owner,
      });
    }
    async function box(): Promise<PgMailbox> {
      return await storage().mailbox(`box${++n}`);
    }

    before(async () => {
      db = new PgWirePool((found as TestDatabase).url, { max: 6 });
      await createSchema(db);
      await createSchema(db); // idempotent
    });
    after(async () => {
      for (const s of storages) await s.close();
      await db.end();
    });

    it("PostgresStorage.deliver stores CRLF bytes, exact sizes and stable uids", async () => {
      const s = storage({ chunkSize: 1024 });
      const mb = await box();
      const one = await s.deliver(mb, "Subject: a\n\nline\n");
      const two = await s.deliver(mb.name, "x\r\n", { uid: "custom-uid" });
      assert.equal(one.size, 20);
      assert.equal(two.uid, "custom-uid");
      assert.ok(two.id > one.id);
      assert.equal(await s.lock(mb), true);
      assert.equal(s.stat(mb), 2);
      assert.equal(s.size(mb), 23);
      assert.equal(s.size(mb, 1), 20);
      assert.equal(s.uidl(mb, 1), String(one.id));
      assert.equal(s.uidl(mb, 2), "custom-uid");
      const bytes = await readAll(await s.get(mb, 1));
      assert.equal(
        new TextDecoder().decode(bytes),
        "Subject: a\r\n\r\nline\r\n",
      );
      assert.throws(() => s.size(mb, 3), RangeError);
      await s.unlock(mb);
      await assert.rejects(s.deliver(mb, "y", { uid: "bad uid" }), TypeError);
    });

    it("PostgresStorage.deliver converts a stream piece by piece, CR/LF split across pieces", async () => {
      const s = storage({ chunkSize: 1024 });
      const mb = await box();
      const pieces = ["a\r", "\nb\n", "\n", "c".repeat(3000), "\nend"];
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          for (const p of pieces) c.enqueue(encoder.encode(p));
          c.close();
        },
      });
      const expected = `a\r\nb\r\n\r\n${"c".repeat(3000)}\r\nend`;
      const d = await s.deliver(mb, stream);
      assert.equal(d.size, expected.length);
      const chunks = await db.query(
        "SELECT seq, length(data) AS n FROM pop3d_chunks WHERE message_id = $1 ORDER BY seq",
        [d.id],
      );
      assert.deepEqual(chunks.rows.map((r) => r.n), [1024, 1024, 965]);
      assert.equal(await s.lock(mb), true);
      assert.equal(s.size(mb, 1), expected.length);
      const got = await readAll(await s.get(mb, 1));
      assert.equal(new TextDecoder().decode(got), expected);
      await s.unlock(mb);
    });

    it("PostgresStorage.get streams a large message one chunk row at a time", async () => {
      const s = storage({ chunkSize: 256 * 1024 });
      const mb = await box();
      const big = new Uint8Array(3 * 1024 * 1024 + 5);
      for (let i = 0; i < big.length; i++) big[i] = 32 + (i % 90);
      await s.deliver(mb, big);
      assert.equal(await s.lock(mb), true);
      const stream = await s.get(mb, 1) as ReadableStream<Uint8Array>;
      const reader = stream.getReader();
      let total = 0;
      let pieces = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        assert.ok(value.length <= 256 * 1024);
        assert.equal(value[0], big[total]);
        total += value.length;
        pieces++;
      }
      assert.equal(total, big.length);
      assert.equal(pieces, 13);
      await s.unlock(mb);
    });

    it("PostgresStorage.get sends a one-row message whole and reads exactly one row ahead of the client", async () => {
      const client = counting(db);
      const s = storage({ chunkSize: 1024 }, client);
      const mb = await box();
      await s.deliver(mb, "Subject: small\r\n\r\nfits one row\r\n");
      const big = new Uint8Array(8 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = 32 + (i % 90);
      await s.deliver(mb, big);
      assert.equal(await s.lock(mb), true);
      const reads = () =>
        client.statements.filter((q) => q.includes("FROM pop3d_chunks"))
          .length;

      const small = await s.get(mb, 1);
      assert.ok(
        small instanceof Uint8Array,
        "a one-row message is not streamed",
      );
      assert.equal(
        new TextDecoder().decode(small).endsWith("one row\r\n"),
        true,
      );
      assert.equal(reads(), 1);

      const stream = await s.get(mb, 2) as ReadableStream<Uint8Array>;
      assert.ok(stream instanceof ReadableStream);
      assert.equal(reads(), 2); // the first row, before the +OK
      const reader = stream.getReader();
      const first = await reader.read();
      assert.equal(first.value?.length, 1024);
      // While the client has the first row, the second is being read ...
      for (let i = 0; i < 100 && reads() < 3; i++) await sleep(5);
      assert.equal(reads(), 3);
      // ... and no more: the client's pace bounds what is in memory.
      await sleep(50);
      assert.equal(reads(), 3);
      let total = first.value!.length;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        assert.equal(value[0], big[total]);
        total += value.length;
      }
      assert.equal(total, big.length);
      assert.equal(reads(), 1 + 8);
      await s.unlock(mb);
    });

    it("PostgresStorage.get reads the next one-row messages with a small one, up to readAhead bytes, each served once", async () => {
      const client = counting(db);
      const s = storage(
        { chunkSize: 1024, readAhead: 250, leaseMs: 600, renewMs: 200 },
        client,
      );
      const mb = await box();
      const text = (i: number) => `Subject: ${i}\r\n\r\n${"x".repeat(84)}\r\n`;
      for (let i = 1; i <= 5; i++) await s.deliver(mb, text(i)); // 100 octets
      await s.deliver(mb, "y".repeat(2000)); // 6: two rows
      await s.deliver(mb, text(7));
      assert.equal(await s.lock(mb), true);
      assert.equal(s.size(mb, 1), 100);
      const reads = () =>
        client.statements.filter((q) => q.includes("FROM pop3d_chunks"))
          .length;
      const read = async (n: number) =>
        new TextDecoder().decode(await readAll(await s.get(mb, n)));

      client.statements.length = 0;
      assert.equal(await read(1), text(1));
      assert.equal(reads(), 1); // 1 with 2 and 3: 300 octets > 250
      assert.equal(await read(2), text(2));
      assert.equal(await read(3), text(3));
      assert.equal(reads(), 1);
      assert.equal(await read(4), text(4)); // with 5; 6 has two rows
      assert.equal(await read(5), text(5));
      assert.equal(reads(), 2);
      assert.equal((await read(6)).length, 2000);
      assert.equal(await read(7), text(7));
      assert.equal(reads(), 2 + 2 + 1);
      // Served once: again, or out of order, it is read again.
      assert.equal(await read(2), text(2));
      assert.equal(reads(), 6);
      // The lease renewal drops what an idle session holds.
      await sleep(300);
      assert.equal(await read(3), text(3));
      assert.equal(reads(), 7);
      await s.unlock(mb);

      const none = counting(db);
      const t = storage({ chunkSize: 1024, readAhead: 0 }, none);
      assert.equal(await t.lock(mb), true);
      for (let n = 1; n <= 3; n++) await t.get(mb, n);
      assert.equal(none.statements.length, 1 + 3);
      await t.unlock(mb);
    });

    it("PostgresStorage.lock is exclusive across storage instances until unlock", async () => {
      const a = storage();
      const b = storage();
      const mb = await box();
      assert.equal(await a.lock(mb), true);
      assert.equal(await a.lock(mb), false);
      assert.equal(await b.lock(mb), false);
      const lease = await db.query(
        "SELECT owner FROM pop3d_leases WHERE mailbox_id = $1",
        [mb.id],
      );
      assert.equal(lease.rows[0].owner, a.owner);
      await a.unlock(mb);
      assert.equal(await b.lock(mb), true);
      await b.unlock(mb);
      const left = await db.query(
        "SELECT count(*) AS n FROM pop3d_leases WHERE mailbox_id = $1",
        [mb.id],
      );
      assert.equal(left.rows[0].n, 0);
    });

    it("PostgresStorage.lock takes the lease and lists the messages in one statement; with an older schema, in two", async () => {
      const client = counting(db);
      const s = storage({}, client);
      const mb = await box();
      await s.deliver(mb, "a\r\n", { uid: "one" });
      await s.deliver(mb, "bb\n", { uid: "two" });
      const empty = await box();
      client.statements.length = 0;
      assert.equal(await s.lock(mb), true);
      assert.equal(client.statements.length, 1);
      assert.deepEqual([s.stat(mb), s.size(mb, 1), s.size(mb, 2)], [2, 3, 4]);
      assert.deepEqual([s.uidl(mb, 1), s.uidl(mb, 2)], ["one", "two"]);
      assert.equal(await storage().lock(mb), false);
      assert.equal(await s.lock(empty), true);
      assert.equal(s.stat(empty), 0);
      await s.unlock(empty);
      await s.unlock(mb);

      // Under REPEATABLE READ the function's list would share the snapshot
      // taken before the lease: it leaves the list to a statement of its own.
      const { rows } = await db.query("SELECT current_database() AS name", []);
      const name = String(rows[0].name);
      await db.query(
        `ALTER DATABASE "${name}" SET default_transaction_isolation = 'repeatable read'`,
        [],
      );
      const strict = new PgWirePool((found as TestDatabase).url, { max: 1 });
      try {
        const rr = counting(strict);
        const r = storage({}, rr);
        assert.equal(await r.lock(mb), true);
        assert.equal(rr.statements.length, 2);
        assert.deepEqual([r.stat(mb), r.uidl(mb, 2)], [2, "two"]);
        await r.unlock(mb);
      } finally {
        await db.query(
          `ALTER DATABASE "${name}" RESET default_transaction_isolation`,
          [],
        );
        await strict.end();
      }

      // A schema created before pop3d_open: noticed once, then two statements.
      await db.query("DROP FUNCTION pop3d_open", []);
      try {
        const old = counting(db);
        const t = storage({}, old);
        assert.equal(await t.lock(mb), true);
        assert.deepEqual([t.stat(mb), t.uidl(mb, 2)], [2, "two"]);
        assert.equal(await storage().lock(mb), false);
        await t.unlock(mb);
        old.statements.length = 0;
        assert.equal(await t.lock(mb), true);
        assert.equal(old.statements.length, 2);
        await t.unlock(mb);
      } finally {
        await createSchema(db);
      }
    });

    it("PostgresStorage renews the lease while locked, far beyond leaseMs", async () => {
      const a = storage({ leaseMs: 300 });
      const b = storage({ leaseMs: 300 });
      const mb = await box();
      assert.equal(await a.lock(mb), true);
      await sleep(1200);
      assert.equal(await b.lock(mb), false);
      await a.unlock(mb);
      assert.equal(await b.lock(mb), true);
      await b.unlock(mb);
    });

    it("PostgresStorage keeps message numbers while new mail arrives, and sees it at the next lock", async () => {
      const s = storage();
      const mb = await box();
      await s.deliver(mb, "one\r\n");
      await s.deliver(mb, "two\r\n");
      assert.equal(await s.lock(mb), true);
      const late = await s.deliver(mb, "three, during the session\r\n");
      assert.equal(s.stat(mb), 2);
      assert.equal(s.size(mb), 10);
      await s.dele(mb, [1]);
      await s.unlock(mb);
      assert.equal(await s.lock(mb), true);
      assert.equal(s.stat(mb), 2);
      assert.equal(s.uidl(mb, 2), late.uid);
      assert.equal(
        new TextDecoder().decode(await readAll(await s.get(mb, 1))),
        "two\r\n",
      );
      await s.unlock(mb);
    });

    it("PostgresStorage.dele deletes every marked message in one transaction", async () => {
      const s = storage();
      const mb = await box();
      for (let i = 1; i <= 5; i++) await s.deliver(mb, `m${i}\r\n`);
      assert.equal(await s.lock(mb), true);
      await s.dele(mb, [1, 3, 5]);
      await s.unlock(mb);
      const rows = await db.query(
        "SELECT uid FROM pop3d_messages WHERE mailbox_id = $1 ORDER BY id",
        [mb.id],
      );
      assert.equal(rows.rows.length, 2);
      const chunks = await db.query(
        `SELECT count(*) AS n FROM pop3d_chunks c
       JOIN pop3d_messages m ON m.id = c.message_id WHERE m.mailbox_id = $1`,
        [mb.id],
      );
      assert.equal(chunks.rows[0].n, 2);
    });

    it("fencing: a stale holder's dele fails after its lease expired and was taken, deleting nothing", async () => {
      const stale = storage({ leaseMs: 5000 });
      const fresh = storage({ leaseMs: 5000 });
      const mb = await box();
      for (let i = 1; i <= 3; i++) await stale.deliver(mb, `m${i}\r\n`);
      assert.equal(await stale.lock(mb), true);
      // The stale instance stalls (GC pause, partition): its lease runs out in
      // the database before it renews. Expire it there, as time would.
      await db.query(
        "UPDATE pop3d_leases SET expires_at = clock_timestamp() - interval '1 second' WHERE mailbox_id = $1",
        [mb.id],
      );
      assert.equal(await fresh.lock(mb), true);
      const tokens = await db.query(
        "SELECT token FROM pop3d_leases WHERE mailbox_id = $1",
        [mb.id],
      );
      assert.equal(tokens.rows.length, 1);
      await assert.rejects(stale.dele(mb, [1, 2, 3]), LeaseLostError);
      const left = await db.query(
        "SELECT count(*) AS n FROM pop3d_messages WHERE mailbox_id = $1",
        [mb.id],
      );
      assert.equal(left.rows[0].n, 3);
      // Once fenced, the stale session may not read either.
      await assert.rejects(
        Promise.resolve().then(() => stale.get(mb, 1)),
        (e: unknown) => e instanceof Pop3Error && e.code === "SYS/TEMP",
      );
      // Its unlock leaves the new holder's lease alone.
      await stale.unlock(mb);
      assert.equal(await storage().lock(mb), false);
      await fresh.dele(mb, [2]);
      await fresh.unlock(mb);
      const after = await db.query(
        "SELECT count(*) AS n FROM pop3d_messages WHERE mailbox_id = $1",
        [mb.id],
      );
      assert.equal(after.rows[0].n, 2);
    });

    it("fencing: the renewal timer notices a lost lease and reports it", async () => {
      const errors: unknown[] = [];
      const stale = storage({
        leaseMs: 600,
        renewMs: 100,
        onError: (e) => errors.push(e),
      });
      const mb = await box();
      await stale.deliver(mb, "m\r\n");
      assert.equal(await stale.lock(mb), true);
      await db.query(
        "UPDATE pop3d_leases SET token = nextval('pop3d_fence') WHERE mailbox_id = $1",
        [mb.id],
      );
      await sleep(400);
      assert.ok(errors.some((e) => e instanceof LeaseLostError));
      await assert.rejects(stale.dele(mb, [1]), LeaseLostError);
      await stale.unlock(mb);
    });

    it("PostgresStorage rejects bad options and clients", () => {
      assert.throws(() => new PostgresStorage(db, { leaseMs: 10 }), RangeError);
      assert.throws(
        () => new PostgresStorage(db, { leaseMs: 1000, renewMs: 1000 }),
        RangeError,
      );
      assert.throws(
        () =>
          new PostgresStorage(
            { query: db.query.bind(db) } as unknown as PgWirePool,
          ),
        TypeError,
      );
    });
  });

  describe("PostgresAuth", () => {
    let db: PgWirePool;
    before(async () => {
      db = new PgWirePool((found as TestDatabase).url, { max: 2 });
      await createSchema(db);
    });
    after(() => db.end());

    it("PostgresAuth checks plaintext and PBKDF2 passwords and returns the mailbox", async () => {
      const auth = new PostgresAuth(db);
      const plain = await auth.addUser("pa-plain", "pw one");
      const hashed = await auth.addUser("pa-hashed", "pw two", {
        hash: { iterations: 1000 },
        mailbox: "shared-box",
      });
      assert.equal(await auth.exists("pa-plain"), true);
      assert.equal(await auth.exists("nobody"), false);
      assert.equal(await auth.authenticate("pa-plain", "pw one"), true);
      assert.equal(await auth.authenticate("pa-plain", "pw two"), false);
      assert.equal(await auth.authenticate("pa-hashed", "pw two"), true);
      assert.equal(await auth.authenticate("pa-hashed", "pw one"), false);
      assert.equal(await auth.authenticate("nobody", "pw one"), false);
      const stored = await db.query(
        "SELECT password FROM pop3d_users WHERE name = 'pa-hashed'",
        [],
      );
      assert.match(String(stored.rows[0].password), /^\$pbkdf2-sha256\$1000\$/);
      const [pw, mb] = await auth.lookup("pa-hashed");
      assert.deepEqual(mb, hashed);
      assert.equal(mb.name, "shared-box");
      assert.notEqual(pw, "pw two");
      // Without plaintextPasswords, lookup never hands out the password.
      assert.notEqual((await auth.lookup("pa-plain"))[0], "pw one");
      assert.deepEqual((await auth.lookup("pa-plain"))[1], plain);
      await assert.rejects(auth.lookup("nobody"), RangeError);
    });

    it("PostgresAuth: a login reads the user once; lookup answers from the row a successful authenticate read", async () => {
      const client = counting(db);
      const auth = new PostgresAuth(client);
      const box = await auth.addUser("pa-once", "pw");
      client.statements.length = 0;
      assert.equal(await auth.authenticate("pa-once", "pw"), true);
      assert.deepEqual((await auth.lookup("pa-once"))[1], box);
      assert.equal(client.statements.length, 1);
      // Taken once: the next lookup asks the database again.
      assert.deepEqual((await auth.lookup("pa-once"))[1], box);
      assert.equal(client.statements.length, 2);
      // A failed check leaves nothing behind.
      assert.equal(await auth.authenticate("pa-once", "wrong"), false);
      await auth.lookup("pa-once");
      assert.equal(client.statements.length, 4);
      // Nor does a stale one answer: older than a second, it asks again.
      assert.equal(await auth.authenticate("pa-once", "pw"), true);
      await auth.removeUser("pa-once");
      await sleep(1100);
      await assert.rejects(auth.lookup("pa-once"), RangeError);
    });

    it("PostgresAuth PASS timing oracle: an unknown user costs a default PBKDF2, bounded under a flood", async () => {
      const auth = new PostgresAuth(db, { maxConcurrentHashes: 1 });
      await auth.addUser("oracle", "secret", { hash: true });
      const probe = probeDeriveBits();
      try {
        const results = await Promise.all([
          auth.authenticate("oracle", "wrong"),
          auth.authenticate("no-such-user", "wrong"),
          auth.authenticate("no-such-user-2", "secret"),
        ]);
        assert.deepEqual(results, [false, false, false]);
        assert.deepEqual(probe.iterations, [
          DEFAULT_PBKDF2_ITERATIONS,
          DEFAULT_PBKDF2_ITERATIONS,
          DEFAULT_PBKDF2_ITERATIONS,
        ]);
        assert.equal(probe.peak, 1);
      } finally {
        probe.restore();
      }
    });

    it("PostgresAuth with plaintextPasswords returns plaintext but never a hash", async () => {
      const auth = new PostgresAuth(db, { plaintextPasswords: true });
      await auth.addUser("pt-plain", "apop secret");
      await auth.addUser("pt-hashed", "other", { hash: { iterations: 1000 } });
      assert.equal((await auth.lookup("pt-plain"))[0], "apop secret");
      const [pw] = await auth.lookup("pt-hashed");
      assert.ok(!pw.startsWith("$pbkdf2"));
      assert.equal(await auth.removeUser("pt-plain"), true);
      assert.equal(await auth.exists("pt-plain"), false);
    });
  });
});
