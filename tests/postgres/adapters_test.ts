// The driver adapters over fakes of the drivers' shapes: which statements
// they send, and that connections go back to the pool.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  fromDenoPostgres,
  fromPg,
  fromPostgresJs,
  type NodePgPoolClient,
  type PostgresJsSql,
} from "../../postgres.ts";

function fakePg(failOn?: string) {
  const log: string[] = [];
  const client: NodePgPoolClient = {
    query: (text, values) => {
      log.push(values?.length ? `${text} ${JSON.stringify(values)}` : text);
      if (text === failOn) return Promise.reject(new Error(`${text} failed`));
      return Promise.resolve({ rows: [{ n: 1 }] });
    },
    release: (error) => log.push(`release ${error === true}`),
  };
  const pool = {
    query: client.query,
    connect: () => Promise.resolve(client),
  };
  return { log, db: fromPg(pool) };
}

describe("PostgreSQL driver adapters", () => {
  it("fromPg runs a transaction on one client between BEGIN and COMMIT, and releases it", async () => {
    const { log, db } = fakePg();
    assert.deepEqual((await db.query("SELECT $1", [7])).rows, [{ n: 1 }]);
    const out = await db.transaction((tx) => tx.query("UPDATE x", []));
    assert.deepEqual(out.rows, [{ n: 1 }]);
    assert.deepEqual(log, [
      "SELECT $1 [7]",
      "BEGIN",
      "UPDATE x",
      "COMMIT",
      "release false",
    ]);
  });

  it("fromPg rolls back a failed transaction, and destroys a client whose ROLLBACK failed", async () => {
    const ok = fakePg();
    await assert.rejects(
      ok.db.transaction(() => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.deepEqual(ok.log, ["BEGIN", "ROLLBACK", "release false"]);
    const broken = fakePg("ROLLBACK");
    await assert.rejects(
      broken.db.transaction(() => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.deepEqual(broken.log, ["BEGIN", "ROLLBACK", "release true"]);
  });

  it("fromDenoPostgres checks a client out per query and per transaction", async () => {
    const log: string[] = [];
    const db = fromDenoPostgres({
      connect: () =>
        Promise.resolve({
          queryObject: (text: string) => {
            log.push(text);
            return Promise.resolve({ rows: [{ n: 2 }] });
          },
          release: () => log.push("release"),
        }),
    });
    assert.deepEqual((await db.query("SELECT 1", [])).rows, [{ n: 2 }]);
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query("UPDATE y", []);
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.deepEqual(log, [
      "SELECT 1",
      "release",
      "BEGIN",
      "UPDATE y",
      "ROLLBACK",
      "release",
    ]);
  });

  it("fromPostgresJs sends queries through unsafe and transactions through begin", async () => {
    const log: string[] = [];
    const tx: PostgresJsSql = {
      unsafe: (text) => {
        log.push(`tx ${text}`);
        return Promise.resolve([{ n: 3 }]);
      },
    };
    const db = fromPostgresJs({
      unsafe: (text, params) => {
        log.push(`${text} ${JSON.stringify(params)}`);
        return Promise.resolve([{ n: 4 }]);
      },
      begin: async (fn) => {
        log.push("begin");
        return await fn(tx);
      },
    });
    assert.deepEqual((await db.query("SELECT $1", ["a"])).rows, [{ n: 4 }]);
    const out = await db.transaction((t) => t.query("UPDATE z", []));
    assert.deepEqual(out.rows, [{ n: 3 }]);
    assert.deepEqual(log, ['SELECT $1 ["a"]', "begin", "tx UPDATE z"]);
  });
});
