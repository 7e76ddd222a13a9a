// loadDovecotUidls on real Maildirs: UID assignment, append vs rewrite,
// and the dovecot-uidlist.lock rules (stale by dead pid or by age).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { MaildirFs } from "../../src/maildir/maildir_fs.ts";
import { nodeFs } from "../../src/runtime/node_fs.ts";
import {
  DOVECOT_UIDLIST_LOCK_NAME,
  DOVECOT_UIDLIST_NAME,
  loadDovecotUidls,
} from "../../src/maildir/dovecot_uidlist_file.ts";
import {
  assignDovecotUidsCached,
  type DovecotUidlistCache,
  readDovecotUidlistCached,
} from "../../src/maildir/dovecot_uidlist_cache.ts";
import { appendFile } from "node:fs/promises";

const fs = nodeFs();
const HEAD = "3 V1700000000 N3 G6553f100000000000000000000000002\n";
const OLD =
  `${HEAD}1 :1700000060.M1P1.h,S=5,W=6\n2 P2-custom :1700000120.M1P1.h\n`;
const NEW = ["1700000900.M2P9.h:2,", "1700000900.M1P9.h,S=3,W=4"];
const CUR = ["1700000060.M1P1.h,S=5,W=6:2,S", "1700000120.M1P1.h:2,"];

let root = "";
let count = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "pop3d-uidlist-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function maildir(uidlist: string | undefined): Promise<string> {
  const dir = join(root, `m${count++}`);
  await mkdir(dir, { recursive: true });
  if (uidlist !== undefined) {
    await writeFile(join(dir, DOVECOT_UIDLIST_NAME), uidlist);
  }
  return dir;
}

const text = (dir: string, name = DOVECOT_UIDLIST_NAME) =>
  readFile(join(dir, name), "utf8");
const exists = (path: string) => stat(path).then(() => true, () => false);

function deadPid(): number {
  const child = spawnSync(process.execPath, ["--version"]);
  assert.ok(child.pid !== undefined && child.pid > 0);
  return child.pid;
}

