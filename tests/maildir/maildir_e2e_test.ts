// Pop3d + MaildirStorage + PasswdFileAuth on 127.0.0.1, downloaded by
// python3's poplib byte for byte, plus locking across processes.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MaildirStorage, PasswdFileAuth } from "../../maildir.ts";
import { pop3Connect } from "../_helpers/net_client.ts";

// `doveadm pw -s SHA512-CRYPT -p secret` and `doveadm pw -s PBKDF2 -p secret`.
const PASSWD = [
  "alice:{SHA512-CRYPT}$6$y7iG4i0SnXO7vM1k$x/VMV7KM3fwl/ECrjr8JREm/mFNGdCoYhEh1Wa9oTCAve.SSu02AJZUZdzfG.3x2P104jGNECIKfK4KtvdG2g/::::::",
  "bob:{PBKDF2}$1$4fPrGsc.pLxWWNX0$5000$d8ba11b7f4b9604732545aa949e85cff2ad0df56::::::",
  "carol:{PLAIN}secret::::::",
  "",
].join("\n");

const CHILD = fileURLToPath(new URL("./_lock_child.ts", import.meta.url));

// Downloads every message; prints JSON. Args: port user password mode.
// mode "quit": DELE 1 and 2, then QUIT; "drop": DELE 1, then close.
const POPLIB = `
import base64, json, poplib, sys
port, user, password, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
p = poplib.POP3("127.0.0.1", port, timeout=30)
p._maxline = 1 << 24
p.user(user)
p.pass_(password)
count, total = p.stat()
sizes = [int(x.split()[1]) for x in p.list()[1]]
uidls = [x.split()[1].decode() for x in p.uidl()[1]]
bodies, octets = [], []
for i in range(1, count + 1):
    resp, lines, n = p.retr(i)
    bodies.append(base64.b64encode(b"\\r\\n".join(lines) + b"\\r\\n").decode())
    octets.append(n)
top = p.top(1, 0)[1]
if mode == "quit":
    p.dele(1); p.dele(2); p.quit()
else:
    p.dele(1); p.sock.close()
print(json.dumps({"count": count, "total": total, "sizes": sizes, "uidls": uidls,
                  "bodies": bodies, "octets": octets, "top": len(top)}))
`;

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", reject);
    child.on(
      "exit",
      (code) =>
        code === 0
          ? resolve(out)
          : reject(new Error(`${command} exited ${code}: ${err}`)),
    );
  });
}

function wire(bytes: Uint8Array): Uint8Array {
  // LF→CRLF for bare LF, and a final CRLF as poplib's line join adds one.
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 10 && (i === 0 || bytes[i - 1] !== 13)) out.push(13);
    out.push(bytes[i]);
  }
  if (out.length === 0 || out[out.length - 1] !== 10) out.push(13, 10);
  return new Uint8Array(out);
}

function crlfSize(name: string): number {
  const content = MESSAGES[name];
  const bytes = typeof content === "string"
    ? new TextEncoder().encode(content)
    : content;
  let size = bytes.length;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 10 && (i === 0 || bytes[i - 1] !== 13)) size++;
  }
  return size;
}

let root = "";
let server: Pop3d<string> | undefined;
let port = 0;
const errors: unknown[] = [];

const big = new Uint8Array(3 * 1024 * 1024);
for (let i = 0; i < big.length; i++) {
  big[i] = i % 97 === 96 ? 10 : 0x41 + (i % 26);
}
const MESSAGES: Record<string, string | Uint8Array> = {
  "cur/1700000001.M1P1.host,S=50:2,S":
    "Subject: bare LF\n\nline\n.dot line\n..two dots\n.\nend\n",
  "cur/1700000002.M1P1.host:2,": "Subject: CRLF\r\n\r\nbody\r\n",
  "new/1700000003.M1P1.host": new Uint8Array([
    ...new TextEncoder().encode("Subject: 8bit\n\n"),
    0xe9,
    0xff,
    0x00,
    0x0d,
    0x41,
    0x0a,
    0x42,
  ]),
  "new/1700000004.M1P1.host": big,
};

