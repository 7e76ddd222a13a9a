/**
 * Soak test (not a timed test): many concurrent POP3 sessions on 127.0.0.1
 * against an in-process Pop3d with MemoryStorage, with mail delivered while
 * sessions run and clients that drop at random points.
 *
 *     deno run -A bench/soak.ts [--sessions 1000] [--rounds 4] [--drop 0.15]
 *
 * Each round runs one session per user, all at once (one session per
 * maildrop: the lock); logged-in sessions wait for each other, so all are
 * open together. A session logs in, runs STAT, LIST and UIDL,
 * retrieves every message and checks its bytes, deletes what it retrieved
 * and quits; a dropping session goes away at a random point instead. The
 * last round has no drops and empties every maildrop. At the end every
 * message delivered must have been deleted after a confirmed QUIT exactly
 * once, or still be in its maildrop: otherwise it is lost or duplicated.
 * Exits 1 unless errors, lost, duplicated and leaked locks are all 0.
 */

import process from "node:process";
import { Pop3d } from "../src/server/pop3d.ts";
import { MemoryAuth } from "../src/auth/memory_auth.ts";
import { MemoryStorage } from "../src/storage/memory_storage.ts";
import { countingStorage } from "../tests/_helpers/hardening_pair.ts";
import { NetClient } from "../tests/_helpers/hardening_net_client.ts";

function flag(name: string, fallback: number): number {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  const value = i === -1 ? undefined : Number(args[i + 1]);
  return value !== undefined && Number.isFinite(value) ? value : fallback;
}

const SESSIONS = flag("sessions", 1000);
const ROUNDS = Math.max(2, flag("rounds", 4));
const DROP = flag("drop", 0.15);
const SEED = flag("seed", 42);

let rngState = SEED >>> 0;
function random(): number {
  let t = rngState = (rngState + 0x6d2b79f5) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// ---- server ---------------------------------------------------------------

const auth = new MemoryAuth();
const memory = new MemoryStorage();
const { storage, calls, locked } = countingStorage(memory);
const serverErrors: unknown[] = [];
const server = new Pop3d<string>({
  hostname: "127.0.0.1",
  port: 0,
  auth,
  storage,
  maxConnections: SESSIONS * 2,
  maxConnectionsPerAddress: SESSIONS * 2,
  authFailureDelay: 0,
  authPenalty: false,
  onError: (e) => serverErrors.push(e),
});
await server.up();
const port = server.cget("port") as number;

// ---- mail -----------------------------------------------------------------

const users = Array.from({ length: SESSIONS }, (_, i) => `user${i}`);
for (const u of users) auth.addUser(u, `pw-${u}`);
/** Every message ever delivered, by id: its user, length and FNV-1a hash. */
const delivered = new Map<
  string,
  { user: string; length: number; hash: number }
>();

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}
let nextId = 1;

function deliver(user: string): void {
  const id = `m${nextId++}`;
  const size = random() < 0.05
    ? 100_000 + Math.floor(random() * 400_000)
    : 50 + Math.floor(random() * 20_000);
  const lines = [`Message-ID: <${id}@soak>`, `To: ${user}`, ""];
  let body = 0;
  while (body < size) {
    const line = random() < 0.1
      ? "." + "d".repeat(Math.floor(random() * 70))
      : "x".repeat(Math.floor(random() * 76));
    lines.push(line);
    body += line.length + 2;
  }
  const text = lines.join("\r\n") + "\r\n";
  delivered.set(id, { user, length: text.length, hash: fnv1a(text) });
  memory.deliver(user, text);
}

for (const u of users) for (let i = 0; i < 3; i++) deliver(u);

// ---- accounting -----------------------------------------------------------

const stats = {
  sessions: 0,
  completed: 0,
  dropped: 0,
  errors: 0,
  inUseRetries: 0,
  connectRetries: 0,
  retrieved: 0,
  bytesRetrieved: 0,
  deletedConfirmed: 0,
};
const errorSamples: string[] = [];
/** Ids deleted by a session whose QUIT was answered +OK, with counts. */
const deletedBy = new Map<string, number>();

function error(what: string): void {
  stats.errors++;
  if (errorSamples.length < 10) errorSamples.push(what);
}

function idOf(text: string): string | undefined {
  return /^Message-ID: <(m\d+)@soak>/.exec(text)?.[1];
}

async function connect(): Promise<NetClient> {
  for (let attempt = 0;; attempt++) {
    try {
      return await NetClient.connect(port);
    } catch (e) {
      if (attempt >= 20) throw e;
      stats.connectRetries++;
      await new Promise((r) => setTimeout(r, 20 + attempt * 20));
    }
  }
}

