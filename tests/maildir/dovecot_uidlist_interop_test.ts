// The same Maildir served by a real Dovecot 2.3 POP3 server and computed by
// loadDovecotUidls: identical UIDL and LIST, with P overrides, O order, mail
// delivered meanwhile numbered by either side, and deletions. Skipped when
// `dovecot` is not installed.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { nodeFs } from "../../src/runtime/node_fs.ts";
import { DOVECOT_UIDLIST_LOCK_NAME } from "../../src/maildir/dovecot_uidlist_file.ts";
import { MaildirStorage } from "../../maildir.ts";
import { MemoryAuth, Pop3d } from "../../mod.ts";
import type { DovecotUidlOptions } from "../../src/maildir/dovecot_uidlist_file.ts";
import { pop3Connect } from "../_helpers/net_client.ts";
import {
  DovecotPeer,
  HAVE_DOVECOT,
  IS_ROOT,
} from "../_helpers/dovecot_peer.ts";

if (!HAVE_DOVECOT) console.log("dovecot not installed: interop test skipped");
const MAILDIRLOCK = "/usr/lib/dovecot/maildirlock";
const fs = nodeFs();

let root = "";
let maildir = "";
let port = 0;
let format = "%08Xu%08Xv";

let peer: DovecotPeer | undefined;
before(async () => {
  if (!HAVE_DOVECOT) return;
  peer = await DovecotPeer.create("uidl");
  root = peer.root;
  maildir = peer.maildir;
  port = peer.port;
});
after(async () => {
  await peer?.remove();
});

/** Gives the mail tree to the user Dovecot reads it as. */
function handOver(): void {
  peer!.handOver();
}

async function startDovecot(): Promise<void> {
  await peer!.start([`pop3_uidl_format = ${format}`]);
}

function stopDovecot(): Promise<void> {
  return peer!.stop();
}

function dovecotComplaints(): Promise<string[]> {
  return peer!.complaints();
}

interface Listing {
  uidl: string[];
  list: string[];
}

/** UIDL and LIST from Dovecot's POP3 server, then DELE of `dele` and QUIT. */
async function dovecotListing(dele: number[] = []): Promise<Listing> {
  const client = await pop3Connect(port);
  try {
    assert.match(await client.cmd("USER alice"), /^\+OK/);
    assert.match(await client.cmd("PASS secret"), /^\+OK/);
    const uidl = (await client.multi("UIDL")).lines;
    const list = (await client.multi("LIST")).lines;
    for (const n of dele) assert.match(await client.cmd(`DELE ${n}`), /^\+OK/);
    assert.match(await client.cmd("QUIT"), /^\+OK/);
    return { uidl, list };
  } finally {
    client.close();
  }
}

/**
 * The same listing from our server: Pop3d with MaildirStorage (which reads
 * and numbers through loadDovecotUidls) on the same Maildir, over the wire;
 * then DELE of `dele` and QUIT.
 */
async function ourListing(
  options: DovecotUidlOptions = {},
  dele: number[] = [],
): Promise<Listing> {
  const server = new Pop3d({
    hostname: "127.0.0.1",
    port: 0,
    auth: new MemoryAuth().addUser("alice", "secret", "home/Maildir"),
    storage: new MaildirStorage({
      root,
      markSeen: false,
      dovecotUidl: { format, ...options },
    }),
    authFailureDelay: 0,
    authPenalty: false,
  });
  await server.up();
  try {
    const client = await pop3Connect(server.cget("port") as number);
    try {
      assert.match(await client.cmd("USER alice"), /^\+OK/);
      assert.match(await client.cmd("PASS secret"), /^\+OK/);
      const uidl = (await client.multi("UIDL")).lines;
      const list = (await client.multi("LIST")).lines;
      for (const n of dele) {
        assert.match(await client.cmd(`DELE ${n}`), /^\+OK/);
      }
      assert.match(await client.cmd("QUIT"), /^\+OK/);
      return { uidl, list };
    } finally {
      client.close();
    }
  } finally {
    await server.destroy();
  }
}

async function deliver(
  sub: "new" | "cur",
  name: string,
  body: string,
): Promise<void> {
  await writeFile(join(maildir, sub, name), body);
}

