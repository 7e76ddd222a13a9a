/**
 * File-system calls of one Maildir session (issue #17): ours with
 * `MaildirStorage` + `PasswdFileAuth` over the default file access, counted
 * per `MaildirFs` method, with the time each call was awaited. One client
 * runs the benchmark's session (USER, PASS, STAT, LIST, RETR of every
 * message, QUIT) a few times; the first session is reported apart (it may
 * mark messages seen and fill caches).
 *
 *     deno run -A bench/maildir_fs_calls.ts --mail DIR --passwd FILE [--user alice1] [--sessions 5]
 *       [--sync-metadata true|false]
 *
 * The CPU time per later session is the whole process's (server and this
 * client, every thread), so it compares versions even on a busy machine.
 * `--sync-metadata` picks the default file access's mode (`true`, the
 * storage's default: metadata and small files through synchronous calls).
 *
 * `--mail` and `--passwd` as `real_path.ts` leaves them in
 * `/tmp/pop3real/ours/` (per checkout: see `checkoutWork` in `run.ts`).
 *
 * @module
 */

import { countingMaildir, type FsCalls, serve } from "./_backends.ts";
import { ReplyReader } from "./_reply_reader.ts";
import { checkoutWork, freePortBlock } from "./run.ts";
import process from "node:process";

const REAL = checkoutWork("pop3real");

function option(name: string, fallback?: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  if (i !== -1 && i + 1 < Deno.args.length) return Deno.args[i + 1];
  if (fallback === undefined) {
    throw new TypeError(`Option "--${name}" is required`);
  }
  return fallback;
}

const enc = new TextEncoder();

// CPU time of this process (every thread: the file-system thread pool
// too), in ms: unlike wall time, hardly moved by other jobs on the machine.
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function session(port: number, user: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const r = new ReplyReader(conn, 1 << 16);
  const cmd = async (line: string, multi = false) => {
    await conn.write(enc.encode(line + "\r\n"));
    if (!(await r.status())) throw new Error(`${line}: ${r.lineText()}`);
    if (multi) await r.multiLine();
  };
  try {
    if (!(await r.status())) throw new Error("greeting");
    await cmd(`USER ${user}`);
    await cmd("PASS secret");
    await cmd("STAT");
    const count = r.field(1);
    await cmd("LIST", true);
    for (let i = 1; i <= count; i++) await cmd(`RETR ${i}`, true);
    await cmd("QUIT");
    return count;
  } finally {
    conn.close();
  }
}

function snapshot(calls: FsCalls): FsCalls {
  return structuredClone(calls);
}

function diff(a: FsCalls, b: FsCalls, n: number): FsCalls {
  const out: FsCalls = {};
  for (const [k, v] of Object.entries(b)) {
    const calls = (v.calls - (a[k]?.calls ?? 0)) / n;
    if (calls > 0) out[k] = { calls, ms: (v.ms - (a[k]?.ms ?? 0)) / n };
  }
  return out;
}

const mail = option("mail", `${REAL}/ours/mail`);
const passwd = option("passwd", `${REAL}/ours/passwd`);
const user = option("user", "alice1");
const sessions = Number(option("sessions", "5"));
const cert = Deno.readTextFileSync(
  option("cert", `${REAL}/tls/cert.pem`),
);
const key = Deno.readTextFileSync(option("key", `${REAL}/tls/key.pem`));
const syncMetadata = option("sync-metadata", "true") !== "false";
const { backend, calls } = countingMaildir(mail, passwd, { syncMetadata });
const port = freePortBlock(23590, 1);
const stop = await serve(backend, { port, tlsPort: 0, cert, key });
try {
  const s0 = snapshot(calls);
  const t0 = performance.now();
  const count = await session(port, user);
  const first = performance.now() - t0;
  const s1 = snapshot(calls);
  const t1 = performance.now();
  const c1 = cpuMs();
  for (let i = 1; i < sessions; i++) await session(port, user);
  const later = (performance.now() - t1) / Math.max(1, sessions - 1);
  const cpu = (cpuMs() - c1) / Math.max(1, sessions - 1);
  const a = diff(s0, s1, 1);
  const b = diff(s1, snapshot(calls), Math.max(1, sessions - 1));
  console.log(
    `${count} messages; session wall time: first ${
      first.toFixed(1)
    } ms, later ${later.toFixed(1)} ms, CPU ${
      cpu.toFixed(2)
    } ms per later session, client included (one client, nothing else running in this process; syncMetadata: ${syncMetadata})\n`,
  );
  console.log(
    "| MaildirFs call | calls, 1st session | calls, later | awaited ms per session, later |",
  );
  console.log("|---|---|---|---|");
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  let total = 0;
  let ms = 0;
  for (const k of names) {
    total += b[k]?.calls ?? 0;
    ms += b[k]?.ms ?? 0;
    console.log(
      `| ${k} | ${a[k]?.calls ?? 0} | ${b[k]?.calls ?? 0} | ${
        (b[k]?.ms ?? 0).toFixed(2)
      } |`,
    );
  }
  console.log(`| total | | ${total} | ${ms.toFixed(2)} |`);
} finally {
  await stop();
}