describe("loadDovecotUidls", () => {
  it("loadDovecotUidls returns undefined without a dovecot-uidlist", async () => {
    assert.equal(
      await loadDovecotUidls(fs, await maildir(undefined), CUR),
      undefined,
    );
  });

  it("loadDovecotUidls gives new mail the next UIDs and appends them as Dovecot does", async () => {
    const dir = await maildir(OLD);
    const result = await loadDovecotUidls(fs, dir, [...CUR, ...NEW]);
    assert.ok(result !== undefined);
    assert.deepEqual(
      [...result.messages].map((
        [name, m],
      ) => [name, m.uid, m.uidl, m.order, m.size]),
      [
        ["1700000060.M1P1.h,S=5,W=6", 1, "000000016553f100", 0, 6],
        ["1700000120.M1P1.h", 2, "2-custom", 1, undefined],
        ["1700000900.M1P9.h,S=3,W=4", 3, "000000036553f100", 2, 4],
        ["1700000900.M2P9.h", 4, "000000046553f100", 3, undefined],
      ],
    );
    assert.deepEqual(result.pending, []);
    // Appended: the old bytes, header included, are unchanged.
    assert.equal(
      await text(dir),
      `${OLD}3 :1700000900.M1P9.h,S=3,W=4\n4 :1700000900.M2P9.h\n`,
    );
    assert.equal(await exists(join(dir, DOVECOT_UIDLIST_LOCK_NAME)), false);
    // A second look changes nothing.
    const again = await loadDovecotUidls(fs, dir, [...CUR, ...NEW]);
    assert.deepEqual(again, result);
  });

  it("loadDovecotUidls rewrites the file when it cannot append", async () => {
    const dir = await maildir(OLD);
    const { appendFile: _, ...noAppend } = fs;
    await loadDovecotUidls(noAppend, dir, [...CUR, NEW[0]]);
    assert.equal(
      await text(dir),
      `${HEAD.replace("N3", "N4")}${
        OLD.slice(HEAD.length)
      }3 :1700000900.M2P9.h\n`,
    );
    // A version 1 file is rewritten as version 3.
    const v1 = await maildir("1 77 5\n4 1700000060.M1P1.h,S=5,W=6\n");
    const result = await loadDovecotUidls(fs, v1, [...CUR, NEW[0]]);
    assert.equal(
      await text(v1),
      "3 V77 N7\n4 :1700000060.M1P1.h,S=5,W=6\n5 :1700000120.M1P1.h\n6 :1700000900.M2P9.h\n",
    );
    assert.equal(
      result?.messages.get("1700000900.M2P9.h")?.uidl,
      "000000060000004d",
    );
  });

  it("loadDovecotUidls with assign false leaves new mail pending and the file alone", async () => {
    const dir = await maildir(OLD);
    const result = await loadDovecotUidls(fs, dir, [...CUR, ...NEW], {
      assign: false,
    });
    assert.deepEqual(result?.pending, [NEW[1], NEW[0]]);
    assert.equal(result?.messages.size, 2);
    assert.equal(await text(dir), OLD);
  });

  it("loadDovecotUidls waits for a live process's lock, then leaves new mail pending", async () => {
    const dir = await maildir(OLD);
    const lock = join(dir, DOVECOT_UIDLIST_LOCK_NAME);
    await writeFile(lock, `1:${hostname()}`); // pid 1 always runs
    const result = await loadDovecotUidls(fs, dir, [...CUR, ...NEW], {
      lockTimeoutMs: 100,
    });
    assert.deepEqual(result?.pending, [NEW[1], NEW[0]]);
    assert.equal(result?.messages.size, 2);
    assert.equal(await text(dir), OLD);
    assert.equal(await text(dir, DOVECOT_UIDLIST_LOCK_NAME), `1:${hostname()}`);
  });

  it("loadDovecotUidls breaks the lock of a dead local process at once", async () => {
    const dir = await maildir(OLD);
    await writeFile(
      join(dir, DOVECOT_UIDLIST_LOCK_NAME),
      `${deadPid()}:${hostname()}`,
    );
    const result = await loadDovecotUidls(fs, dir, [...CUR, NEW[0]], {
      lockTimeoutMs: 0,
    });
    assert.deepEqual(result?.pending, []);
    assert.equal(result?.messages.get("1700000900.M2P9.h")?.uid, 3);
    assert.equal(await exists(join(dir, DOVECOT_UIDLIST_LOCK_NAME)), false);
  });

  it("loadDovecotUidls breaks an empty lock only after two minutes without change", async () => {
    const dir = await maildir(OLD);
    const lock = join(dir, DOVECOT_UIDLIST_LOCK_NAME);
    const uidlist = join(dir, DOVECOT_UIDLIST_NAME);
    await writeFile(lock, ""); // how Dovecot's own lock looks
    const old = new Date(Date.now() - 10 * 60_000);
    const recent = new Date(Date.now() - 100_000);
    // A fresh lock: not stale.
    let result = await loadDovecotUidls(fs, dir, [...CUR, NEW[0]], {
      lockTimeoutMs: 50,
    });
    assert.deepEqual(result?.pending, [NEW[0]]);
    // An old lock, but the uidlist changed 100 s ago: not stale yet.
    await utimes(lock, old, old);
    await utimes(uidlist, recent, recent);
    result = await loadDovecotUidls(fs, dir, [...CUR, NEW[0]], {
      lockTimeoutMs: 50,
    });
    assert.deepEqual(result?.pending, [NEW[0]]);
    assert.equal(await exists(lock), true);
    // Both unchanged for over 2 minutes: stale.
    await utimes(uidlist, old, old);
    result = await loadDovecotUidls(fs, dir, [...CUR, NEW[0]], {
      lockTimeoutMs: 0,
    });
    assert.deepEqual(result?.pending, []);
    assert.equal(await exists(lock), false);
    // With staleLockMs raised, the same age is not enough.
    const dir2 = await maildir(OLD);
    await writeFile(join(dir2, DOVECOT_UIDLIST_LOCK_NAME), "");
    for (const name of [DOVECOT_UIDLIST_LOCK_NAME, DOVECOT_UIDLIST_NAME]) {
      await utimes(join(dir2, name), old, old);
    }
    result = await loadDovecotUidls(fs, dir2, [...CUR, NEW[0]], {
      lockTimeoutMs: 0,
      staleLockMs: 3_600_000,
    });
    assert.deepEqual(result?.pending, [NEW[0]]);
  });

  it("loadDovecotUidls called twice at once gives each new message one UID", async () => {
    const dir = await maildir(OLD);
    const names = [...CUR, ...NEW];
    const [a, b] = await Promise.all([
      loadDovecotUidls(fs, dir, names),
      loadDovecotUidls(fs, dir, names),
    ]);
    assert.deepEqual(a, b);
    assert.equal((await text(dir)).split("\n").length, 6);
  });

  it("loadDovecotUidls: a second caller here waits for the first instead of judging its fresh lock left behind", async () => {
    const dir = await maildir(OLD);
    const names = [...CUR, ...NEW];
    const lockPath = join(dir, DOVECOT_UIDLIST_LOCK_NAME);
    // The first createExclusive creates the file but resolves late, so the
    // second caller finds a lock file with this process's pid meanwhile.
    let staleChecks = 0;
    const slow: MaildirFs = {
      ...fs,
      createExclusive: async (path, data) => {
        const created = await fs.createExclusive(path, data);
        if (created) await new Promise((r) => setTimeout(r, 30));
        return created;
      },
      stat: (path) => {
        if (path === lockPath) staleChecks++;
        return fs.stat(path);
      },
    };
    const [a, b] = await Promise.all([
      loadDovecotUidls(slow, dir, names),
      loadDovecotUidls(slow, dir, names),
    ]);
    assert.deepEqual(a, b);
    assert.equal((await text(dir)).split("\n").length, 6);
    assert.equal(await exists(lockPath), false);
    // Nobody removed a lock its holder here had just taken.
    assert.equal(staleChecks, 0);
  });

  it("loadDovecotUidls reports a corrupt uidlist with its path, and bad options", async () => {
    const dir = await maildir(`${HEAD}2 :a\n1 :b\n`);
    await assert.rejects(
      loadDovecotUidls(fs, dir, CUR),
      (error: unknown) =>
        error instanceof SyntaxError &&
        error.message.includes("line 3: UIDs not ordered") &&
        error.message.includes(join(dir, DOVECOT_UIDLIST_NAME)),
    );
    await assert.rejects(
      loadDovecotUidls(fs, dir, CUR, { format: "%m" }),
      RangeError,
    );
    await assert.rejects(
      loadDovecotUidls(fs, dir, CUR, { staleLockMs: -1 }),
      RangeError,
    );
    await assert.rejects(
      loadDovecotUidls(fs, dir, CUR, { lockTimeoutMs: NaN }),
      RangeError,
    );
  });
});

