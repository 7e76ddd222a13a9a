/**
 * LMTP deliveries per second into Maildir or PostgreSQL, and POP3 sessions
 * per second through HAProxy (send-proxy-v2) in front of one or two
 * instances on one PostgreSQL.
 *
 *     deno run -A bench/lmtp_rate.ts lmtp --target maildir|postgres
 *       [--seconds 10] [--clients 8] [--size 4000] [--users 100] [--no-fsync]
 *     deno run -A bench/lmtp_rate.ts pop3 [--instances 1|2] [--haproxy]
 *       [--seconds 10] [--clients 16] [--users 500]
 *
 * The servers run in their own processes (tests/transport/_proxy_instance.ts:
 * Pop3d and Lmtpd, behind proxySocket unless --direct). LMTP clients keep
 * one connection each and pipeline MAIL, RCPT and DATA (RFC 2920), then
 * send the message and wait for its reply: one delivery per transaction,
 * to a user picked at random. POP3 clients loop over
 * USER/PASS/STAT/RETR 1/QUIT on random users; [IN-USE] logins are counted
 * apart. PostgreSQL comes from POP3D_PG_URL or scripts/pg_start.sh.
 */

import process from "node:process";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { cpuSeconds } from "./_proc.ts";
import { NetClient } from "../tests/_helpers/line_client.ts";
import { PgWirePool } from "../tests/_helpers/pg_wire.ts";
import {
  type TestDatabase,
  testDatabase,
} from "../tests/_helpers/pg_server.ts";
import { startHaproxy } from "../tests/transport/_haproxy.ts";
import { createSchema } from "../src/postgres/schema.ts";
import { PostgresAuth } from "../src/postgres/postgres_auth.ts";
import { PostgresStorage } from "../src/postgres/postgres_storage.ts";

const args = process.argv.slice(2);
const mode = args[0] === "pop3" ? "pop3" : "lmtp";
function flag(name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
}
function text(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
}
const seconds = flag("seconds", 10);
const users = flag("users", mode === "lmtp" ? 100 : 500);
const INSTANCE = fileURLToPath(
  new URL("../tests/transport/_proxy_instance.ts", import.meta.url),
);

const instances: Instance[] = [];

interface Instance {
  proc: ChildProcess;
  pop3: number;
  lmtp: number;
}

function start(extra: string[]): Promise<Instance> {
  const deno = "Deno" in globalThis ? process.execPath : "deno";
  const proc = spawn(deno, ["run", "-A", INSTANCE, "--quiet", ...extra], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      const line = out.split("\n").find((l) => l.includes('"pop3"'));
      if (line) {
        const info = JSON.parse(line);
        resolve({ proc, pop3: info.pop3, lmtp: info.lmtp });
      }
    });
    proc.on("exit", (code) => reject(new Error(`instance exited ${code}`)));
  });
}

let db: PgWirePool | undefined;
let pgPid: number | undefined;
let haproxyPid: number | undefined;

/** CPU seconds so far of the instances, PostgreSQL and HAProxy. */
function cpu(): { instances: number; postgres: number; haproxy: number } {
  return {
    instances: instances.reduce((n, i) => n + cpuSeconds(i.proc.pid!), 0),
    postgres: pgPid ? cpuSeconds(pgPid) : 0,
    haproxy: haproxyPid ? cpuSeconds(haproxyPid) : 0,
  };
}

function cpuPer(
  before: ReturnType<typeof cpu>,
  count: number,
): Record<string, number> {
  const after = cpu();
  const ms = (a: number, b: number) =>
    Number(((a - b) * 1000 / Math.max(1, count)).toFixed(3));
  return {
    instanceCpuMsEach: ms(after.instances, before.instances),
    postgresCpuMsEach: ms(after.postgres, before.postgres),
    haproxyCpuMsEach: ms(after.haproxy, before.haproxy),
  };
}
let found: TestDatabase | undefined;
async function database(): Promise<string> {
  const got = await testDatabase();
  if ("skip" in got) {
    console.error(got.skip);
    process.exit(2);
  }
  found = got;
  const host = new URL(got.url).searchParams.get("host");
  for (const dir of [`${host}/db`, `${host}`]) {
    try {
      pgPid = Number(
        readFileSync(`${dir}/postmaster.pid`, "utf8").split("\n")[0],
      );
      break;
    } catch {
      // not there; a server not started here is not counted
    }
  }
  db = new PgWirePool(got.url, { max: 4 });
  await createSchema(db);
  return got.url;
}

const deadline = () => performance.now() + seconds * 1000;
let done = 0;
let inUse = 0;
let failures = 0;

