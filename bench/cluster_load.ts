/**
 * Sessions per second of two Pop3d processes on one PostgreSQL database.
 *
 *     deno run -A bench/cluster_load.ts [--seconds 10] [--clients 32]
 *       [--users 500] [--instances 2] [--dele]
 *
 * Uses POP3D_PG_URL, or starts a throw-away cluster with
 * scripts/pg_start.sh. Each client loops over sessions on alternating
 * instances: connect, USER/PASS (plaintext column), STAT, RETR 1, QUIT (with
 * --dele: DELE 1 before QUIT, and the bench delivers a new message after it,
 * so every session commits a fenced delete transaction). Users are picked at
 * random, so some logins collide and get [IN-USE]; those are counted apart.
 */

import process from "node:process";
import { spawn } from "node:child_process";
import { NetClient } from "../tests/_helpers/line_client.ts";
import { PgWirePool } from "../tests/_helpers/pg_wire.ts";
import {
  scriptCommand,
  type TestDatabase,
  testDatabase,
} from "../tests/_helpers/pg_server.ts";
import { createSchema } from "../src/postgres/schema.ts";
import { PostgresAuth } from "../src/postgres/postgres_auth.ts";
import { PostgresStorage } from "../src/postgres/postgres_storage.ts";

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
}
const seconds = flag("seconds", 10);
const clients = flag("clients", 32);
const users = flag("users", 500);
const instanceCount = flag("instances", 2);
const dele = args.includes("--dele");

const found = await testDatabase();
if ("skip" in found) {
  console.error(found.skip);
  process.exit(2);
}
const url = (found as TestDatabase).url;
const db = new PgWirePool(url, { max: 4 });
await createSchema(db);
const auth = new PostgresAuth(db);
const storage = new PostgresStorage(db);
const message = `Subject: load\r\n\r\n${"x".repeat(2000)}\r\n`;
for (let i = 0; i < users; i++) {
  const box = await auth.addUser(`u${i}`, "pw");
  await storage.deliver(box, message);
}

const ports: number[] = [];
const procs = [];
for (let i = 0; i < instanceCount; i++) {
  const [cmd, cmdArgs] = scriptCommand("examples/cluster.ts", [
    "--child",
    "--url",
    url,
    "--owner",
    `bench-${i}`,
  ]);
  const proc = spawn(cmd, cmdArgs, { stdio: ["ignore", "pipe", "inherit"] });
  procs.push(proc);
  ports.push(
    await new Promise<number>((resolve) => {
      let out = "";
      proc.stdout!.on("data", (d: Uint8Array) => {
        out += new TextDecoder().decode(d);
        const line = out.split("\n").find((l) => l.startsWith("{"));
        if (line) resolve(JSON.parse(line).port);
      });
    }),
  );
}

let sessions = 0;
let inUse = 0;
let failures = 0;
const perInstance = ports.map(() => 0);
const deadline = performance.now() + seconds * 1000;

async function session(port: number, user: string): Promise<boolean> {
  const c = await NetClient.open(port);
  try {
    await c.line();
    await c.cmd(`USER ${user}`);
    const pass = await c.cmd("PASS pw");
    if (pass.startsWith("-ERR [IN-USE]")) {
      inUse++;
      await c.cmd("QUIT");
      return false;
    }
    if (!pass.startsWith("+OK")) throw new Error(pass);
    await c.cmd("STAT");
    if ((await c.cmd("RETR 1")).startsWith("+OK")) await c.block();
    if (dele) await c.cmd("DELE 1");
    const quit = await c.cmd("QUIT");
    if (!quit.startsWith("+OK")) throw new Error(quit);
    if (dele) await storage.deliver(user, message);
    return true;
  } finally {
    c.close();
  }
}

async function worker(w: number): Promise<void> {
  let n = w;
  while (performance.now() < deadline) {
    const which = n++ % ports.length;
    const user = `u${Math.floor(Math.random() * users)}`;
    try {
      if (await session(ports[which], user)) {
        sessions++;
        perInstance[which]++;
      }
    } catch (error) {
      failures++;
      if (failures < 5) console.error(error);
    }
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)));
const elapsed = (performance.now() - started) / 1000;

for (const p of procs) p.kill("SIGTERM");
await storage.close();
await db.end();
await (found as TestDatabase).stop();

console.log(JSON.stringify({
  instances: instanceCount,
  clients,
  users,
  dele,
  seconds: Number(elapsed.toFixed(2)),
  sessions,
  sessionsPerSecond: Math.round(sessions / elapsed),
  perInstance,
  inUse,
  failures,
}));