type DropPoint = "none" | "greeting" | "auth" | "list" | "retr" | "dele";

/**
 * Holds every logged-in session until all sessions of the round have logged
 * in (or ended before login), so that they are truly concurrent.
 */
class Barrier {
  #left: number;
  #open!: () => void;
  readonly opened: Promise<void>;
  /** Sessions open on the server when the barrier opened. */
  openAt = 0;
  constructor(n: number) {
    this.#left = n;
    this.opened = new Promise((resolve) => this.#open = resolve);
    if (n === 0) this.#open();
  }
  /** Counts one session in; resolves when every session is in. */
  arrive(): Promise<void> {
    if (--this.#left === 0) {
      this.openAt = server.conn.list().length;
      this.#open();
    }
    return this.opened;
  }
}
let barrier = new Barrier(0);
let waiting = 0;
let peakWaiting = 0;
let peakAtBarrier = 0;

async function session(user: string, drop: DropPoint): Promise<void> {
  stats.sessions++;
  let arrived = false;
  try {
    await sessionBody(user, drop, async () => {
      arrived = true;
      waiting++;
      peakWaiting = Math.max(peakWaiting, waiting);
      await barrier.arrive();
      waiting--;
    });
  } finally {
    if (!arrived) barrier.arrive();
  }
}

async function sessionBody(
  user: string,
  drop: DropPoint,
  loggedIn: () => Promise<void>,
): Promise<void> {
  const c = await connect();
  const dropNow = () => {
    c.destroy();
    stats.dropped++;
  };
  try {
    if (drop === "greeting") return dropNow();
    const greeting = await c.line();
    if (!greeting?.startsWith("+OK ")) return error(`greeting: ${greeting}`);
    if ((await c.cmd(`USER ${user}`)) !== "+OK") return error("USER");
    if (drop === "auth") {
      await c.send(`PASS pw-${user}\r\n`);
      return dropNow();
    }
    let pass = await c.cmd(`PASS pw-${user}`);
    for (let i = 0; pass?.startsWith("-ERR [IN-USE]") && i < 50; i++) {
      // A dropped session of an earlier round may still hold the lock.
      stats.inUseRetries++;
      await new Promise((r) => setTimeout(r, 20));
      await c.cmd(`USER ${user}`);
      pass = await c.cmd(`PASS pw-${user}`);
    }
    if (!pass?.startsWith("+OK")) return error(`PASS: ${pass}`);
    await loggedIn();
    const stat = /^\+OK (\d+) (\d+)$/.exec(await c.cmd("STAT") ?? "");
    if (!stat) return error("STAT");
    const count = Number(stat[1]);
    if ((await c.cmd("LIST"))?.startsWith("+OK") !== true) return error("LIST");
    const list = await c.block();
    if (list.length !== count) {
      return error(`LIST has ${list.length} of ${count}`);
    }
    if (drop === "list") return dropNow();
    if ((await c.cmd("UIDL"))?.startsWith("+OK") !== true) return error("UIDL");
    const uids = await c.block();
    if (new Set(uids.map((l) => l.split(" ")[1])).size !== count) {
      return error("UIDL ids not unique");
    }
    const ids: string[] = [];
    for (let n = 1; n <= count; n++) {
      if (drop === "retr" && n === Math.ceil(count / 2)) {
        await c.send(`RETR ${n}\r\n`);
        await c.line();
        return dropNow();
      }
      const reply = await c.cmd(`RETR ${n}`);
      const octets = /^\+OK (\d+) octets$/.exec(reply ?? "");
      if (!octets) return error(`RETR ${n}: ${reply}`);
      const lines = await c.block();
      const text = lines.map((l) =>
        (l.startsWith(".") ? l.slice(1) : l) + "\r\n"
      ).join("");
      const id = idOf(text);
      const expected = id && delivered.get(id);
      if (
        !expected || expected.length !== text.length ||
        expected.hash !== fnv1a(text) || expected.user !== user
      ) {
        return error(`RETR ${n}: wrong or corrupt message ${id}`);
      }
      if (text.length !== Number(octets[1])) {
        return error("octet count differs");
      }
      if ((deletedBy.get(id) ?? 0) > 0) {
        return error(`duplicate: ${id} retrieved after its deletion`);
      }
      stats.retrieved++;
      stats.bytesRetrieved += text.length;
      ids.push(id);
      if (!(await c.cmd(`DELE ${n}`))?.startsWith("+OK")) return error("DELE");
    }
    if (drop === "dele") return dropNow();
    const bye = await c.cmd("QUIT");
    if (bye !== "+OK Bye") return error(`QUIT: ${bye}`);
    await c.closed;
    for (const id of ids) deletedBy.set(id, (deletedBy.get(id) ?? 0) + 1);
    stats.deletedConfirmed += ids.length;
    stats.completed++;
  } catch (e) {
    error(`client: ${String(e)}`);
    c.destroy();
  }
}

// ---- run ------------------------------------------------------------------

const startRss = process.memoryUsage().rss;
let peakRss = startRss;
let peakConcurrent = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  peakConcurrent = Math.max(peakConcurrent, server.conn.list().length);
}, 50);

