import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Admission } from "../../src/server/admission.ts";

const limits = (total: number, perAddress: number) => ({
  maxConnections: total,
  maxConnectionsPerAddress: perAddress,
});

describe("Admission", () => {
  it("Admission admits below the caps without evicting", () => {
    const a = new Admission();
    assert.deepEqual(a.admit(1, "x", limits(2, 2)), { admit: true, evict: [] });
    assert.deepEqual(a.admit(2, "y", limits(2, 2)), { admit: true, evict: [] });
    assert.equal(a.size, 2);
    assert.equal(a.count("x"), 1);
  });

  it("Admission evicts the oldest connection that has not logged in at maxConnections", () => {
    const a = new Admission();
    const l = limits(3, 10);
    a.admit(1, "x", l);
    a.admit(2, "y", l);
    a.admit(3, "z", l);
    a.loggedIn(1);
    assert.deepEqual(a.admit(4, "w", l), { admit: true, evict: [2] });
    assert.deepEqual(a.admit(5, "w", l), { admit: true, evict: [3] });
    assert.deepEqual(a.admit(6, "w", l), { admit: true, evict: [4] });
    assert.equal(a.size, 3);
    assert.equal(a.count("y"), 0);
    assert.equal(a.count("w"), 2);
  });

  it("Admission never evicts a logged-in connection and refuses when all are", () => {
    const a = new Admission();
    const l = limits(2, 10);
    a.admit(1, "x", l);
    a.admit(2, "y", l);
    a.loggedIn(1);
    a.loggedIn(2);
    assert.deepEqual(a.admit(3, "z", l), { admit: false, cap: "total" });
    assert.equal(a.size, 2);
    a.remove(2);
    assert.deepEqual(a.admit(4, "z", l), { admit: true, evict: [] });
  });

  it("Admission evicts within the same address key at maxConnectionsPerAddress", () => {
    const a = new Admission();
    const l = limits(100, 2);
    a.admit(1, "other", l);
    a.admit(2, "nat", l);
    a.admit(3, "nat", l);
    assert.deepEqual(a.admit(4, "nat", l), { admit: true, evict: [2] });
    assert.equal(a.count("nat"), 2);
    assert.equal(a.count("other"), 1);
  });

  it("Admission refuses at maxConnectionsPerAddress when all from there are logged in", () => {
    const a = new Admission();
    const l = limits(100, 1);
    a.admit(1, "nat", l);
    a.loggedIn(1);
    a.admit(2, "other", l);
    assert.deepEqual(a.admit(3, "nat", l), { admit: false, cap: "address" });
    assert.equal(a.count("other"), 1, "nothing evicted elsewhere");
  });

  it("Admission evicts nothing when it refuses", () => {
    const a = new Admission();
    const l = limits(2, 2);
    a.admit(1, "nat", l);
    a.admit(2, "other", l);
    a.loggedIn(2);
    // The per-address cap would evict 1, but then the total cap counts
    // 2 - 1 = 1 < 2: admitted with one eviction.
    assert.deepEqual(a.admit(3, "nat", l), { admit: true, evict: [1] });
    a.loggedIn(3);
    assert.deepEqual(a.admit(4, "third", l), { admit: false, cap: "total" });
    assert.equal(a.size, 2);
  });

  it("Admission evicts enough to get under caps lowered at run time", () => {
    const a = new Admission();
    for (let id = 1; id <= 5; id++) a.admit(id, "x", limits(10, 10));
    assert.deepEqual(a.admit(6, "y", limits(3, 10)), {
      admit: true,
      evict: [1, 2, 3],
    });
    assert.equal(a.size, 3);
  });

  it("Admission evicts the oldest of 300 half-open connections from one address", () => {
    const a = new Admission();
    const l = limits(1000, 100);
    for (let id = 1; id <= 300; id++) {
      const d = a.admit(id, "office", l);
      assert.ok(d.admit);
      assert.deepEqual(d.evict, id <= 100 ? [] : [id - 100]);
    }
    assert.equal(a.count("office"), 100);
  });

  it("Admission ignores removing an unknown or evicted id", () => {
    const a = new Admission();
    a.admit(1, "x", limits(1, 1));
    a.admit(2, "x", limits(1, 1));
    a.remove(1);
    a.remove(99);
    assert.equal(a.size, 1);
    assert.equal(a.count("x"), 1);
  });
});