async function lmtpWorker(port: number, until: number, body: string) {
  const c = await NetClient.open(port);
  try {
    await c.line();
    c.write("LHLO bench\r\n");
    for (;;) if ((await c.line())!.startsWith("250 ")) break;
    while (performance.now() < until) {
      const user = `user${Math.floor(Math.random() * users)}`;
      c.write(
        `MAIL FROM:<bench@example.org>\r\nRCPT TO:<${user}@example.org>\r\nDATA\r\n`,
      );
      const replies = [await c.line(), await c.line(), await c.line()];
      if (!replies[2]?.startsWith("354")) throw new Error(replies.join(" | "));
      c.write(body + ".\r\n");
      const reply = await c.line();
      if (reply?.startsWith("250")) done++;
      else {
        failures++;
        if (failures < 5) console.error(reply);
      }
    }
    c.write("QUIT\r\n");
    await c.line();
  } finally {
    c.close();
  }
}

async function pop3Worker(port: number, until: number) {
  while (performance.now() < until) {
    const user = `u${Math.floor(Math.random() * users)}`;
    const c = await NetClient.open(port);
    try {
      await c.line();
      await c.cmd(`USER ${user}`);
      const pass = await c.cmd("PASS pw");
      if (pass.startsWith("-ERR [IN-USE]")) {
        inUse++;
        await c.cmd("QUIT");
        continue;
      }
      if (!pass.startsWith("+OK")) throw new Error(pass);
      await c.cmd("STAT");
      if ((await c.cmd("RETR 1")).startsWith("+OK")) await c.block();
      if ((await c.cmd("QUIT")).startsWith("+OK")) done++;
    } catch (error) {
      failures++;
      if (failures < 5) console.error(error);
    } finally {
      c.close();
    }
  }
}

let root: string | undefined;
let stopHaproxy = async () => {};
let result: Record<string, unknown>;
try {
  if (mode === "lmtp") {
    const target = text("target", "maildir");
    const clients = flag("clients", 8);
    const size = flag("size", 4000);
    const body = `Subject: bench\r\n\r\n${
      ("x".repeat(70) + "\r\n").repeat(Math.max(1, Math.floor(size / 72)))
    }`;
    if (target === "postgres") {
      const url = await database();
      const auth = new PostgresAuth(db!);
      for (let i = 0; i < users; i++) await auth.addUser(`user${i}`, "pw");
      instances.push(await start(["--direct", "--url", url]));
    } else {
      root = await mkdtemp(`${tmpdir()}/lmtp-bench-`);
      instances.push(
        await start([
          "--direct",
          "--maildir",
          root,
          "--users",
          String(users),
          ...(args.includes("--no-fsync") ? ["--no-fsync"] : []),
        ]),
      );
    }
    const until = deadline();
    const started = performance.now();
    const before = cpu();
    await Promise.all(
      Array.from(
        { length: clients },
        () => lmtpWorker(instances[0].lmtp, until, body),
      ),
    );
    const elapsed = (performance.now() - started) / 1000;
    const perDelivery = cpuPer(before, done);
    result = {
      mode,
      target,
      fsync: !args.includes("--no-fsync"),
      clients,
      messageOctets: body.length,
      seconds: Number(elapsed.toFixed(2)),
      deliveries: done,
      deliveriesPerSecond: Math.round(done / elapsed),
      failures,
      ...perDelivery,
    };
  } else {
    const count = flag("instances", 2);
    const clients = flag("clients", 16);
    const haproxy = args.includes("--haproxy");
    const url = await database();
    const auth = new PostgresAuth(db!);
    const storage = new PostgresStorage(db!);
    const message = `Subject: load\r\n\r\n${"x".repeat(2000)}\r\n`;
    for (let i = 0; i < users; i++) {
      await storage.deliver(await auth.addUser(`u${i}`, "pw"), message);
    }
    await storage.close();
    for (let i = 0; i < count; i++) {
      instances.push(
        await start([
          ...(haproxy ? [] : ["--direct"]),
          "--url",
          url,
          "--owner",
          `bench-${i}`,
        ]),
      );
    }
    let ports = instances.map((i) => i.pop3);
    if (haproxy) {
      const ha = await startHaproxy({ pop3: ports });
      stopHaproxy = () => ha.stop();
      haproxyPid = ha.pid;
      ports = [ha.ports.pop3];
    }
    const until = deadline();
    const started = performance.now();
    const before = cpu();
    await Promise.all(
      Array.from(
        { length: clients },
        (_, w) => pop3Worker(ports[w % ports.length], until),
      ),
    );
    const elapsed = (performance.now() - started) / 1000;
    const perSession = cpuPer(before, done);
    result = {
      mode,
      instances: count,
      haproxy,
      clients,
      users,
      seconds: Number(elapsed.toFixed(2)),
      sessions: done,
      sessionsPerSecond: Math.round(done / elapsed),
      inUse,
      failures,
      ...perSession,
    };
  }
} finally {
  await stopHaproxy();
  for (const i of instances) i.proc.kill("SIGTERM");
  await db?.end();
  await found?.stop();
  if (root) await rm(root, { recursive: true, force: true });
}
console.log(JSON.stringify(result!));
