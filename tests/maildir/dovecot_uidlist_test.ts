// dovecot-uidlist parsing, UIDL formatting, POP3 order and UID assignment on
// constructed files. The expected values are what Dovecot 2.3.19 listed for
// the same uidlists (see dovecot_uidlist_interop_test.ts for the live runs).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  assignDovecotUids,
  compareDovecotNames,
  dovecotBaseName,
  formatDovecotUidlist,
  formatDovecotUidlistRecords,
  parseDovecotUidlist,
} from "../../src/maildir/dovecot_uidlist.ts";
import { dovecotPop3View } from "../../src/maildir/dovecot_pop3_view.ts";
import { compileDovecotUidlFormat } from "../../src/maildir/dovecot_uidl_format.ts";

const A = "1700000060.M000001P1.pop3peer,S=683,W=704";
const B = "1700000120.M000002P1.pop3peer,S=683,W=704";
const C = "1700000180.M000003P1.pop3peer,S=683,W=704";
const D = "1700000240.M000004P1.pop3peer,S=683,W=704";
const E = "1700000500.M7P9.host";

const LIST = [
  "3 V1700000000 N5 G6553f100000000000000000000000004",
  `1 O3 :${A}`,
  `2 Pcustom-uidl-2 :${B}`,
  `3 O1 W999 :${C}`,
  `4 Gabcdef0123 :${D}`,
  `5 W1234 :${E}`,
  "",
].join("\n");

