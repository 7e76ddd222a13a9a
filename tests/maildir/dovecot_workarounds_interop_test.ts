// Client workarounds against a real Dovecot 2.3 on one Maildir.
// "Keep on server": what our MaildirStorage (deletedFlag) hides, Dovecot
// configured with `pop3_deleted_flag = "$POP3Deleted"` (quoted: doveconf
// reads $name as a variable) hides too, and the other way round.
// `pop3_client_workarounds = outlook-no-nuls oe-ns-eoh`: our outlookNoNuls and
// oeNsEoh send the very octets Dovecot sends, with the same sizes.
// Skipped when `dovecot` is not installed.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MaildirStorage } from "../../maildir.ts";
import { MemoryAuth, Pop3d } from "../../mod.ts";
import { pop3Connect } from "../_helpers/net_client.ts";
import { DovecotPeer, HAVE_DOVECOT } from "../_helpers/dovecot_peer.ts";

if (!HAVE_DOVECOT) console.log("dovecot not installed: interop test skipped");

let root = "";
let maildir = "";
let port = 0;

let peer: DovecotPeer | undefined;
before(async () => {
  if (!HAVE_DOVECOT) return;
  peer = await DovecotPeer.create("deleted");
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
  await peer!.start([
    'pop3_deleted_flag = "$POP3Deleted"',
    "pop3_client_workarounds = outlook-no-nuls oe-ns-eoh",
  ]);
}

function dovecotComplaints(): Promise<string[]> {
  return peer!.complaints();
}

/** LIST from a POP3 server on `at`, then DELE of `dele` and QUIT. */
async function listing(at: number, dele: number[] = []): Promise<string[]> {
  const client = await pop3Connect(at);
  try {
    assert.match(await client.cmd("USER alice"), /^\+OK/);
    assert.match(await client.cmd("PASS secret"), /^\+OK/);
    const list = (await client.multi("LIST")).lines;
    for (const n of dele) assert.match(await client.cmd(`DELE ${n}`), /^\+OK/);
    assert.match(await client.cmd("QUIT"), /^\+OK/);
    return list;
  } finally {
    client.close();
  }
}

/** Runs `fn` against our server with the workarounds on the same Maildir. */
async function ours<T>(fn: (port: number) => Promise<T>): Promise<T> {
  const server = new Pop3d({
    hostname: "127.0.0.1",
    port: 0,
    auth: new MemoryAuth().addUser("alice", "secret", "home/Maildir"),
    storage: new MaildirStorage({ root, markSeen: false, deletedFlag: true }),
    authFailureDelay: 0,
    authPenalty: false,
    outlookNoNuls: true,
    oeNsEoh: true,
  });
  await server.up();
  try {
    return await fn(server.cget("port") as number);
  } finally {
    await server.destroy();
    handOver();
  }
}

/** The LIST from our server on the same Maildir, then DELE and QUIT. */
function ourListing(dele: number[] = []): Promise<string[]> {
  return ours((at) => listing(at, dele));
}

/** Status and exact octets (terminator included) of each command's reply. */
async function replies(at: number, commands: string[]): Promise<string[]> {
  const client = await pop3Connect(at);
  try {
    assert.match(await client.cmd("USER alice"), /^\+OK/);
    assert.match(await client.cmd("PASS secret"), /^\+OK/);
    const out: string[] = [];
    for (const command of commands) {
      const status = await client.cmd(command);
      const { raw } = await client.body();
      // Status texts are free, except RETR's size.
      const shown = command.startsWith("RETR") ? status : status.slice(0, 3);
      out.push(`${command} -> ${shown}\n${String.fromCharCode(...raw)}`);
    }
    assert.match(await client.cmd("QUIT"), /^\+OK/);
    return out;
  } finally {
    client.close();
  }
}

describe("Client workarounds against Dovecot 2.3 on one Maildir", {
  skip: HAVE_DOVECOT ? false : "dovecot not installed",
}, () => {
  it("MaildirStorage and Dovecot hide each other's kept-on-server deletions", async () => {
    const names = [
      "1700000060.M1P1.peer,S=16",
      "1700000120.M2P1.peer,S=18",
      "1700000180.M3P1.peer,S=19",
    ];
    const bodies = [
      "Subject: a\n\none\n",
      "Subject: b\n\nthree\n",
      "Subject: c\n\nfifty5\n",
    ];
    for (let i = 0; i < 3; i++) {
      await writeFile(join(maildir, "cur", `${names[i]}:2,`), bodies[i]);
    }
    // Sizes on the wire: bare LFs count as CRLF.
    const sizes = bodies.map((b) => b.length + b.split("\n").length - 1);
    // We "delete" message 2: kept, flagged, and hidden from Dovecot.
    assert.deepEqual(await ourListing([2]), [
      `1 ${sizes[0]}`,
      `2 ${sizes[1]}`,
      `3 ${sizes[2]}`,
    ]);
    handOver();
    await startDovecot();
    assert.deepEqual(await listing(port, [1]), [
      `1 ${sizes[0]}`,
      `2 ${sizes[2]}`,
    ]);
    // Dovecot "deleted" message 1 the same way: we hide it too.
    assert.deepEqual(await ourListing(), [`1 ${sizes[2]}`]);
    assert.deepEqual(await listing(port), [`1 ${sizes[2]}`]);
    const cur = (await readdir(join(maildir, "cur"))).sort();
    assert.equal(cur.length, 3, `files kept: ${cur.join(" ")}`);
    assert.match(cur[0], /^1700000060\.M1P1\.peer,S=16.*:2,[A-Z]*a$/);
    assert.match(cur[1], /^1700000120\.M2P1\.peer,S=18:2,a$/);
    assert.match(cur[2], /^1700000180\.M3P1\.peer,S=19.*:2,[A-Z]*$/);
    assert.match(
      await readFile(join(maildir, "dovecot-keywords"), "utf8"),
      /^0 \$POP3Deleted$/m,
    );
    assert.deepEqual(await dovecotComplaints(), []);
  });

  it("Pop3d with outlookNoNuls and oeNsEoh sends what Dovecot sends with outlook-no-nuls oe-ns-eoh", async () => {
    await startDovecot(); // the test above started it, unless run alone
    // A headers-only message and one with NUL octets, after the one the
    // test above left visible (or alone, when run alone).
    await writeFile(
      join(maildir, "cur", "1700000240.M4P1.peer:2,"),
      "Subject: x\r\n",
    );
    await writeFile(
      join(maildir, "cur", "1700000300.M5P1.peer:2,"),
      "Subject: n\0l\r\n\r\na\0b\r\n\0\r\n.\0\r\nend\0",
    );
    handOver();
    const count = (await listing(port)).length;
    const last = [count - 1, count];
    const commands = [
      "LIST",
      `RETR ${last[0]}`,
      `TOP ${last[0]} 0`,
      `RETR ${last[1]}`,
      `TOP ${last[1]} 0`,
      `TOP ${last[1]} 1`,
    ];
    const theirs = await replies(port, commands);
    const mine = await ours((at) => replies(at, commands));
    assert.deepEqual(mine, theirs);
    // What they are: sizes as stored (Dovecot announces 12 octets and sends
    // 14 for the headers-only message), NULs as 0x80, the empty line added.
    assert.equal(
      theirs[1],
      `RETR ${last[0]} -> +OK 12 octets\nSubject: x\r\n\r\n.\r\n`,
    );
    assert.ok(
      theirs[3].includes("a\x80b\r\n\x80\r\n..\x80\r\nend\x80\r\n.\r\n"),
    );
    assert.deepEqual(await dovecotComplaints(), []);
  });
});
