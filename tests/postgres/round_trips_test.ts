// What a POP3 session costs in PostgreSQL statements, end to end: Pop3d
// with PostgresAuth and PostgresStorage, USER/PASS/STAT/LIST/UIDL/RETR/QUIT.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PgWirePool } from "../_helpers/pg_wire.ts";
import { type TestDatabase, testDatabase } from "../_helpers/pg_server.ts";
import { Pop3Client } from "../_helpers/pop3_client.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import {
  type MemoryListener,
  memoryListener,
} from "../../src/transport/memory.ts";
import { createSchema, PostgresAuth, PostgresStorage } from "../../postgres.ts";
import type { PgClient, PgQueryable } from "../../src/postgres/types.ts";

const found = await testDatabase();
const skip = "skip" in found ? found.skip : false;

describe("PostgreSQL round trips per session", { skip }, () => {
  let pool: PgWirePool;
  const statements: string[] = [];
  const on = (q: PgQueryable): PgQueryable => ({
    query: (sql, params) => {
      statements.push(sql.replace(/\s+/g, " ").trim());
      return q.query(sql, params);
    },
  });
  let storage: PostgresStorage;
  let server: Pop3d<unknown>;
  let listener!: MemoryListener;

  before(async () => {
    pool = new PgWirePool((found as TestDatabase).url, { max: 4 });
    const db: PgClient = {
      ...on(pool),
      transaction: (fn) => pool.transaction((tx) => fn(on(tx))),
    };
    await createSchema(db);
    const auth = new PostgresAuth(db);
    storage = new PostgresStorage(db, { chunkSize: 4096 });
    const box = await auth.addUser("alice", "secret");
    for (let i = 1; i <= 4; i++) {
      await storage.deliver(box, `Subject: ${i}\r\n\r\n${"x".repeat(100)}\r\n`);
    }
    await storage.deliver(box, "y".repeat(10_000) + "\r\n"); // three chunk rows
    server = new Pop3d({
      auth,
      storage,
      authFailureDelay: 0,
      authPenalty: false,
      socket: (o) => listener = memoryListener({ port: o.port }),
    });
    await server.up();
  });
  after(async () => {
    await server.destroy("kill");
    await storage.close();
    await pool.end();
    await (found as TestDatabase).stop();
  });

  it("login 1, lock and list 1, RETRs of small messages in order 1, RETR 1 per chunk row, QUIT 1; STAT, LIST and UIDL none", async () => {
    const client = new Pop3Client(listener.connect());
    await client.greeting();
    statements.length = 0;
    await client.login("alice", "secret");
    assert.equal(statements.length, 2, statements.join("\n"));
    assert.match(await client.cmd("STAT"), /^\+OK 5 /);
    assert.equal((await client.multi("LIST")).lines.length, 5);
    assert.equal((await client.multi("UIDL")).lines.length, 5);
    assert.equal(statements.length, 2);
    // RETR 1 reads 2 to 4 with it (message 5 has three rows: not ahead).
    for (let n = 1; n <= 4; n++) {
      const { body } = await client.multi(`RETR ${n}`);
      assert.match(
        new TextDecoder().decode(body),
        new RegExp(`^Subject: ${n}\r\n`),
      );
    }
    assert.equal(statements.length, 2 + 1);
    const big = await client.multi("RETR 5");
    assert.equal(big.body.length, 10_002);
    assert.equal(statements.length, 2 + 1 + 3);
    assert.match(await client.cmd("QUIT"), /^\+OK/);
    await client.ended;
    assert.equal(statements.length, 2 + 1 + 3 + 1, statements.join("\n"));
  });
});
