// The compact Maildir snapshot: its caches, names, sizes and UIDLs.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MaildirCaches } from "../../src/maildir/maildir_caches.ts";
import { MaildirSnapshot } from "../../src/maildir/maildir_snapshot.ts";
import {
  baseNameOf,
  fieldOf,
  wireSizeOf,
} from "../../src/maildir/maildir_name.ts";
import { compileDovecotUidlFormat } from "../../src/maildir/dovecot_uidl_format.ts";
import { DovecotUidlistCache } from "../../src/maildir/dovecot_uidlist_cache.ts";

describe("Maildir snapshot", () => {
  it("wireSizeOf reads ,W= as fieldOf does", () => {
    for (
      const name of [
        "1.a,S=3,W=5:2,",
        "1.a,W=5",
        "1.a,W=:2,",
        "1.a,W=x,W=7:2,S",
        "1.a,W=12a,S=1",
        "1.a:2,,W=9",
        "1.a,XW=4",
        "1.a,W=1234567890123456",
        "1.a,W=123456789012345",
        "1.a",
        ",W=3",
      ]
    ) {
      assert.equal(wireSizeOf(name), fieldOf(name, "W"), name);
    }
    assert.equal(baseNameOf("1.a,S=3:2,S"), "1.a,S=3");
  });

  it("MaildirCaches keeps a Maildir's cache and drops the least recently used beyond its limit", () => {
    const caches = new MaildirCaches(3);
    const a = caches.get("a");
    a.sizes.set("x", 1).set("y", 2);
    assert.equal(caches.get("a"), a);
    const b = caches.get("b");
    b.sizes.set("z", 3);
    caches.get("a"); // a is used last now
    const c = caches.get("c");
    c.sizes.set("w", 4);
    // a (2) + c (1) fit; b went.
    assert.equal(caches.get("a"), a);
    assert.notEqual(caches.get("b"), b);
  });

  it("MaildirCaches does constant work per login, not a pass over every Maildir's cache", () => {
    // Counts how often a cache's weight is read (its `sizes.size`).
    let reads = 0;
    class CountingMap extends Map<string, number> {
      override get size(): number {
        reads++;
        return super.size;
      }
    }
    const caches = new MaildirCaches();
    const n = 10_000;
    for (let i = 0; i < n; i++) caches.get(`m${i}`).sizes = new CountingMap();
    reads = 0;
    for (let i = 0; i < 100; i++) caches.get(`m${(i * 7919) % n}`);
    // A pass per login read 1,000,000 here; now at most the 64 last used
    // per login and one full count every n/4 logins.
    assert.ok(reads <= 100 * 65 + n, `${reads} weight reads for 100 logins`);
  });

  it("MaildirCaches stays within its limit when each cache fills after get", () => {
    const caches = new MaildirCaches(1_000);
    const kept: ReturnType<MaildirCaches["get"]>[] = [];
    for (let i = 0; i < 500; i++) {
      const cache = caches.get(`m${i}`);
      // As a login's scan does, after get: ten sizes.
      for (let j = 0; j < 10; j++) cache.sizes.set(`${i}.${j}`, j);
      kept.push(cache);
    }
    caches.get("last");
    // The caches still held are the ones get returns again (the same object).
    let held = 0;
    for (let i = 0; i < 500; i++) {
      if (caches.get(`m${i}`) === kept[i]) held += kept[i].sizes.size;
    }
    assert.ok(held > 0 && held <= 1_000, `${held} sizes held`);
  });

  it("MaildirSnapshot names Dovecot's records with their flags and makes Dovecot's default UIDLs", () => {
    const list = new DovecotUidlistCache("3 V9999999999 N5", 9999999999, 5);
    list.add([
      { uid: 1, fileName: "1700000060.M1P1.h,S=5,W=6", ext: {} },
      { uid: 0x7fffffff, fileName: "1700000120.M2P1.h", ext: {} },
    ]);
    const format = compileDovecotUidlFormat("%08Xu%08Xv");
    const snapshot = new MaildirSnapshot(
      { list, records: Int32Array.of(1, 0), infos: [":2,S", ""] },
      Uint32Array.of(10, 6),
      {
        kind: "dovecot",
        suffix: format({ uid: 0, fileName: "", ext: {} }, 9999999999).slice(8),
      },
    );
    assert.equal(snapshot.count, 2);
    assert.equal(snapshot.octets, 16);
    assert.equal(snapshot.name(0), "1700000120.M2P1.h:2,S");
    assert.equal(snapshot.name(1), "1700000060.M1P1.h,S=5,W=6");
    for (const [i, r] of [[0, 1], [1, 0]]) {
      const record = { uid: list.uid(r), fileName: list.fileName(r), ext: {} };
      assert.equal(snapshot.uidl(i), format(record, 9999999999));
    }
    snapshot.rename(0, "1700000120.M2P1.h:2,ST");
    assert.equal(snapshot.name(0), "1700000120.M2P1.h:2,ST");
    assert.equal(snapshot.unique(0), "1700000120.M2P1.h");
  });

  it("MaildirSnapshot keeps its own names in one string and replaces repeated or invalid UIDLs", async () => {
    const snapshot = new MaildirSnapshot(
      ["1.dup:2,S", "1.dup,W=3:2,", "2.sp ace:2,"],
      Float64Array.of(1, 2, 2 ** 40),
      { kind: "own" },
    );
    assert.equal(snapshot.octets, 3 + 2 ** 40);
    assert.equal(snapshot.size(2), 2 ** 40);
    assert.deepEqual([0, 1, 2].map((i) => snapshot.name(i)), [
      "1.dup:2,S",
      "1.dup,W=3:2,",
      "2.sp ace:2,",
    ]);
    assert.equal(snapshot.uidl(1), "1.dup");
    await snapshot.makeUnique();
    const uidls = [0, 1, 2].map((i) => snapshot.uidl(i));
    assert.equal(uidls[0], "1.dup");
    assert.match(uidls[1], /^[0-9a-f]{40}$/);
    assert.match(uidls[2], /^[0-9a-f]{40}$/);
  });
});
