/**
 * Side-by-side POP3 benchmark: Dovecot (stock and tuned), the trivial
 * canned-bytes server (the physical limit), and our server on Deno, Bun and
 * Node, all serving the same bytes, measured by the same driver in one run.
 * Prints a markdown table with ratios against Dovecot tuned and saves the
 * raw driver results as JSON.
 *
 *     deno run -A bench/run.ts [--rounds 3] [--duration 5] [--idle 1000]
 *       [--idle-big 10000] [--only dovecot-tuned,trivial,...] [--base-port 21200]
 *
 * Needs Dovecot (`apt-get install -y dovecot-core dovecot-pop3d`) and the
 * peer scripts in `../shared/peers/dovecot` (or `--peer DIR`), bun, and Node
 * 24 through `npx -y node@24`. Must run as root or as the user that owns
 * /tmp/pop3bench.
 *
 * @module
 */

import { type OptionTable, parseArgs } from "./_options.ts";
import { ReplyReader } from "./_reply_reader.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

interface Options {
  rounds: number;
  duration: number;
  idle: number;
  idleBig: number;
  only: string[];
  basePort: number;
  nusers: number;
  peer: string;
  work: string;
  out: string;
}

function parseOptions(argv: string[]): Options {
  const o: Options = {
    rounds: 3,
    duration: 5,
    idle: 1000,
    idleBig: 0,
    only: [],
    basePort: 21200,
    nusers: 1000,
    peer: `${ROOT}../shared/peers/dovecot`,
    work: "/tmp/pop3bench",
    out: `${HERE}results`,
  };
  const rec = o as unknown as Record<string, unknown>;
  const values: OptionTable["values"] = {};
  for (const key of Object.keys(o)) {
    values[key] = key === "only"
      ? (value) => o.only = value.split(",")
      : typeof rec[key] === "number"
      ? (value) => rec[key] = Number(value)
      : (value) => rec[key] = value;
  }
  const bad = (arg: string) => new TypeError(`Bad option "${arg}"`);
  parseArgs(argv, { values, missing: bad, unknown: bad });
  return o;
}

// ---------------------------------------------------------------------------
// servers