before(async () => {
  root = await mkdtemp(join(tmpdir(), "pop3d-e2e-"));
  if (NO_ADAPTER) return;
  await writeFile(join(root, "passwd"), PASSWD);
  for (const sub of ["cur", "new", "tmp"]) {
    await mkdir(join(root, "mail", "alice", sub), { recursive: true });
  }
  for (const [name, content] of Object.entries(MESSAGES)) {
    await writeFile(join(root, "mail", "alice", name), content);
  }
  server = new Pop3d<string>({
    port: 0,
    hostname: "127.0.0.1",
    auth: new PasswdFileAuth({
      path: join(root, "passwd"),
      mailRoot: join(root, "mail"),
    }),
    storage: new MaildirStorage({
      root: join(root, "mail"),
      onError: (error) => errors.push(error),
    }),
    authFailureDelay: 0,
    authPenalty: false,
    onError: (error) => errors.push(error),
  });
  await server.up();
  port = Number(server.cget("port"));
});

after(async () => {
  await server?.destroy("kill");
  await rm(root, { recursive: true, force: true });
});

// The runtime adapters land separately: skip (loudly) where this runtime
// cannot listen yet, and run as soon as it can.
const NO_ADAPTER = await (async () => {
  const probe = new Pop3d({ port: 0, hostname: "127.0.0.1" });
  try {
    await probe.up();
    await probe.destroy("kill");
    return false;
  } catch (error) {
    const message = `Pop3d cannot listen on this runtime yet: ${error}`;
    console.log(message);
    return message;
  }
})();

