import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  appendFile,
  mkdir,
  mkdtemp,
  rm,
  utimes,
  writeFile,
} from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { MaildirStorage } from "../../maildir.ts";
import { byMbox } from "../_helpers/by_mbox.ts";
import { nodeFs } from "../../src/runtime/node_fs.ts";

let root = "";
before(async () => {
  root = await mkdtemp(join(tmpdir(), "pop3d-uidl-source-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function maildir(name: string, files: Record<string, string>) {
  const dir = join(root, name);
  for (const sub of ["cur", "new", "tmp"]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  for (const [file, body] of Object.entries(files)) {
    await writeFile(join(dir, file), body);
  }
  return dir;
}

describe("MaildirStorage UIDL sources", () => {
  it("MaildirStorage takes Courier's UIDLs, sizes and order from courierpop3dsizelist when asked", async () => {
    await maildir("courier", {
      "cur/1700000100.M1P1.h:2,S": "Subject: b\n\nb\n",
      "cur/1700000200.M2P1.h:2,S": "Subject: a\n\na\n",
      "new/1700000300.M3P1.h": "Subject: new\n\nn\n",
      "courierpop3dsizelist": [
        "/2 3 9",
        "1700000200.M2P1.h 17 1:9",
        "1700000100.M1P1.h 17 2:9",
        "",
      ].join("\n"),
    });
    const storage = byMbox(new MaildirStorage({ root, courierUidl: true }));
    assert.equal(await storage.lock("courier"), true);
    try {
      assert.equal(storage.stat("courier"), 3);
      assert.deepEqual(
        [1, 2, 3].map((n) => storage.uidl("courier", n)),
        ["UID1-9", "UID2-9", "1700000300.M3P1.h"],
      );
    } finally {
      await storage.unlock("courier");
    }
    // Off by default: the file names are the UIDLs, in delivery order.
    const plain = byMbox(new MaildirStorage({ root }));
    assert.equal(await plain.lock("courier"), true);
    try {
      assert.deepEqual(
        [1, 2, 3].map((n) => plain.uidl("courier", n)),
        ["1700000100.M1P1.h", "1700000200.M2P1.h", "1700000300.M3P1.h"],
      );
    } finally {
      await plain.unlock("courier");
    }
  });

  it("MaildirStorage serves Dovecot's UIDLs from dovecot-uidlist and leaves them when dovecotUidl is false", async () => {
    await maildir("dovecot", {
      "cur/1700000100.M1P1.h,S=14:2,S": "Subject: b\n\nb\n",
      "cur/1700000200.M2P1.h,S=14:2,S": "Subject: a\n\na\n",
      "dovecot-uidlist": [
        "3 V1700000000 N3 G6553f100000000000000000000000004",
        "1 :1700000100.M1P1.h,S=14",
        "2 Pcustom :1700000200.M2P1.h,S=14",
        "",
      ].join("\n"),
    });
    const storage = byMbox(new MaildirStorage({ root }));
    assert.equal(await storage.lock("dovecot"), true);
    try {
      assert.deepEqual(
        [1, 2].map((n) => storage.uidl("dovecot", n)),
        ["000000016553f100", "custom"],
      );
    } finally {
      await storage.unlock("dovecot");
    }
    const own = byMbox(new MaildirStorage({ root, dovecotUidl: false }));
    assert.equal(await own.lock("dovecot"), true);
    try {
      assert.deepEqual(
        [1, 2].map((n) => own.uidl("dovecot", n)),
        ["1700000100.M1P1.h", "1700000200.M2P1.h"],
      );
    } finally {
      await own.unlock("dovecot");
    }
  });

  it("MaildirStorage follows dovecot-uidlist appends and rewrites between logins, and leaves new mail out while its lock is busy", async () => {
    const dir = await maildir("dovecot-later", {
      "cur/1700000100.M1P1.h,S=2:2,S": "a\n",
      "dovecot-uidlist": "3 V1700000000 N2 Gab\n1 :1700000100.M1P1.h,S=2\n",
    });
    const uidlist = join(dir, "dovecot-uidlist");
    const storage = byMbox(
      new MaildirStorage({
        root,
        dovecotUidl: { lockTimeoutMs: 50 },
      }),
    );
    const list = async () => {
      assert.equal(await storage.lock("dovecot-later"), true);
      try {
        const n = storage.stat("dovecot-later");
        return Array.from(
          { length: n },
          (_, i) =>
            `${storage.uidl("dovecot-later", i + 1)} ${
              storage.size("dovecot-later", i + 1)
            }`,
        );
      } finally {
        await storage.unlock("dovecot-later");
      }
    };
    assert.deepEqual(await list(), ["000000016553f100 3"]);
    // Dovecot delivers and appends a line.
    await writeFile(join(dir, "cur", "1700000200.M2P1.h:2,"), "bb\n");
    await appendFile(uidlist, "5 W9 :1700000200.M2P1.h\n");
    assert.deepEqual(await list(), [
      "000000016553f100 3",
      "000000056553f100 9",
    ]);
    // Dovecot rewrites the file (P and O added): the whole file counts.
    await writeFile(
      uidlist,
      "3 V1700000000 N6 Gab\n1 O2 :1700000100.M1P1.h,S=2\n5 Pnew O1 W9 :1700000200.M2P1.h\n",
    );
    assert.deepEqual(await list(), ["new 9", "000000016553f100 3"]);
    // New mail while another process holds the uidlist lock: not served.
    await writeFile(join(dir, "cur", "1700000300.M3P1.h:2,"), "c\n");
    await writeFile(join(dir, "dovecot-uidlist.lock"), `1:${hostname()}`);
    assert.deepEqual(await list(), ["new 9", "000000016553f100 3"]);
    await rm(join(dir, "dovecot-uidlist.lock"));
    assert.deepEqual(await list(), [
      "new 9",
      "000000016553f100 3",
      "000000066553f100 3",
    ]);
  });

  it("MaildirStorage shares a settled Dovecot listing only while dovecot-uidlist is unchanged", async () => {
    const dir = await maildir("dovecot-settled", {
      "cur/1700000100.M1P1.h,S=2:2,S": "a\n",
      "cur/1700000200.M2P1.h:2,S": "b\n",
      "dovecot-uidlist":
        "3 V1700000000 N3 Gab\n1 :1700000100.M1P1.h,S=2\n2 :1700000200.M2P1.h\n",
    });
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, "cur"), old, old);
    const fs = nodeFs();
    let listings = 0;
    const kinds = fs.readDirKinds!.bind(fs);
    fs.readDirKinds = (path) => {
      if (path.endsWith("/cur")) listings++;
      return kinds(path);
    };
    const storage = byMbox(new MaildirStorage({ root, fs }));
    const login = async () => {
      listings = 0;
      assert.equal(await storage.lock("dovecot-settled"), true);
      try {
        return [1, 2].map((n) => storage.uidl("dovecot-settled", n))
          .join(" ") + ` ${listings}`;
      } finally {
        await storage.unlock("dovecot-settled");
      }
    };
    assert.equal(await login(), "000000016553f100 000000026553f100 1");
    assert.equal(await login(), "000000016553f100 000000026553f100 0");
    // Dovecot rewrites the uidlist (new order, a P): listed again.
    await writeFile(
      join(dir, "dovecot-uidlist"),
      "3 V1700000000 N3 Gab\n1 O2 :1700000100.M1P1.h,S=2\n2 O1 Pb :1700000200.M2P1.h\n",
    );
    assert.equal(await login(), "b 000000016553f100 1");
    assert.equal(await login(), "b 000000016553f100 0");
    // Dovecot appends a line (for a file elsewhere): listed again.
    await appendFile(join(dir, "dovecot-uidlist"), "3 :1700000300.M3P1.h\n");
    assert.equal(await login(), "b 000000016553f100 1");
  });

  it("MaildirStorage fails a login with bad Dovecot lock timings", async () => {
    await maildir("bad-timing", { "cur/1700000100.M1P1.h:2,": "a\n" });
    const storage = byMbox(
      new MaildirStorage({ root, dovecotUidl: { lockTimeoutMs: -1 } }),
    );
    await assert.rejects(storage.lock("bad-timing"), RangeError);
  });

  it("MaildirStorage refuses bad UIDL source options with a clear error", () => {
    assert.throws(
      () => new MaildirStorage({ root, dovecotUidl: { format: "%x" } }),
      RangeError,
    );
    assert.throws(
      () =>
        new MaildirStorage({
          root,
          courierUidl: "yes" as unknown as boolean,
        }),
      /courierUidl must be a boolean/,
    );
  });
});
