/**
 * Large maildrops (issue #17): one user with 10,000 to 100,000 Dovecot-style
 * 2 KB messages in a Maildir. Dovecot (tuned as in `real_path.ts`) and ours
 * (`MaildirStorage` + `PasswdFileAuth`, on Deno, Bun and Node 24) each serve
 * their own copy. One client, logins one after the other on a fresh server:
 *
 * - login + STAT: connect, greeting, USER, PASS, STAT (ms);
 * - UIDL: the full list (ms), its line count checked against STAT;
 * - memory per session: K more users (`alice1..aliceK`, the same messages,
 *   hard links as the peer makes them) log in, STAT and UIDL and stay
 *   logged in; the growth of the server's RSS (process tree) divided by K
 *   and by the message count (bytes per message per session). Measured at
 *   their first login (with what the server keeps per Maildir, and heap
 *   growth from the first login's garbage), then again after they logged
 *   out and in (later logins: the sessions alone).
 *
 * The first login after the server starts is reported apart (Dovecot then
 * builds its index: the mail is freshly generated; ours starts with an empty
 * cache, page cache warm for both); the later logins as their median. Cost
 * growth is the slope between the smallest and largest maildrop (µs per
 * message), from the later logins.
 *
 *     deno run -A bench/large_maildrop.ts [--quick] [--sizes 10000,20000,50000,100000]
 *       [--logins 4] [--sessions 8] [--runtimes deno,bun,node] [--no-dovecot]
 *
 * Writes `bench/results/large-<time>.json` and prints a markdown table.
 *
 * @module
 */

import { ReplyReader } from "./_reply_reader.ts";
import { treeMemory } from "./_proc.ts";
import { parseArgs } from "./_options.ts";
import { certificates } from "./real_path.ts";
import {
  checkoutWork,
  freePortBlock,
  median,
  node24,
  processServer,
  run,
  runtimeCommand,
  type Server,
  serveRealArgs,
} from "./run.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

type Runtime = "deno" | "bun" | "node";

interface Options {
  sizes: number[];
  logins: number;
  sessions: number;
  runtimes: Runtime[];
  dovecot: boolean;
  basePort: number;
  peer: string;
  work: string;
  out: string;
}

export function parseOptions(argv: string[]): Options {
  const o: Options = {
    sizes: [10_000, 20_000, 50_000, 100_000],
    logins: 4,
    sessions: 8,
    runtimes: ["deno", "bun", "node"],
    dovecot: true,
    basePort: 0,
    peer: `${ROOT}../shared/peers/dovecot`,
    work: checkoutWork("pop3large"),
    out: `${HERE}results`,
  };
  parseArgs(argv, {
    flags: {
      quick() {
        o.sizes = [10_000, 20_000];
        o.logins = 3;
        o.sessions = 4;
      },
      noDovecot: () => o.dovecot = false,
    },
    values: {
      sizes(value) {
        o.sizes = value.split(",").map(Number);
        if (o.sizes.some((n) => !Number.isSafeInteger(n) || n < 1)) {
          throw new RangeError(`Option "--sizes" takes positive integers`);
        }
      },
      logins(value) {
        o.logins = Number(value);
        if (!Number.isSafeInteger(o.logins) || o.logins < 2) {
          throw new RangeError(`Option "--logins" needs an integer ≥ 2`);
        }
      },
      sessions(value) {
        o.sessions = Number(value);
        if (!Number.isSafeInteger(o.sessions) || o.sessions < 1) {
          throw new RangeError(`Option "--sessions" needs a positive integer`);
        }
      },
      runtimes(value) {
        o.runtimes = value.split(",") as Runtime[];
        for (const r of o.runtimes) {
          if (!["deno", "bun", "node"].includes(r)) {
            throw new TypeError(`Option "--runtimes" takes deno, bun, node`);
          }
        }
      },
      basePort: (value) => o.basePort = Number(value),
      work: (value) => o.work = value,
      peer: (value) => o.peer = value,
      out: (value) => o.out = value,
    },
    missing: (arg) => new TypeError(`Option "${arg}" needs a value`),
    unknown: (arg) => new TypeError(`Unknown option "${arg}"`),
  });
  return o;
}

const enc = new TextEncoder();