describe("Pop3d with MaildirStorage and PasswdFileAuth", {
  skip: NO_ADAPTER,
}, () => {
  it("serves every message byte-exact to python3 poplib; a dropped session deletes nothing", async () => {
    const result = JSON.parse(
      await run("python3", [
        "-c",
        POPLIB,
        String(port),
        "alice",
        "secret",
        "drop",
      ]),
    );
    assert.equal(result.count, 4);
    const names = Object.keys(MESSAGES);
    for (let i = 0; i < 4; i++) {
      const expected = wire(
        typeof MESSAGES[names[i]] === "string"
          ? new TextEncoder().encode(MESSAGES[names[i]] as string)
          : MESSAGES[names[i]] as Uint8Array,
      );
      const got = Uint8Array.from(
        atob(result.bodies[i]),
        (c) => c.charCodeAt(0),
      );
      assert.deepEqual(got, expected, names[i]);
      // LIST: the file's octets with bare LF counted as CRLF.
      assert.equal(result.sizes[i], crlfSize(names[i]), names[i]);
    }
    assert.equal(
      result.total,
      result.sizes.reduce((a: number, b: number) => a + b, 0),
    );
    assert.deepEqual(
      result.uidls,
      names.map((n) => n.slice(n.indexOf("/") + 1).split(/[,:]/)[0]),
    );
    assert.equal(result.top, 2); // the header line and the blank line
    // Dropped without QUIT: nothing deleted; new/ moved to cur/ and seen.
    const cur = (await readdir(join(root, "mail", "alice", "cur"))).sort();
    assert.deepEqual(cur, [
      "1700000001.M1P1.host,S=50:2,S",
      "1700000002.M1P1.host:2,S",
      "1700000003.M1P1.host:2,S",
      "1700000004.M1P1.host:2,S",
    ]);
    assert.deepEqual(errors, []);
  });

  it("answers [IN-USE] while another process holds the Maildir", async () => {
    const args = "Deno" in globalThis
      ? ["run", "-A", CHILD, join(root, "mail"), "alice", "--hold"]
      : [CHILD, join(root, "mail"), "alice", "--hold"];
    const child: ChildProcess = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      const line = await new Promise<string>((resolve) => {
        child.stdout?.setEncoding("utf8").once(
          "data",
          (d: string) => resolve(d.trim()),
        );
      });
      assert.equal(line, "locked 4");
      const client = await pop3Connect(port);
      assert.match(await client.cmd("USER alice"), /^\+OK/);
      assert.match(await client.cmd("PASS secret"), /^-ERR \[IN-USE\]/);
      client.close();
      child.kill("SIGKILL");
      await exited;
      // After the crash, the stale lock is recovered at the next login.
      const again = await pop3Connect(port);
      await again.cmd("USER alice");
      assert.match(await again.cmd("PASS secret"), /^\+OK/);
      assert.match(await again.cmd("QUIT"), /^\+OK/);
      again.close();
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
  });

  it("Pop3d answers -ERR [SYS/PERM] to a user whose Maildir cur/ links out of the root, and lists nothing outside", async () => {
    const outside = await mkdtemp(join(tmpdir(), "pop3d-outside-"));
    try {
      await writeFile(join(outside, "1700000000.secret:2,"), "secret\n");
      const carol = join(root, "mail", "carol");
      await mkdir(join(carol, "new"), { recursive: true });
      await mkdir(join(carol, "tmp"), { recursive: true });
      await symlink(outside, join(carol, "cur"));
      const before = errors.length;
      const client = await pop3Connect(port);
      assert.match(await client.cmd("USER carol"), /^\+OK/);
      assert.match(await client.cmd("PASS secret"), /^-ERR \[SYS\/PERM\]/);
      client.close();
      assert.ok(
        errors.slice(before).some((e) =>
          /"cur" is not a real directory/.test(String(e))
        ),
      );
      assert.deepEqual(await readdir(outside), ["1700000000.secret:2,"]);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("keeps numbers during a session while mail arrives; shows it next session", async () => {
    const client = await pop3Connect(port);
    await client.cmd("USER alice");
    assert.match(await client.cmd("PASS secret"), /^\+OK/);
    assert.match(await client.cmd("STAT"), /^\+OK 4 /);
    await writeFile(
      join(root, "mail", "alice", "new", "1600000000.early"),
      "Subject: late\n\nx\n",
    );
    assert.match(await client.cmd("STAT"), /^\+OK 4 /);
    assert.match(await client.cmd("UIDL 1"), /^\+OK 1 1700000001\.M1P1\.host$/);
    assert.match(await client.cmd("QUIT"), /^\+OK/);
    client.close();
    const next = await pop3Connect(port);
    await next.cmd("USER alice");
    await next.cmd("PASS secret");
    assert.match(await next.cmd("STAT"), /^\+OK 5 /);
    assert.match(await next.cmd("UIDL 1"), /^\+OK 1 1600000000\.early$/);
    assert.match(await next.cmd("DELE 1"), /^\+OK/);
    assert.match(await next.cmd("QUIT"), /^\+OK/);
    next.close();
  });

  it("removes the files of DELE'd messages at QUIT, and rejects a wrong password", async () => {
    await assert.rejects(
      run("python3", ["-c", POPLIB, String(port), "alice", "wrong", "quit"]),
      /error_proto/,
    );
    const result = JSON.parse(
      await run("python3", [
        "-c",
        POPLIB,
        String(port),
        "alice",
        "secret",
        "quit",
      ]),
    );
    assert.equal(result.count, 4);
    const cur = (await readdir(join(root, "mail", "alice", "cur"))).sort();
    assert.deepEqual(cur, [
      "1700000003.M1P1.host:2,S",
      "1700000004.M1P1.host:2,S",
    ]);
    assert.deepEqual(
      new Uint8Array(
        await readFile(join(root, "mail", "alice", "cur", cur[1])),
      ),
      big,
    );
    assert.equal(
      (await readdir(join(root, "mail", "alice"))).includes("pop3d.lock"),
      false,
    );
  });

  it("creates bob's Maildir on first login (PBKDF2 password)", async () => {
    const client = await pop3Connect(port);
    await client.cmd("USER bob");
    assert.match(await client.cmd("PASS secret"), /^\+OK/);
    assert.match(await client.cmd("STAT"), /^\+OK 0 0$/);
    await client.cmd("QUIT");
    client.close();
    assert.deepEqual((await readdir(join(root, "mail", "bob"))).sort(), [
      "cur",
      "new",
      "tmp",
    ]);
  });
});