export interface Server {
  name: string;
  port: number;
  pid: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
) {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${text}${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return text;
}

function dovecot(
  name: string,
  o: Options,
  port: number,
  env: Record<string, string>,
): Server & { dir: string } {
  const dir = `${o.work}/${name}`;
  let started = false;
  const s = {
    name,
    port,
    pid: 0,
    dir,
    async start() {
      await run(`${o.peer}/stop.sh`, [dir]).catch(() => {}); // a leftover instance
      const e = { ...env, NUSERS: String(o.nusers), BIG_MB: "50" };
      if (started) Object.assign(e, { KEEP_MAIL: "1" });
      s.pid = await startPeerDovecot(
        o.peer,
        dir,
        port,
        `${o.work}/${name}.start.log`,
        e,
      );
      started = true;
    },
    async stop() {
      await run(`${o.peer}/stop.sh`, [dir]);
    },
  };
  return s;
}

/**
 * Starts the peer Dovecot (`start.sh PORT DIR 10 10240` in `peer`, ten
 * messages of about 10 KiB per user) with `env`; its output goes to `log`
 * (the daemon inherits stdout: a pipe would never close).
 *
 * @returns The pid of Dovecot's master process.
 * @throws {Error} When it prints no READY line, with its output.
 * @example
 * ```ts ignore
 * const pid = await startPeerDovecot(peer, `${work}/dovecot`, 1110, log, { NUSERS: "16" });
 * ```
 */
export async function startPeerDovecot(
  peer: string,
  dir: string,
  port: number,
  log: string,
  env: Record<string, string>,
): Promise<number> {
  await run("sh", [
    "-c",
    `"$0" "$@" >'${log}' 2>&1 </dev/null || { cat '${log}'; exit 1; }`,
    `${peer}/start.sh`,
    String(port),
    dir,
    "10",
    "10240",
  ], env);
  const text = Deno.readTextFileSync(log);
  const m = text.match(/READY .* pid=(\d+)/);
  if (!m) throw new Error(`${dir}: Dovecot printed no READY line: ${text}`);
  return Number(m[1]);
}

export function processServer(
  name: string,
  port: number,
  cmd: string[],
): Server {
  let child: Deno.ChildProcess | undefined;
  const s: Server = {
    name,
    port,
    pid: 0,
    async start() {
      child = new Deno.Command(cmd[0], {
        args: cmd.slice(1),
        cwd: ROOT,
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const lines = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let text = "";
      const timeout = setTimeout(() => child?.kill("SIGKILL"), 60_000);
      for (;;) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`${name} exited before READY: ${text}`);
        text += value;
        const m = text.match(/READY port=\d+ pid=(\d+)/);
        if (m) {
          s.pid = Number(m[1]);
          break;
        }
      }
      clearTimeout(timeout);
      (async () => { // keep draining stdout so the server never blocks on it
        while (!(await lines.read()).done) { /* discard */ }
      })();
    },
    async stop() {
      if (!child) return;
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      child = undefined;
    },
  };
  return s;
}

function hasOurServer(): boolean {
  try {
    const mod = Deno.readTextFileSync(`${ROOT}mod.ts`);
    return /\bPop3d\b/.test(mod) && /\bMemoryStorage\b/.test(mod) &&
      /\bMemoryAuth\b/.test(mod);
  } catch {
    return false;
  }
}

/**
 * The command that runs `args` (a script and its options) under `runtime`:
 * `flags.deno` after `deno run -A`, `flags.node` after Node's binary.
 *
 * @example
 * ```ts ignore
 * const cmd = runtimeCommand("node", await node24(), ["bench/serve_real.ts"]);
 * ```
 */
export function runtimeCommand(
  runtime: string,
  node: string,
  args: string[],
  flags: { deno?: string[]; node?: string[] } = {},
): string[] {
  if (runtime === "deno") {
    return [Deno.execPath(), "run", "-A", ...flags.deno ?? [], ...args];
  }
  return runtime === "bun"
    ? ["bun", ...args]
    : [node, ...flags.node ?? [], ...args];
}

/**
 * The arguments of `bench/serve_real.ts` serving `storage` from `mail` with
 * the users of `passwd`, plain POP3 with STLS on `port`, then `extra`.
 *
 * @example
 * ```ts ignore
 * const args = serveRealArgs("maildir", `${work}/mail`, `${work}/passwd`, tlsDir, 1110);
 * ```
 */
export function serveRealArgs(
  storage: string,
  mail: string,
  passwd: string,
  tlsDir: string,
  port: number,
  extra: string[] = [],
): string[] {
  return [
    "bench/serve_real.ts",
    "--storage",
    storage,
    "--mail",
    mail,
    "--passwd",
    passwd,
    "--cert",
    `${tlsDir}/cert.pem`,
    "--key",
    `${tlsDir}/key.pem`,
    "--port",
    String(port),
    ...extra,
  ];
}

export async function node24(): Promise<string> {
  return (await run("npx", ["-y", "node@24", "-p", "process.execPath"])).trim();
}

// ---------------------------------------------------------------------------
// driver

type Result = Record<string, unknown>;

/**
 * The driver arguments of a warm-up before a measurement: a few sessions, so
 * that thread pools, JIT and caches count as part of the server.
 */
export const WARM_UP_ARGS: readonly string[] = [
  "--mode",
  "sessions",
  "--clients",
  "4",
  "--users",
  "16",
  "--duration",
  "1",
  "--warmup",
  "0",
];

/**
 * Runs `bench/driver.ts` against `server` with `args`; its JSON result, or
 * `{ error }` when it failed.
 *
 * @example
 * ```ts ignore
 * const result = await drive(server, ["--mode", "sessions", "--duration", "3"]);
 * ```
 */
export async function drive(
  server: Pick<Server, "name" | "port" | "pid">,
  args: string[],
): Promise<Result> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${HERE}driver.ts`,
      "--port",
      String(server.port),
      "--pid",
      String(server.pid),
      "--label",
      server.name,
      ...args,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || text === "") {
    return { error: `driver failed (${out.code})` };
  }
  return JSON.parse(text);
}

/** The replies to `cmds` on one connection, multi-line ones for RETR/LIST. */
async function transcript(port: number, cmds: string[]): Promise<Uint8Array[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const replies: Uint8Array[] = [];
  const pending: Uint8Array[] = [];
  const r = new ReplyReader({
    async read(p) {
      const n = await conn.read(p);
      if (n !== null) pending.push(p.slice(0, n));
      return n;
    },
  }, 1 << 16);
  try {
    await r.status();
    for (const cmd of cmds) {
      await conn.write(new TextEncoder().encode(cmd + "\r\n"));
      pending.length = 0; // one command at a time: what is read now is its reply
      const ok = await r.status();
      if (ok && /^(RETR|LIST)/.test(cmd)) await r.multiLine();
      if (!r.drained) {
        throw new Error(`Unexpected bytes after the reply to ${cmd}`);
      }
      replies.push(concat(pending));
    }
  } finally {
    conn.close();
  }
  return replies;
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** SHA-256 (hex, 16 digits) of the message bodies a server sends. */
async function bodyDigest(port: number): Promise<string> {
  const cmds = ["USER alice1", "PASS secret"];
  for (let i = 1; i <= 10; i++) cmds.push(`RETR ${i}`);
  const a = await transcript(port, [...cmds, "QUIT"]);
  const b = await transcript(port, [
    "USER big",
    "PASS secret",
    "RETR 1",
    "QUIT",
  ]);
  // drop each RETR's status line: servers word "+OK n octets" differently
  const bodies = [...a.slice(2, 12), b[2]].map((x) =>
    x.subarray(x.indexOf(0x0a) + 1)
  );
  const hash = await crypto.subtle.digest("SHA-256", concat(bodies));
  return [...new Uint8Array(hash).slice(0, 8)].map((x) =>
    x.toString(16).padStart(2, "0")
  )
    .join("");
}

// ---------------------------------------------------------------------------
// report

export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmt(x: number, digits = 0): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "–";
}

export function ratio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : "–";
}

// ---------------------------------------------------------------------------

async function main() {
  const o = parseOptions(Deno.args);
  Deno.mkdirSync(o.work, { recursive: true });
  Deno.mkdirSync(o.out, { recursive: true });
  const p = o.basePort;
  const servers: Server[] = [
    dovecot("dovecot-stock", o, p, {}),
    dovecot("dovecot-tuned", o, p + 2, {
      LOGIN_MODE: "perf",
      POP3_SERVICE_COUNT: "0",
      POP3_CLIENT_LIMIT: "100",
      NO_FLAG_UPDATES: "yes",
    }),
  ];
  const mail = `${o.work}/dovecot-tuned/mail`;
  servers.push(processServer("trivial", p + 4, [
    Deno.execPath(),
    "run",
    "-A",
    `${HERE}trivial_server.ts`,
    "--port",
    String(p + 4),
    "--maildir",
    `${mail}/alice/Maildir`,
    "--big-maildir",
    `${mail}/big/Maildir`,
  ]));
  const ours = hasOurServer();
  if (ours) {
    const args = [
      "bench/serve_memory.ts",
      "--mail",
      mail,
      "--users",
      String(o.nusers),
    ];
    servers.push(
      processServer("ours-deno", p + 5, [
        Deno.execPath(),
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        ...args,
        "--port",
        String(p + 5),
      ]),
      processServer("ours-bun", p + 6, [
        "bun",
        ...args,
        "--port",
        String(p + 6),
      ]),
      processServer("ours-node", p + 7, [
        await node24(),
        "--expose-gc",
        ...args,
        "--port",
        String(p + 7),
      ]),
    );
  } else {
    console.error(
      "mod.ts does not export Pop3d, MemoryAuth and MemoryStorage yet: skipping ours",
    );
  }
  const active: Server[] = o.only.length > 0
    ? servers.filter((s) =>
      o.only.includes(s.name) || s.name === "dovecot-tuned"
    )
    : servers;
  const tuned = "dovecot-tuned";

  const results: Record<string, Result[]> = {};
  const record = (key: string, r: Result) => (results[key] ??= []).push(r);
  const machine = {
    cpus: navigator.hardwareConcurrency,
    model: (await run("sh", [
      "-c",
      "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2",
    ]))
      .trim(),
    kernel: Deno.osRelease(),
    memGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    deno: Deno.version.deno,
    bun: ours ? (await run("bun", ["--version"])).trim() : "",
    node: ours ? (await run(await node24(), ["--version"])).trim() : "",
    dovecot: (await run("dovecot", ["--version"])).trim(),
  };
  console.error(`machine: ${JSON.stringify(machine)}`);

  // start the tuned Dovecot first: it generates the mail the others load
  const tunedServer = active.find((s) => s.name === tuned)!;
  await tunedServer.start();
  const skipped: string[] = [];
  for (const s of [...active]) {
    if (s === tunedServer) continue;
    try {
      await s.start();
    } catch (error) {
      console.error(`${s.name} did not start, leaving it out: ${error}`);
      skipped.push(`${s.name} (${String(error).split("\n")[0]})`);
      await s.stop().catch(() => {});
      active.splice(active.indexOf(s), 1);
    }
  }
  try {
    // identical bytes check
    const digests: Record<string, string> = {};
    for (const s of active) digests[s.name] = await bodyDigest(s.port);
    console.error(`body digests: ${JSON.stringify(digests)}`);
    const distinct = new Set(Object.values(digests));
    if (distinct.size !== 1) {
      throw new Error("The servers do not send identical message bytes");
    }

    const trivial = active.find((s) => s.name === "trivial");
    for (let round = 1; round <= o.rounds; round++) {
      console.error(
        `--- round ${round}/${o.rounds}: sessions, 16 clients, 10 × 10 KB`,
      );
      for (const s of active) {
        const common = [
          "--mode",
          "sessions",
          "--clients",
          "16",
          "--users",
          "16",
        ];
        const dur = ["--duration", String(o.duration), "--warmup", "1"];
        record(`sessions:${s.name}`, await drive(s, [...common, ...dur]));
        if (s === trivial) {
          const r = await drive({ ...s, name: "trivial-2procs" }, [
            ...common,
            ...dur,
            "--procs",
            "2",
          ]);
          record("sessions:trivial-2procs", r);
        }
      }
      console.error(
        `--- round ${round}/${o.rounds}: bulk, RETR of one 50 MiB message ×5`,
      );
      for (const s of active) {
        record(
          `bulk:${s.name}`,
          await drive(s, ["--mode", "bulk", "--user", "big", "--repeat", "5"]),
        );
      }
    }

    // idle memory: a fresh server for every measurement (Dovecot keeps its
    // processes, our runtimes keep their heaps)
    const idleRuns: Array<[string, string[], (s: Server) => boolean]> = [
      ["idle-pre", ["--conns", String(o.idle)], () => true],
      ["idle-login", [
        "--conns",
        String(o.idle),
        "--login",
        "--users",
        String(o.nusers),
      ], () => true],
    ];
    if (o.idleBig > 0) {
      idleRuns.push([
        "idle-login-big",
        ["--conns", String(o.idleBig), "--login", "--users", String(o.nusers)],
        // one process per session: stock Dovecot stops at process_limit 1024
        (s) => s.name !== "dovecot-stock",
      ]);
    }
    for (const [key, args, applies] of idleRuns) {
      console.error(`--- ${key}: ${args.join(" ")}`);
      for (const s of active) {
        if (!applies(s)) continue;
        await s.stop();
        await s.start();
        await new Promise((r) => setTimeout(r, 1000));
        record(
          `${key}:${s.name}`,
          await drive(s, ["--mode", "idle", "--settle", "2", ...args]),
        );
      }
    }
  } finally {
    for (const s of active) {
      await s.stop().catch((e) => console.error(String(e)));
    }
  }

  // ---- table
  const num = (key: string, name: string, f: (r: Result) => unknown) =>
    (results[`${key}:${name}`] ?? []).map((r) => Number(f(r)));
  const perRoundRatio = (
    key: string,
    name: string,
    base: string,
    f: (r: Result) => unknown,
  ) => {
    const a = num(key, name, f);
    const b = num(key, base, f);
    return median(a.map((x, i) => x / b[i]));
  };
  const sps = (r: Result) => r.sessions_per_s;
  const mbs = (r: Result) => r.mb_per_s;
  const lat = (q: "p50" | "p99") => (r: Result) =>
    (r.latency_ms as Record<string, number>)?.[q];
  const idleKib = (key: string, name: string) => {
    const r = results[`${key}:${name}`]?.[0];
    if (!r) return { rss: NaN, pss: NaN, open: "" };
    return {
      rss: Number(r.kib_per_conn_rss),
      pss: Number(r.kib_per_conn_pss),
      open: r.conns_open === r.conns_target ? "" : ` (${r.conns_open} open)`,
    };
  };
  const rows = [...active.map((s) => s.name)];
  if (results["sessions:trivial-2procs"]) {
    rows.splice(rows.indexOf("trivial") + 1, 0, "trivial-2procs");
  }
  const lines: string[] = [];
  lines.push(
    `| server | sessions/s | × tuned | p50 / p99 ms | bulk MB/s | × tuned | % of limit | ` +
      `idle KiB/conn, no login (RSS / PSS) | idle KiB/conn, ${o.idle} logged in (RSS / PSS) | × tuned (PSS) |` +
      (o.idleBig > 0
        ? ` idle KiB/conn, ${o.idleBig} logged in (RSS / PSS) |`
        : ""),
  );
  lines.push("|" + " --- |".repeat(o.idleBig > 0 ? 11 : 10));
  const tunedLogin = idleKib("idle-login", tuned);
  for (const name of rows) {
    const bulk = name === "trivial-2procs"
      ? NaN
      : median(num("bulk", name, mbs));
    const pre = idleKib("idle-pre", name);
    const login = idleKib("idle-login", name);
    const big = idleKib("idle-login-big", name);
    lines.push(
      `| ${name} | ${fmt(median(num("sessions", name, sps)))} | ` +
        `${ratio(perRoundRatio("sessions", name, tuned, sps))} | ` +
        `${fmt(median(num("sessions", name, lat("p50"))), 1)} / ` +
        `${fmt(median(num("sessions", name, lat("p99"))), 1)} | ` +
        `${fmt(bulk)} | ${
          name === "trivial-2procs"
            ? "–"
            : ratio(perRoundRatio("bulk", name, tuned, mbs))
        } | ` +
        `${
          name === "trivial-2procs"
            ? "–"
            : fmt(100 * perRoundRatio("bulk", name, "trivial", mbs)) + "%"
        } | ` +
        `${fmt(pre.rss, 1)} / ${fmt(pre.pss, 1)}${pre.open} | ` +
        `${fmt(login.rss, 1)} / ${fmt(login.pss, 1)}${login.open} | ` +
        `${ratio(login.pss / tunedLogin.pss)} |` +
        (o.idleBig > 0
          ? ` ${fmt(big.rss, 1)} / ${fmt(big.pss, 1)}${big.open} |`
          : ""),
    );
  }
  const diag: string[] = [
    "| server | sessions: driver CPU % | server CPU % | machine busy % | errors | bulk: driver CPU % | server CPU % | machine busy % |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const name of rows) {
    const f = (key: string, field: string) =>
      fmt(median(num(key, name, (r) => r[field])));
    const errors = num("sessions", name, (r) => r.errors).reduce(
      (x, y) => x + y,
      0,
    );
    diag.push(
      `| ${name} | ${f("sessions", "driver_cpu_pct")} | ${
        f("sessions", "server_cpu_pct")
      } | ` +
        `${f("sessions", "machine_busy_pct")} | ${errors} | ${
          f("bulk", "driver_cpu_pct")
        } | ` +
        `${f("bulk", "server_cpu_pct")} | ${f("bulk", "machine_busy_pct")} |`,
    );
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = `${o.out}/${stamp}.json`;
  Deno.writeTextFileSync(
    file,
    JSON.stringify({ machine, options: o, results }, null, 1),
  );
  console.log(lines.join("\n"));
  console.log("");
  console.log(diag.join("\n"));
  console.log("");
  if (skipped.length > 0) console.log(`Left out: ${skipped.join("; ")}\n`);
  console.log(
    `Medians of ${o.rounds} interleaved rounds (${o.duration} s sessions runs); ratios are medians ` +
      `of per-round ratios. Raw results: ${file}`,
  );
}

if (import.meta.main) await main();

/**
 * A work directory under /tmp for one benchmark, private to this checkout
 * (a short hash of its path), so that benchmarks run from two worktrees at
 * once never share files. The checkout at `/work/main` keeps the plain name.
 *
 * @example
 * ```ts ignore
 * const work = checkoutWork("pop3real"); // "/tmp/pop3real" or "/tmp/pop3real-1a2b3c4d"
 * ```
 */
export function checkoutWork(name: string): string {
  if (ROOT === "/work/main/") return `/tmp/${name}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < ROOT.length; i++) {
    h = Math.imul(h ^ ROOT.charCodeAt(i), 0x01000193) >>> 0;
  }
  return `/tmp/${name}-${h.toString(16).padStart(8, "0")}`;
}

/**
 * The first of `span` consecutive loopback ports, starting at `base` and
 * moving up by `span` while any port of the block is taken (another
 * benchmark running from another checkout), so that two runs never collide.
 *
 * @example
 * ```ts ignore
 * const basePort = freePortBlock(23400, 40);
 * ```
 */
export function freePortBlock(base: number, span: number): number {
  for (let start = base; start + span < 65_000; start += span) {
    let free = true;
    for (let port = start; port < start + span && free; port++) {
      try {
        Deno.listen({ hostname: "127.0.0.1", port }).close();
      } catch {
        free = false;
      }
    }
    if (free) return start;
  }
  throw new Error(`No free block of ${span} ports from ${base}`);
}
