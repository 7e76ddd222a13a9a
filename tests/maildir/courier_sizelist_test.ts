// courierpop3dsizelist on constructed files (no Courier on this machine: the
// format is the documented one in src/maildir/courier_sizelist.ts).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  COURIER_SIZELIST_NAME,
  courierPop3View,
  loadCourierUidls,
  parseCourierSizelist,
} from "../../src/maildir/courier_sizelist.ts";
import { nodeFs } from "../../src/runtime/node_fs.ts";

describe("parseCourierSizelist", () => {
  it("parseCourierSizelist reads a /2 file: UID<uid>-<uidv>, or the name for UID 0", () => {
    const list = parseCourierSizelist(
      new TextEncoder().encode(
        "/2 7 1111\n1000.M1P1.h,S=10 12 5:1111\n1001.M1P1.h 30 0:1111\n",
      ),
    );
    assert.equal(list.version, 2);
    assert.equal(list.nextUid, 7);
    assert.equal(list.uidValidity, 1111);
    assert.deepEqual(list.entries, [
      { fileName: "1000.M1P1.h,S=10", size: 12, uid: 5, uidl: "UID5-1111" },
      { fileName: "1001.M1P1.h", size: 30, uid: 0, uidl: "1001.M1P1.h" },
    ]);
  });

  it("parseCourierSizelist reads headerless and /1 files with names as UIDLs", () => {
    for (const text of ["a.b 5\nc.d 6\n", "/1\na.b 5\nc.d 6"]) {
      const list = parseCourierSizelist(text);
      assert.equal(list.version, 1);
      assert.deepEqual(list.entries.map((e) => [e.uidl, e.size]), [
        ["a.b", 5],
        ["c.d", 6],
      ]);
    }
    assert.deepEqual(parseCourierSizelist("").entries, []);
  });

  const bad: [string, string, RegExp][] = [
    ["an unknown version", "/3 1 2\n", /line 1: unsupported version/],
    ["a /2 header without numbers", "/2\n", /line 1: expected \/2/],
    [
      "a /2 line without UID",
      "/2 1 2\na 5\n",
      /line 2: expected <file name> <size> <uid>/,
    ],
    ["a bad size", "a x\n", /line 1: bad size "x"/],
    ["a bad UID", "/2 1 2\na 5 x:2\n", /line 2: bad UID "x:2"/],
    ["a name with a colon", "a:2,S 5\n", /line 1: expected/],
    ["a duplicate name", "a 5\na 6\n", /line 2: duplicate file "a"/],
  ];
  for (const [what, text, message] of bad) {
    it(`parseCourierSizelist rejects ${what} with a SyntaxError naming the line`, () => {
      assert.throws(() => parseCourierSizelist(text), (error: unknown) => {
        assert.ok(error instanceof SyntaxError);
        assert.match(error.message, /^Cannot parse courierpop3dsizelist /);
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

describe("courierPop3View", () => {
  it("courierPop3View keeps Courier's order, UIDLs and sizes for files still present", () => {
    const list = parseCourierSizelist(
      "/2 9 42\n3.M1P1.h 10 3:42\n1.M1P1.h 20 1:42\n2.M1P1.h 30 2:42\n",
    );
    const view = courierPop3View(list, [
      "1.M1P1.h:2,S",
      "3.M1P1.h:2,",
      "4.M1P1.h", // arrived after Courier
    ]);
    assert.deepEqual([...view.messages], [
      ["3.M1P1.h", { uidl: "UID3-42", size: 10, order: 0 }],
      ["1.M1P1.h", { uidl: "UID1-42", size: 20, order: 1 }],
    ]);
    assert.deepEqual(view.unlisted, ["4.M1P1.h"]);
  });
});

describe("loadCourierUidls", () => {
  it("loadCourierUidls reads the Maildir's file, or gives undefined without one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pop3d-courier-"));
    try {
      assert.equal(await loadCourierUidls(nodeFs(), dir, ["a"]), undefined);
      await writeFile(join(dir, COURIER_SIZELIST_NAME), "/2 2 7\na 5 1:7\n");
      const view = await loadCourierUidls(nodeFs(), dir, ["a:2,S"]);
      assert.equal(view?.messages.get("a")?.uidl, "UID1-7");
      await writeFile(join(dir, COURIER_SIZELIST_NAME), "/2 2 7\na 5\n");
      await assert.rejects(
        loadCourierUidls(nodeFs(), dir, ["a"]),
        (error: unknown) =>
          error instanceof SyntaxError && error.message.includes(dir),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
