// The test client that the PostgreSQL tests and benchmarks run on: it
// prepares a repeated statement once per connection, and prepared or not,
// a statement returns the same values (bytea in binary, the rest as text).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PgWireConnection } from "../_helpers/pg_wire.ts";
import { type TestDatabase, testDatabase } from "../_helpers/pg_server.ts";

const found = await testDatabase();
const skip = "skip" in found ? found.skip : false;

describe("PgWireConnection", { skip }, () => {
  let conn: PgWireConnection;
  before(async () => {
    conn = await PgWireConnection.connect((found as TestDatabase).url);
  });
  after(async () => {
    await conn.close();
    await (found as TestDatabase).stop();
  });

  it("prepares a repeated SELECT once and returns the same values, bytea in binary", async () => {
    const every = new Uint8Array(256 * 3);
    for (let i = 0; i < every.length; i++) every[i] = i & 255;
    const sql = `SELECT $1::bytea AS data, $2::bigint AS n, $3::text AS t,
      $4::boolean AS ok, NULL::bytea AS none, ''::bytea AS empty`;
    const results = [];
    for (let i = 0; i < 3; i++) {
      results.push((await conn.query(sql, [every, 42, "é x", true])).rows[0]);
    }
    for (const row of results) {
      assert.deepEqual(row, {
        data: every,
        n: 42,
        t: "é x",
        ok: true,
        none: null,
        empty: new Uint8Array(0),
      });
    }
    const { rows } = await conn.query(
      "SELECT statement FROM pg_prepared_statements",
      [],
    );
    assert.equal(rows.filter((r) => r.statement === sql).length, 1);
  });

  it("runs a statement that fails to prepare unprepared, and reports its error", async () => {
    await assert.rejects(
      conn.query("SELECT no_such_column FROM pg_class", []),
      /no_such_column/,
    );
    const { rows } = await conn.query("SELECT 1 AS one", []);
    assert.deepEqual(rows, [{ one: 1 }]);
  });
});