interface Login {
  loginStatMs: number;
  uidlMs: number;
  count: number;
  error?: string;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Connects, logs in as `user`, STATs and UIDLs; returns the open session. */
async function open(port: number, user: string) {
  const t0 = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const r = new ReplyReader(conn, 1 << 16);
  const ok = async (what: string) => {
    if (!(await r.status())) throw new Error(`${what}: ${r.lineText()}`);
  };
  try {
    await ok("greeting");
    await writeAll(conn, enc.encode(`USER ${user}\r\n`));
    await ok("USER");
    await writeAll(conn, enc.encode("PASS secret\r\n"));
    await ok("PASS");
    await writeAll(conn, enc.encode("STAT\r\n"));
    await ok("STAT");
    const count = r.field(1);
    const t1 = performance.now();
    await writeAll(conn, enc.encode("UIDL\r\n"));
    await ok("UIDL");
    const { lines } = await r.multiLine(true);
    const t2 = performance.now();
    if (lines !== count) throw new Error(`UIDL: ${lines} lines, STAT ${count}`);
    const quit = async () => {
      try {
        await writeAll(conn, enc.encode("QUIT\r\n"));
        await ok("QUIT");
      } finally {
        conn.close();
      }
    };
    return { loginStatMs: t1 - t0, uidlMs: t2 - t1, count, quit };
  } catch (error) {
    conn.close();
    throw error;
  }
}

/** One timed session of `alice`. */
async function measure(port: number): Promise<Login> {
  const { quit, ...login } = await open(port, "alice");
  await quit();
  return login;
}

/**
 * RSS growth per message per session with `k` sessions logged in: first
 * when the `k` users log in for the first time since the server started
 * (what the server keeps per Maildir is counted too, and the garbage of a
 * first login that the heap has not returned), then when the same users
 * log in again after logging out (later logins: the sessions alone).
 */
async function sessionMemory(
  port: number,
  pid: number,
  k: number,
): Promise<{ first: number; later: number }> {
  const hold = async () => {
    const before = treeMemory(pid).rssKib;
    const held = [];
    let count = 0;
    try {
      for (let i = 1; i <= k; i++) {
        const s = await open(port, `alice${i}`);
        held.push(s);
        count = s.count;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      const after = treeMemory(pid).rssKib;
      return ((after - before) * 1024) / (k * count);
    } finally {
      for (const s of held) await s.quit().catch(() => {});
    }
  };
  const first = await hold();
  await new Promise((resolve) => setTimeout(resolve, 500));
  return { first, later: await hold() };
}

async function main() {
  const o = parseOptions(Deno.args);
  // 0: the first free block from 23600 (another checkout may run one too).
  if (o.basePort === 0) o.basePort = freePortBlock(23600, 40);
  Deno.mkdirSync(o.work, { recursive: true });
  Deno.mkdirSync(o.out, { recursive: true });
  const tlsDir = `${o.work}/tls`;
  await certificates(tlsDir);
  const node = await node24();
  const results: Record<string, Record<number, Login[]>> = {};
  const memory: Record<
    string,
    Record<number, { first: number; later: number }>
  > = {};
  for (const n of o.sizes) {
    const dir = `${o.work}/n${n}`;
    const dv = `${dir}/dovecot`;
    const ours = `${dir}/ours`;
    const servers: Server[] = [];
    // Dovecot generates the mail (genmail.py, ~2 KB messages)
    console.error(`--- ${n} messages: generating`);
    await run(`${o.peer}/stop.sh`, [dv]).catch(() => {});
    const log = `${dir}.start.log`;
    const env = {
      NUSERS: String(o.sessions),
      LOGIN_MODE: "perf",
      POP3_SERVICE_COUNT: "0",
      POP3_CLIENT_LIMIT: "100",
      NO_FLAG_UPDATES: "yes",
    };
    await run("sh", [
      "-c",
      `mkdir -p '${dir}'; "$0" "$@" >'${log}' 2>&1 </dev/null || { cat '${log}'; exit 1; }`,
      `${o.peer}/start.sh`,
      String(o.basePort),
      dv,
      String(n),
      "2048",
    ], env);
    const dvPid = Number(
      Deno.readTextFileSync(log).match(/READY .* pid=(\d+)/)?.[1] ?? 0,
    );
    await run("bash", [
      "-c",
      `set -e; rm -rf '${ours}'; mkdir -p '${ours}/mail'
cp -a '${dv}/mail/.' '${ours}/mail/'
find '${ours}/mail' -name 'dovecot.index*' -delete -o -name 'dovecot.list.index*' -delete
for u in $(ls '${ours}/mail'); do
  printf '%s:{PLAIN}secret::::::mail=maildir:%%u/Maildir\\n' "$u"
done >'${ours}/passwd'`,
    ]);
    if (o.dovecot) {
      servers.push({
        name: "dovecot",
        port: o.basePort,
        pid: dvPid,
        start: () => Promise.resolve(), // started above, mail fresh, no index yet
        stop: async () => void await run(`${o.peer}/stop.sh`, [dv]),
      });
    } else await run(`${o.peer}/stop.sh`, [dv]);
    let port = o.basePort + 2;
    for (const rt of o.runtimes) {
      const cmd = runtimeCommand(
        rt,
        node,
        serveRealArgs(
          "maildir",
          `${ours}/mail`,
          `${ours}/passwd`,
          tlsDir,
          port,
        ),
      );
      servers.push(processServer(`ours-${rt}`, port, cmd));
      port++;
    }
    for (const s of servers) {
      try {
        await s.start();
        const logins: Login[] = [];
        for (let i = 0; i < o.logins; i++) {
          try {
            logins.push(await measure(s.port));
          } catch (error) {
            logins.push({
              loginStatMs: NaN,
              uidlMs: NaN,
              count: 0,
              error: String(error),
            });
          }
          const l = logins.at(-1)!;
          console.error(
            `${s.name} ${n} login ${i + 1}: login+STAT ${
              l.loginStatMs.toFixed(1)
            } ms, UIDL ${l.uidlMs.toFixed(1)} ms${
              l.error ? ` (${l.error})` : ""
            }`,
          );
        }
        (results[s.name] ??= {})[n] = logins;
        const bytes = await sessionMemory(s.port, s.pid, o.sessions).catch(
          (error) => {
            console.error(`${s.name} ${n} session memory: ${error}`);
            return { first: NaN, later: NaN };
          },
        );
        (memory[s.name] ??= {})[n] = bytes;
        console.error(
          `${s.name} ${n}: ${bytes.first.toFixed(0)} / ${
            bytes.later.toFixed(0)
          } B per message per session, first / later logins (${o.sessions} sessions)`,
        );
      } finally {
        await s.stop().catch((e) => console.error(String(e)));
      }
    }
    await run("rm", ["-rf", dir]);
  }

  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = `${o.out}/large-${stamp}.json`;
  Deno.writeTextFileSync(
    file,
    JSON.stringify(
      { options: o, loadavg: Deno.loadavg(), results, memory },
      null,
      1,
    ),
  );
  const f = (x: number, d = 0) => Number.isFinite(x) ? x.toFixed(d) : "–";
  const md = [
    `| server | messages | login+STAT ms, 1st / later | UIDL ms, 1st / later | RSS per session, B/msg, 1st / later login (${o.sessions} sessions) |`,
    "|---|---|---|---|---|",
  ];
  const later = (ls: Login[], k: keyof Login) =>
    median(ls.slice(1).map((l) => Number(l[k])));
  for (const [name, bySize] of Object.entries(results)) {
    for (const n of o.sizes) {
      const ls = bySize[n];
      if (!ls) continue;
      md.push(
        `| ${name} | ${n} | ${f(ls[0].loginStatMs)} / ${
          f(later(ls, "loginStatMs"))
        } | ${f(ls[0].uidlMs)} / ${f(later(ls, "uidlMs"))} | ${
          f(memory[name]?.[n]?.first ?? NaN)
        } / ${f(memory[name]?.[n]?.later ?? NaN)} |`,
      );
    }
  }
  const lo = Math.min(...o.sizes);
  const hi = Math.max(...o.sizes);
  if (hi > lo) {
    md.push(
      "",
      `| server | login+STAT µs/msg, 1st / later | UIDL µs/msg, later | (slope ${lo}→${hi}) |`,
      "|---|---|---|---|",
    );
    for (const [name, bySize] of Object.entries(results)) {
      const a = bySize[lo];
      const b = bySize[hi];
      if (!a || !b) continue;
      const slope = (x: number, y: number) => (1000 * (y - x)) / (hi - lo);
      md.push(
        `| ${name} | ${f(slope(a[0].loginStatMs, b[0].loginStatMs), 2)} / ${
          f(slope(later(a, "loginStatMs"), later(b, "loginStatMs")), 2)
        } | ${f(slope(later(a, "uidlMs"), later(b, "uidlMs")), 2)} | |`,
      );
    }
  }
  console.log(md.join("\n"));
  console.log(`\nRaw results: ${file}`);
}

if (import.meta.main) await main();
