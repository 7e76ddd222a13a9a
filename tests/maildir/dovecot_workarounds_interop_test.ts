// Client workarounds against a real Dovecot 2.3 on one Maildir.
// "Keep on server": what our MaildirStorage (deletedFlag) hides, Dovecot
// configured with `pop3_deleted_flag = "$POP3Deleted"` (quoted: doveconf
// reads $name as a variable) hides too, and the other way round.
// `pop3_client_workarounds = outlook-no-nuls oe-ns-eoh`: our outlookNoNuls and
// oeNsEoh send the very octets Dovecot sends, with the same sizes.
// Skipped when `dovecot` is not installed.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { nodeFs } from "../../src/runtime/node_fs.ts";
import { MaildirStorage } from "../../maildir.ts";
import { MemoryAuth, Pop3d } from "../../mod.ts";
import { pop3Connect } from "../_helpers/net_client.ts";

const HAVE_DOVECOT = spawnSync("dovecot", ["--version"]).status === 0;
if (!HAVE_DOVECOT) console.log("dovecot not installed: interop test skipped");
const IS_ROOT = typeof process.getuid === "function" && process.getuid() === 0;
const fs = nodeFs();

let root = "";
let maildir = "";
let port = 0;

before(async () => {
  if (!HAVE_DOVECOT) return;
  root = await mkdtemp(join(tmpdir(), "pop3d-dovecot-deleted-"));
  await chmod(root, 0o755); // the mail user (nobody when we are root) enters it
  maildir = join(root, "home", "Maildir");
  for (const sub of ["cur", "new", "tmp"]) {
    await mkdir(join(maildir, sub), { recursive: true });
  }
  port = await freePort();
});
after(async () => {
  if (!HAVE_DOVECOT) return;
  await stopDovecot();
  await rm(root, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        resolve(typeof address === "object" && address ? address.port : 0)
      );
    });
  });
}

/** Gives the mail tree to the user Dovecot reads it as. */
function handOver(): void {
  if (IS_ROOT) {
    execFileSync("chown", ["-R", "nobody:nogroup", join(root, "home")]);
  }
}

let dovecotStarted = false;

async function startDovecot(): Promise<void> {
  if (dovecotStarted) return;
  dovecotStarted = true;
  const user = IS_ROOT
    ? "nobody"
    : execFileSync("id", ["-un"]).toString().trim();
  const ids = IS_ROOT
    ? ["65534", "65534"]
    : [String(process.getuid?.()), String(process.getgid?.())];
  await writeFile(
    join(root, "users"),
    `alice:{PLAIN}secret:${ids[0]}:${ids[1]}::${root}/home::\n`,
  );
  const conf = [
    `base_dir = ${root}/run`,
    `state_dir = ${root}/state`,
    `instance_name = pop3d-deleted-${port}`,
    `log_path = ${root}/dovecot.log`,
    "protocols = pop3",
    "listen = 127.0.0.1",
    "ssl = no",
    "disable_plaintext_auth = no",
    `default_internal_user = ${IS_ROOT ? "dovecot" : user}`,
    `default_internal_group = ${IS_ROOT ? "dovecot" : user}`,
    `default_login_user = ${IS_ROOT ? "dovenull" : user}`,
    "first_valid_uid = 1",
    `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN ${root}/users\n}`,
    `userdb {\n  driver = passwd-file\n  args = ${root}/users\n}`,
    "mail_location = maildir:~/Maildir",
    'protocol pop3 {\n  pop3_deleted_flag = "$POP3Deleted"\n' +
    "  pop3_client_workarounds = outlook-no-nuls oe-ns-eoh\n}",
    `service pop3-login {\n  inet_listener pop3 {\n    address = 127.0.0.1\n    port = ${port}\n  }\n${
      IS_ROOT ? "" : "  chroot =\n"
    }}`,
    IS_ROOT ? "" : "service anvil {\n  chroot =\n}",
  ].join("\n");
  await writeFile(join(root, "dovecot.conf"), `${conf}\n`);
  // The master daemonizes: it must not inherit our pipes, or this waits forever.
  const checked = spawnSync("doveconf", [
    "-n",
    "-c",
    join(root, "dovecot.conf"),
  ]);
  if (checked.status !== 0) {
    throw new Error(`doveconf refused the configuration: ${checked.stderr}`);
  }
  execFileSync("dovecot", ["-c", join(root, "dovecot.conf")], {
    stdio: "ignore",
  });
  for (let i = 0; i < 100; i++) {
    try {
      const client = await pop3Connect(port);
      await client.cmd("QUIT");
      client.close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(
    `Dovecot did not start: ${await readFile(
      join(root, "dovecot.log"),
      "utf8",
    )}`,
  );
}

async function stopDovecot(): Promise<void> {
  const pidFile = join(root, "run", "master.pid");
  const pid = Number(await readFile(pidFile, "utf8").catch(() => "0"));
  if (!(pid > 0) || !fs.isProcessAlive(pid)) return;
  process.kill(pid, "SIGTERM"); // the master we started, by its id
  for (let i = 0; i < 200 && fs.isProcessAlive(pid); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
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

async function dovecotComplaints(): Promise<string[]> {
  const log = await readFile(join(root, "dovecot.log"), "utf8");
  return log.split("\n").filter((line) =>
    /Error|Panic|Fatal|Warning|corrupt/i.test(line) &&
    !/Killed with signal 15/.test(line)
  );
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