const DROPS: DropPoint[] = ["greeting", "auth", "list", "retr", "dele"];
const started = Date.now();
for (let round = 1; round <= ROUNDS; round++) {
  const last = round === ROUNDS;
  let delivering = !last;
  const deliverer = (async () => {
    while (delivering) {
      deliver(users[Math.floor(random() * users.length)]);
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const t0 = Date.now();
  barrier = new Barrier(users.length);
  barrier.opened.then(() => {
    peakAtBarrier = Math.max(peakAtBarrier, barrier.openAt);
  });
  await Promise.all(users.map((u) => {
    const drop = !last && random() < DROP
      ? DROPS[Math.floor(random() * DROPS.length)]
      : "none";
    return session(u, drop);
  }));
  delivering = false;
  await deliverer;
  // Let dropped sessions release their locks before the next round.
  for (let i = 0; i < 200 && server.conn.list().length > 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  console.log(
    `round ${round}: ${users.length} sessions in ${
      Date.now() - t0
    } ms, ${stats.completed} completed, ${stats.dropped} dropped, ${stats.errors} errors so far`,
  );
}
const seconds = (Date.now() - started) / 1000;
clearInterval(sampler);
await server.destroy("kill");

// Every delivered message: deleted after a confirmed QUIT exactly once, or still stored.
const stored = new Map<string, number>();
for (const u of users) {
  for (const m of memory.messages(u)) {
    const id = idOf(new TextDecoder().decode(m.bytes));
    if (id) stored.set(id, (stored.get(id) ?? 0) + 1);
  }
}
let lost = 0;
let duplicated = 0;
for (const id of delivered.keys()) {
  const times = (deletedBy.get(id) ?? 0) + (stored.get(id) ?? 0);
  if (times === 0) lost++;
  if (times > 1) duplicated++;
}
let leakedLocks = locked();
for (const u of users) if (memory.isLocked(u)) leakedLocks++;

const mb = (n: number) => (n / 1048576).toFixed(1);
console.log("---- soak ----");
console.log(
  `runtime:             ${
    typeof (globalThis as { Deno?: unknown }).Deno === "object"
      ? "deno"
      : typeof (globalThis as { Bun?: unknown }).Bun === "object"
      ? "bun"
      : "node"
  }`,
);
console.log(`users x rounds:      ${SESSIONS} x ${ROUNDS} (drop rate ${DROP})`);
console.log(`sessions started:    ${stats.sessions}`);
console.log(`sessions completed:  ${stats.completed}`);
console.log(`sessions dropped:    ${stats.dropped} (on purpose)`);
console.log(
  `peak concurrent:     ${
    Math.max(peakConcurrent, peakAtBarrier)
  } connections, ${peakWaiting} logged-in sessions at once`,
);
console.log(
  `errors:              ${
    stats.errors + serverErrors.length
  } (client ${stats.errors}, server onError ${serverErrors.length})`,
);
console.log(`messages delivered:  ${delivered.size}`);
console.log(
  `retrieved:           ${stats.retrieved} (${mb(stats.bytesRetrieved)} MB)`,
);
console.log(`deleted after QUIT:  ${stats.deletedConfirmed}`);
console.log(
  `still stored:        ${[...stored.values()].reduce((a, b) => a + b, 0)}`,
);
console.log(`lost messages:       ${lost}`);
console.log(`duplicated messages: ${duplicated}`);
console.log(
  `leaked locks:        ${leakedLocks} (lock ${calls.lock}, unlock ${calls.unlock})`,
);
console.log(
  `retries:             in-use ${stats.inUseRetries}, connect ${stats.connectRetries}`,
);
console.log(
  `peak RSS:            ${mb(peakRss)} MB (${
    mb(startRss)
  } MB before the first session; server and clients share this process)`,
);
console.log(`time:                ${seconds.toFixed(1)} s`);
for (const s of errorSamples) console.log(`  error: ${s}`);
for (const e of serverErrors.slice(0, 5)) {
  console.log(`  server error: ${String(e)}`);
}
const ok = stats.errors === 0 && serverErrors.length === 0 && lost === 0 &&
  duplicated === 0 && leakedLocks === 0;
process.exit(ok ? 0 : 1);
