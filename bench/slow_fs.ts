/**
 * Maildirs on a slow file system (issue #17: "say in the README what an
 * operator on a slow or network file system should set"). Both servers'
 * Maildirs are served through `bench/slow_fs.py`, a FUSE mirror that waits
 * `DELAY` ms before every call that reaches it (a file server's round trip;
 * the kernel caches attributes and names for 1 s, as NFS does). For each
 * delay, the same sessions load as `bench/real_path.ts` (16 clients:
 * USER, PASS, STAT, LIST, RETR ×10 of ~10 KB, QUIT; plain) against:
 * - ours, the program on each runtime, with `--sync-metadata true` (the
 *   default: synchronous metadata calls, each one stops the thread) and
 *   `false` (through the runtime's thread pool), and on Node and Bun
 *   `false` with `UV_THREADPOOL_SIZE=T` (both runtimes size their pool for
 *   file calls from it; the default is 4 threads or fewer);
 * - Dovecot as `real_path.ts` tunes it (one `pop3` process serves up to 100
 *   sessions) and with its defaults (one process per session).
 * Prints a table of sessions/s and latency and writes
 * `bench/results/slowfs-<time>.json`.
 *
 *     deno run -A bench/slow_fs.ts [--delays 0.5,2] [--runtimes deno,bun,node]
 *       [--duration 4] [--nusers 200] [--threads 16] [--workers 1]
 *
 * Needs what `real_path.ts` needs, plus Debian's `python3-fusepy` and
 * `fuse3` (`/dev/fuse`); run as root.
 *
 * @module
 */

import { type OptionTable, parseArgs } from "./_options.ts";
import {
  checkoutWork,
  drive,
  fmt,
  freePortBlock,
  node24,
  processServer,
  run,
  runtimeCommand,
  type Server,
  startPeerDovecot,
  WARM_UP_ARGS,
} from "./run.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

type Runtime = "deno" | "bun" | "node";

interface Options {
  delays: number[];
  runtimes: Runtime[];
  duration: number;
  nusers: number;
  threads: number;
  workers: number;
  work: string;
  peer: string;
  out: string;
}

function count(value: string, arg: string, min: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new RangeError(
      `Option "${arg}" must be an integer >= ${min}, got "${value}"`,
    );
  }
  return n;
}

function options(argv: string[]): Options {
  const o: Options = {
    delays: [0.5, 2],
    runtimes: ["deno", "bun", "node"],
    duration: 4,
    nusers: 200,
    threads: 16,
    workers: 1,
    work: checkoutWork("pop3slowfs"),
    peer: `${ROOT}../shared/peers/dovecot`,
    out: `${HERE}results`,
  };
  const table: OptionTable = {
    values: {
      delays(value, arg) {
        o.delays = value.split(",").map(Number);
        if (o.delays.some((d) => !(d >= 0))) {
          throw new RangeError(
            `Option "${arg}" must list milliseconds >= 0, got "${value}"`,
          );
        }
      },
      runtimes(value, arg) {
        o.runtimes = value.split(",") as Runtime[];
        for (const r of o.runtimes) {
          if (!["deno", "bun", "node"].includes(r)) {
            throw new RangeError(
              `Option "${arg}" takes deno, bun and node, got "${r}"`,
            );
          }
        }
      },
      duration: (value, arg) => o.duration = count(value, arg, 1),
      nusers: (value, arg) => o.nusers = count(value, arg, 16),
      threads: (value, arg) => o.threads = count(value, arg, 1),
      workers: (value, arg) => o.workers = count(value, arg, 1),
    },
    missing: (arg) => new TypeError(`Option "${arg}" needs a value`),
    unknown: (arg) => new TypeError(`Unknown option "${arg}"`),
  };
  parseArgs(argv, table);
  return o;
}

const sh = (script: string) => run("bash", ["-c", script]);

