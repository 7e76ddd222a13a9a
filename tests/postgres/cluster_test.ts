// Several Pop3d instances, each in its own process (examples/cluster.ts
// --child), on one PostgreSQL database: the cluster-wide lock, crash
// takeover, fencing of a paused instance, delivery during a session, and a
// byte-exact 20 MB RETR with python3's poplib.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { NetClient } from "../_helpers/line_client.ts";
import { PgWirePool } from "../_helpers/pg_wire.ts";
import {
  scriptCommand,
  type TestDatabase,
  testDatabase,
} from "../_helpers/pg_server.ts";
import { createSchema, PostgresAuth, PostgresStorage } from "../../postgres.ts";

const found = await testDatabase();
const skip = "skip" in found ? found.skip : false;
const LEASE_MS = 1500;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Sends a signal with kill(1): Deno's node:child_process cannot send
 * SIGCONT (kill() returns false), so all runtimes use the command.
 */
function signal(proc: ChildProcess, name: "STOP" | "CONT"): Promise<void> {
  return new Promise((resolve, reject) => {
    const k = spawn("kill", [`-${name}`, String(proc.pid)], {
      stdio: "ignore",
    });
    k.on("error", reject);
    k.on("close", () => resolve());
  });
}

interface Instance {
  port: number;
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<void>;
}

const instances: Instance[] = [];

/** Starts one Pop3d process and waits for its port. */
function startInstance(url: string, owner: string): Promise<Instance> {
  const [cmd, args] = scriptCommand("examples/cluster.ts", [
    "--child",
    "--url",
    url,
    "--lease-ms",
    String(LEASE_MS),
    "--owner",
    owner,
  ]);
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const exited = new Promise<void>((resolve) =>
    proc.on("exit", () => resolve())
  );
  proc.stderr!.on(
    "data",
    (d: Uint8Array) => err += new TextDecoder().decode(d),
  );
  return new Promise((resolve, reject) => {
    proc.stdout!.on("data", (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (!line) return;
      const instance = {
        port: JSON.parse(line).port as number,
        proc,
        stderr: () => err,
        exited,
      };
      instances.push(instance);
      resolve(instance);
    });
    proc.on(
      "exit",
      (code) =>
        reject(new Error(`Instance ${owner} exited with ${code}: ${err}`)),
    );
  });
}

/** Logs in; returns the client and the reply to PASS. */
async function login(
  port: number,
  user: string,
): Promise<[NetClient, string]> {
  const c = await NetClient.open(port);
  assert.match((await c.line())!, /^\+OK/);
  assert.match(await c.cmd(`USER ${user}`), /^\+OK/);
  return [c, await c.cmd("PASS pw")];
}

async function multi(c: NetClient, command: string): Promise<string[]> {
  assert.match(await c.cmd(command), /^\+OK/);
  return await c.block();
}