describe("readDovecotUidlistCached", () => {
  it("readDovecotUidlistCached parses appended lines alone and the whole file after a rewrite", async () => {
    const dir = await maildir(OLD);
    const holder: { uidlist?: DovecotUidlistCache } = {};
    const first = await readDovecotUidlistCached(fs, dir, holder);
    assert.ok(first !== undefined && holder.uidlist === first);
    assert.equal(first.count, 2);
    assert.equal(first.find("1700000120.M1P1.h"), 1);
    assert.equal(first.find("1700000120.M1P1.h:2,S", 17), 1);
    assert.equal(first.find("1700000120.M1P1.x"), -1);
    assert.deepEqual(first.ext.get(1), { P: "2-custom" });
    // Unchanged: the same cache, nothing parsed.
    assert.equal(await readDovecotUidlistCached(fs, dir, holder), first);
    // Dovecot appends a line: the same cache, one record more.
    await appendFile(
      join(dir, DOVECOT_UIDLIST_NAME),
      "7 W9 :1700000900.M1P9.h\n",
    );
    const appended = await readDovecotUidlistCached(fs, dir, holder);
    assert.equal(appended, first);
    assert.equal(first.count, 3);
    assert.equal(first.uid(2), 7);
    assert.equal(first.fileName(2), "1700000900.M1P9.h");
    assert.equal(first.nextUid, 8);
    assert.deepEqual(first.ext.get(2), { W: "9" });
    // A rewrite that changes earlier bytes (same length or longer): parsed again.
    const rewritten = OLD.replace("2 P2-custom", "2 P2-cuXtom") +
      "7 W9 :1700000900.M1P9.h\n8 :1700000960.M1P9.h\n";
    await writeFile(join(dir, DOVECOT_UIDLIST_NAME), rewritten);
    const again = await readDovecotUidlistCached(fs, dir, holder);
    assert.ok(
      again !== undefined && again !== first && holder.uidlist === again,
    );
    assert.equal(again.count, 4);
    assert.deepEqual(again.ext.get(1), { P: "2-cuXtom" });
    // An appended line that repeats a file name is corruption, reported.
    await appendFile(
      join(dir, DOVECOT_UIDLIST_NAME),
      "9 :1700000060.M1P1.h,S=5,W=6\n",
    );
    await assert.rejects(
      readDovecotUidlistCached(fs, dir, holder),
      /duplicate file .*dovecot-uidlist/,
    );
    // A shorter file, and a missing one.
    await writeFile(join(dir, DOVECOT_UIDLIST_NAME), HEAD);
    assert.equal((await readDovecotUidlistCached(fs, dir, holder))?.count, 0);
    await rm(join(dir, DOVECOT_UIDLIST_NAME));
    assert.equal(await readDovecotUidlistCached(fs, dir, holder), undefined);
    assert.equal(holder.uidlist, undefined);
  });

  it("readDovecotUidlistCached does not keep a file whose last line is not finished", async () => {
    const dir = await maildir(OLD + "3 :1700000900.M1");
    const holder: { uidlist?: DovecotUidlistCache } = {};
    const list = await readDovecotUidlistCached(fs, dir, holder);
    assert.equal(list?.count, 3);
    assert.equal(holder.uidlist, undefined);
  });

  it("readDovecotUidlistCached finds every name of a large list", async () => {
    const lines = [HEAD];
    for (let i = 1; i <= 3000; i++) {
      lines.push(`${i} :${1700000000 + i}.M${i}P1.h\n`);
    }
    const dir = await maildir(lines.join(""));
    const list = (await readDovecotUidlistCached(fs, dir, {}))!;
    for (let i = 1; i <= 3000; i++) {
      assert.equal(list.find(`${1700000000 + i}.M${i}P1.h`), i - 1);
    }
    assert.equal(list.find("1700000000.M0P1.h"), -1);
  });

  it("assignDovecotUidsCached appends new mail as Dovecot does and updates the cache", async () => {
    const dir = await maildir(OLD);
    const holder: { uidlist?: DovecotUidlistCache } = {};
    const list = (await readDovecotUidlistCached(fs, dir, holder))!;
    assert.equal(
      await assignDovecotUidsCached(fs, dir, [...NEW, CUR[0]], {}, holder),
      true,
    );
    assert.equal(
      await text(dir),
      `${OLD}3 :1700000900.M1P9.h,S=3,W=4\n4 :1700000900.M2P9.h\n`,
    );
    assert.equal(holder.uidlist, list);
    assert.equal(list.find("1700000900.M2P9.h"), 3);
    assert.equal(list.nextUid, 5);
    assert.equal(await exists(join(dir, DOVECOT_UIDLIST_LOCK_NAME)), false);
    // A live process's lock: nothing numbered, the file alone.
    await writeFile(join(dir, DOVECOT_UIDLIST_LOCK_NAME), `1:${hostname()}`);
    assert.equal(
      await assignDovecotUidsCached(fs, dir, ["1700001000.M1P1.h"], {
        lockTimeoutMs: 50,
      }, holder),
      false,
    );
    assert.equal(list.count, 4);
  });
});