describe("MaildirStorage (dovecot-uidlist) against Dovecot 2.3", {
  skip: HAVE_DOVECOT ? false : "dovecot not installed",
}, () => {
  it("MaildirStorage lists what Dovecot lists on one Maildir: P, O, W, sizes, and new mail we numbered", async () => {
    const a = "1700000060.M000001P1.peer,S=40,W=43";
    const b = "1700000120.M000002P1.peer";
    const c = "1700000180.M000003P1.peer,S=20";
    const d = "1700000240.M000004P1.peer";
    await deliver(
      "cur",
      `${a}:2,S`,
      "Subject: a\n\nline one\nline two\n12345678\n",
    );
    await deliver(
      "cur",
      `${b}:2,`,
      "Subject: b\r\n\r\ncrlf\r\nno final newline",
    );
    await deliver("cur", `${c}:2,`, "Subject: c\n\nshort\n\n\n");
    await deliver("cur", `${d}:2,`, "Subject: d\n\nd\n");
    await writeFile(
      join(maildir, "dovecot-uidlist"),
      [
        "3 V1700000000 N9 G6553f100000000000000000000000004",
        `1 O2 :${a}`,
        "2 :1600000000.M1P1.gone", // expunged earlier: no file
        `3 Pcustom-uidl-3 :${b}`,
        `5 O1 :${c}`,
        `7 W999 :${d}`, // Dovecot trusts the record's W when the name has none
        "",
      ].join("\n"),
    );
    // Mail delivered while nobody served the Maildir: we number it first.
    await deliver("new", "1700001000.M5P9.later", "Subject: later\n\nx\n");
    await deliver(
      "new",
      "1700001000.M3P9.later,S=16,W=19",
      "Subject: w\n\nyy\n",
    );
    const ours = await ourListing();
    const uidlist = await readFile(join(maildir, "dovecot-uidlist"), "utf8");
    assert.match(
      uidlist,
      /\n9 :1700001000\.M3P9\.later,S=16,W=19\n10 :1700001000\.M5P9\.later\n$/,
    );
    assert.deepEqual(ours.uidl.map((l) => l.split(" ")[1]), [
      "000000056553f100",
      "000000016553f100",
      "custom-uidl-3",
      "000000076553f100",
      "000000096553f100",
      "0000000a6553f100",
    ]);

    await startDovecot();
    assert.deepEqual(await dovecotListing(), ours);
    // What Dovecot made of the file after reading it, we read the same way.
    assert.deepEqual(await ourListing({ assign: false }), ours);

    // The other way round: Dovecot numbers mail that arrives now.
    await deliver("new", "1700002000.M1P9.third", "Subject: third\n\nz\n");
    handOver();
    const theirs = await dovecotListing();
    assert.equal(theirs.uidl.at(-1), "7 0000000b6553f100");
    assert.deepEqual(await ourListing({ assign: false }), theirs);

    // While Dovecot runs, we number new mail; Dovecot agrees.
    await deliver("new", "1700003000.M1P9.fourth", "Subject: 4\n\n4\n");
    const ours2 = await ourListing();
    assert.equal(ours2.uidl.at(-1), "8 0000000c6553f100");
    handOver();
    assert.deepEqual(await dovecotListing(), ours2);
    assert.deepEqual(await dovecotComplaints(), []);
  });

  it("MaildirStorage and Dovecot agree after deletions on either side", async () => {
    // Our DELE+QUIT unlinks the file and leaves the uidlist line behind.
    const before = await ourListing();
    const victim = before.uidl.findIndex((l) =>
      l.endsWith(" 0000000a6553f100")
    );
    assert.ok(victim >= 0);
    await ourListing({}, [victim + 1]);
    assert.ok(
      !(await readdir(join(maildir, "cur"))).some((n) =>
        n.includes("M5P9.later")
      ),
    );
    const ours = await ourListing();
    assert.equal(ours.uidl.length, 7);
    assert.deepEqual(await dovecotListing([1]), ours); // Dovecot deletes message 1
    const after = await ourListing({ assign: false });
    assert.deepEqual(await dovecotListing(), after);
    assert.equal(after.uidl.length, 6);
    assert.ok(!after.uidl.some((l) => l.endsWith(" 000000056553f100")));
    assert.deepEqual(await dovecotComplaints(), []);
  });

  it("MaildirStorage follows another pop3_uidl_format as Dovecot does", async () => {
    await stopDovecot();
    format = "%g-%Xv.%3.4f";
    try {
      const uidlist = join(maildir, "dovecot-uidlist");
      const text = await readFile(uidlist, "utf8");
      // A message GUID on one record (Dovecot's %g falls back to %f without).
      await writeFile(uidlist, text.replace(/^7 /m, "7 Gf00dfeed "));
      await startDovecot();
      const theirs = await dovecotListing();
      assert.ok(theirs.uidl.some((l) => l.includes(" f00dfeed-6553f100.0000")));
      assert.deepEqual(await ourListing({ assign: false }), theirs);
      assert.deepEqual(await dovecotComplaints(), []);
    } finally {
      await stopDovecot();
      format = "%08Xu%08Xv";
    }
  });

  it("MaildirStorage breaks a lock that Dovecot's maildirlock left behind", {
    skip: !IS_ROOT && "maildirlock test runs as root only",
  }, async () => {
    const have = await stat(MAILDIRLOCK).then(() => true, () => false);
    if (!have) return;
    // maildirlock prints the locking process's id; in 2.3.19 that process
    // dies at once (a Dovecot bug), leaving the dotlock of a dead process.
    const pid = Number(
      execFileSync(MAILDIRLOCK, [maildir, "5"], {
        stdio: ["ignore", "pipe", "ignore"],
      }).toString().trim(),
    );
    for (let i = 0; i < 100 && fs.isProcessAlive(pid); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (fs.isProcessAlive(pid)) {
      process.kill(pid, "SIGTERM"); // a fixed maildirlock: release it, nothing to test
      return;
    }
    const lock = await readFile(
      join(maildir, DOVECOT_UIDLIST_LOCK_NAME),
      "utf8",
    );
    assert.equal(lock, `${pid}:${fs.hostname()}`); // Dovecot's dotlock content
    await deliver("new", "1700005000.M1P9.fifth", "Subject: 5\n\n5\n");
    const ours = await ourListing({ lockTimeoutMs: 0 });
    assert.equal(ours.uidl.at(-1), "7 0000000d6553f100");
    await startDovecot();
    assert.deepEqual(await dovecotListing(), ours);
    assert.deepEqual(await dovecotComplaints(), []);
  });
});