describe("Pop3d cluster on PostgreSQL", { skip }, () => {
  let db: PgWirePool;
  let storage: PostgresStorage;
  let a: Instance;
  let b: Instance;
  const url = (found as TestDatabase).url;

  async function count(user: string): Promise<number> {
    const { rows } = await db.query(
      `SELECT count(*) AS n FROM pop3d_messages m
       JOIN pop3d_users u ON u.mailbox_id = m.mailbox_id WHERE u.name = $1`,
      [user],
    );
    return Number(rows[0].n);
  }

  before(async () => {
    db = new PgWirePool(url, { max: 4 });
    await createSchema(db);
    const auth = new PostgresAuth(db);
    storage = new PostgresStorage(db);
    for (const user of ["inuse", "crash", "fence", "arrive", "big"]) {
      const box = await auth.addUser(user, "pw");
      if (user === "big") continue;
      for (let i = 1; i <= 3; i++) {
        await storage.deliver(
          box,
          `Subject: ${user} ${i}\r\n\r\nBody ${i}\r\n`,
        );
      }
    }
    [a, b] = await Promise.all([
      startInstance(url, "A"),
      startInstance(url, "B"),
    ]);
  });

  after(async () => {
    for (const i of instances) {
      if (i.proc.exitCode === null && i.proc.signalCode === null) {
        await signal(i.proc, "CONT");
        i.proc.kill("SIGKILL");
      }
      await i.exited;
    }
    await storage.close();
    await db.end();
    await (found as TestDatabase).stop();
  });

  it("a second login anywhere in the cluster gets -ERR [IN-USE]", async () => {
    const [holder, ok] = await login(a.port, "inuse");
    assert.match(ok, /^\+OK inuse has 3 messages/);
    const [other, refused] = await login(b.port, "inuse");
    assert.match(refused, /^-ERR \[IN-USE\]/);
    const [same, refusedToo] = await login(a.port, "inuse");
    assert.match(refusedToo, /^-ERR \[IN-USE\]/);
    assert.match(await holder.cmd("QUIT"), /^\+OK/);
    assert.match(await other.cmd("USER inuse"), /^\+OK/);
    assert.match(await other.cmd("PASS pw"), /^\+OK inuse has 3 messages/);
    assert.match(await other.cmd("QUIT"), /^\+OK/);
    same.close();
  });

  it("kill -9 of the holder: locked until the lease expires, then another instance takes over, no mail lost", async () => {
    const c = await startInstance(url, "C");
    const [holder, ok] = await login(c.port, "crash");
    assert.match(ok, /^\+OK/);
    assert.match(await holder.cmd("DELE 1"), /^\+OK/);
    c.proc.kill("SIGKILL");
    await c.exited;
    const killedAt = performance.now();
    const [early, refused] = await login(b.port, "crash");
    assert.match(refused, /^-ERR \[IN-USE\]/);
    early.close();
    let taken = "";
    let client: NetClient | undefined;
    while (performance.now() - killedAt < LEASE_MS + 3000) {
      await sleep(150);
      const [next, reply] = await login(b.port, "crash");
      if (reply.startsWith("+OK")) {
        taken = reply;
        client = next;
        break;
      }
      assert.match(reply, /^-ERR \[IN-USE\]/);
      next.close();
    }
    const waited = performance.now() - killedAt;
    assert.match(taken, /^\+OK crash has 3 messages/, "takeover after lease");
    assert.ok(waited <= LEASE_MS + 500, `took over after ${waited} ms`);
    assert.match(await client!.cmd("QUIT"), /^\+OK/);
    holder.close();
    assert.equal(await count("crash"), 3);
  });

  it("fencing: a paused holder loses its lease and its late QUIT deletes nothing", async () => {
    const d = await startInstance(url, "D");
    const [stale, ok] = await login(d.port, "fence");
    assert.match(ok, /^\+OK fence has 3 messages/);
    assert.match(await stale.cmd("DELE 1"), /^\+OK/);
    assert.match(await stale.cmd("DELE 2"), /^\+OK/);
    await signal(d.proc, "STOP"); // a GC pause, a frozen VM, a partition
    await sleep(LEASE_MS + 700);
    const [fresh, taken] = await login(b.port, "fence");
    assert.match(taken, /^\+OK fence has 3 messages/);
    await signal(d.proc, "CONT");
    const quit = await stale.cmd("QUIT");
    assert.match(quit, /^-ERR \[SYS\/TEMP\]/);
    assert.equal(await count("fence"), 3);
    assert.match(await fresh.cmd("STAT"), /^\+OK 3 /);
    assert.match(await fresh.cmd("DELE 3"), /^\+OK/);
    assert.match(await fresh.cmd("QUIT"), /^\+OK/);
    assert.equal(await count("fence"), 2);
    assert.match(d.stderr(), /Lost the lock lease of mailbox "fence"/);
  });

  it("delivery during a session does not renumber it; the next session sees the new mail", async () => {
    const [c, ok] = await login(a.port, "arrive");
    assert.match(ok, /^\+OK arrive has 3 messages/);
    const list = await multi(c, "LIST");
    const uidl = await multi(c, "UIDL");
    const late = [
      await storage.deliver("arrive", "Subject: late 1\r\n\r\nx\r\n"),
      await storage.deliver("arrive", "Subject: late 2\r\n\r\ny\r\n"),
    ];
    assert.match(await c.cmd("STAT"), /^\+OK 3 /);
    assert.deepEqual(await multi(c, "LIST"), list);
    assert.deepEqual(await multi(c, "UIDL"), uidl);
    assert.match(await c.cmd("LIST 4"), /^-ERR/);
    const two = await multi(c, "RETR 2");
    assert.equal(two[0], "Subject: arrive 2");
    assert.match(await c.cmd("DELE 1"), /^\+OK/);
    assert.match(await c.cmd("QUIT"), /^\+OK/);
    const [next, again] = await login(b.port, "arrive");
    assert.match(again, /^\+OK arrive has 4 messages/);
    const uids = (await multi(next, "UIDL")).map((l) => l.split(" ")[1]);
    assert.deepEqual(uids, [
      uidl[1].split(" ")[1],
      uidl[2].split(" ")[1],
      late[0].uid,
      late[1].uid,
    ]);
    assert.match(await next.cmd("QUIT"), /^\+OK/);
  });

  it("RETR of a 20 MB message is byte-exact with python3 poplib", async () => {
    const lines: string[] = [];
    let size = 0;
    for (let i = 0; size < 20 * 1024 * 1024; i++) {
      const line = i % 97 === 0
        ? `.dot line ${i}`
        : `${i} ${"abcdefghijklmnopqrstuvwxyz0123456789".repeat(2)}`;
      lines.push(line);
      size += line.length + 2;
    }
    const message = `Subject: big\r\n\r\n${lines.join("\r\n")}\r\n`;
    const bytes = new TextEncoder().encode(message);
    const expected = createHash("sha256").update(bytes).digest("hex");
    await storage.deliver("big", bytes);
    const script = [
      "import hashlib, json, poplib, sys",
      "p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=60)",
      "p.user('big'); p.pass_('pw')",
      "size = int(p.list(1).split()[2])",
      "resp, lines, octets = p.retr(1)",
      "data = b'\\r\\n'.join(lines) + b'\\r\\n'",
      "p.quit()",
      "print(json.dumps({'size': size, 'octets': octets, 'len': len(data),",
      "  'sha256': hashlib.sha256(data).hexdigest()}))",
    ].join("\n");
    const result = await new Promise<string>((resolve, reject) => {
      const py = spawn("python3", ["-c", script, String(b.port)], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      py.stdout!.on(
        "data",
        (d: Uint8Array) => out += new TextDecoder().decode(d),
      );
      py.stderr!.on(
        "data",
        (d: Uint8Array) => err += new TextDecoder().decode(d),
      );
      py.on("error", reject);
      py.on(
        "close",
        (code) =>
          code === 0 ? resolve(out) : reject(new Error(`python3: ${err}`)),
      );
    });
    const got = JSON.parse(result);
    assert.equal(got.size, bytes.length);
    assert.equal(got.len, bytes.length);
    assert.equal(got.octets, bytes.length);
    assert.equal(got.sha256, expected);
  });
});