describe("parseDovecotUidlist", () => {
  it("parseDovecotUidlist reads header, extensions and names", () => {
    const list = parseDovecotUidlist(new TextEncoder().encode(LIST));
    assert.equal(list.version, 3);
    assert.equal(list.uidValidity, 1700000000);
    assert.equal(list.guid, "6553f100000000000000000000000004");
    assert.equal(list.records.length, 5);
    assert.deepEqual(list.records[2], {
      uid: 3,
      fileName: C,
      ext: { O: "1", W: "999" },
    });
  });

  it("parseDovecotUidlist takes the next UID from appended lines over N", () => {
    // Dovecot appends without rewriting the header (measured).
    assert.equal(parseDovecotUidlist(LIST).nextUid, 6);
    assert.equal(parseDovecotUidlist("3 V1 N40 Gx\n1 :a\n").nextUid, 40);
  });

  it("parseDovecotUidlist reads version 1", () => {
    const list = parseDovecotUidlist("1 123 9\n3 1700.M1P1.h:2,S\n8 x\n");
    assert.equal(list.version, 1);
    assert.equal(list.uidValidity, 123);
    assert.equal(list.nextUid, 9);
    assert.deepEqual(list.records.map((r) => [r.uid, r.fileName]), [
      [3, "1700.M1P1.h"],
      [8, "x"],
    ]);
  });

  it("parseDovecotUidlist keeps unknown header fields and a file without final newline", () => {
    assert.equal(
      parseDovecotUidlist("3 V7 N2\n1 :x.y:2,S\n").records[0].fileName,
      "x.y",
    );
    const list = parseDovecotUidlist("3 V7 N2 Gab Zfuture\n1 :x");
    assert.deepEqual(list.headerExt, ["Zfuture"]);
    assert.equal(list.records[0].fileName, "x");
  });

  const bad: [string, string, RegExp][] = [
    ["an empty file", "", /line 1: unsupported version/],
    ["version 2", "2 V1 N1\n", /line 1: unsupported version/],
    ["a bad V", "3 Vx N1\n", /line 1: bad "V"/],
    ["UIDVALIDITY 0", "3 V0 N1\n", /line 1: UIDVALIDITY and next UID/],
    ["a line without colon", "3 V1 N2\n1 x\n", /line 2: expected/],
    ["a non-numeric UID", "3 V1 N2\nx :a\n", /line 2: expected/],
    ["UID 0", "3 V1 N2\n0 :a\n", /line 2: expected/],
    ["a lower-case extension", "3 V1 N2\n1 p1 :a\n", /line 2: expected/],
    ["an empty name", "3 V1 N2\n1 :\n", /line 2: expected/],
    ["a name with a slash", "3 V1 N2\n1 :../x\n", /line 2: expected/],
    ["UIDs out of order", "3 V1 N9\n2 :a\n2 :b\n", /line 3: UIDs not ordered/],
    ["a duplicate name", "3 V1 N9\n1 :a\n2 :a\n", /line 3: duplicate file "a"/],
    ["a UID too high", "3 V1 N1\n4294967295 :a\n", /line 2: UID too high/],
    ["a v1 UID over next", "1 1 2\n5 a\n", /line 2: UID larger than next/],
  ];
  for (const [what, text, message] of bad) {
    it(`parseDovecotUidlist rejects ${what} with a SyntaxError naming the line`, () => {
      assert.throws(() => parseDovecotUidlist(text), (error: unknown) => {
        assert.ok(error instanceof SyntaxError);
        assert.match(error.message, /^Cannot parse dovecot-uidlist /);
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

describe("dovecotPop3View", () => {
  const names = [
    `${A}:2,`,
    `${B}:2,S`,
    `${C}:2,`,
    `${D}:2,`,
    `${E}:2,S`,
    "1700009000.M2P9.host",
    "1700009000.M1P9.host,S=3:2,",
  ];

  it("dovecotPop3View lists O first, then by UID, with P overrides (as Dovecot 2.3 did)", () => {
    const view = dovecotPop3View(parseDovecotUidlist(LIST), names);
    assert.deepEqual(view.messages.map((m) => [m.uid, m.uidl, m.size]), [
      [3, "000000036553f100", 704], // O1, and ,W= beats the record's W999
      [1, "000000016553f100", 704], // O3
      [2, "custom-uidl-2", 704], // P override
      [4, "000000046553f100", 704],
      [5, "000000056553f100", 1234], // no ,W=: the record's W
    ]);
    assert.equal(view.messages[1].name, `${A}:2,`);
    assert.deepEqual(view.unassigned, [
      "1700009000.M1P9.host,S=3:2,",
      "1700009000.M2P9.host",
    ]);
  });

  it("dovecotPop3View skips records whose file is gone and leaves size unknown without W", () => {
    const list = parseDovecotUidlist(`3 V9 N3 Gx\n1 :${A}\n2 :x.M1P1.h\n`);
    const view = dovecotPop3View(list, ["x.M1P1.h:2,T"]);
    assert.deepEqual(view.messages.map((m) => [m.uid, m.size]), [[
      2,
      undefined,
    ]]);
  });

  it("dovecotPop3View applies the format option", () => {
    const view = dovecotPop3View(parseDovecotUidlist(LIST), names, {
      format: "%g",
    });
    assert.equal(view.messages[3].uidl, "abcdef0123");
    assert.equal(view.messages[0].uidl, C);
  });
});

describe("compileDovecotUidlFormat", () => {
  const record = { uid: 3, fileName: C, ext: {} };
  // Each expectation is what Dovecot 2.3.19 listed for UID 3 of that file.
  const cases: [string, string][] = [
    ["%08Xu%08Xv", "000000036553f100"],
    ["%f", C],
    ["%g", C],
    ["%u", "3"],
    ["%v", "1700000000"],
    ["%Xv", "6553f100"],
    ["%Lg", C.toLowerCase()],
    ["%Uf", C.toUpperCase()],
    ["%4u", "3"],
    ["%u-%%-%g", `3-%-${C}`],
    ["%3.2f", "00"],
    ["%-6u", "3"],
    ["%5Lg", "17000"],
    ["%-6f", "170000"],
    ["%-2.2f", "04"],
    ["%2.-3f", C.slice(2, -3)],
    ["%08u", "00000003"],
    ["%02.3f", "000"],
    ["%RXu", "3"],
    ["%3.f", C.slice(3)],
  ];
  for (const [format, expected] of cases) {
    it(`compileDovecotUidlFormat expands "${format}" as Dovecot does`, () => {
      assert.equal(
        compileDovecotUidlFormat(format)(record, 1700000000),
        expected,
      );
    });
  }

  it("compileDovecotUidlFormat rejects what doveconf rejects", () => {
    for (const format of ["%x", "%{uid}", "%m", "", "%"]) {
      assert.throws(() => compileDovecotUidlFormat(format), RangeError);
    }
  });
});

describe("assignDovecotUids", () => {
  it("assignDovecotUids numbers new mail by time, microseconds, then name (as Dovecot did)", () => {
    const list = parseDovecotUidlist(LIST);
    const added = assignDovecotUids(list, [
      "1700001000.M5P9.host:2,",
      "1700001000.M3P9.host,S=17",
      `${A}:2,`, // known: no new UID
      "1700000500.M7P9.other:2,S",
    ]);
    assert.deepEqual(added.map((r) => [r.uid, r.fileName]), [
      [6, "1700000500.M7P9.other"],
      [7, "1700001000.M3P9.host,S=17"],
      [8, "1700001000.M5P9.host"],
    ]);
    assert.equal(list.nextUid, 9);
    assert.equal(list.records.length, 8);
  });

  it("compareDovecotNames falls back to the name without microseconds", () => {
    assert.ok(compareDovecotNames("5.b", "5.a") > 0);
    assert.ok(compareDovecotNames("5.M9P1.a", "5.M10P1.a") < 0);
    assert.ok(compareDovecotNames("x", "1.a") < 0);
    assert.equal(compareDovecotNames("5.a:2,S", "5.a:2,"), 0);
  });

  it("formatDovecotUidlist writes back what it read, and records as Dovecot appends them", () => {
    assert.equal(
      new TextDecoder().decode(formatDovecotUidlist(parseDovecotUidlist(LIST))),
      LIST.replace("N5", "N6"),
    );
    const bytes = formatDovecotUidlistRecords([
      { uid: 9, fileName: "1.M1P1.h", ext: {} },
      { uid: 10, fileName: "2.M1P1.h", ext: { W: "20" } },
    ]);
    assert.equal(
      new TextDecoder().decode(bytes),
      "9 :1.M1P1.h\n10 W20 :2.M1P1.h\n",
    );
    assert.equal(dovecotBaseName("a,S=1:2,S"), "a,S=1");
  });
});