/** Starts the peer Dovecot in the work directory; its pid. */
function startDovecot(
  o: Options,
  port: number,
  env: Record<string, string>,
): Promise<number> {
  return startPeerDovecot(
    o.peer,
    `${o.work}/dovecot`,
    port,
    `${o.work}/dovecot.start.log`,
    env,
  );
}

/** A FUSE mirror of `source` on `mountpoint`, `delay` ms per call. */
async function mount(source: string, mountpoint: string, delay: number) {
  await sh(`fusermount3 -u '${mountpoint}' 2>/dev/null || true`);
  Deno.mkdirSync(mountpoint, { recursive: true });
  const child = new Deno.Command("/usr/bin/python3", {
    args: [`${HERE}slow_fs.py`, source, mountpoint, String(delay)],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  for (let i = 0; i < 100; i++) {
    const mounts = Deno.readTextFileSync("/proc/mounts");
    if (mounts.includes(` ${mountpoint} fuse`)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    /** Unmounts; answers the calls it served, by kind. */
    async unmount(): Promise<string> {
      await sh(`fusermount3 -u '${mountpoint}'`);
      const { stderr } = await child.output();
      return new TextDecoder().decode(stderr).trim().split("\n").at(-1) ?? "";
    },
  };
}

interface Row {
  delay: number;
  server: string;
  result: Record<string, unknown>;
}

/** A short warm-up, then the measured sessions load. */
async function measure(
  server: Pick<Server, "name" | "port" | "pid">,
  o: Options,
) {
  await drive(server, [...WARM_UP_ARGS]);
  return await drive(server, [
    "--mode",
    "sessions",
    "--clients",
    "16",
    "--procs",
    "2",
    "--users",
    String(o.nusers),
    "--duration",
    String(o.duration),
    "--warmup",
    "0",
  ]);
}

async function main() {
  const o = options(Deno.args);
  const node = o.runtimes.includes("node") ? await node24() : "";
  const port = freePortBlock(24600, 20);
  const dovecotDir = `${o.work}/dovecot`;
  const dovecotSource = `${o.work}/dovecot-mail`;
  const oursSource = `${o.work}/ours-mail`;
  const oursMail = `${o.work}/ours/mail`;
  const passwd = `${o.work}/ours/passwd`;
  const dovecotEnv = {
    NUSERS: String(o.nusers),
    LOGIN_MODE: "perf",
    NO_FLAG_UPDATES: "yes",
  };

  // Dovecot generates the mail; both servers get their own copy of it.
  await run(`${o.peer}/stop.sh`, [dovecotDir]).catch(() => {});
  await sh(`fusermount3 -u '${dovecotDir}/mail' 2>/dev/null || true
fusermount3 -u '${oursMail}' 2>/dev/null || true
rm -rf '${o.work}'; mkdir -p '${o.work}/ours'`);
  await startDovecot(o, port, dovecotEnv);
  await run(`${o.peer}/stop.sh`, [dovecotDir]);
  await sh(`set -e
mv '${dovecotDir}/mail' '${dovecotSource}'; mkdir '${dovecotDir}/mail'
cp -a '${dovecotSource}' '${oursSource}'
find '${oursSource}' -name 'dovecot.index*' -delete -o -name 'dovecot.list.index*' -delete`);
  const users = ["alice"];
  for (let i = 1; i <= o.nusers; i++) users.push(`alice${i}`);
  Deno.writeTextFileSync(
    passwd,
    users.map((u) => `${u}:{PLAIN}secret::::::mail=maildir:%u/Maildir\n`)
      .join(""),
  );

  const rows: Row[] = [];
  const say = (row: Row) => {
    rows.push(row);
    const r = row.result;
    console.error(
      `delay ${row.delay} ms, ${row.server}: ${
        r.sessions_per_s ?? r.error
      } sessions/s, ` +
        `p50 ${
          (r.latency_ms as { p50: number })?.p50
        } ms, server CPU ${r.server_cpu_pct}%`,
    );
  };

  for (const delay of o.delays) {
    const ours = await mount(oursSource, oursMail, delay);
    try {
      for (const rt of o.runtimes) {
        // the runtime's own pool unless the row says otherwise
        const own = ["env", "-u", "UV_THREADPOOL_SIZE"];
        const variants: [string, string[], string[]][] = [
          ["sync", ["--sync-metadata", "true"], own],
          ["async", ["--sync-metadata", "false"], own],
        ];
        if (rt !== "deno") {
          variants.push([
            `async, UV_THREADPOOL_SIZE=${o.threads}`,
            ["--sync-metadata", "false"],
            ["env", `UV_THREADPOOL_SIZE=${o.threads}`],
          ]);
        }
        for (const [label, settings, prefix] of variants) {
          const program = runtimeCommand(rt, node, [
            "cli.ts",
            "--maildir",
            oursMail,
            "--passwd",
            passwd,
            "--hostname",
            "127.0.0.1",
            "--port",
            String(port + 2),
            "--plaintext-auth",
            "always",
            "--log-format",
            "json",
            "--workers",
            String(o.workers),
            ...settings,
          ], { deno: o.workers > 1 ? ["--unstable-net"] : [] });
          const server: Server = processServer(`ours-${rt}`, port + 2, [
            Deno.execPath(),
            "run",
            "-A",
            `${HERE}_program.ts`,
            "--log",
            `${o.work}/ours-${rt}.log`,
            "--port",
            String(port + 2),
            "--",
            ...prefix,
            ...program,
          ]);
          await server.start();
          try {
            say({
              delay,
              server: `ours ${rt}, ${label}`,
              result: await measure(server, o),
            });
          } finally {
            await server.stop();
          }
        }
      }
    } finally {
      console.error(`  calls served (ours): ${await ours.unmount()}`);
    }

    const theirs = await mount(dovecotSource, `${dovecotDir}/mail`, delay);
    try {
      for (
        const [label, env] of [
          ["Dovecot, 100 sessions per process (as real_path.ts)", {
            POP3_SERVICE_COUNT: "0",
            POP3_CLIENT_LIMIT: "100",
          }],
          ["Dovecot, one process per session (its default)", {
            POP3_SERVICE_COUNT: "1",
            POP3_CLIENT_LIMIT: "1",
          }],
        ] as const
      ) {
        const pid = await startDovecot(o, port, {
          ...dovecotEnv,
          ...env,
          KEEP_MAIL: "1",
        });
        try {
          const server = { name: "dovecot", port, pid };
          say({ delay, server: label, result: await measure(server, o) });
        } finally {
          await run(`${o.peer}/stop.sh`, [dovecotDir]).catch(() => {});
        }
      }
    } finally {
      console.error(`  calls served (Dovecot): ${await theirs.unmount()}`);
    }
  }

  const md = [
    "| delay per call | server | sessions/s | p50 ms | p99 ms | server CPU % |",
    "|---|---|---|---|---|---|",
    ...rows.map(({ delay, server, result: r }) => {
      const l = r.latency_ms as { p50: number; p99: number } | undefined;
      return `| ${delay} ms | ${server} | ${
        fmt(Number(r.sessions_per_s ?? NaN), 1)
      } | ${fmt(l?.p50 ?? NaN)} | ${fmt(l?.p99 ?? NaN)} | ${
        fmt(Number(r.server_cpu_pct ?? NaN))
      } |`;
    }),
  ].join("\n");
  console.log(md);
  Deno.mkdirSync(o.out, { recursive: true });
  const file = `${o.out}/slowfs-${
    new Date().toISOString().replace(/[:.]/g, "-")
  }.json`;
  Deno.writeTextFileSync(
    file,
    JSON.stringify({ options: o, rows, markdown: md }, null, 2),
  );
  console.log(`\n${file}`);
}

if (import.meta.main) await main();
